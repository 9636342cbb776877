"""The live-stream overlay: an output adapter that shows the bot's replies on a page for
OBS (a browser source). Every answer and media reply the core hands to a chat adapter
is also pushed here, as server-sent events, to ``/overlay/<channel>`` and
``/overlay/all``:

- ``caption``: the reply's text as it grows (at most every ``caption_interval_s``), then
  once more with ``final: true``;
- ``image`` / ``speech``: a URL under ``/overlay-media/`` and its caption.

The page (overlay.html, no external fonts or scripts) shows images and captions, plays
speech one clip after another, and fades out when idle. Media lives in a bounded
in-memory cache: an overlay only ever needs the last few files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from importlib import resources
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from literai_core.chat import ChannelKey, Media, Reply, ReplyKind

from .settings import WebSettings

log = logging.getLogger(__name__)

ALL = "all"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_MEDIA = re.compile(r"[0-9a-f]{20}\.[a-z0-9]{1,5}")
QUEUE = 64  # events waiting per open page; a page that falls behind loses the oldest


def overlay_name(key: ChannelKey) -> str:
    """``discord``/``1100…`` -> ``discord-1100…``; ``twitch``/``#Some_One`` ->
    ``twitch-some_one``. Only [a-z0-9_-], so it is safe in a URL path."""
    raw = f"{key.platform}-{key.channel}".lower()
    slug = re.sub(r"[^a-z0-9_]+", "-", raw).strip("-")
    return slug[:100] or "channel"


class MediaCache:
    """Content-addressed bytes, least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._size = 0

    def put(self, media: Media) -> str:
        name = f"{hashlib.sha256(media.data).hexdigest()[:20]}.{media.ext}"
        if name not in self._items:
            self._items[name] = (media.data, media.mime)
            self._size += len(media.data)
            while self._size > self.max_bytes and len(self._items) > 1:
                _, (data, _) = self._items.popitem(last=False)
                self._size -= len(data)
        self._items.move_to_end(name)
        return name

    def get(self, name: str) -> tuple[bytes, str] | None:
        return self._items.get(name)


class Overlay:
    """``shown``: the overlay names of the channels it shows (the streamer's choice);
    None: every channel. Private conversations (DMs) never show, whatever it says."""

    def __init__(
        self,
        settings: WebSettings,
        shown: Collection[str] | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.settings = settings
        self.shown = frozenset(shown) if shown is not None else None
        self.clock = clock
        self._per_client: dict[str, int] = {}
        self.media = MediaCache(settings.media_cache_bytes)
        self._pages: dict[str, set[asyncio.Queue[tuple[str, dict[str, Any]]]]] = {}
        self.channels: OrderedDict[str, float] = OrderedDict()  # seen, for the index
        self._page = resources.files(__package__).joinpath("overlay.html").read_text("utf-8")
        self.sent = 0  # events handed to open pages (for tests and metrics)

    # -- fed by the core ------------------------------------------------------------

    def observe(self, reply: Reply) -> None:
        """ChatCore observer: show this reply on its channel's overlay and on ``all``."""
        if reply.line.private:
            return  # a DM: never on the stream
        names = (overlay_name(reply.line.key), ALL)
        if self.shown is not None and names[0] not in self.shown:
            return  # not one of the channels the streamer put on the overlay
        self._seen(names[0])
        user = reply.line.user
        if reply.media is not None:
            self._media(names, reply.media)
            return
        last = [0.0]

        def caption(text: str, done: bool) -> None:
            now = self.clock()
            if not done and now - last[0] < self.settings.caption_interval_s:
                return
            last[0] = now
            if done and reply.kind is not ReplyKind.ANSWER:
                text = ""  # an error is for the chat, not the stream: clear the caption
            self.publish(names, "caption", {"text": text, "user": user, "final": done})

        reply.watch(caption)

    def _media(self, names: tuple[str, ...], media: Media) -> None:
        kind = "image" if media.mime.startswith("image/") else "speech"
        if kind == "speech" and not media.mime.startswith("audio/"):
            return
        url = f"/overlay-media/{self.media.put(media)}"
        self.publish(names, kind, {"url": url, "caption": media.alt})

    def _seen(self, name: str) -> None:
        self.channels[name] = self.clock()
        self.channels.move_to_end(name)
        while len(self.channels) > 100:
            self.channels.popitem(last=False)

    def publish(self, names: tuple[str, ...], kind: str, data: dict[str, Any]) -> None:
        for name in names:
            for queue in self._pages.get(name, ()):
                if queue.full():
                    queue.get_nowait()  # the page fell behind: it loses the oldest
                queue.put_nowait((kind, data))
                self.sent += 1

    # -- HTTP -----------------------------------------------------------------------

    def app(self, middlewares: Sequence[Any] = ()) -> web.Application:
        app = web.Application(middlewares=list(middlewares))
        app.router.add_get("/overlay", self._index)
        app.router.add_get("/overlay/{name}", self._overlay)
        app.router.add_get("/overlay/{name}/events", self._events)
        app.router.add_get("/overlay-media/{file}", self._file)
        return app

    def _name(self, request: web.Request) -> str:
        name = request.match_info["name"]
        if not _NAME.fullmatch(name):
            raise web.HTTPNotFound(text="no such overlay")
        if self.shown is not None and name != ALL and name not in self.shown:
            raise web.HTTPNotFound(text="no such overlay")
        return name

    async def _index(self, request: web.Request) -> web.Response:
        names = sorted(self.shown) if self.shown is not None else reversed(self.channels)
        links = "".join(f'<li><a href="/overlay/{name}">{name}</a></li>' for name in names)
        body = (
            "<!doctype html><meta charset=utf-8><title>literai overlays</title>"
            "<h1>Overlays</h1><p>Add one as an OBS browser source (1920×1080).</p>"
            f'<ul><li><a href="/overlay/{ALL}">{ALL}</a> (every channel)</li>{links}</ul>'
        )
        return web.Response(text=body, content_type="text/html")

    async def _overlay(self, request: web.Request) -> web.Response:
        self._name(request)
        page = self._page.replace("{{IDLE_MS}}", str(int(self.settings.idle_s * 1000)))
        return web.Response(text=page, content_type="text/html")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        name = self._name(request)
        pages = self._pages.setdefault(name, set())
        if len(pages) >= self.settings.max_viewers:
            raise web.HTTPTooManyRequests(text="too many pages open for this overlay")
        client = request.remote or ""
        if self._per_client.get(client, 0) >= self.settings.max_streams_per_client:
            raise web.HTTPTooManyRequests(text="too many overlay pages open from one address")
        self._per_client[client] = self._per_client.get(client, 0) + 1
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(QUEUE)
        pages.add(queue)
        try:
            async with sse_response(request) as sse:
                await sse.send(json.dumps({"name": name}), event="hello")
                # The page closing ends sse.wait() (its ping fails); until then, relay.
                closed = asyncio.ensure_future(sse.wait())
                try:
                    while True:
                        getter = asyncio.ensure_future(queue.get())
                        await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                        if not getter.done():
                            getter.cancel()
                            break
                        kind, data = getter.result()
                        await sse.send(json.dumps(data), event=kind)
                finally:
                    closed.cancel()
        except ConnectionResetError:
            pass  # the page went away mid-send
        finally:
            pages.discard(queue)
            if not pages:
                self._pages.pop(name, None)
            left = self._per_client.pop(client, 1) - 1
            if left > 0:
                self._per_client[client] = left
        return sse

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["file"]
        found = self.media.get(name) if _MEDIA.fullmatch(name) else None
        if found is None:
            raise web.HTTPNotFound(text="no such file (it may have been evicted)")
        data, mime = found
        return web.Response(body=data, content_type=mime, headers={"Cache-Control": "max-age=3600"})
