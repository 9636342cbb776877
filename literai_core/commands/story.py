"""``!story start|next|recap|end``: a story the chat writes with the bot, one passage a
round (literai_core/story.py); the audience steers with ``!story next <what happens>``."""

from __future__ import annotations

import asyncio
import logging

from ..chat import Reply, ReplyKind
from ..inference import InferenceError
from ..router import Component, Context, command
from ..story import StoreError, Story, StoryKnobs, StoryStore, next_passage
from ..trim import trim_reply

log = logging.getLogger(__name__)
MAX_PREMISE = 300


class StoryCommands(Component):
    """``store``: where each channel's story is kept (None: no story mode here)."""

    def __init__(self, store: StoryStore | None = None) -> None:
        self.store = store
        self._busy: set[str] = set()  # channels with a round being written

    @command("story", requires_args=True, arg="start <premise> | next [what happens] | recap | end")
    async def story(self, ctx: Context) -> Reply:
        """!story start <premise> | next [idea] | recap | end

        Write a story together, one passage at a time; steer it with !story next <idea>.
        """
        line = ctx.line
        store = self.store
        if store is None:
            return Reply(line, ReplyKind.NOTICE, "Story mode isn't set up here.")
        key = f"{line.platform}:{line.channel}"
        try:
            return await self._story(ctx, store, key)
        except StoreError as exc:  # a full disk: the story is as it was, the bot goes on
            log.warning("story in %s: %s", key, exc)
            sorry = "Sorry, I can't keep the story right now (its storage failed)."
            return Reply(line, ReplyKind.ERROR, sorry)

    async def _story(self, ctx: Context, store: StoryStore, key: str) -> Reply:
        host, line, p = ctx.host, ctx.line, ctx.host.prefix
        verb, _, rest = ctx.args.partition(" ")
        verb, rest = verb.lower(), rest.strip()
        story = await asyncio.to_thread(store.get, key)
        if verb == "start":
            if not rest:
                return Reply(line, ReplyKind.NOTICE, f"Usage: {p}story start <premise>")
            if story is not None:
                return Reply(
                    line, ReplyKind.NOTICE, f"A story is already going here; {p}story end first."
                )
            if len(rest) > MAX_PREMISE:
                too_long = f"A premise is at most {MAX_PREMISE} characters."
                return Reply(line, ReplyKind.NOTICE, too_long)
            return await self._round(ctx, store, key, Story(premise=rest), "")
        if story is None:
            return Reply(line, ReplyKind.NOTICE, f"No story here yet: {p}story start <premise>")
        if verb == "next":
            return await self._round(ctx, store, key, story, rest[:MAX_PREMISE])
        if verb == "recap":
            text = story.summary or story.premise
            recap = trim_reply(f"So far: {text}", host.settings.max_reply_chars)
            return Reply(line, ReplyKind.NOTICE, recap)
        if verb == "end":
            await asyncio.to_thread(store.delete, key)
            n = len(story.passages)
            ended = f"The end, after {n} passage{'s' if n != 1 else ''}."
            return Reply(line, ReplyKind.NOTICE, ended)
        usage = f"Usage: {p}story start <premise> | next [idea] | recap | end"
        return Reply(line, ReplyKind.NOTICE, usage)

    async def _round(
        self, ctx: Context, store: StoryStore, key: str, story: Story, suggestion: str
    ) -> Reply:
        host, line = ctx.host, ctx.line
        if key in self._busy:
            return Reply(line, ReplyKind.REFUSED, "The next passage is being written — a moment.")
        s = host.settings.story
        knobs = StoryKnobs.from_settings(s)
        self._busy.add(key)
        try:
            passage = await next_passage(host.inference, story, knobs, suggestion)
        except (InferenceError, ValueError) as exc:
            # The round fails out loud and the story is as it was: try again later.
            return Reply(line, ReplyKind.ERROR, f"Sorry, I couldn't write the next passage: {exc}.")
        finally:
            self._busy.discard(key)
        await asyncio.to_thread(store.put, key, story)
        return Reply(line, ReplyKind.ANSWER, trim_reply(passage.text, s.max_chars))
