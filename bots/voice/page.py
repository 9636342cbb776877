"""The voice page's adapter: ``/voice`` (the page) and ``/voice/ws`` (its conversation)
on the web pages' app, and the platform ``voice`` as the chat core knows it.

The socket is bounded: ``voice.max_sessions`` pages at once, 1 MiB per message, and it
answers only pages of its own origin (a WebSocket is not bound by the browser's
same-origin rule: any site the user visits could otherwise open one to loopback and
listen to the conversation). Bound beyond loopback, the pages' key applies to it as to
every page (``bots/web/access.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from inference_server.settings import ConfigError
from literai_core.chat import ChannelKey, Reply
from literai_core.router import Component

from .session import Session
from .settings import VoiceSettings

if TYPE_CHECKING:
    from literai_core.core import ChatCore

READY_S = 60  # how long a page opened during start-up waits for the chat core
NEEDS = "voice input needs faster-whisper: pip install 'literai[listen]' (scripts/setup.sh)"


class Voice:
    platform = "voice"

    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self._page_html = resources.files(__package__).joinpath("voice.html").read_text("utf-8")
        self._core: ChatCore | None = None
        self._attached = asyncio.Event()  # the page is served before the core is built
        self.sessions: set[Session] = set()
        self.turns = 0  # utterances answered
        self.barge_ins = 0  # turns stopped by the speaker talking over them
        self.early_dropped = 0  # turns begun at a pause, dropped when the speaker went on

    @property
    def core(self) -> ChatCore:
        assert self._core is not None, "attach(core) first"
        return self._core

    def attach(self, core: ChatCore) -> None:
        if core.command(self.settings.command, self.platform) is None:
            raise ConfigError("voice.command", f"there is no command {self.settings.command!r}")
        self._core = core
        core.attach(self)
        self._attached.set()
        if self.settings.persona:  # a moderator's !persona in the channel replaces it
            core.set_persona(
                ChannelKey(self.platform, self.settings.channel), self.settings.persona
            )

    def components(self) -> list[Component]:
        return []

    async def announce(self, reply: Reply) -> None:
        """A post nobody said a line for (a recap): shown on the open pages."""
        text = await reply.text()
        for session in list(self.sessions):
            await session.send({"type": "notice", "text": text})

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/voice", self._page)
        app.router.add_get("/voice/ws", self._socket)

    async def _page(self, _request: web.Request) -> web.Response:
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": _CSP}
        return web.Response(text=self._page_html, content_type="text/html", headers=headers)

    def _unavailable(self) -> str | None:
        """Why a page cannot talk now, if it cannot."""
        if self._core is None:
            return "not ready yet"
        if len(self.sessions) >= self.settings.max_sessions:
            return "too many voice pages are open"
        if importlib.util.find_spec("faster_whisper") is None:
            return NEEDS
        return None

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="the voice socket answers its own page only")
        ws = web.WebSocketResponse(max_msg_size=2**20, heartbeat=30)
        await ws.prepare(request)
        with contextlib.suppress(TimeoutError):  # literai run is still starting
            await asyncio.wait_for(self._attached.wait(), READY_S)
        why = self._unavailable()
        if why is not None:
            await ws.send_json({"type": "unavailable", "message": why})
            await ws.close()
            return ws
        session = Session(self, ws)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
        return ws


# The page loads nothing from elsewhere: its script and style are inline, its worklet a
# blob, its socket its own origin.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "connect-src 'self'; media-src 'self' blob:; worker-src blob:"
)
