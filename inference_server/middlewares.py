"""The app's middlewares: metrics by route and status, OpenAI-shaped errors for every
failure, and the optional API key on /v1/."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

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


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def browser_guard(host: str, allowed_hosts: list[str], allowed_origins: list[str]) -> Any:
    """Refuse what a web page in a browser could make of this server: a request whose
    Host is not this server's own name (DNS rebinding: evil.example resolving to
    127.0.0.1) or that carries an Origin not allowed (a page's no-cors POST). The
    official clients send no Origin; /health stays open for probes."""
    loopback = host.startswith("127.") or host in _LOOPBACK_NAMES
    hosts = {h.lower() for h in allowed_hosts} | (set(_LOOPBACK_NAMES) if loopback else set())
    any_host = not allowed_hosts and not loopback
    origins = {o.rstrip("/").lower() for o in allowed_origins}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/health":
            return await handler(request)
        name = (request.host or "").lower()
        name = name.rsplit(":", 1)[0] if not name.endswith("]") else name
        if not any_host and name not in hosts and name.strip("[]") not in hosts:
            return error_response(
                403, "this server does not answer to that Host name", code="host_not_allowed"
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in origins:
            return error_response(
                403,
                "requests from web pages are refused (server.allowed_origins)",
                code="origin_not_allowed",
            )
        return await handler(request)

    return guard
