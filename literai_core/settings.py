"""The chat core's settings (the ``bot`` section of a deployment): prefix, window,
persona, limits and the long-form jobs. Every field is described and bounded; the
process layer (``bots/config.py``) loads them with the rest of the file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .settings_longform import (
    HostSettings,
    Minutes,
    PodcastSettings,
    Section,
    Size,
    StorySettings,
    SummarySettings,
)

__all__ = [
    "AskSettings", "BotSettings", "FilterSettings", "GenerationSettings", "HostSettings",
    "MemorySettings", "Minutes", "PodcastSettings", "Section", "Size", "StorySettings",
    "SummarySettings",
]  # fmt: skip


class FilterSettings(Section):
    """The content filter on commands in and answers out (literai_core/filter.py)."""

    enabled: bool = Field(True, description="Filter every command and answer.")
    action: Literal["mask", "drop", "replace"] = Field(
        "mask",
        description="A blocked word in an answer: mask it (***), drop its sentence, or "
        "replace the whole answer with safe_line. A command holding one is refused.",
    )
    safe_line: str = Field(
        "Let's keep it friendly.",
        min_length=1,
        max_length=200,
        description="What an answer becomes when action is replace (or nothing is left).",
    )
    extra_words: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, description="Blocked everywhere, besides better-profanity's list."
    )
    allowed_words: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, description="Never blocked (e.g. a place or a game's name)."
    )


class MemorySettings(Section):
    """What the bot remembers of its regulars across streams (literai_core/memory.py)."""

    enabled: bool = Field(
        True, description="Remember what viewers say about themselves (!memory, !forget me)."
    )
    retention_days: Annotated[
        float, Field(gt=0, le=3650, description="Remembered lines older than this are deleted.")
    ] = 30
    per_user: Annotated[
        int, Field(ge=1, le=1000, description="Lines kept per viewer and channel (newest).")
    ] = 20
    per_channel: Annotated[
        int, Field(ge=1, le=1_000_000, description="Lines kept per channel (newest).")
    ] = 2000
    recall: Annotated[
        int, Field(ge=0, le=10, description="Remembered lines an !ask prompt gets at most.")
    ] = 3
    recall_chars: Annotated[
        int, Field(ge=0, le=4000, description="Characters of them at most.")
    ] = 300


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
    retry_together: Annotated[
        bool,
        Field(
            description="Write the retries at once (they share the server's batch) and "
            "show the first that passes, stopping the others; false: one after another "
            "(for a server that runs one request at a time). !ask retries one at a time "
            "anyway while its channel is busy (busy_after), leaving the batch to those "
            "waiting.",
        ),
    ] = True


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
            description="Sentences shown at most unless the asker asked for a number of "
            "sentences, a list or one word "
            "(0: no limit); the model is stopped there.",
        ),
    ] = 3
    busy_after: Annotated[
        int,
        Field(
            ge=0,
            le=100,
            description="With more model commands than this pending in the channel (asked "
            "at each sentence end, so an answer begun before the rush stops too), an answer "
            "stops at busy_sentences, so the ones behind it start sooner (0: never).",
        ),
    ] = 3
    busy_sentences: Annotated[
        int, Field(ge=1, le=20, description="Sentences at most while the channel is busy.")
    ] = 1
    shaped: bool = Field(
        True,
        description="A list of N things, a one-word answer, a yes or no (a sentence that "
        "opens with it) and a word to use (one sentence that uses it) are held to that "
        "shape while the model writes them, where the server has structured outputs.",
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
        # temperature 0.6 88% and 16%; 1.1 answered all, 9% degenerate. 40 tokens a
        # line (2026-12-02, 16 x 4): as many answered (0.969), no echo, 0.078 degenerate
        # as with 60 (30: 0.094), lines 69 characters against 76; long single tries
        # (0.9-1.4 s) were the soak's !gpt2 latency tail (bench/soak.py).
        default_factory=lambda: GenerationSettings(max_tokens=40, temperature=0.9, retries=3),
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
    filter: FilterSettings = Field(
        default_factory=FilterSettings, description="The content filter (!filter per channel)."
    )
    memory: MemorySettings = Field(
        default_factory=MemorySettings, description="Long-term memory of the regulars."
    )
