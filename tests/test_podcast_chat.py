"""``!podcast`` in chat, end to end: ``literai run`` with the real server (packaged
model, Piper and espeak-ng voices, a tiny random-weight image pipeline), the console
bot, and the web pages. The episode is announced in the channel with a link to its
player, the overlay plays it, and each section's picture comes from the image model."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from .kit.server import LITERAI, ROOT, write_config
from .kit.tiny_diffusion import build_tiny_pipeline

pytestmark = pytest.mark.slow  # literai run with the real models

TOPIC = (
    "The Harwick teletype printed tomorrow's news. The clerk Mara read that a storm "
    "would close the line and warned the driver, who did not believe her."
)


class Console:
    """``literai run`` as a subprocess: type into its console bot, read what it says."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc = proc
        self.stdin, self.stdout, self.stderr = proc.stdin, proc.stdout, proc.stderr

    @classmethod
    async def start(cls, config: Path) -> Console:
        proc = await asyncio.create_subprocess_exec(
            *LITERAI, "run", "--config", str(config), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def web_base(self) -> str:
        """The web server's base URL, from the log line that names the overlay."""
        url = ""
        while "overlay for OBS at" not in url:
            url = (await asyncio.wait_for(self.stderr.readline(), 120)).decode()
            assert url, "literai run ended before serving the overlay"
        return url.split(" at ", 1)[1].strip().rsplit("/overlay/", 1)[0]

    async def said(self) -> str:
        line = (await asyncio.wait_for(self.stdout.readline(), 300)).decode()
        assert line, "literai run ended early"
        return line.rstrip("\n")

    async def type(self, text: str) -> None:
        self.stdin.write(text.encode() + b"\n")
        await self.stdin.drain()

    async def close(self) -> int:
        self.stdin.close()
        return await asyncio.wait_for(self.proc.wait(), 60)


async def test_podcast_in_chat_is_announced_with_its_player_and_played_on_the_overlay(
    tmp_path: Path,
) -> None:
    model = build_tiny_pipeline(tmp_path / "tiny-model")
    data = tmp_path / "data"
    config = write_config(
        tmp_path,
        server={"port": 0, "images": {"model": str(model), "max_side": 128}},
        bot={"user_cooldown_s": 0, "channel_cooldown_s": 0,
             "podcast": {"max_sections": 1, "lines_per_section": 2, "image_size": "64x64"}},
        web={"enabled": True, "port": 0, "public_url": "http://stream.example:8090/"},
        data_dir=str(data),
    )  # fmt: skip
    console = await Console.start(config)
    try:
        base = await console.web_base()
        async with aiohttp.ClientSession() as http, http.get(base + "/overlay/all/events") as ev:
            assert (await ev.content.readline()).startswith(b"event: hello")
            episode = await _record_in_chat(console)
            await _played_on_the_overlay(http, ev, base)
            async with http.get(f"{base}/episodes/{episode}/") as page:
                assert page.status == 200 and "<audio" in await page.text()
    finally:
        code = await console.close()
    assert code == 0
    folder = data / "episodes" / episode
    timeline = json.loads((folder / "timeline.json").read_text())
    assert [s["source"] for s in timeline["sections"]] == ["image model"]
    assert timeline["sections"][0]["prompt"] and timeline["sections"][0]["summary"] == TOPIC
    picture = Image.open(io.BytesIO((folder / "section-0.png").read_bytes()))
    assert picture.size == (64, 64)  # drawn by the (tiny) image model, not a title card
    assert {ln["speaker"] for ln in timeline["lines"]} == {"Ada", "Bob"}


async def _record_in_chat(console: Console) -> str:
    """!podcast in the console: refused, started, busy, then announced; the episode's
    folder name, from the link to its player."""
    await console.said()  # "literai is ready"
    await console.type("!podcast")  # nothing said in this channel yet
    assert await console.said() == "literai: Not much has been said here yet."
    await console.type(f"!podcast {TOPIC}")
    assert (await console.said()).startswith("literai: 🎙️ Recording an episode about “The")
    await console.type("!podcast again")
    assert "already recording" in await console.said()
    announced = await console.said()
    assert announced.startswith("literai: 🎙️ New episode: The Harwick"), announced
    link = announced.split(" — ", 1)[1].split(" ", 1)[0]
    assert link.startswith("http://stream.example:8090/episodes/") and link.endswith("/")
    assert "[audio/wav saved to " in announced
    return link.rstrip("/").rsplit("/", 1)[1]


async def _played_on_the_overlay(
    http: aiohttp.ClientSession, events: aiohttp.ClientResponse, base: str
) -> None:
    """The overlay's event stream plays the episode, and its audio is served."""
    event = ""
    while not event.startswith("event: speech"):
        event = (await asyncio.wait_for(events.content.readline(), 60)).decode()
    played = json.loads((await events.content.readline()).decode()[6:])
    assert played["caption"].startswith("Podcast: The Harwick")
    async with http.get(base + played["url"]) as audio:
        assert audio.status == 200 and (await audio.read())[:4] == b"RIFF"
