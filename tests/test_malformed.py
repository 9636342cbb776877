"""Hostile bodies against every route: only 4xx answers, and the server stays up.

Every body is built to be invalid (one broken field, broken JSON or broken bytes), so a
200 here would itself be a bug. In-process on the echo engine (tests/server_inprocess.py):
parsing and refusing happen before any model runs.
"""

from __future__ import annotations

import gzip
import json
import random

import httpx2 as httpx

from .kit.inprocess import API_KEY, MODEL, EchoServer, echo_server_fixture  # noqa: F401

DEEP = "[" * 50_000 + "]" * 50_000
BAD_FIELDS: dict[str, list[object]] = {
    "model": [None, 5, [], {}, "", "x" * 300, "no-such-model", True],
    "max_tokens": [0, -1, "10", 1.5, 10**7, True, [], {}, 1e308],
    "temperature": [-0.1, 2.1, "1", [], True, {"a": 1}],
    "top_p": [1.5, -1, "x", [0.5], False],
    "stop": [5, [1], ["a"] * 5, "x" * 300, {}, [None], [["a"]]],
    "seed": [1.5, "1", 2**64, -(2**64), [], {}],
    "n": [0, 9, "1", 1.5, -1, 10**30],
    "stream": ["yes", 1, [], {}],
    "stream_options": ["x", 5, {"include_usage": "yes"}, []],
    "frequency_penalty": [3, -3, "0", []],
    "presence_penalty": [2.5, -2.5, "0", {}],
    "user": [5, "x" * 300, [], {}],
    "ignore_eos": ["true", 1, []],
}
BAD_MESSAGES: list[object] = [
    None,
    "hi",
    [],
    [{}],
    [1, 2],
    [[]],
    [{"role": "wizard", "content": "x"}],
    [{"role": "user", "content": 5}],
    [{"role": "user", "content": {"a": 1}}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    [{"role": "user", "content": [{"type": "text"}]}],
    [{"role": 5, "content": "x"}],
    [{"content": "x"}],
    [{"role": "user", "content": "x"}] * 1001,
]
BAD_PROMPTS: list[object] = [None, 5, [], [5], ["a", "b"], {"a": 1}, [[]], True]


def _valid(route: str) -> dict[str, object]:
    if route == "chat":
        return {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
        }
    return {"model": MODEL, "prompt": "hi", "max_tokens": 2}


def _structural(valid: bytes, rng: random.Random) -> list[bytes]:
    cuts = [valid[: rng.randrange(0, len(valid))] for _ in range(10)]
    return [
        *cuts,
        b"",
        b"null",
        b"[]",
        b'"a string"',
        b"42",
        b"\xff\xfe\x00garbage",
        valid.replace(b'"hi"', b'"h\xffi"'),
        valid.replace(b"2}", b"NaN}"),
        valid.replace(b"2}", b"Infinity}"),
        valid.replace(b"2}", b"1" * 5000 + b"}"),
        DEEP.encode(),
        valid[:-1] + b', "x": ' + DEEP.encode() + b"}",
        b"{" * 10_000,
        b'{"model": "%s", "model": ' % MODEL.encode() + b"[" * 20_000,
        bytes(rng.randrange(256) for _ in range(200)),
    ]


def _bodies(route: str, rng: random.Random, count: int) -> list[bytes]:
    valid = _valid(route)
    bodies = _structural(json.dumps(valid).encode(), rng)
    fields = list(BAD_FIELDS)
    while len(bodies) < count:
        body = dict(valid)
        kind = rng.random()
        if kind < 0.15:
            body["messages" if route == "chat" else "prompt"] = rng.choice(
                BAD_MESSAGES if route == "chat" else BAD_PROMPTS
            )
        elif kind < 0.25:
            del body["model"]
        else:
            field = rng.choice(fields)
            body[field] = rng.choice(BAD_FIELDS[field])
        if rng.random() < 0.3:  # hostile company for the broken field
            body[f"extra_{rng.randrange(1000)}"] = rng.choice([DEEP[:2000], "x" * 5000, 10**50])
        bodies.append(json.dumps(body).encode())
    return bodies


def test_hostile_bodies_get_only_4xx_and_the_server_stays_up(echo_server: EchoServer) -> None:
    rng = random.Random(20261122)
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=echo_server.v1, headers=headers, timeout=30) as http:
        for route, path in (("chat", "/chat/completions"), ("completions", "/completions")):
            for body in _bodies(route, rng, 160):
                resp = http.post(path, content=body)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                assert 400 <= resp.status_code < 500, (resp.status_code, body[:200], resp.text)
                error = resp.json()["error"]
                assert isinstance(error["message"], str) and error["message"]
        for path in ("/models", "/chat/completions", "/completions"):
            for method in ("PUT", "DELETE", "PATCH"):
                resp = http.request(method, path, content=b"{}")
                assert 400 <= resp.status_code < 500
        resp = http.get("/models?" + "x=" + "%ff" * 1000)
        assert resp.status_code == 200
    assert sum(statuses.values()) >= 320, statuses
    assert set(statuses) >= {400, 404}, statuses
    health = httpx.get(echo_server.base_url + "/health")
    assert health.status_code == 200


def test_odd_but_real_client_bytes_are_4xx(echo_server: EchoServer) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi \ud800"}]}
    with httpx.Client(base_url=echo_server.v1, timeout=30) as http:
        # A lone surrogate escape is valid JSON but not text a model can read.
        resp = http.post("/chat/completions", content=json.dumps(body), headers=headers)
        assert resp.status_code == 400
        assert "Unicode" in resp.json()["error"]["message"]
        # A body that says it is gzip and is not.
        resp = http.post(
            "/completions",
            content=b"not gzip at all",
            headers={**headers, "Content-Encoding": "gzip"},
        )
        assert resp.status_code == 400, resp.text
        # A real gzip body is fine; a gzip bomb is 413, not a full inflate.
        gz = gzip.compress(json.dumps(_valid("completions")).encode())
        resp = http.post(
            "/completions", content=gz, headers={**headers, "Content-Encoding": "gzip"}
        )
        assert resp.status_code == 200, resp.text
        bomb = gzip.compress(b" " * 10_000_000)
        resp = http.post(
            "/completions", content=bomb, headers={**headers, "Content-Encoding": "gzip"}
        )
        assert resp.status_code == 413
        # Non-ASCII bytes in the key are just a wrong key.
        resp = http.post(
            "/completions",
            content=b"{}",
            headers={"Authorization": b"Bearer s\xc3\xa9kret\xff"},
        )
        assert resp.status_code == 401
    assert httpx.get(echo_server.base_url + "/health").status_code == 200
