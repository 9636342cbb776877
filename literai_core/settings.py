"""The chat core's settings (the ``bot`` section of a deployment): prefix, window,
persona, limits and the long-form jobs. Every field is described and bounded; the
process layer (``bots/config.py``) loads them with the rest of the file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A settings section: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Size = Annotated[str, Field(pattern=r"^\d{2,4}x\d{2,4}$")]
Minutes = Annotated[float, Field(gt=0, le=1440)]


class SummarySettings(Section):
    """Map-reduce summaries (``!summary``, ``literai summarize``): sizes are estimated tokens."""

    chunk_tokens: Annotated[
        int, Field(ge=100, le=100_000, description="Text per model call; fit the context.")
    ] = 1200
    summary_tokens: Annotated[int, Field(ge=16, le=4096, description="Output per call.")] = 160
    max_depth: Annotated[int, Field(ge=1, le=10, description="Combining rounds at most.")] = 4
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of summaries (0: greedy).")
    ] = 0.2
    grounding: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="A document summary's sentence is kept only when at least this "
            "share of its content words is in the text it summarizes (a summary with "
            "nothing left: the text's opening sentences stand in).",
        ),
    ] = 0.8
    chat_grounding: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="The same for the model's summaries of a chat (chat_style: model), "
            "which paraphrase more; one with nothing left fails rather than recite the chat.",
        ),
    ] = 0.5
    history_lines: Annotated[
        int, Field(ge=10, le=100_000, description="Chat lines kept per channel for it.")
    ] = 500
    history_chars: Annotated[
        int, Field(ge=1000, le=10_000_000, description="Characters kept per channel for it.")
    ] = 100_000
    default_minutes: Minutes = Field(15.0, description="!summary with no minutes: this span.")
    recap_min_minutes: Minutes = Field(5.0, description="!recap every N: the smallest N allowed.")
    max_file_bytes: Annotated[
        int,
        Field(
            ge=1000,
            le=2**31,
            description="literai summarize: larger files refused (an EPUB: also what it "
            "inflates to).",
        ),
    ] = 20_000_000
    max_chunks: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="!summary and recaps: the most recent chat that fits this many "
            "chunks is summarized (at most this many model calls plus the combining ones).",
        ),
    ] = 4
    chat_style: Literal["highlights", "model"] = Field(
        "highlights",
        description="!summary and recaps: the chat's most informative lines quoted, or "
        "the model's summary (bench/longform.py, 2026-12-01: the embedded model's chat "
        "summaries named 6% of the key facts, the quoted lines 60%).",
    )


class StorySettings(Section):
    """Story mode (``!story``, ``literai story``)."""

    passage_tokens: Annotated[
        int, Field(ge=16, le=2048, description="Tokens per passage at most.")
    ] = 140
    summary_tokens: Annotated[
        int, Field(ge=16, le=2048, description="Tokens for the story-so-far summary.")
    ] = 120
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of passages.")
    ] = 0.8
    repeat_threshold: Annotated[
        float, Field(ge=0, le=1, description="Share of 4-grams already used that is too much.")
    ] = 0.25
    retries: Annotated[int, Field(ge=0, le=5, description="Rewrites of a repetitive passage.")] = 2
    max_chars: Annotated[int, Field(ge=100, le=4000, description="A passage in chat.")] = 900
    max_passages: Annotated[
        int,
        Field(
            ge=2,
            le=10_000,
            description="Passages a story keeps (and checks for repetition); older ones "
            "live on in its summary.",
        ),
    ] = 50


class HostSettings(Section):
    """One podcast host."""

    name: str = Field(
        min_length=1,
        max_length=30,
        pattern=r"^[A-Za-z][\w .'-]*$",
        description="The host's name, as it is spoken and written in the script.",
    )
    voice: str = Field(min_length=1, max_length=64, description="A server voice id.")
    style: str = Field(
        "curious and warm", max_length=200, description="How the host talks (for the model)."
    )


def _default_hosts() -> list[HostSettings]:
    return [
        HostSettings(name="Ada", voice="joe", style="curious, asks good questions"),
        HostSettings(name="Bob", voice="robot", style="dry, precise, a little funny"),
    ]


class PodcastSettings(Section):
    """``literai podcast FILE`` and ``!podcast [text]``: two hosts who must sound different."""

    hosts: list[HostSettings] = Field(
        default_factory=_default_hosts,
        min_length=2,
        max_length=2,
        description="The two hosts: names, voices, styles.",
    )
    max_sections: Annotated[
        int, Field(ge=1, le=20, description="Parts of the text discussed at most.")
    ] = 4
    lines_per_section: Annotated[
        int, Field(ge=2, le=20, description="Dialogue lines per part.")
    ] = 4
    recap_every: Annotated[
        int, Field(ge=0, le=20, description="A recap after every N parts; 0: no recaps.")
    ] = 2
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of the hosts' lines.")
    ] = 0.7
    speech_model: str = Field(
        "tts-1", min_length=1, max_length=256, description="Speech model id on the server."
    )
    images: bool = Field(True, description="Draw each section with the server's image model.")
    image_size: Size = Field("512x512", description="Size of each section's picture.")
    chat_minutes: Minutes = Field(30.0, description="!podcast: this much recent chat.")
    cooldown_s: Annotated[
        float, Field(ge=0, le=86_400, description="!podcast: per channel, between episodes.")
    ] = 600.0
    keep_episodes: Annotated[
        int, Field(ge=1, le=100_000, description="Episodes kept; the oldest go first.")
    ] = 50
    max_total_bytes: Annotated[
        int,
        Field(ge=1_000_000, le=2**44, description="All episodes' bytes at most; oldest go."),
    ] = 2_000_000_000


class GenerationSettings(Section):
    """Sampling for one command's model calls."""

    max_tokens: Annotated[int, Field(ge=1, le=4096, description="Tokens generated at most.")] = 96
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature (0: greedy).")
    ] = 0.8
    top_p: Annotated[float, Field(gt=0, le=1, description="Nucleus sampling mass.")] = 0.95
    frequency_penalty: Annotated[
        float, Field(ge=-2, le=2, description="Penalty on tokens already used, per use.")
    ] = 0.3
    retries: Annotated[
        int,
        Field(
            ge=0,
            le=5,
            description="A reply whose first sentence echoes the chat, a label, its "
            "instructions or itself is written again this many times.",
        ),
    ] = 1


class AskSettings(GenerationSettings):
    """Sampling and prompt layout for ``!ask``. Defaults chosen by bench/answers.py:
    temperature 0.2 and top-p 0.9 (2026-11-30: far fewer echoes and loops than 0.8).
    On the Q8_0 file (2026-12-01) the chat without names in the user message used the
    chat best (context use 0.50 against 0.24 in the system message) with fact hit
    within noise (0.48 against 0.54) and fewer degenerate answers (0.05 against 0.08);
    two retries answer more items (0.995 against 0.97 with one). Three sentences at most
    (2026-12-01, two runs, 5 seeds in all): fewer degenerate answers (0.043 and 0.040
    against 0.050 and 0.059), fact hit and context use no lower (0.42/0.51 against
    0.38/0.44 on 3 seeds), 5-8% less time; the unnamed chat lines stay dashed (plain or
    quoted lines were echoed more: raw echo 0.29 and 0.38 against 0.19). Lists and
    one-word answers held to their shape by a JSON schema (2026-12-01, 3 seeds): format
    compliance 0.83 against 0.74 sampled free, degenerate 0.026 against 0.036."""

    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature (0: greedy).")
    ] = 0.2
    top_p: Annotated[float, Field(gt=0, le=1, description="Nucleus sampling mass.")] = 0.9
    window_in: Literal["system", "user", "none"] = Field(
        "user",
        description="Where the recent chat goes: the system message, the user message, or nowhere.",
    )
    names: bool = Field(False, description="Chat lines keep their speakers' names.")
    line_style: Literal["dash", "plain", "quoted"] = Field(
        "dash",
        description='Chat lines without names: "- text", "text" or "\\"text\\"".',
    )
    lines: Annotated[
        int, Field(ge=0, le=200, description="Chat lines given (at most window_lines).")
    ] = 5
    max_sentences: Annotated[
        int,
        Field(
            ge=0,
            le=20,
            description="Sentences shown at most when the asker asked for no length "
            "(0: no limit); the model is stopped there.",
        ),
    ] = 3
    shaped: bool = Field(
        True,
        description="A list of N things or a one-word answer is held to that shape while "
        "the model writes it, where the server has structured outputs (JSON schema).",
    )
    retries: Annotated[
        int,
        Field(
            ge=0,
            le=5,
            description="An answer that echoes the chat, a label, its instructions or "
            "itself, or misses a checked form (yes or no, a list of N, a word to use), is "
            "written again this many times.",
        ),
    ] = 2


class BotSettings(Section):
    """What every chat adapter shares: prefix, window, persona, limits."""

    name: str = Field("literai", min_length=1, max_length=40, description="The bot's name in chat.")
    prefix: str = Field("!", min_length=1, max_length=3, description="Commands start with it.")
    persona: str = Field(
        "You are literai, a friendly, witty companion in a live chat. Answer in one or two "
        "short sentences.",
        max_length=4000,
        description="!ask's system prompt (a moderator may set one per channel: !persona).",
    )
    channel_models: dict[Annotated[str, Field(max_length=200)], str] = Field(
        default_factory=dict,
        description="!ask and !gpt2's model per channel (e.g. one `literai train` made): "
        "keys: platform:channel or the channel (Twitch login, IRC #name, Discord id); "
        "a moderator may set one with !persona model=NAME. Others use client.model.",
    )
    window_lines: Annotated[
        int, Field(ge=1, le=200, description="Chat lines kept per channel for prompts.")
    ] = 5
    window_chars: Annotated[
        int, Field(ge=100, le=100_000, description="Characters kept per channel window.")
    ] = 2000
    max_channels: Annotated[
        int,
        Field(ge=1, le=1_000_000, description="Channels remembered (least recent dropped)."),
    ] = 1000
    max_reply_chars: Annotated[
        int, Field(ge=20, le=4000, description="Replies are trimmed to this, at a sentence end.")
    ] = 400
    max_prompt_chars: Annotated[
        int, Field(ge=10, le=10_000, description="Longer command arguments are refused.")
    ] = 500
    user_cooldown_s: Annotated[
        float, Field(ge=0, le=3600, description="Per user per channel, between model commands.")
    ] = 5.0
    channel_cooldown_s: Annotated[
        float, Field(ge=0, le=3600, description="Per channel, between model commands.")
    ] = 1.0
    user_commands: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="Commands one user may send per user_window_s, every command "
            "counted (help, unknown and voice commands too), across the platform's channels.",
        ),
    ] = 6
    user_window_s: Annotated[
        float, Field(gt=0, le=3600, description="The window of user_commands.")
    ] = 30.0
    repeat_notice_s: Annotated[
        float,
        Field(ge=0, le=3600, description="The same notice is said once per channel within this."),
    ] = 30.0
    channel_queue: Annotated[
        int, Field(ge=1, le=100, description="Model commands pending per channel.")
    ] = 3
    voice: str = Field("joe", min_length=1, max_length=64, description="The bot's voice.")
    speech_model: str = Field(
        "tts-1", min_length=1, max_length=256, description="Speech model id on the server."
    )
    image_size: Size = Field("512x512", description="!imagine size.")
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
    gpt2: GenerationSettings = Field(
        # bench/answers.py --kinds gpt2 on Q8_0 (2026-12-01, 16 items x 2 seeds): these
        # answered every item, 3% degenerate, at 1.25 calls an item; 1 retry 94% and 6%;
        # temperature 0.6 88% and 16%; 1.1 answered all, 9% degenerate.
        default_factory=lambda: GenerationSettings(max_tokens=60, temperature=0.9, retries=3),
        description="Sampling for !gpt2.",
    )
    ask: AskSettings = Field(
        default_factory=AskSettings, description="Sampling and prompt layout for !ask."
    )
    summary: SummarySettings = Field(default_factory=SummarySettings, description="Summaries.")
    story: StorySettings = Field(default_factory=StorySettings, description="Story mode.")
    podcast: PodcastSettings = Field(
        default_factory=PodcastSettings, description="Podcast episodes."
    )
