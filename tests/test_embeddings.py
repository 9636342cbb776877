"""``/v1/embeddings`` through the real server and the official client, with the packaged
all-MiniLM-L6-v2 (loaded on the first request): vectors of a paraphrase are closer than
an unrelated text's, float and base64 agree, and bad input is a 400 naming the field."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from inference_server.backends.echo import EchoBackend

from .kit import reference
from .kit.inprocess import MODEL as EMBED_HOST
from .kit.inprocess import echo_settings, serve
from .kit.server import API_KEY, Server

pytestmark = pytest.mark.slow  # torch and the model, in a subprocess

MODEL = "all-minilm-l6-v2"


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_a_paraphrase_is_closer_than_an_unrelated_text(lenient_client: openai.OpenAI) -> None:
    """The client asks for base64 and decodes it itself (after its strict validation,
    which would refuse the string: so the lenient client, as users run it)."""
    client = lenient_client
    texts = ["The cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell."]
    resp = client.embeddings.create(model=MODEL, input=texts)
    vectors = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
    assert [len(v) for v in vectors] == [384] * 3
    assert all(abs(_dot(v, v) - 1) < 1e-4 for v in vectors)  # normalized
    assert _dot(vectors[0], vectors[1]) > _dot(vectors[0], vectors[2]) + 0.3
    assert resp.usage.prompt_tokens > 10 and resp.model == MODEL
    assert MODEL in [m.id for m in client.models.list().data]
    floats = client.embeddings.create(model=MODEL, input="one", encoding_format="float")
    reference.check("CreateEmbeddingResponse", floats.to_dict())  # as on the wire


def test_float_and_base64_are_the_same_vector(server: Server) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{server.v1}/embeddings"
    body = {"model": MODEL, "input": "hello chat"}
    floats = httpx.post(url, json=body, headers=headers, timeout=120).json()
    packed = httpx.post(url, json={**body, "encoding_format": "base64"}, headers=headers,
                        timeout=120).json()  # fmt: skip
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(floats["data"][0]["embedding"], abs=1e-6)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": ["ok", "  "]}, "input[1]"),
        ({"input": [1, 2, 3]}, "input"),  # token arrays
        ({"input": "hi", "dimensions": 128}, "dimensions"),
        ({"input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "x" * 9000}, "input"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: openai.OpenAI, body: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/embeddings", cast_to=object, body={"model": MODEL, **body})
    assert err.value.param == param, err.value.message


def test_an_unknown_embedding_model_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert err.value.param == "model"


def test_embeddings_off_or_without_a_model_say_so(tmp_path: Path) -> None:
    """In-process, no torch: off is a 404 naming the setting; a folder that is not a
    sentence-transformers model is a 503 naming it, and the server goes on."""
    for embeddings, status, says in (
        ({"enabled": False}, 404, "server.embeddings.enabled"),
        ({"path": str(tmp_path / "nowhere")}, 503, "not a sentence-transformers folder"),
    ):
        settings = echo_settings(tmp_path, embeddings=embeddings)
        with serve(settings, EchoBackend(EMBED_HOST, max_parallel=1)) as server:
            client = server.client(timeout=30)
            with pytest.raises(openai.APIStatusError) as err:
                client.embeddings.create(model=MODEL, input="hi")
            assert err.value.status_code == status and says in err.value.message
            assert (
                client.chat.completions.create(
                    model=EMBED_HOST, messages=[{"role": "user", "content": "still here"}]
                )
                .choices[0]
                .message.content
                == "still here"
            )
