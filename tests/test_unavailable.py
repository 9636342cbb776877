"""Capabilities that are configured but cannot load say why, cleanly: a Coqui voice with
no model folder (coqui-tts ships no weights), and an image model folder that is empty."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from .kit.server import Server, start_server, stop_server, write_config

pytestmark = pytest.mark.slow  # a subprocess server


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("broken")
    (tmp / "empty").mkdir()
    config = write_config(
        tmp,
        server={
            "port": 0,
            "api_key_env": "LITERAI_NO_KEY_HERE",
            "speech": {
                "voices": {
                    "joe": {},
                    "coqui-none": {"backend": "coqui"},
                    "coqui-empty": {"backend": "coqui", "model": str(tmp / "empty")},
                },
                "aliases": {},
                "stream_above_chars": 200,
            },
            "images": {"model": str(tmp / "empty")},
        },
    )
    server = start_server(config)
    yield server
    err = stop_server(server)
    assert "Traceback" not in err, err


def test_coqui_voices_without_weights_are_listed_as_unavailable(broken_server: Server) -> None:
    voices = {v["id"]: v for v in httpx.get(broken_server.v1 + "/audio/voices").json()["data"]}
    assert voices["joe"]["available"] is True
    assert voices["coqui-none"]["available"] is False
    assert "local model folder" in voices["coqui-none"]["error"]
    assert voices["coqui-empty"]["available"] is False
    assert "config.json" in voices["coqui-empty"]["error"]
    client = broken_server.client()
    with pytest.raises(openai.APIStatusError) as err:
        client.audio.speech.create(model="tts-1", voice="coqui-none", input="hello")
    assert err.value.status_code == 503
    assert err.value.code == "voice_unavailable"


def test_an_image_model_that_does_not_load_is_not_listed(broken_server: Server) -> None:
    client = broken_server.client()
    listed = [m.id for m in client.models.list().data]
    assert listed == ["smollm2", "all-minilm-l6-v2", "whisper-tiny.en"]  # no image model
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(prompt="a cat")
    assert err.value.code == "images_not_configured"
    assert "server.images.model" in err.value.message


def test_long_speech_input_is_streamed_even_unasked(broken_server: Server) -> None:
    text = "A sentence to say. " * 20  # 380 characters > stream_above_chars (200)
    body = {"model": "tts-1", "voice": "joe", "input": text, "response_format": "wav"}
    short = {**body, "input": "Short."}
    with httpx.Client(base_url=broken_server.v1, timeout=120) as http:
        assert "content-length" in http.post("/audio/speech", json=short).headers
        resp = http.post("/audio/speech", json=body)
        assert resp.status_code == 200
        assert "content-length" not in resp.headers
        assert resp.headers.get("transfer-encoding") == "chunked"
        assert resp.content[:4] == b"RIFF" and len(resp.content) > 22050 * 2 * 5
