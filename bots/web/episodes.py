"""The podcast episode pages: ``/episodes`` lists the episodes in the data folder, and
``/episodes/<id>/`` plays one, showing each section's image and the line being spoken
in step with its timeline (player.html, no external assets)."""

from __future__ import annotations

import asyncio
import html
import json
import re
from importlib import resources
from pathlib import Path

from aiohttp import web

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
_FILE = re.compile(r"audio\.wav|timeline\.json|transcript\.txt|section-\d{1,3}\.png")


class Episodes:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._page = resources.files(__package__).joinpath("player.html").read_text("utf-8")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/episodes", self._index)
        app.router.add_get("/episodes/{id}", self._to_folder)
        app.router.add_get("/episodes/{id}/", self._player)
        app.router.add_get("/episodes/{id}/{file}", self._file)

    def _episode(self, request: web.Request) -> Path:
        episode = request.match_info["id"]
        path = self.folder / episode
        if not _ID.fullmatch(episode) or not (path / "timeline.json").is_file():
            raise web.HTTPNotFound(text="no such episode")
        return path

    def _list(self) -> list[tuple[str, str, float]]:
        """(id, title, seconds), newest first."""
        found = []
        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir(), reverse=True):
                if not _ID.fullmatch(path.name):
                    continue  # e.g. the temporary folder of an episode being written
                try:
                    timeline = json.loads((path / "timeline.json").read_text())
                    title, seconds = str(timeline["title"]), float(timeline["duration"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                found.append((path.name, title, seconds))
        return found

    async def _index(self, request: web.Request) -> web.Response:
        episodes = await asyncio.to_thread(self._list)  # file I/O off the loop
        items = "".join(
            f'<li><a href="/episodes/{eid}/">{html.escape(title)}</a> '
            f"({int(duration // 60)}:{int(duration % 60):02d})</li>"
            for eid, title, duration in episodes
        )
        body = (
            "<!doctype html><meta charset=utf-8><title>literai episodes</title>"
            f"<h1>Episodes</h1><ul>{items or '<li>none yet: literai podcast FILE</li>'}</ul>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _to_folder(self, request: web.Request) -> web.Response:
        self._episode(request)
        raise web.HTTPFound(f"/episodes/{request.match_info['id']}/")

    async def _player(self, request: web.Request) -> web.Response:
        self._episode(request)
        return web.Response(text=self._page, content_type="text/html")

    async def _file(self, request: web.Request) -> web.FileResponse:
        path = self._episode(request)
        name = request.match_info["file"]
        if not _FILE.fullmatch(name) or not (path / name).is_file():
            raise web.HTTPNotFound(text="no such file")
        return web.FileResponse(path / name)
