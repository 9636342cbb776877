"""The app's middlewares: metrics by route and status, OpenAI-shaped errors for every
failure, and the optional API key on /v1/."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .engine import QueueFull
from .keys import API_KEY, METRICS
from .protocol import ApiError, error_response

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves in OpenAI's error shape; a client mistake is never a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except QueueFull as exc:  # any engine's bounded queue: text, speech or images
        return error_response(
            429,
            f"the server is busy ({exc}); try again shortly",
            "rate_limit_error",
            code="queue_full",
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason or "error")
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal server error", type="server_error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.app.get(API_KEY)
    if key and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        # Bytes, not str: compare_digest refuses non-ASCII str (a header may hold anything).
        sent = token.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent, key.encode("utf-8")):
            return error_response(
                401,
                "missing or incorrect API key (send 'Authorization: Bearer <key>')",
                code="invalid_api_key",
            )
    return await handler(request)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        request.app[METRICS].requests.labels(route, str(status)).inc()


MIDDLEWARES = (metrics_middleware, errors_middleware, auth_middleware)  # outermost first
