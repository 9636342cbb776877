"""Text to image with diffusers. torch and diffusers are imported here, on load, only
when an image model is configured."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import ImageSettings
from .base import BackendError, CancelToken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageJob:
    prompt: str
    n: int
    width: int
    height: int
    steps: int
    guidance: float
    seed: int | None


class Cancelled(Exception):
    """The request was cancelled mid-generation."""


class DiffusersBackend:
    def __init__(self, settings: ImageSettings) -> None:
        assert settings.model is not None
        self.settings = settings
        self.name = settings.name
        self._pipe: Any = None
        self._torch: Any = None
        self.steps_run = 0  # steps of the last generation (tests: cancel stops work)

    def load(self) -> None:
        try:
            import diffusers
            import torch
            import transformers
            from diffusers import AutoPipelineForText2Image
        except ImportError:
            raise BackendError(
                "diffusers is not installed (pip install 'literai[images]')"
            ) from None
        s = self.settings
        model = str(s.model)
        local = Path(model).expanduser()
        source = str(local) if local.exists() else model  # a folder, else a hub id
        device = s.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("server.images.device is cuda but no CUDA device is available")
        torch.set_num_threads(s.n_threads)
        # Their progress bars and advice go to our logs as noise; errors still raise.
        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
        transformers.logging.set_verbosity_error()
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(
                source, dtype=getattr(torch, s.dtype), local_files_only=s.local_files_only
            )
        except Exception as exc:  # diffusers raises OSError, ValueError, EnvironmentError...
            raise BackendError(f"cannot load image model {s.model!r}: {exc}") from None
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe
        self._torch = torch
        self._device = device
        log.info("loaded image model %s on %s", s.model, device)

    def generate(self, job: ImageJob, cancel: CancelToken | None = None) -> list[bytes]:
        """PNG bytes, one per image. Blocking: call from a worker thread. ``cancel`` is
        checked after every step: a request whose client left stops its work there."""
        torch = self._torch
        self.steps_run = 0

        def step_end(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> Any:
            self.steps_run += 1
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            return kwargs

        generator = None
        if job.seed is not None:
            generator = torch.Generator(device=self._device).manual_seed(job.seed)
        with torch.inference_mode():
            result = self._pipe(
                prompt=job.prompt,
                num_images_per_prompt=job.n,
                width=job.width,
                height=job.height,
                num_inference_steps=job.steps,
                guidance_scale=job.guidance,
                generator=generator,
                callback_on_step_end=step_end,
            )
        out = []
        for image in result.images:
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            out.append(buf.getvalue())
        return out

    def close(self) -> None:
        self._pipe = None
