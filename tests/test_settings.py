"""The deployment config: every key described and bounded where it is a number, one
loader, one-line errors naming the key, and ``literai config --explain``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from bots.config import LiteraiConfig, environment, load_config
from bots.explain import explain
from bots.twitch.settings import Credentials
from inference_server.settings import ConfigError


def _models(model: type[BaseModel] = LiteraiConfig) -> Iterator[type[BaseModel]]:
    """Every settings model reachable from the deployment config."""
    yield model
    for info in model.model_fields.values():
        annotation = info.annotation
        # A section, or a mapping/list/optional of sections.
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for tp in candidates:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                yield from _models(tp)


def test_every_settings_field_is_described() -> None:
    missing = [
        f"{model.__module__}.{model.__name__}.{name}"
        for model in set(_models())
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert missing == [], f"fields without a description: {missing}"


def test_explain_lists_every_leaf_key_with_its_meaning() -> None:
    keys = {key.path: key for key in explain()}
    assert keys["server.port"].default == "8080"
    assert keys["server.port"].bounds == "ge 0; le 65535"
    assert keys["server.models.<name>.engine"].bounds.startswith("one of llama.cpp, vllm")
    assert keys["server.models"].default == "smollm2"  # a mapping of sections: its entries
    assert keys["bot.podcast.hosts[].name"].default == "(required)"
    assert keys["discord.voice.queue"].description == "Clips waiting per guild."
    assert all(key.description for key in keys.values())
    assert len(keys) > 150


def test_a_bad_key_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("server:\n  port: nine\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(f"config error in {path}: server.port: ")
    assert "\n" not in text and caught.value.key == "server.port"
    path.write_text("bot:\n  windw_lines: 3\n")
    with pytest.raises(ConfigError, match=r"bot\.windw_lines: Extra inputs are not permitted"):
        load_config(path)
    path.write_text("bot:\n  gpt2:\n    retries: 9\n")
    with pytest.raises(ConfigError, match=r"bot\.gpt2\.retries: Input should be less than or"):
        load_config(path)
    path.write_text("server:\n  models:\n    smollm2:\n      quant: q5_0\n")
    with pytest.raises(
        ConfigError, match=r"server\.models\.smollm2\.quant: Input should be 'q8_0'"
    ):
        load_config(path)
    path.write_text("server: [1\n")
    with pytest.raises(ConfigError, match=r"x\.yaml at line 2: not valid YAML"):
        load_config(path)


@pytest.mark.parametrize(
    ("yaml", "key", "says"),
    [
        ("bot:\n  ask:\n    max_sentences: -1\n", "bot.ask.max_sentences", "greater than or"),
        ("bot:\n  ask:\n    line_style: bullets\n", "bot.ask.line_style", "Input should be"),
        ("bot:\n  ask:\n    shaped: sometimes\n", "bot.ask.shaped", "valid boolean"),
        ("bot:\n  summary:\n    chat_style: ai\n", "bot.summary.chat_style", "Input should be"),
        ("bot:\n  summary:\n    grounding: 1.5\n", "bot.summary.grounding", "less than or"),
        (
            "bot:\n  summary:\n    chat_grounding: -1\n",
            "bot.summary.chat_grounding",
            "greater than",
        ),
        ("bot:\n  summary:\n    temperature: hot\n", "bot.summary.temperature", "valid number"),
        ("bot:\n  podcast:\n    temperature: 3\n", "bot.podcast.temperature", "less than or"),
        # The content filter, a channel's model, trained models (2026-12-01).
        ("bot:\n  filter:\n    action: censor\n", "bot.filter.action", "Input should be"),
        ("bot:\n  filter:\n    safe_line: ''\n", "bot.filter.safe_line", "at least 1"),
        ("bot:\n  filter:\n    extra_words: ['']\n", "bot.filter.extra_words.0", "at least"),
        ("bot:\n  channel_models: [pyref]\n", "bot.channel_models", "valid dictionary"),
        ("server:\n  trained_models: both\n", "server.trained_models", "Input should be"),
        ("server:\n  models:\n    a:\n      lora: [x]\n", "server.models.a.lora", "valid string"),
        ("server:\n  models:\n    a:\n      repack: maybe\n", "server.models.a.repack", "'auto'"),
        # The fitted Whisper window and the voice page's early answer (2026-12-02 evening).
        (
            "server:\n  transcription:\n    models:\n      t:\n        window: short\n",
            "server.transcription.models.t.window",
            "'fit' or 'full'",
        ),
        ("voice:\n  answer_early: soon\n", "voice.answer_early", "valid boolean"),
        (
            "server:\n  transcription:\n    max_queue: -1\n",
            "server.transcription.max_queue",
            "greater than",
        ),
        (
            "server:\n  transcription:\n    default_model: base\n",
            "server.transcription",
            "is not a key of models",
        ),
        (
            "server:\n  transcription:\n    models:\n      t:\n        beam_size: 0\n",
            "server.transcription.models.t.beam_size",
            "greater than",
        ),
        ("bot:\n  ask:\n    busy_sentences: 0\n", "bot.ask.busy_sentences", "greater than"),
        ("bot:\n  ask:\n    busy_after: -1\n", "bot.ask.busy_after", "greater than"),
        ("discord:\n  combine_answers: maybe\n", "discord.combine_answers", "valid boolean"),
        ("bot:\n  ask:\n    retry_together: often\n", "bot.ask.retry_together", "valid boolean"),
        ("bot:\n  gpt2:\n    retry_together: 2\n", "bot.gpt2.retry_together", "valid boolean"),
        ("bot:\n  memory:\n    retention_days: 0\n", "bot.memory.retention_days", "greater than"),
        ("bot:\n  memory:\n    recall: 11\n", "bot.memory.recall", "less than or"),
        ("bot:\n  memory:\n    forever: true\n", "bot.memory.forever", "Extra inputs"),
        ("twitch:\n  events:\n    raid:\n      mode: loud\n", "twitch.events.raid.mode", "Input"),
        (
            "twitch:\n  events:\n    gift:\n      template: '{user}'\n",
            "twitch.events.gift.template",
            "only plain {users}",
        ),
        (
            "twitch:\n  events:\n    follow:\n      every_s: -1\n",
            "twitch.events.follow.every_s",
            "greater than or",
        ),
        ("twitch:\n  events:\n    hype: {}\n", "twitch.events.hype", "Extra inputs"),
        (
            "twitch:\n  redemptions:\n    Hydrate: drink\n",
            "twitch.redemptions.Hydrate",
            "Input should be",
        ),
    ],
)
def test_each_answer_and_summary_knob_refuses_a_bad_value_in_one_line(
    tmp_path: Path, yaml: str, key: str, says: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key and says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_command_line_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("server:\n  port: 9000\n  host: 127.0.0.2\n")
    config = load_config(path, {"server": {"port": 0}, "console": {}})
    assert (config.server.port, config.server.host) == (0, "127.0.0.2")


def test_environment_reads_only_what_the_enabled_parts_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TWITCH_CLIENT_ID", "TWITCH_CLIENT_SECRET", "TWITCH_BOT_TOKEN"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.delenv("TWITCH_BOT_REFRESH_TOKEN", raising=False)
    monkeypatch.setenv("LITERAI_API_KEY", "the-key")
    quiet = environment(LiteraiConfig())
    assert quiet.twitch is None and quiet.api_key == "the-key"
    twitch = LiteraiConfig(twitch={"enabled": True, "channels": ["somebody"]})  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        environment(twitch)
    assert str(caught.value) == (
        "config error: twitch: twitch is enabled but TWITCH_BOT_REFRESH_TOKEN is not set "
        "in the environment"
    )
    monkeypatch.setenv("TWITCH_BOT_REFRESH_TOKEN", "refresh")
    env = environment(twitch)
    assert env.twitch == Credentials(
        "value-of-TWITCH_CLIENT_ID", "value-of-TWITCH_CLIENT_SECRET",
        "value-of-TWITCH_BOT_TOKEN", "refresh",
    )  # fmt: skip
    assert set(env.secrets()) >= {"the-key", "value-of-TWITCH_CLIENT_SECRET", "refresh"}
    rewards = LiteraiConfig(
        twitch={"enabled": True, "channels": ["x"], "redemptions": {"TTS": "say"}}
    )  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        environment(rewards)  # redemptions need the broadcaster's own token
    assert str(caught.value) == (
        "config error: twitch: twitch subs, cheers and redemptions need the broadcaster's "
        "token but TWITCH_BROADCASTER_TOKEN, TWITCH_BROADCASTER_REFRESH_TOKEN are not set in "
        "the environment"
    )
    monkeypatch.setenv("TWITCH_BROADCASTER_TOKEN", "owner-token")
    monkeypatch.setenv("TWITCH_BROADCASTER_REFRESH_TOKEN", "owner-refresh")
    owner = environment(rewards)
    assert owner.twitch is not None and owner.twitch.broadcaster_token == "owner-token"
    assert {"owner-token", "owner-refresh"} <= set(owner.secrets())  # masked in every log
    remote = LiteraiConfig(
        server={"models": {"gpu": {"engine": "remote", "url": "http://h/v1",  # type: ignore[arg-type]
                                   "api_key_env": "LITERAI_TEST_UNSET"}}, "default_model": "gpu"}
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"^config error: server\.models\.gpu\.api_key_env: "):
        environment(remote, bots=False)


def test_the_server_refuses_to_serve_beyond_loopback_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LITERAI_API_KEY", raising=False)
    open_server = LiteraiConfig(server={"host": "0.0.0.0"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^config error: server\.api_key_env: server\.host "):
        environment(open_server, bots=False)
    with pytest.raises(ConfigError):
        environment(open_server)  # literai run starts the same server
    remote_bot = open_server.model_copy(
        update={"client": open_server.client.model_copy(update={"base_url": "http://h/v1"})}
    )
    assert environment(remote_bot).api_key is None  # it starts no server: nothing to guard
    allowed = LiteraiConfig(server={"host": "0.0.0.0", "allow_no_key": True})  # type: ignore[arg-type]
    assert environment(allowed, bots=False).api_key is None
    assert environment(LiteraiConfig(), bots=False).api_key is None  # loopback: fine
    monkeypatch.setenv("LITERAI_API_KEY", "a-key")
    assert environment(open_server, bots=False).api_key == "a-key"


@pytest.mark.slow  # the literai command, as a subprocess
def test_literai_config_explains_every_key_and_checks_a_file(tmp_path: Path) -> None:
    from .kit.server import literai

    explained = literai("config", "--explain")
    assert explained.returncode == 0, explained.stderr
    assert "server.port = 8080 [ge 0; le 65535]" in explained.stdout
    assert "bot.user_commands = 6" in explained.stdout
    good = tmp_path / "good.yaml"
    good.write_text("bot:\n  prefix: '?'\n")
    ok = literai("config", "--config", str(good))
    assert ok.returncode == 0 and ok.stdout.strip() == f"literai: {good}: ok"
    bad = tmp_path / "bad.yaml"
    bad.write_text("web:\n  channels: ['Not A Name']\n")
    refused = literai("config", "--config", str(bad))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"literai: config error in {bad}: web.channels.0: ")


def test_the_cli_jobs_need_no_adapter_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """``literai summarize`` with a Discord deployment's file: no token needed."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    config = LiteraiConfig(discord={"enabled": True})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set"):
        environment(config)  # literai run starts Discord: it needs the token
    assert environment(config, bots=False).discord_token is None
    remote = LiteraiConfig(
        server={"host": "0.0.0.0"},
        client={"base_url": "http://gpu-box:8080/v1"},  # type: ignore[arg-type]
    )
    assert environment(remote, bots=False, serving=False).api_key is None  # starts no server
