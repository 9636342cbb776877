"""The live-stream overlay in real headless Chromium (Debian's package, driven by
Playwright): replies from the real core appear as captions, images show, speech plays
to its end one clip after another, and the page fades out when idle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page

from bots.web.episodes import Episodes
from bots.web.overlay import Overlay, overlay_name
from bots.web.settings import WebSettings
from literai_core.chat import ChannelKey, ChatLine
from literai_core.core import ChatCore
from literai_core.episode import Cue, Line, render, write_episode
from literai_core.podcast import title_card

from .kit.browser import chromium_page
from .kit.chat import bot_settings
from .kit.loopback import serve
from .kit.media import picture, tone
from .kit.scripted import ScriptedInference
from .kit.server import LITERAI, ROOT, write_config
from .kit.waiting import until

ARTIFACTS = ROOT / "test-artifacts"
AUTOPLAY = ["--autoplay-policy=no-user-gesture-required"]  # as OBS browser sources allow


class MediaInference(ScriptedInference):
    """Real media bytes: a PNG from Pillow, WAV tones whose length the text sets."""

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        return tone(float(text.split()[-1]))

    async def image(self, prompt: str, *, size: str) -> bytes:
        return picture(prompt, "64x48")


@pytest.fixture
async def overlay() -> AsyncIterator[tuple[Overlay, str]]:
    ov = Overlay(WebSettings(idle_s=1.5, caption_interval_s=0.05))  # type: ignore[call-arg]
    runner, port = await serve(ov.app(), handler_cancellation=True)  # as literai run does
    yield ov, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium_page(AUTOPLAY) as page:
        yield page


async def wait_log(page: Page, what: str, count: int = 1, limit_s: float = 20) -> list[Any]:
    await page.wait_for_function(
        "([what, count]) => window.literaiLog.filter(e => e[0] === what).length >= count",
        arg=[what, count],
        timeout=limit_s * 1000,
    )
    return await page.evaluate("window.literaiLog")  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_overlay_shows_captions_images_and_plays_speech_in_order(
    overlay: tuple[Overlay, str], page: Page
) -> None:
    ov, base = overlay
    inference = MediaInference(["The ", "teletype ", "hums."])
    core = ChatCore(
        bot_settings(user_cooldown_s=0, media_concurrency=2), inference, observers=[ov.observe]
    )
    name = overlay_name(ChannelKey("twitch", "#Teletype_Fan"))
    assert name == "twitch-teletype_fan"
    await page.goto(f"{base}/overlay/{name}")
    await wait_log(page, "connected")
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )

    def said(text: str, t: float) -> ChatLine:
        return ChatLine("twitch", "#Teletype_Fan", "viewer", text, t)

    reply = await core.handle(said("!ask what hums?", 0))
    assert reply is not None and await reply.text() == "The teletype hums."
    await wait_log(page, "caption")
    assert await page.inner_text("#caption") == "@viewer: The teletype hums."

    picture = await core.handle(said("!imagine a red teletype", 1))
    assert picture is not None and picture.media is not None
    await wait_log(page, "image")
    assert await page.is_visible("#image")
    assert await page.evaluate("document.getElementById('image').naturalWidth") == 64
    assert await page.inner_text("#image-caption") == "a red teletype"

    first = await core.handle(said("!say first clip 0.8", 2))
    second = await core.handle(said("!say second clip 0.4", 3))
    assert first is not None and second is not None
    events = await wait_log(page, "ended", 2)
    played = [(w, url.rsplit("/", 1)[-1]) for w, url, _ in events if w in ("play", "ended")]
    a, b = (ov.media.put(r.media) for r in (first, second) if r.media)
    assert played == [("play", a), ("ended", a), ("play", b), ("ended", b)], played
    times = {(what, url.rsplit("/", 1)[-1]): at for what, url, at in events}
    assert times[("ended", a)] - times[("play", a)] >= 700  # played to its end: 0.8 s
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "overlay.png"))

    await wait_log(page, "idle", limit_s=10)  # nothing new for idle_s: it fades out
    assert "idle" in await page.get_attribute("body", "class")  # type: ignore[operator]
    # Other channels' overlays get nothing; "all" would have.
    assert ov.sent > 0


async def test_overlay_http_edges(overlay: tuple[Overlay, str]) -> None:
    ov, base = overlay
    async with aiohttp.ClientSession() as http:
        for path, status in [
            ("/overlay", 200),
            ("/overlay/all", 200),
            ("/overlay/..%2Fetc", 404),
            ("/overlay/UPPER", 404),
            ("/overlay-media/../../etc/passwd", 404),
            ("/overlay-media/0123456789abcdef0123.png", 404),
        ]:
            async with http.get(base + path) as resp:
                assert resp.status == status, path
        ov.settings = WebSettings(max_viewers=1)  # type: ignore[call-arg]
        async with http.get(base + "/overlay/all/events") as first:
            assert first.status == 200
            assert (await first.content.readline()).startswith(b"event: hello")
            async with http.get(base + "/overlay/all/events") as second:
                assert second.status == 429
        await until(lambda: ov._pages == {})  # a closed page is forgotten


@pytest.mark.slow
async def test_literai_run_serves_the_overlay_with_the_console_bots_replies(
    tmp_path: Path,
) -> None:
    """The whole process: the real server and model, the console bot, the overlay."""
    config = write_config(
        tmp_path,
        bot={"user_cooldown_s": 0, "channel_cooldown_s": 0},
        web={"enabled": True, "port": 0},
        data_dir=str(tmp_path / "data"),
    )
    proc = await asyncio.create_subprocess_exec(
        *LITERAI,
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        url = ""
        while "overlay for OBS at" not in url:
            url = (await asyncio.wait_for(proc.stderr.readline(), 120)).decode()
            assert url, "literai run ended before serving the overlay"
        events_url = url.split(" at ", 1)[1].strip() + "/events"
        assert events_url.endswith("/overlay/all/events")
        async with aiohttp.ClientSession() as http, http.get(events_url) as events:
            assert (await events.content.readline()).startswith(b"event: hello")
            await asyncio.wait_for(proc.stdout.readline(), 120)  # "literai is ready"
            proc.stdin.write(b"!ask say hi to the stream\n")
            await proc.stdin.drain()
            final = None
            while final is None:
                line = (await asyncio.wait_for(events.content.readline(), 120)).decode()
                if line.startswith("data: ") and '"final": true' in line:
                    final = json.loads(line[6:])
            proc.stdin.write(b"!ask is this shit working?\n")  # the content filter refuses
            await proc.stdin.drain()
            while b"blocked here" not in await asyncio.wait_for(proc.stdout.readline(), 60):
                pass
            async with http.get(events_url.split("/overlay/")[0] + "/metrics") as metrics:
                assert metrics.status == 200
                assert "literai_filter_blocks_total 1.0" in await metrics.text()
        assert final["user"] == "viewer" and final["text"].strip()
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0


@pytest.mark.slow
async def test_episode_player_follows_the_timeline_when_seeking(tmp_path: Path, page: Page) -> None:
    """An episode written by literai_core.episode, played in Chromium: seek, and the
    line and the section's image that belong to that moment show."""
    lines = [
        Line("Ada", "Welcome to part one.", 0),
        Line("Bob", "Still part one.", 0),
        Line("Ada", "Now part two begins.", 1),
        Line("Bob", "And part two ends.", 1),
    ]
    wav, cues = await render(MediaInference(), [
        Line(ln.speaker, f"{ln.text} 0.8", ln.section) for ln in lines
    ], {"Ada": "a", "Bob": "b"}, model="m")  # fmt: skip
    cues = [Cue(**{**c.__dict__, "text": ln.text, "image": f"section-{c.section}.png"})
            for c, ln in zip(cues, lines, strict=True)]  # fmt: skip
    images = {f"section-{n}.png": title_card("Test", f"part {n + 1}", n + 1) for n in (0, 1)}
    folder = tmp_path / "episodes"
    write_episode(folder, "test-episode", "The Test Episode", wav, cues, images)
    app = web.Application()
    Episodes(folder).add_routes(app)
    runner, port = await serve(app)
    try:
        base = f"http://127.0.0.1:{port}"
        await page.goto(f"{base}/episodes")
        assert "The Test Episode" in await page.inner_text("body")
        await page.click("text=The Test Episode")
        await page.wait_for_function("document.body.dataset.ready === '1'")
        for i in (2, 1, 3):
            at = cues[i].start + 0.1
            await page.evaluate(f"document.getElementById('audio').currentTime = {at}")
            await page.wait_for_function(f"document.body.dataset.line === '{i}'", timeout=10_000)
            assert await page.inner_text("#text") == lines[i].text
            src = await page.get_attribute("#image", "src")
            assert src == f"section-{lines[i].section}.png"
            await page.wait_for_function(
                "document.getElementById('image').complete"
                " && document.getElementById('image').naturalWidth === 1280"
            )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "episode-player.png"))
        async with aiohttp.ClientSession() as http:
            for path, status in [
                ("/episodes/test-episode", 200),  # redirected to the folder
                ("/episodes/nope/", 404),
                ("/episodes/test-episode/..%2F..%2Fetc%2Fpasswd", 404),
                ("/episodes/test-episode/inspircd.conf", 404),
            ]:
                async with http.get(base + path) as resp:
                    assert resp.status == status, path
    finally:
        await runner.cleanup()
