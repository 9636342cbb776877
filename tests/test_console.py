"""The console bot as a user runs it: a subprocess with the real server and model."""

from __future__ import annotations

import signal
import subprocess
import wave
from pathlib import Path

import pytest

from bots.config import load_config

from .kit.server import LITERAI, ROOT, literai, write_config

CONSOLE = {"user_cooldown_s": 0, "channel_cooldown_s": 0}


def _run(config: Path, stdin: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return literai("run", "--config", str(config), *flags, stdin=stdin)


def _replies(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    assert lines[0].startswith("literai is ready"), stdout
    return [line.removeprefix("literai: ") for line in lines[1:]]


@pytest.mark.slow
def test_console_answers_gpt2_ask_and_explains_bad_commands(tmp_path: Path) -> None:
    config = write_config(tmp_path, bot=CONSOLE)
    stdin = "\n".join(
        [
            "hello chat, the teletype is warming up",
            "!gpt2 hello",
            "!ask what is a teletype?",
            "!bogus",
            "!ask",
            "!help gpt2",
        ]
    )
    done = _run(config, stdin + "\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    gpt2, ask, bogus, usage, help_line = _replies(done.stdout)
    assert gpt2.startswith("hello") and len(gpt2) > len("hello"), gpt2
    assert len(ask.split()) >= 3 and not ask.startswith("Sorry"), ask
    assert bogus == "Unknown command !bogus. Try !help."
    assert usage == "Usage: !ask <question>"
    assert help_line.startswith("!gpt2 [text] — ")


@pytest.mark.slow
def test_console_say_saves_real_speech(tmp_path: Path) -> None:
    config = write_config(tmp_path, bot=CONSOLE, data_dir=str(tmp_path / "data"))
    done = _run(config, "!say hello chat, this is the teletype speaking.\n")
    assert done.returncode == 0, done.stderr
    (said,) = _replies(done.stdout)
    assert said.startswith("🔊 hello chat, this is the teletype speaking. [audio/wav saved to ")
    path = Path(said.rsplit(" saved to ", 1)[1].rstrip("]"))
    assert path.parent == tmp_path / "data" / "media"
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 1.0 < seconds < 8.0


@pytest.mark.slow
def test_console_teletype_prints_the_same_lines(tmp_path: Path) -> None:
    config = write_config(tmp_path, bot=CONSOLE)
    done = _run(config, "!help\n", "--teletype", "--cps", "5000", "--user", "ada")
    assert done.returncode == 0, done.stderr
    assert _replies(done.stdout) == [
        "Commands: !ask !clear !filter !forget !gpt2 !help !imagine !memory !pause !persona "
        "!podcast !recap !reload !resume !say !story !summary. "
        "!help <command> for details."
    ]


@pytest.mark.slow
def test_console_ctrl_c_shuts_down_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path, bot=CONSOLE)
    proc = subprocess.Popen(
        [*LITERAI, "run", "--config", str(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("literai is ready")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_console_with_the_server_down_answers_politely(tmp_path: Path) -> None:
    # A bot pointed at a server that is not there: it must say so, not crash.
    config = write_config(
        tmp_path, bot=CONSOLE, client={"base_url": "http://127.0.0.1:9/v1", "timeout_s": 5}
    )
    done = _run(config, "!ask are you there?\n!help\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "is not answering" in done.stderr
    sorry, help_line = _replies(done.stdout)
    assert sorry.startswith("Sorry, I can't answer right now: the model server is unreachable")
    assert help_line.startswith("Commands:")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("server:\n  port: abc\n", "server.port"),
        ("server:\n  prot: 8080\n", "server.prot"),
        ("bot:\n  window_lines: 0\n", "bot.window_lines"),
        (
            "server:\n  models:\n    smollm2:\n      path: /nope/x.gguf\n",
            "server.models.smollm2.path: file not found: /nope/x.gguf",
        ),
        ("server:\n  default_model: other\n", "default_model"),
        ("server: [\n", "not valid YAML"),
        ("- a list\n", "top level must be a mapping"),
        ("twitch:\n  channels: ['not a login!']\n", "twitch.channels.0"),
        ("irc:\n  nick: '#bad'\n", "irc.nick"),
        ("discord:\n  voice:\n    queue: 0\n", "discord.voice.queue"),
        ("web:\n  port: 70000\n", "web.port"),
        ("server:\n  models:\n    smollm2:\n      slots: 0\n", "server.models.smollm2.slots"),
        (
            "server:\n  models:\n    smollm2:\n      flash_attn: maybe\n",
            "server.models.smollm2.flash_attn",
        ),
        (
            "server:\n  models:\n    smollm2:\n      prefill_chunk: 4\n",
            "server.models.smollm2.prefill_chunk",
        ),
        ("server:\n  models:\n    smollm2:\n      engine: tgi\n", "server.models.smollm2.engine"),
        ("server:\n  models:\n    smollm2:\n      engine: remote\n", "url"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, yaml_text: str, expected: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    for cmd in ("serve", "run"):
        done = literai(cmd, "--config", str(config))
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert expected in done.stderr


@pytest.mark.slow
def test_bad_flags_and_missing_config_file(tmp_path: Path) -> None:
    cases = [
        (["serve", "--port", "abc"], "not a port number"),
        (["serve", "--port", "70000"], "port must be 0-65535"),
        (["serve", "--config", str(tmp_path / "missing.yaml")], "cannot read"),
        (["run", "--cps", "-1"], "console.cps"),
        (["launch"], "invalid choice"),
    ]
    for args, expected in cases:
        done = literai(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_corrupt_model_file_is_a_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"this is not a gguf file" * 100)
    config = write_config(tmp_path, server={"port": 0, "models": {"smollm2": {"path": str(bogus)}}})
    done = literai("serve", "--config", str(config))
    assert done.returncode == 1
    assert "failed to load" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, server={"port": port})
        done = literai("serve", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"server.port: cannot listen on 127.0.0.1:{port}" in done.stderr


@pytest.mark.slow
def test_discord_enabled_without_a_token_is_a_one_line_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, discord={"enabled": True, "token_env": "LITERAI_TEST_NO_TOKEN"})
    done = literai("run", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "LITERAI_TEST_NO_TOKEN is not set" in done.stderr


@pytest.mark.parametrize("example", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(example: Path) -> None:
    config = load_config(example)
    assert config.server.port == 8080  # they all describe the same local server
