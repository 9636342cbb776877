"""``!podcast [text]``: a two-host episode (literai_core/podcast.py) about the recent
chat, or about a text a moderator gives. Recording takes minutes, so the command answers
at once and the finished episode is announced in the channel: the audio file, and a link
to its player page where the web pages are served. One episode at a time, bot-wide."""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from ..chat import ChatLine, Media, Reply, ReplyKind
from ..episode import EpisodeError
from ..filter import final
from ..inference import InferenceError
from ..limits import Cooldown
from ..podcast import record_episode
from ..router import Component, Context, command
from ..summarize import SummaryError

log = logging.getLogger(__name__)
MIN_LINES = 3


class PodcastCommands(Component):
    """``episodes``: where episodes are written (None: no podcasts here); ``link``: the
    player page of an episode id, where a web server serves them."""

    def __init__(
        self,
        episodes: Path | None = None,
        link: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.episodes = episodes
        self.link = link
        self.clock = clock  # wall time: it names the episode
        self.recording: ChatLine | None = None  # the request being recorded
        self._cooldown = Cooldown(0)

    @command("podcast", arg="A text to talk about (moderators); empty: the recent chat")
    async def podcast(self, ctx: Context) -> Reply:
        """!podcast [text]

        Record a two-host podcast episode about the recent chat (moderators: about a text).
        """
        host, line = ctx.host, ctx.line
        s = host.settings.podcast
        if self.episodes is None:
            return Reply(line, ReplyKind.NOTICE, "Podcasts aren't set up here.")
        mod = host.is_mod(line)
        if ctx.args and not mod:
            only = f"Only moderators can give me a text; {host.prefix}podcast alone talks "
            return Reply(line, ReplyKind.NOTICE, only + "about the chat.")
        if self.recording is not None:
            busy = "I'm already recording an episode — it will be posted when it's done."
            return Reply(line, ReplyKind.REFUSED, busy)
        self._cooldown.seconds = s.cooldown_s
        left = self._cooldown.retry_after(line.scope_key, line.time)
        if left is not None and not mod:
            wait = f"The next episode can start in {left / 60:.0f} min."
            return Reply(line, ReplyKind.NOTICE, wait)
        if ctx.args:
            text, title = ctx.args, textwrap.shorten(ctx.args, 60, placeholder="…")
            about = f"“{title}”"
        else:
            since = line.time - s.chat_minutes * 60
            said = [ln for ln in host.history(line.key) if ln.time >= since]
            if len(said) < MIN_LINES:
                return Reply(line, ReplyKind.NOTICE, "Not much has been said here yet.")
            text = "\n".join(f"{ln.user}: {ln.text}" for ln in said)
            title, about = "What the chat talked about", "the recent chat"
        self._cooldown.hit(line.scope_key, line.time)
        self.recording = line
        host.spawn(self._record(ctx, title, text), f"podcast for {line.platform} {line.channel}")
        return Reply(
            line,
            ReplyKind.NOTICE,
            f"🎙️ Recording an episode about {about} — it takes a few minutes; I'll post it here.",
        )

    async def _record(self, ctx: Context, title: str, text: str) -> None:
        host, line = ctx.host, ctx.line
        assert self.episodes is not None
        filt = host.filter

        def screen(said: str) -> str:
            return said if filt is None else final(filt, said, line.scope_key)

        try:
            made = await record_episode(
                host.inference, title, text, host.settings, self.episodes,
                now=self.clock(), screen=screen,
            )  # fmt: skip
        except (InferenceError, SummaryError, EpisodeError) as exc:
            sorry = f"Sorry, I couldn't finish the episode: {exc}."
            await host.announce(Reply(line, ReplyKind.ERROR, sorry))
            return
        except Exception:
            log.exception("podcast for %s failed", line.channel)
            sorry = "Sorry, something went wrong on my side with the episode."
            await host.announce(Reply(line, ReplyKind.ERROR, sorry))
            return
        finally:
            self.recording = None
        length = made.seconds
        link = self.link(made.episode_id) if self.link is not None else None
        caption = f"🎙️ New episode: {title} ({int(length) // 60}:{int(length) % 60:02d})"
        if link:
            caption += f" — {link}"
        media = Media(made.wav, "audio/wav", "wav", f"Podcast: {title}", link=link)
        await host.announce(Reply(line, ReplyKind.MEDIA, caption, media=media))
