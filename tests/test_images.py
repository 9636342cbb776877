"""Images through the real server: a tiny random-weight Stable Diffusion pipeline built in
code, loaded through the same from_pretrained(local_files_only=True) path as a real
model, called with the official openai client. The pictures are noise; their size,
format, determinism and delivery are what is checked."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from PIL import Image

from inference_server.media import MediaStore

from .kit import reference
from .kit.server import LITERAI, ROOT, Server, start_server, stop_server, write_config
from .kit.tiny_diffusion import build_tiny_pipeline


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("images")
    model = tiny_model
    config = write_config(
        tmp,
        server={
            "port": 0,
            "api_key_env": "LITERAI_NO_KEY_HERE",
            "speech": {"enabled": False},
            "images": {"model": str(model), "name": "tiny-sd", "default_size": "64x64",
                       "max_side": 128, "max_n": 3},
            "media": {"folder": str(tmp / "media")},
        },
    )  # fmt: skip
    server = start_server(config)
    yield server
    err = stop_server(server)
    assert "Traceback" not in err, err


@pytest.fixture
def images(image_server: Server) -> openai.OpenAI:
    return image_server.client(timeout=120)


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


@pytest.mark.slow
def test_b64_images_have_the_size_asked_and_repeat_under_a_seed(images: openai.OpenAI) -> None:
    def make(seed: int, n: int = 2) -> list[bytes]:
        result = images.images.generate(
            prompt="a red teletype",
            n=n,
            size="64x64",
            response_format="b64_json",  # type: ignore[arg-type]
            extra_body={"seed": seed, "steps": 2},
        )
        return [base64.b64decode(d.b64_json or "") for d in result.data or []]

    first = make(7)
    assert len(first) == 2
    shown = images.images.generate(
        prompt="a red teletype", size="64x64", response_format="b64_json"
    )
    reference.check("ImagesResponse", shown.to_dict())  # as on the wire
    for data in first:
        assert _png(data).size == (64, 64)
    assert make(7) == first
    assert make(8, n=1)[0] != first[0]
    wide = images.images.generate(
        prompt="wide",
        size="128x64",
        response_format="b64_json",  # type: ignore[arg-type]
    )
    assert _png(base64.b64decode(wide.data[0].b64_json or "")).size == (128, 64)  # type: ignore[index]


@pytest.mark.slow
def test_url_images_are_served_from_the_media_store(images: openai.OpenAI) -> None:
    result = images.images.generate(prompt="a lighthouse", extra_body={"seed": 3})
    reference.check("ImagesResponse", result.to_dict())
    url = result.data[0].url  # type: ignore[index]
    assert url is not None and "/media/" in url and url.endswith(".png")
    resp = httpx.get(url)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/png"
    assert _png(resp.content).size == (64, 64)
    again = images.images.generate(
        prompt="a lighthouse", response_format="b64_json", extra_body={"seed": 3}
    )
    assert base64.b64decode(again.data[0].b64_json or "") == resp.content  # type: ignore[index]


@pytest.mark.slow
def test_models_list_the_image_model_only_where_configured(
    images: openai.OpenAI, client: openai.OpenAI
) -> None:
    assert "tiny-sd" in [m.id for m in images.models.list().data]
    assert "tiny-sd" not in [m.id for m in client.models.list().data]
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(prompt="a cat")
    assert err.value.code == "images_not_configured"
    assert "server.images.model" in err.value.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"size": "65x64"}, "size"),
        ({"size": "32x32"}, "size"),
        ({"size": "256x256"}, "size"),
        ({"size": "big"}, "size"),
        ({"n": 0}, "n"),
        ({"n": 4}, "n"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"response_format": "gif"}, "response_format"),
        ({"seed": -1}, "seed"),
        ({"steps": 0}, "steps"),
    ],
)
def test_bad_image_requests_are_400_naming_the_field(
    images: openai.OpenAI, extra: dict[str, object], param: str
) -> None:
    body = {"prompt": "a cat", **extra}
    with pytest.raises(openai.BadRequestError) as err:
        images.post("/images/generations", body=body, cast_to=object)
    assert err.value.param == param


@pytest.mark.slow
def test_unknown_image_model_is_404(images: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        images.images.generate(prompt="a cat", model="dall-e-3")


@pytest.mark.slow
def test_media_names_never_become_paths(image_server: Server) -> None:
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "0" * 32 + ".png", "x.png", "a" * 32 + ".sh"):
        resp = httpx.get(f"{image_server.base_url}/media/{name}")
        assert resp.status_code == 404, name
        assert "error" in resp.json()


def test_media_store_is_content_addressed_and_evicts_oldest_first(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "m", max_bytes=2500)
    a = store.put(b"a" * 1000, "png")
    assert store.put(b"a" * 1000, "png") == a  # same bytes, same name, stored once
    old = store.path(a)
    assert old is not None
    past = time.time() - 100
    os.utime(old, (past, past))
    b = store.put(b"b" * 1000, "png")
    c = store.put(b"c" * 1000, "wav")  # 3000 bytes > 2500: the oldest (a) goes
    assert store.path(a) is None
    assert store.path(b) is not None and store.path(c) is not None
    assert store.path("../" + b) is None
    with pytest.raises(ValueError):
        store.put(b"x", "exe")
    assert not list((tmp_path / "m").glob("*.part"))


@pytest.mark.slow
def test_console_imagine_saves_the_picture(tmp_path: Path, tiny_model: Path) -> None:
    config = write_config(
        tmp_path,
        server={"port": 0, "speech": {"enabled": False},
                "images": {"model": str(tiny_model), "max_side": 128}},
        bot={"user_cooldown_s": 0, "channel_cooldown_s": 0, "image_size": "64x64"},
        data_dir=str(tmp_path / "data"),
    )  # fmt: skip
    done = subprocess.run(
        [*LITERAI, "run", "--config", str(config)], cwd=ROOT, input="!imagine a red teletype\n",
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()[1]
    assert said.startswith("literai: 🎨 a red teletype [image/png saved to "), said
    path = Path(said.rsplit(" saved to ", 1)[1].rstrip("]"))
    assert _png(path.read_bytes()).size == (64, 64)


@pytest.mark.slow
def test_console_imagine_without_an_image_model_says_so_once(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, server={"port": 0, "speech": {"enabled": False}},
        bot={"user_cooldown_s": 0, "channel_cooldown_s": 0},
    )  # fmt: skip
    done = subprocess.run(
        [*LITERAI, "run", "--config", str(config)], cwd=ROOT,
        input="!imagine a cat\n!imagine a dog\n!help imagine\n",
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "literai: Sorry, images aren't set up here.",
        "literai: !imagine <prompt> — Make a picture of the prompt.",
    ]
