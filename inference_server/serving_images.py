"""The logic behind ``/v1/images/generations``: check a request against the image
settings, build the ``ImageJob``, generate, and shape OpenAI's answer (``url`` or
``b64_json`` data). Routes parse the body and pass a ``publish`` callback that stores a
picture and makes its URL; nothing here knows about HTTP transport.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

from .backends.images import ImageJob
from .images import ImageService, ImagesUnavailable
from .protocol import ApiError, now
from .protocol_media import ImageRequest

Publish = Callable[[bytes], Awaitable[str]]
"""PNG bytes -> the URL they are served at."""

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


class ImageServing:
    """Images for the routes; ``service`` is None where no image model is configured."""

    def __init__(self, service: ImageService | None) -> None:
        self.service = service

    @property
    def load_finished(self) -> bool:
        """The image model loaded or failed to (true at once without images)."""
        return self.service is None or self.service.load_finished

    def model_card(self) -> dict[str, Any] | None:
        """The image model's /v1/models entry, only when it can really be served."""
        service = self.service
        if service is None or not service.ready:
            return None
        return {
            "id": service.settings.name,
            "object": "model",
            "created": now(),
            "owned_by": "literai",
            "capabilities": ["images"],
        }

    def require(self) -> ImageService:
        """The service, or a 404 that says why there is none (unset, or failed to load)."""
        service = self.service
        if service is not None and service.load_finished and not service.ready:
            raise ApiError(
                404,
                f"image generation is not available: {service.error}; check server.images.model",
                code="images_not_configured",
            )
        if service is None:
            raise ApiError(
                404,
                "image generation is not configured on this server: set server.images.model "
                "to a local diffusers model folder",
                code="images_not_configured",
            )
        return service

    async def generate(self, req: ImageRequest, publish: Publish) -> dict[str, Any]:
        """OpenAI's images answer for a request; ``publish`` is called for url data."""
        service = self.require()
        job = self._job(req, service)
        try:
            pngs = await service.generate(job)
        except ImagesUnavailable as exc:
            raise ApiError(
                503,
                f"images are unavailable: {exc}",
                type="server_error",
                code="images_unavailable",
            ) from None
        data: list[dict[str, object]] = []
        for png in pngs:
            if req.response_format == "b64_json":
                data.append({"b64_json": base64.b64encode(png).decode()})
            else:
                data.append({"url": await publish(png)})
        return {"created": now(), "data": data}

    @staticmethod
    def _job(req: ImageRequest, service: ImageService) -> ImageJob:
        s = service.settings
        if not req.prompt.strip():
            raise ApiError(400, "invalid value for 'prompt': it is empty", param="prompt")
        if len(req.prompt) > s.max_prompt_chars:
            raise ApiError(
                400,
                f"invalid value for 'prompt': {len(req.prompt)} characters; the limit is "
                f"{s.max_prompt_chars}",
                param="prompt",
            )
        if req.n > s.max_n:
            raise ApiError(400, f"invalid value for 'n': at most {s.max_n}", param="n")
        if req.model not in (None, s.name):
            raise ApiError(
                404,
                f"the model '{req.model}' does not exist; images come from '{s.name}'",
                param="model",
                code="model_not_found",
            )
        if req.steps is not None and req.steps > s.max_steps:
            raise ApiError(
                400,
                f"invalid value for 'steps': at most {s.max_steps} on this server",
                param="steps",
            )
        size = req.size if req.size not in (None, "auto") else s.default_size
        width, height = _size(size, s.max_side)
        return ImageJob(
            req.prompt,
            n=req.n,
            width=width,
            height=height,
            steps=req.steps or s.steps,
            guidance=s.guidance_scale if req.guidance_scale is None else req.guidance_scale,
            seed=req.seed,
        )


def _size(text: str, max_side: int) -> tuple[int, int]:
    match = _SIZE.fullmatch(text)
    if not match:
        raise ApiError(400, f"invalid value for 'size': {text!r} is not WIDTHxHEIGHT", param="size")
    width, height = int(match.group(1)), int(match.group(2))
    if not (64 <= width <= max_side and 64 <= height <= max_side):
        raise ApiError(
            400, f"invalid value for 'size': each side must be 64 to {max_side}", param="size"
        )
    if width % 8 or height % 8:
        raise ApiError(400, "invalid value for 'size': sides must be multiples of 8", param="size")
    return width, height
