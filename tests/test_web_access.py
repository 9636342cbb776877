"""What the pages show and to whom: the overlay shows only the channels the streamer
chose, private conversations never; beyond loopback every page needs the key, an
episode's link opens that episode only; one client cannot hold every event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bots.config import LiteraiConfig, environment
from bots.voice.settings import VoiceSettings
from bots.web.access import Access
from bots.web.episodes import Episodes
from bots.web.launch import stream_channels
from bots.web.overlay import ALL, Overlay
from bots.web.settings import WebSettings
from inference_server.settings import ConfigError
from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.episode import Cue, write_episode

from .kit.waiting import until

KEY = "overlay-key-for-tests"


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _answer(platform: str, channel: str, text: str, *, private: bool = False) -> Reply:
    line = ChatLine(platform, channel, "viewer", "!say x", 0.0, private=private)
    return Reply(line, ReplyKind.ANSWER, text)


async def _events(session: aiohttp.ClientSession, url: str) -> list[str]:
    """The data lines an event stream sends within a moment (its hello, then what came)."""
    seen: list[str] = []
    async with session.get(url) as resp:
        assert resp.status == 200, resp.status
        try:
            async with asyncio.timeout(1.0):
                async for raw in resp.content:
                    line = raw.decode().strip()
                    if line.startswith("data:"):
                        seen.append(line[5:].strip())
        except TimeoutError:
            pass
    return seen


@pytest.fixture
async def shown() -> AsyncIterator[tuple[Overlay, str]]:
    overlay = Overlay(WebSettings(max_streams_per_client=2), ["twitch-main"])  # type: ignore[call-arg]
    runner, base = await _serve(overlay.app())
    yield overlay, base
    await runner.cleanup()


async def test_only_chosen_channels_show_and_private_talk_never(
    shown: tuple[Overlay, str],
) -> None:
    overlay, base = shown
    async with aiohttp.ClientSession() as session:
        listening = asyncio.ensure_future(_events(session, f"{base}/overlay/{ALL}/events"))
        await until(lambda: bool(overlay._pages))  # the page is connected
        overlay.observe(_answer("discord", "dm:42", "a private answer", private=True))
        overlay.observe(_answer("discord", "123", "another channel's answer"))
        overlay.observe(_answer("twitch", "main", "on stream"))
        seen = "\n".join(await listening)
        assert "on stream" in seen
        assert "private" not in seen and "another channel" not in seen
        async with session.get(f"{base}/overlay") as index:
            page = await index.text()
        assert "twitch-main" in page and "discord" not in page
        for hidden in ("discord-dm-42", "discord-123"):
            async with session.get(f"{base}/overlay/{hidden}") as resp:
                assert resp.status == 404


async def test_one_client_cannot_hold_every_event_stream(shown: tuple[Overlay, str]) -> None:
    overlay, base = shown
    async with aiohttp.ClientSession() as session:
        first = await session.get(f"{base}/overlay/{ALL}/events")
        second = await session.get(f"{base}/overlay/twitch-main/events")
        third = await session.get(f"{base}/overlay/{ALL}/events")
        assert (first.status, second.status, third.status) == (200, 200, 429)
        third.release()
        first.close()
        await until(lambda: sum(overlay._per_client.values()) == 1)  # noticed it closed
        again = await session.get(f"{base}/overlay/{ALL}/events")
        assert again.status == 200
        again.close()
        second.close()


@pytest.fixture
async def keyed(tmp_path: Path) -> AsyncIterator[tuple[Access, str]]:
    access = Access(KEY)
    overlay = Overlay(WebSettings(), ["twitch-main"])  # type: ignore[call-arg]
    app = overlay.app(middlewares=[access.middleware])
    episodes = tmp_path / "episodes"
    cue = Cue(0, "Ada", "Hello.", 0, 0.0, 1.0)
    for episode in ("first-ep", "second-ep"):
        write_episode(episodes, episode, episode, b"RIFF", [cue])
    Episodes(episodes).add_routes(app)
    runner, base = await _serve(app)
    yield access, base
    await runner.cleanup()


def _browser() -> aiohttp.ClientSession:
    """A session that keeps cookies for an IP address, as browsers do."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_beyond_loopback_every_page_needs_the_key(keyed: tuple[Access, str]) -> None:
    _, base = keyed
    async with _browser() as session:
        for path in ("/overlay", f"/overlay/{ALL}", "/episodes", "/episodes/first-ep/"):
            async with session.get(base + path) as resp:
                assert resp.status == 401, path
        async with session.get(f"{base}/overlay/{ALL}?key=wrong") as resp:
            assert resp.status == 401
        async with session.get(f"{base}/overlay/{ALL}?key={KEY}") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/overlay/{ALL}/events") as resp:
            assert resp.status == 200  # the page's own request: the cookie carries the key
            resp.close()
        async with session.get(f"{base}/episodes") as resp:
            assert resp.status == 200


async def test_on_loopback_the_pages_answer_loopback_names_only() -> None:
    """Without a key (loopback), a page whose Host is another name is a DNS-rebinding
    site's, whose own Origin would match it: refused, the voice socket with the rest."""
    overlay = Overlay(WebSettings(), ["twitch-main"])  # type: ignore[call-arg]
    runner, base = await _serve(overlay.app(middlewares=[Access(None).middleware]))
    port = base.rsplit(":", 1)[1]
    try:
        async with aiohttp.ClientSession() as session:
            hosts = (("127.0.0.1", 200), ("localhost", 200), ("127.0.0.2", 200), ("[::1]", 200),
                     ("evil.example", 403), ("127.0.0.1.evil.example", 403))  # fmt: skip
            for host, status in hosts:
                headers = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
                async with session.get(f"{base}/overlay/{ALL}", headers=headers) as resp:
                    assert resp.status == status, (host, resp.status)
    finally:
        await runner.cleanup()


async def test_an_episode_link_opens_that_episode_only(keyed: tuple[Access, str]) -> None:
    access, base = keyed
    token = access.episode_token("first-ep")
    assert token and token != access.episode_token("second-ep") and KEY not in token
    async with _browser() as session:
        async with session.get(f"{base}/episodes/first-ep/?t={token}") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/episodes/first-ep/timeline.json") as resp:
            assert resp.status == 200  # the player's own fetch, by its cookie
        for path in ("/episodes/second-ep/", "/episodes", f"/overlay/{ALL}"):
            async with session.get(base + path) as resp:
                assert resp.status == 401, path
        async with session.get(f"{base}/episodes/second-ep/?t={token}") as resp:
            assert resp.status == 401


def test_the_stream_channels_default_and_the_key_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = LiteraiConfig(
        twitch={"enabled": True, "channels": ["Main_Streamer"]},  # type: ignore[arg-type]
        web={"enabled": True},  # type: ignore[arg-type]
    )
    assert stream_channels(config) == ["twitch-main_streamer", "console-console"]
    talking = config.model_copy(update={"voice": VoiceSettings(enabled=True)})  # type: ignore[call-arg]
    assert stream_channels(talking)[-1] == "voice-voice"  # the voice page's answers show
    chosen = config.model_copy(update={"web": WebSettings(channels=["discord-123"])})  # type: ignore[call-arg]
    assert stream_channels(chosen) == ["discord-123"]
    monkeypatch.delenv("LITERAI_WEB_KEY", raising=False)
    public = LiteraiConfig(web={"enabled": True, "host": "0.0.0.0"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^config error: web\.key_env: web\.host 0\.0\.0\.0 "):
        environment(public)
    assert environment(LiteraiConfig(web={"enabled": True})).web_key is None  # type: ignore[arg-type]
    monkeypatch.setenv("LITERAI_WEB_KEY", KEY)
    assert environment(public).web_key == KEY
    assert KEY in environment(public).secrets()
