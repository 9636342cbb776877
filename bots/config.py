"""The deployment config: one YAML file (plus ``LITERAI_<SECTION>__<KEY>`` environment
overrides) composed from each package's own settings, and the one place that reads
secrets from the environment.

- ``load_config(path)``: the file to a ``LiteraiConfig``, or a one-line ConfigError.
- ``environment(config)``: every secret the enabled parts need, read once at start;
  a missing one is a ConfigError naming its key. Nothing else reads the environment.
- ``explain()``: every key with its default, bounds and meaning (``literai config``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from inference_server.settings import ConfigError, ServerSettings, env_secret
from literai_core.settings import BotSettings, Section

from .discord.settings import DiscordSettings
from .irc.settings import IrcSettings
from .twitch.settings import Credentials, TwitchSettings
from .voice.settings import VoiceSettings
from .web.settings import WebSettings


class ConsoleSettings(Section):
    """The console bot: chat lines from stdin, replies on stdout."""

    enabled: bool = Field(True, description="Run the console bot.")
    user: str = Field("viewer", min_length=1, max_length=40, description="Your name in chat.")
    channel: str = Field("console", min_length=1, max_length=40, description="Its channel.")
    teletype: bool = Field(False, description="Print replies at `cps` characters per second.")
    cps: Annotated[float, Field(gt=0, le=10_000, description="110 baud is 10 cps.")] = 10.0


class ClientSettings(Section):
    """How bots reach an OpenAI-compatible server (ours by default)."""

    base_url: str | None = Field(
        None, description="e.g. http://host:8080/v1. Empty: the server this process starts."
    )
    api_key_env: str = Field("LITERAI_API_KEY", description="Environment variable with the key.")
    model: str | None = Field(None, description="Model alias; empty: server.default_model.")
    timeout_s: Annotated[
        float, Field(gt=0, le=600, description="A model call taking longer fails.")
    ] = 60.0


class LiteraiConfig(BaseSettings):
    """A whole deployment: one YAML file, overridable from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LITERAI_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    server: ServerSettings = Field(default_factory=ServerSettings, description="The server.")
    client: ClientSettings = Field(default_factory=ClientSettings, description="The API client.")
    bot: BotSettings = Field(default_factory=BotSettings, description="The chat core.")
    console: ConsoleSettings = Field(default_factory=ConsoleSettings, description="Console.")
    discord: DiscordSettings = Field(default_factory=DiscordSettings, description="Discord.")
    twitch: TwitchSettings = Field(default_factory=TwitchSettings, description="Twitch.")
    irc: IrcSettings = Field(default_factory=IrcSettings, description="IRC.")
    web: WebSettings = Field(default_factory=WebSettings, description="Overlay and player pages.")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, description="The voice page.")
    data_dir: str = Field("data", description="Folder for generated files and state.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe log records shown (on stderr)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the YAML file (passed as init kwargs).
        return (env_settings, init_settings)

    @property
    def model(self) -> str:
        """The model alias bots ask for."""
        return self.client.model or self.server.default_model

    @property
    def bots_enabled(self) -> bool:
        return (
            self.console.enabled
            or self.discord.enabled
            or self.twitch.enabled
            or self.irc.enabled
            or self.voice.enabled
        )


def validation_error(err: ValidationError, source: str | None) -> ConfigError:
    """pydantic's first complaint as one line naming the key."""
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(key, f"{first['msg']}{more}", source=source)


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> LiteraiConfig:
    """Read YAML (if given), then ``overrides`` (command-line options, by section), plus
    environment overrides; raise ConfigError with one line."""
    data: Any = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("", f"cannot read {source}: {exc}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError("", "not valid YAML", source=f"{source}{where}") from None
        if not isinstance(data, dict):
            raise ConfigError("", "the top level must be a mapping", source=source)
    for section, values in (overrides or {}).items():
        if values:
            base = data.get(section)
            data[section] = {**(base if isinstance(base, dict) else {}), **values}
    try:
        return LiteraiConfig(**data)
    except ValidationError as exc:
        raise validation_error(exc, source) from None


# -- secrets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """Every secret the enabled parts of a deployment need, read once at start."""

    api_key: str | None = None  # the server's own (clients must send it)
    client_key: str | None = None  # what the bots send to client.base_url / our server
    model_keys: dict[str, str] = field(default_factory=dict)  # remote engines, by alias
    discord_token: str | None = None
    twitch: Credentials | None = None
    irc_password: str | None = None
    irc_sasl_password: str | None = None
    web_key: str | None = None  # the overlay and player pages'

    def secrets(self) -> list[str]:
        """Every secret value held, for masking (never for showing)."""
        values = [self.api_key, self.client_key, self.discord_token, self.irc_password]
        values.append(self.web_key)
        values += [self.irc_sasl_password, *self.model_keys.values()]
        if self.twitch is not None:
            t = self.twitch
            values += [t.client_secret, t.token, t.refresh]
            values += [t.broadcaster_token, t.broadcaster_refresh]
        return [v for v in values if v]


def _required(key: str, name: str, what: str) -> str:
    value = env_secret(name)
    if value is None:
        raise ConfigError(key, f"{what} but {name} is not set in the environment")
    return value


def environment(
    config: LiteraiConfig, *, bots: bool = True, serving: bool | None = None
) -> Environment:
    """Read the secrets ``config`` needs (the server's and the API client's, and with
    ``bots`` the enabled adapters'), checking what else must be in place; ConfigError
    names the key. ``serving``: this process starts the server (default: it does
    unless ``client.base_url`` names another, or it is ``literai serve``)."""
    keys = {}
    for alias, model in config.server.models.items():
        if model.engine == "remote" and model.api_key_env:
            where = f"server.models.{alias}.api_key_env"
            keys[alias] = _required(where, model.api_key_env, f"model {alias} needs a key")
    api_key = env_secret(config.server.api_key_env)
    if serving is None:
        serving = not bots or config.client.base_url is None
    if serving and api_key is None and not is_loopback(config.server.host):
        if not config.server.allow_no_key:
            raise ConfigError(
                "server.api_key_env",
                f"server.host {config.server.host} is reachable beyond this machine but "
                f"{config.server.api_key_env} is not set: set a key, bind 127.0.0.1, or set "
                "server.allow_no_key: true to serve without one",
            )
    client_key = env_secret(config.client.api_key_env)  # the CLI jobs are clients too
    if not bots:
        return Environment(api_key=api_key, client_key=client_key, model_keys=keys)
    return Environment(
        api_key=api_key,
        client_key=client_key,
        model_keys=keys,
        discord_token=_discord(config),
        twitch=_twitch(config.twitch),
        irc_password=_irc(config.irc, config.irc.password_env, "password_env"),
        irc_sasl_password=_irc(config.irc, config.irc.sasl_password_env, "sasl_password_env"),
        web_key=_web(config),
    )


def _discord(config: LiteraiConfig) -> str | None:
    d = config.discord
    if not d.enabled:
        return None
    token = _required("discord.token_env", d.token_env, "discord is enabled")
    if d.voice.enabled:
        from .discord.voice import OpusMissing, load_opus  # imports discord.py

        try:
            load_opus()
        except OpusMissing as exc:
            raise ConfigError("discord.voice", str(exc)) from None
    return token


def _twitch(t: TwitchSettings) -> Credentials | None:
    if not t.enabled:
        return None
    names: tuple[str, ...] = (t.client_id_env, t.client_secret_env, t.token_env)
    names += (t.refresh_token_env,)
    if t.needs_broadcaster():
        names += (t.broadcaster_token_env, t.broadcaster_refresh_token_env)
    values = [env_secret(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if value is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        why = "twitch is enabled"
        if set(missing) <= {t.broadcaster_token_env, t.broadcaster_refresh_token_env}:
            why = "twitch subs, cheers and redemptions need the broadcaster's token"
        raise ConfigError(
            "twitch", f"{why} but {', '.join(missing)} {verb} not set in the environment"
        )
    if not t.channels:
        raise ConfigError("twitch.channels", "name at least one channel to join")
    return Credentials(*(v or "" for v in values))


def _irc(s: IrcSettings, name: str | None, key: str) -> str | None:
    if not s.enabled:
        return None
    if not s.channels:
        raise ConfigError("irc.channels", "name at least one channel to join")
    return _required(f"irc.{key}", name, "irc is enabled") if name else None


def is_loopback(host: str) -> bool:
    """A name or address of this machine only (what may go without a key): localhost or
    a loopback address (127.0.0.0/8, ::1), not a name that merely starts with 127."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _web(config: LiteraiConfig) -> str | None:
    w = config.web
    if config.voice.enabled and not w.enabled:
        raise ConfigError(
            "voice.enabled", "the voice page is served with the web pages: set web.enabled: true"
        )
    if not w.enabled:
        return None
    key = env_secret(w.key_env)
    if key is None and not is_loopback(w.host):
        raise ConfigError(
            "web.key_env",
            f"web.host {w.host} is reachable beyond this machine, so the pages need a key: "
            f"set {w.key_env} in the environment (or bind web.host to 127.0.0.1)",
        )
    return key
