"""Who may open the pages. On loopback (the default: OBS on the same machine) anyone on
this machine may, by a loopback name (127.x, localhost, [::1]: another name that
resolves here is a DNS-rebinding page, refused). Bound beyond loopback, every page needs
the key (``?key=…`` once; a cookie keeps it for the page's own requests: its events,
images, speech), except an episode's player, which also opens with that episode's own
token (``?t=…``): the links posted in chat carry it, so viewers get that episode and
nothing else."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from ..config import is_loopback

COOKIE = "literai_key"
LOOPBACK_HINT = "http://127.0.0.1:<port>/… or http://localhost:<port>/…"
_EPISODE = re.compile(r"^/episodes/([a-z0-9][a-z0-9-]{0,99})(/.*)?$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access:
    def __init__(self, key: str | None) -> None:
        self.key = key

    def episode_token(self, episode_id: str) -> str:
        """The capability for one episode's pages (empty without a key)."""
        if not self.key:
            return ""
        digest = hmac.new(self.key.encode(), f"episode:{episode_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _allowed(self, request: web.Request) -> bool:
        assert self.key is not None
        for given in (request.query.get("key"), request.cookies.get(COOKIE)):
            if given and hmac.compare_digest(given.encode(), self.key.encode()):
                return True
        episode = _EPISODE.match(request.path)
        if episode is None:
            return False
        token = self.episode_token(episode.group(1))
        cookie = f"{COOKIE}_{episode.group(1).replace('-', '_')}"
        return any(
            given and hmac.compare_digest(given.encode(), token.encode())
            for given in (request.query.get("t"), request.cookies.get(cookie))
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.key:  # on loopback (a key is required beyond it)
            if not is_loopback(urlsplit(f"//{request.host}").hostname or ""):
                # A page of another name that resolves here (DNS rebinding) would
                # otherwise pass as this machine: the voice socket, the overlay.
                raise web.HTTPForbidden(text=f"open these pages as {LOOPBACK_HINT}")
            return await handler(request)
        if not self._allowed(request):
            raise web.HTTPUnauthorized(text="these pages need their key: open the link with ?key=")
        response = await handler(request)
        if not response.prepared:  # remember it for the page's own requests
            if request.query.get("key"):
                response.set_cookie(COOKIE, self.key, httponly=True, samesite="Strict")
            episode = _EPISODE.match(request.path)
            if request.query.get("t") and episode is not None:
                name = f"{COOKIE}_{episode.group(1).replace('-', '_')}"
                path = f"/episodes/{episode.group(1)}/"
                response.set_cookie(name, request.query["t"], httponly=True, path=path)
        return response
