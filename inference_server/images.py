"""The image service: one diffusers pipeline, run off the loop with bounded concurrency
and a bounded queue."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from .backends.base import BackendError, CancelToken
from .backends.images import DiffusersBackend, ImageJob
from .engine import Slots
from .settings import ImageSettings

log = logging.getLogger(__name__)


class ImagesUnavailable(Exception):
    pass


class ImageService:
    def __init__(self, settings: ImageSettings, backend: DiffusersBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.ready = False
        self.load_finished = False
        self.error: str | None = None
        self._executor = ThreadPoolExecutor(settings.max_concurrent, thread_name_prefix="images")
        self._slots = Slots(settings.max_concurrent, settings.max_queue, "image requests")

    async def load(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.backend.load)
            self.ready = True
        except BackendError as exc:
            self.error = str(exc)
            log.warning("images are unavailable: %s", exc)
        finally:
            self.load_finished = True

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.backend.close)
        self._executor.shutdown(wait=True)

    async def generate(self, job: ImageJob) -> list[bytes]:
        """PNGs for ``job``. Cancelled (the client left), the work stops after the step
        in progress; the slot is free once the worker thread is really done."""
        if not self.ready:
            raise ImagesUnavailable(self.error or "the image model is still loading")
        await self._slots.acquire()
        cancel = CancelToken()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self.backend.generate, job, cancel)
        future.add_done_callback(self._done)
        try:
            return await asyncio.shield(future)
        finally:
            cancel.cancel()

    def _done(self, future: asyncio.Future[list[bytes]]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: a cancelled job's abort is expected
        self._slots.release()


def build_images(settings: ImageSettings) -> ImageService | None:
    if not settings.model:
        return None
    return ImageService(settings, DiffusersBackend(settings))
