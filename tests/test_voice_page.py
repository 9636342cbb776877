"""The voice page in real headless Chromium (Debian's package, driven by Playwright)
with a fake microphone playing a WAV that literai's own Piper voice spoke: a question,
a pause while the answer starts playing, then a second question over it. The page shows
what it heard, streams the answer, plays its speech; the second question stops the
playback at once and the server's generation (its metrics say so), and is answered and
played to its end. A screenshot is saved as a test artifact. Then, without a microphone,
the page says so plainly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import aiohttp
import numpy as np
import openai
import pytest
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.scores import word_error_rate as wer
from literai_core.inference import OpenAIInference

from .kit.browser import chromium_page
from .kit.inprocess import MODEL, EchoServer
from .kit.scripted import ScriptedInference
from .kit.server import LITERAI, ROOT, write_config
from .kit.voice import RATE, Lecturer, silence, spoken, voice_page, voice_server

pytestmark = pytest.mark.slow  # Chromium, Whisper and Piper

LONG = (
    "A teletype is a printing telegraph that newsrooms kept running day and night for "
    "many years. It types each letter that arrives over the long copper wire from the "
    "station far away. Operators read the yellow paper as it rolled out of the machine "
    "and carried the stories to the editors."
)

ARTIFACTS = ROOT / "test-artifacts"
ASKED = "How does an old teletype work?"
AGAIN = "Why did the old printer ring a bell?"
MIC_ALLOWED = ["--use-fake-ui-for-media-stream"]  # the permission prompt says yes


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EchoServer, Lecturer]]:
    # ~13 s of writing: the second question, 8 s after the first, lands in it even on a
    # loaded machine (the delay is a clock, not work, so it does not stretch with load).
    backend = Lecturer(LONG, token_delay_s=0.25)
    with voice_server(tmp_path_factory.mktemp("voice-page"), backend) as server:
        yield server, backend


def _microphone(server: EchoServer, folder: Path) -> Path:
    """What the fake microphone plays: the question, 8 s for the answer to start
    playing, the second question over it, then quiet."""
    said = [silence(1.0), spoken(server, ASKED), silence(8.0), spoken(server, AGAIN)]
    samples = np.concatenate([*said, silence(14.0)])
    path = folder / "microphone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


async def _logged(page: Page, what: str, limit_s: float = 60, turn: int | None = None) -> Any:
    """The page's log once it holds ``what`` (for ``turn``), waiting for it; the log so
    far in the failure when it never comes."""
    try:
        await page.wait_for_function(
            """([what, turn]) => window.literaiLog.some(e => e[0] === what &&
                 (turn === null || (e[1] && e[1].turn === turn) || e[1] === turn))""",
            arg=[what, turn],
            timeout=limit_s * 1000,
        )
    except PlaywrightTimeout:
        log = await page.evaluate("window.literaiLog")
        raise AssertionError(f"no {what!r} (turn {turn}) in {limit_s} s: {log}") from None
    return await page.evaluate("window.literaiLog")


async def test_the_page_hears_answers_speaks_and_stops_when_talked_over(
    listening: tuple[EchoServer, Lecturer], tmp_path: Path
) -> None:
    server, backend = listening
    mic = _microphone(server, tmp_path)
    cancelled = server.metric("literai_generations_cancelled_total", f'model="{MODEL}"')
    client = openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key=server.api_key)
    runner, url, voice = await voice_page(OpenAIInference(client, MODEL))
    flags = [*MIC_ALLOWED, "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={mic}%noloop"]  # fmt: skip
    try:
        async with chromium_page(flags, 900, 700) as page:
            await page.goto(url + "/voice")
            await page.click("#start")
            await _logged(page, "ready")
            await _logged(page, "heard", turn=1)
            await _logged(page, "playing")
            await _logged(page, "stopped", turn=1)
            log = await _logged(page, "played", turn=2)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "voice-page.png"))
            bubbles = await page.locator(".turn").all_inner_texts()
    finally:
        await runner.cleanup()
        await client.close()
    kinds = [e[0] for e in log]
    heard = [e[1]["text"] for e in log if e[0] == "heard"]
    assert len(heard) == 2 and wer(ASKED, heard[0]) <= 0.25 and wer(AGAIN, heard[1]) <= 0.25
    # Turn 1 played, then stopped when the second question began, never finished.
    assert kinds.index("playing") < kinds.index("stop") < kinds.index("stopped")
    assert not [e for e in log if e[0] == "done" and e[1]["turn"] == 1]
    done = [e[1] for e in log if e[0] == "done" and e[1]["turn"] == 2]
    assert done and done[0]["text"] == LONG
    after = kinds[kinds.index("stopped") :]
    pieces = [e for e in log if e[0] == "audio" and e[1]["turn"] == 2]
    assert len(pieces) >= 3 and after.count("ended") == len(pieces)  # each played to its end
    assert server.metric("literai_generations_cancelled_total", f'model="{MODEL}"') == cancelled + 1
    assert backend.cut_off == 1 and voice.barge_ins == 1 and voice.turns == 2
    assert bubbles[0].startswith("you") and "(stopped)" not in bubbles[-1]
    assert any(b.startswith("literai") for b in bubbles)


async def test_without_a_microphone_the_page_says_so() -> None:
    runner, url, _ = await voice_page(ScriptedInference())
    try:
        async with chromium_page(MIC_ALLOWED, 900, 700) as page:  # no fake device: no mic
            await page.goto(url + "/voice")
            await page.click("#start")
            await page.wait_for_function("() => window.literaiLog.some(e => e[0] === 'mic-error')")
            status = await page.inner_text("#status")
    finally:
        await runner.cleanup()
    assert status.startswith("No microphone was found"), status


async def test_literai_run_serves_the_page_and_it_hears_through_the_server(tmp_path: Path) -> None:
    """The whole process as a user starts it: the server with Whisper on the packaged
    model, the voice page beside it (and on /metrics), until Ctrl-C."""
    config = write_config(
        tmp_path,
        console={"enabled": False},
        web={"enabled": True, "port": 0},
        voice={"enabled": True},
        data_dir=str(tmp_path / "data"),
    )
    proc = _run(config)
    try:
        assert proc.stderr is not None
        url = await asyncio.wait_for(asyncio.to_thread(_page_url, proc.stderr), 120)
        async with aiohttp.ClientSession() as http:
            page = await http.get(url)
            assert page.status == 200 and "Talk to literai" in await page.text()
            async with http.ws_connect(url + "/ws") as ws:
                assert (await ws.receive_json(timeout=60))["type"] == "ready"
                await ws.send_json({"type": "mode", "mode": "ptt"})
                await ws.send_json({"type": "ptt", "down": True})
                await ws.send_bytes(silence(0.5).tobytes())
                await ws.send_json({"type": "ptt", "down": False})
                assert await ws.receive_json(timeout=10) == {"type": "speech"}
                heard = await ws.receive_json(timeout=60)
            metrics = await (await http.get(url.removesuffix("/voice") + "/metrics")).text()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert heard == {"type": "heard", "turn": 1, "text": ""}  # silence, heard as nothing
    assert "literai_voice_turns_total 0.0" in metrics
    assert proc.returncode == 0 and "Traceback" not in err, err


def _run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LITERAI, "run", "--config", str(config)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _page_url(stderr: IO[str]) -> str:
    for line in stderr:
        if "talk to it at " in line:
            return line.split("talk to it at ", 1)[1].strip()
    raise AssertionError("literai run never printed the voice page's address")
