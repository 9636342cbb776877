"""Typed keys for what the app owns."""

from __future__ import annotations

from aiohttp import web

from .media import MediaStore
from .metrics import ServerMetrics
from .serving import OpenAIServing
from .serving_embeddings import EmbeddingServing
from .serving_images import ImageServing
from .serving_speech import SpeechServing
from .transcription import TranscriptionServing

SERVING = web.AppKey("serving", OpenAIServing)
METRICS = web.AppKey("metrics", ServerMetrics)
API_KEY = web.AppKey("api_key", str)
SPEECH = web.AppKey("speech", SpeechServing)
IMAGES = web.AppKey("images", ImageServing)
MEDIA = web.AppKey("media", MediaStore)
EMBEDDINGS = web.AppKey("embeddings", EmbeddingServing)
TRANSCRIPTION = web.AppKey("transcription", TranscriptionServing)
