"""``!podcast [text]``: a two-host episode (literai_core/podcast.py) about the recent
chat, or about a text a moderator gives. Recording takes minutes, so the command answers
at once and the finished episode is announced in the channel: the audio file, and a link
to its player page where the web pages are served. One episode at a time, bot-wide."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import time

from ..chat import ChatLine, Media, Reply, ReplyKind
from ..episode import EpisodeError, write_episode
from ..inference import InferenceError
from ..limits import Cooldown
from ..podcast import PodcastPlan, new_episode_id, produce
from ..router import Component, Context, command
from ..summarize import SummaryBudget, SummaryError

log = logging.getLogger(__name__)
MIN_LINES = 3


class PodcastCommands(Component):
    def __init__(self) -> None:
        self.recording: ChatLine | None = None  # the request being recorded
        self._cooldown = Cooldown(0)

    @command("podcast", arg="A text to talk about (moderators); empty: the recent chat")
    async def podcast(self, ctx: Context) -> Reply:
        """!podcast [text]

        Record a two-host podcast episode about the recent chat (moderators: about a text).
        """
        core, line = ctx.core, ctx.line
        s = core.settings.podcast
        p = core.router.prefix
        if core.episodes is None:
            return Reply(line, ReplyKind.NOTICE, "Podcasts aren't set up here.")
        mod = core.is_mod(line)
        if ctx.args and not mod:
            return Reply(
                line,
                ReplyKind.NOTICE,
                f"Only moderators can give me a text; {p}podcast alone talks about the chat.",
            )
        if self.recording is not None:
            return Reply(
                line,
                ReplyKind.REFUSED,
                "I'm already recording an episode — it will be posted when it's done.",
            )
        self._cooldown.seconds = s.cooldown_s
        left = self._cooldown.retry_after(line.scope_key, line.time)
        if left is not None and not mod:
            return Reply(
                line, ReplyKind.NOTICE, f"The next episode can start in {left / 60:.0f} min."
            )
        if ctx.args:
            text, title = ctx.args, textwrap.shorten(ctx.args, 60, placeholder="…")
            about = f"“{title}”"
        else:
            since = line.time - s.chat_minutes * 60
            said = [ln for ln in core.history.lines(line.key) if ln.time >= since]
            if len(said) < MIN_LINES:
                return Reply(line, ReplyKind.NOTICE, "Not much has been said here yet.")
            text = "\n".join(f"{ln.user}: {ln.text}" for ln in said)
            title, about = "What the chat talked about", "the recent chat"
        self._cooldown.hit(line.scope_key, line.time)
        self.recording = line
        core.spawn(self._record(ctx, title, text), f"podcast for {line.platform} {line.channel}")
        return Reply(
            line,
            ReplyKind.NOTICE,
            f"🎙️ Recording an episode about {about} — it takes a few minutes; I'll post it here.",
        )

    async def _record(self, ctx: Context, title: str, text: str) -> None:
        core, line = ctx.core, ctx.line
        s = core.settings
        try:
            budget = SummaryBudget(
                s.summary.chunk_tokens, s.summary.summary_tokens, s.summary.max_depth
            )
            made = await produce(
                core.inference,
                title,
                text,
                PodcastPlan.from_settings(s.podcast),
                budget,
                model=s.podcast.speech_model,
            )
            episode_id = new_episode_id(title, time.time())
            assert core.episodes is not None
            await asyncio.to_thread(
                write_episode,
                core.episodes,
                episode_id,
                title,
                made.wav,
                made.cues,
                made.images,
                made.sections,
            )
        except (InferenceError, SummaryError, EpisodeError) as exc:
            sorry = f"Sorry, I couldn't finish the episode: {exc}."
            await core.announce(Reply(line, ReplyKind.ERROR, sorry))
            return
        except Exception:
            log.exception("podcast for %s failed", line.channel)
            sorry = "Sorry, something went wrong on my side with the episode."
            await core.announce(Reply(line, ReplyKind.ERROR, sorry))
            return
        finally:
            self.recording = None
        length = made.cues[-1].end if made.cues else 0.0
        link = core.episode_link(episode_id) if core.episode_link is not None else None
        caption = f"🎙️ New episode: {title} ({int(length) // 60}:{int(length) % 60:02d})"
        if link:
            caption += f" — {link}"
        media = Media(made.wav, "audio/wav", "wav", f"Podcast: {title}", link=link)
        await core.announce(Reply(line, ReplyKind.MEDIA, caption, media=media))
