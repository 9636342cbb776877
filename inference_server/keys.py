"""Typed keys for what the app owns."""

from __future__ import annotations

from aiohttp import web

from .images import ImageService
from .media import MediaStore
from .metrics import ServerMetrics
from .serving import OpenAIServing
from .speech import SpeechService

SERVING = web.AppKey("serving", OpenAIServing)
METRICS = web.AppKey("metrics", ServerMetrics)
API_KEY = web.AppKey("api_key", str)
SPEECH = web.AppKey("speech", SpeechService)
IMAGES = web.AppKey("images", ImageService)
MEDIA = web.AppKey("media", MediaStore)
