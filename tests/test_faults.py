"""Faults, with real processes: the inference server killed with SIGKILL mid-answer and
started again (the bot says so politely and recovers without a restart), a full disk
under the story store and the episodes (a clear error, nothing half-written, the bot
goes on), and ``literai podcast`` stopped by SIGTERM then resumed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from literai_core.chat import ChatLine, ReplyKind
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.story import StoryStore

from .kit.chat import bot_settings
from .kit.scripted import ScriptedInference
from .kit.server import API_KEY, LITERAI, ROOT, Server, start_server, stop_server, write_config

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_reply(proc: subprocess.Popen[str], limit_s: float = 60) -> str:
    """The console's next reply line (it prints whole replies)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("literai: "):
            return line.strip()
        assert line, "the console bot ended"
    raise AssertionError("no reply in time")


def test_the_server_killed_mid_answer_is_said_politely_and_the_bot_recovers(
    tmp_path: Path,
) -> None:
    port = _free_port()
    server_dir, bot_dir = tmp_path / "server", tmp_path / "bot"
    server_dir.mkdir()
    bot_dir.mkdir()
    serving = write_config(server_dir, server={"port": port})
    env = {"LITERAI_API_KEY": API_KEY}
    server = start_server(serving, env)
    bot_config = write_config(
        bot_dir,
        client={"base_url": f"http://127.0.0.1:{port}/v1", "timeout_s": 30},
        bot={"user_cooldown_s": 0, "channel_cooldown_s": 0,
             "ask": {"max_tokens": 1000, "temperature": 0.8}},
    )  # fmt: skip
    bot = subprocess.Popen(
        [*LITERAI, "run", "--config", str(bot_config)],
        cwd=ROOT, env={**os.environ, **env}, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert bot.stdin is not None and bot.stdout is not None
    try:
        assert bot.stdout.readline().startswith("literai is ready")
        bot.stdin.write("!ask tell me a very long story about a teletype\n")
        bot.stdin.flush()
        _until_generating(server)
        server.proc.send_signal(signal.SIGKILL)  # mid-answer
        server.proc.wait()
        cut = _read_reply(bot)
        assert "Sorry, I can't answer right now" in cut, cut
        bot.stdin.write("!ask are you there?\n")  # while the server is down: told
        bot.stdin.flush()
        assert "the model server is unreachable" in _read_reply(bot)
        server = start_server(serving, env)  # back, on the same port
        bot.stdin.write("!ask what is a teletype?\n")
        bot.stdin.flush()
        answer = _read_reply(bot)
        assert not answer.startswith("literai: Sorry"), answer
        bot.stdin.close()
        assert bot.wait(timeout=60) == 0
        err = bot.stderr.read() if bot.stderr is not None else ""
        assert "Traceback" not in err and API_KEY not in err
    finally:
        if bot.poll() is None:
            bot.kill()
        if server.proc.poll() is None:
            stop_server(server)


def _until_generating(server: Server, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while server.metric("literai_requests_running", 'model="smollm2"') < 1:
        assert time.monotonic() < deadline, "the answer never started"
        time.sleep(0.01)


@contextlib.contextmanager
def full_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tiny tmpfs at ``folder`` (the tests run as root, as CI does), filled up."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        _fill(folder / "filler")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


async def test_a_full_disk_under_the_story_store_is_a_polite_line_and_nothing_breaks(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with full_disk(data):
        (data / "filler").unlink()  # room for the empty database only
        store = StoryStore(data / "stories.sqlite")
        _fill(data / "filler")
        inference = ScriptedInference(["A long first passage. " * 200], ["Summary."], ["Hi."])
        core = ChatCore(
            bot_settings(user_cooldown_s=0), inference, default_components(stories=store)
        )
        line = ChatLine("twitch", "#main", "viewer", "!story start A storm.", 0.0)
        reply = await core.handle(line)
        assert reply is not None and reply.kind is ReplyKind.ERROR
        assert await reply.text() == "Sorry, I can't keep the story right now (its storage failed)."
        # The bot goes on: other commands still work.
        ask = await core.handle(ChatLine("twitch", "#main", "viewer", "!ask hello?", 1.0))
        assert ask is not None and await ask.text() == "Hi."
        (data / "filler").unlink()
        assert store.get("twitch:#main") is None  # nothing half-written


def test_a_full_disk_under_the_episodes_is_one_line_and_leaves_nothing(
    tmp_path: Path, server: Server
) -> None:
    text = tmp_path / "story.txt"
    text.write_text("The teletype printed the news of tomorrow. Mara read it aloud.\n")
    data = tmp_path / "data"
    config = write_config(
        tmp_path,
        data_dir=str(data),
        client={"base_url": server.v1, "api_key_env": "LITERAI_TEST_KEY"},
        bot={"podcast": {"images": False, "max_sections": 1, "lines_per_section": 2}},
    )
    with full_disk(data / "episodes", "256k"):
        done = subprocess.run(
            [*LITERAI, "podcast", str(text), "--config", str(config), "--quiet"],
            cwd=ROOT, env={**os.environ, "LITERAI_TEST_KEY": API_KEY},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        left = sorted(p.name for p in (data / "episodes").iterdir())
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("literai: cannot make the episode: "), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert all(name == "filler" or name.startswith(".work-") for name in left), left


def test_sigterm_during_literai_podcast_then_resume_finishes_it(
    tmp_path: Path, server: Server
) -> None:
    text = tmp_path / "story.txt"
    text.write_text(
        "\n\n".join(
            f"Part {n}. The teletype at Harwick printed tomorrow's news; Mara read part {n}."
            for n in range(3)
        )
    )
    data = tmp_path / "data"
    config = write_config(
        tmp_path,
        data_dir=str(data),
        client={"base_url": server.v1, "api_key_env": "LITERAI_TEST_KEY"},
        bot={"podcast": {"images": False, "max_sections": 2, "lines_per_section": 2}},
    )
    env = {**os.environ, "LITERAI_TEST_KEY": API_KEY}
    command = [*LITERAI, "podcast", str(text), "--config", str(config), "--quiet"]
    first = subprocess.Popen(
        command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    episodes = data / "episodes"
    deadline = time.monotonic() + 240
    while not list(episodes.glob(".work-*/script.json")):  # the script is written
        assert first.poll() is None and time.monotonic() < deadline, first.stderr
        time.sleep(0.05)
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "Traceback" not in err
    (script,) = episodes.glob(".work-*/script.json")
    planned = [line["text"] for line in json.loads(script.read_text())["lines"]]
    assert not [p for p in episodes.iterdir() if not p.name.startswith(".")]  # no episode yet
    resumed = subprocess.run(
        [*command, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    folder = Path(resumed.stdout.strip())
    assert (folder / "audio.wav").is_file() and (folder / "timeline.json").is_file()
    assert not script.exists()  # the work folder is gone once the episode is written
    spoken = [line["text"] for line in json.loads((folder / "timeline.json").read_text())["lines"]]
    assert spoken == planned  # the stopped run's script, not a new one


def test_a_full_disk_under_the_media_store_leaves_no_part_file(tmp_path: Path) -> None:
    from inference_server.media import MediaStore

    with full_disk(tmp_path / "media"):
        store = MediaStore(tmp_path / "media", 10_000_000)
        with pytest.raises(OSError):
            store.put(b"\x89PNG" + b"x" * 200_000, "png")
        left = sorted(p.name for p in (tmp_path / "media").iterdir())
        assert left == ["filler"]  # no half file, served or not
        (tmp_path / "media" / "filler").unlink()
        name = store.put(b"\x89PNG small", "png")  # room again: it works
        assert store.path(name) is not None
