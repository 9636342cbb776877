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
from PIL import Image

from .conftest import LITERAI, ROOT, write_config
from .tiny_diffusion import build_tiny_pipeline

TOPIC = (
    "The Harwick teletype printed tomorrow's news. The clerk Mara read that a storm "
    "would close the line and warned the driver, who did not believe her."
)


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
    proc = await asyncio.create_subprocess_exec(
        *LITERAI, "run", "--config", str(config), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr

    async def said() -> str:
        line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode()  # type: ignore[union-attr]
        assert line, "literai run ended early"
        return line.rstrip("\n")

    async def type_(text: str) -> None:
        proc.stdin.write(text.encode() + b"\n")  # type: ignore[union-attr]
        await proc.stdin.drain()  # type: ignore[union-attr]

    try:
        url = ""
        while "overlay for OBS at" not in url:
            url = (await asyncio.wait_for(proc.stderr.readline(), 120)).decode()
            assert url, "literai run ended before serving the overlay"
        base = url.split(" at ", 1)[1].strip().rsplit("/overlay/", 1)[0]
        async with aiohttp.ClientSession() as http, http.get(base + "/overlay/all/events") as ev:
            assert (await ev.content.readline()).startswith(b"event: hello")
            await said()  # "literai is ready"
            await type_("!podcast")  # nothing said in this channel yet
            assert await said() == "literai: Not much has been said here yet."
            await type_(f"!podcast {TOPIC}")
            assert (await said()).startswith("literai: 🎙️ Recording an episode about “The")
            await type_("!podcast again")
            assert "already recording" in await said()
            announced = await said()
            assert announced.startswith("literai: 🎙️ New episode: The Harwick"), announced
            link = announced.split(" — ", 1)[1].split(" ", 1)[0]
            assert link.startswith("http://stream.example:8090/episodes/") and link.endswith("/")
            assert "[audio/wav saved to " in announced
            event = ""
            while not event.startswith("event: speech"):
                event = (await asyncio.wait_for(ev.content.readline(), 60)).decode()
            played = json.loads((await ev.content.readline()).decode()[6:])
            assert played["caption"].startswith("Podcast: The Harwick")
            async with http.get(base + played["url"]) as audio:
                assert audio.status == 200 and (await audio.read())[:4] == b"RIFF"
            episode = link.rstrip("/").rsplit("/", 1)[1]
            async with http.get(f"{base}/episodes/{episode}/") as page:
                assert page.status == 200 and "<audio" in await page.text()
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0
    folder = data / "episodes" / episode
    timeline = json.loads((folder / "timeline.json").read_text())
    assert [s["source"] for s in timeline["sections"]] == ["image model"]
    assert timeline["sections"][0]["prompt"] and timeline["sections"][0]["summary"] == TOPIC
    picture = Image.open(io.BytesIO((folder / "section-0.png").read_bytes()))
    assert picture.size == (64, 64)  # drawn by the (tiny) image model, not a title card
    assert {ln["speaker"] for ln in timeline["lines"]} == {"Ada", "Bob"}
