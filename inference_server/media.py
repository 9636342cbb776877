"""The media store: generated files, content-addressed, capped in total size with
oldest-first eviction. Names come from the bytes (sha256), never from user input."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

log = logging.getLogger(__name__)

NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp|wav|mp3|ogg|opus|flac|aac)$")
CONTENT_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "wav": "audio/wav",
    "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg", "flac": "audio/flac",
    "aac": "audio/aac",
}  # fmt: skip


class MediaStore:
    """Blocking file I/O: call from a worker thread (``asyncio.to_thread``)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def put(self, data: bytes, ext: str) -> str:
        """Store bytes; returns the file name (``<sha>.<ext>``)."""
        if ext not in CONTENT_TYPES:
            raise ValueError(f"unknown media type {ext!r}")
        name = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / name
            if path.exists():
                os.utime(path)  # fresh again: evict it last
            else:
                tmp = self.folder / f".{name}.{threading.get_ident()}.part"
                try:
                    tmp.write_bytes(data)
                    tmp.replace(path)  # atomic: never a half file under a served name
                finally:
                    tmp.unlink(missing_ok=True)  # a full disk leaves no part file
            self._evict(keep=name)
        return name

    def path(self, name: str) -> Path | None:
        """The file for a served name, or None (bad name or gone)."""
        if not NAME.fullmatch(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def _evict(self, keep: str) -> None:
        files = [p for p in self.folder.iterdir() if NAME.fullmatch(p.name)]
        total = sum(p.stat().st_size for p in files)
        for old in sorted(files, key=lambda p: p.stat().st_mtime):
            if total <= self.max_bytes:
                break
            if old.name == keep:
                continue
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
            log.info("media store: evicted %s", old.name)
