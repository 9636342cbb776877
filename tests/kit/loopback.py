"""Serving a test double's aiohttp app on a free loopback port."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application, **runner_options: object) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 with a free port; cleanup the runner to stop it."""
    runner = web.AppRunner(app, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class LoopbackFake:
    """A platform double: ``routes`` fills the app; at most one live websocket peer."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._ws: web.WebSocketResponse | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self.runner, self.port = await serve(app)

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"
