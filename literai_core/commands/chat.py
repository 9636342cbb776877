"""Talking to the model: ``!gpt2`` (raw continuation) and ``!ask`` (persona chat)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace

from ..answer import Answer
from ..chat import ChatLine, Reply
from ..form import Form, parse, prose
from ..guard import Guard, Sources
from ..inference import Generation, Inference, InferenceError
from ..prompts import CHAT_HEAD, MEMORY_HEAD, ask_messages, gpt2_prompt
from ..router import Component, Context, command
from ..settings import GenerationSettings

log = logging.getLogger(__name__)


def _gen(settings: GenerationSettings, attempt: int = 0, model: str | None = None) -> Generation:
    """A retry (the first try echoed or looped) samples wider and penalizes repeats."""
    return Generation(
        model=model,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature if attempt == 0 else max(settings.temperature, 0.7),
        top_p=settings.top_p,
        frequency_penalty=min(2.0, settings.frequency_penalty + 0.5 * attempt),
    )


class ChatCommands(Component):
    @command("gpt2", arg="Text for the model to continue (default: the recent chat)")
    async def gpt2(self, ctx: Context) -> Reply:
        """!gpt2 [text]

        Continue the chat like the original GPT-2 bot: the last few lines, then your text
        (without text, the bot's own next line).
        """
        host = ctx.host
        window = host.window(ctx.line.key)
        prompt = gpt2_prompt(window, ctx.line.user, ctx.args, host.settings.name)
        heard = tuple(ln.text for ln in window)
        guard = Guard(Sources(heard, _names(window, ctx.line), turns=True))

        def source(attempt: int) -> AsyncIterator[str]:
            gen = _gen(host.settings.gpt2, attempt, host.model(ctx.line.scope_key))
            return host.inference.stream_completion(prompt, gen, user=ctx.line.user)

        # One line of chat: the reply is the viewer's text plus the model's continuation
        # up to the first newline that follows something worth saying. A line without
        # an end mark is kept: writing it again until it ended a sentence took four
        # calls and ended no more of them (bench/answers.py, 2026-12-01): chat lines
        # often have none.
        retries = host.settings.gpt2.retries
        together = host.settings.gpt2.retry_together
        job = Answer(guard, source, host.settings.max_reply_chars, retries, together=together)
        return Reply.from_stream(ctx.line, lambda reply: job.run(reply, ctx.args, one_line=True))

    @command("ask", requires_args=True, arg="Your question")
    async def ask(self, ctx: Context) -> Reply:
        """!ask <question>

        Ask the bot anything; it sees the last few lines of chat.
        """
        host = ctx.host
        s = host.settings.ask
        persona = host.persona(ctx.line.scope_key)
        window = host.window(ctx.line.key)
        form = parse(ctx.args)  # "in one sentence", "under 80 characters", ...
        hint = form.hint()  # what the asker asked for; the cap below is the bot's own
        recalled = [] if host.memory is None else await host.memory.recall(ctx.line, ctx.args)
        messages = ask_messages(
            persona, window, ctx.line.user, ctx.args,
            window_in=s.window_in, names=s.names, lines=s.lines, hint=hint,
            style=s.line_style, remembered=[(f.name, f.text) for f in recalled],
        )  # fmt: skip
        free = not hint  # the asker asked for no length or shape
        form = form.capped(s.max_sentences)
        key = ctx.line.key

        def busy() -> bool:  # others wait behind it
            return 0 < s.busy_after < host.queues.pending(key)

        def enough(shown: int) -> bool:  # let those waiting start sooner
            return free and busy() and shown >= s.busy_sentences

        def together() -> bool:  # retries at once take slots those waiting need
            return s.retry_together and not busy()

        told = (persona, CHAT_HEAD, MEMORY_HEAD, hint)
        # The question is part of the prompt too: an answer that repeats it is an echo.
        heard = (*(ln.text for ln in window), ctx.args)
        guard = Guard(Sources(heard, _names(window, ctx.line), told))

        def source(attempt: int) -> AsyncIterator[str]:
            gen = _gen(s, attempt, host.model(ctx.line.scope_key))
            schema = form.schema() if s.shaped else None
            if schema is None:
                return host.inference.stream_chat(messages, gen, user=ctx.line.user)
            held = replace(gen, schema=schema)
            return _shaped(host.inference, messages, held, guard, form, ctx.line.user)

        job = Answer(
            guard, source, host.settings.max_reply_chars, s.retries, form, enough,
            together=together,
        )  # fmt: skip
        return Reply.from_stream(ctx.line, lambda reply: job.run(reply))


def _names(window: list[ChatLine], line: ChatLine) -> tuple[str, ...]:
    return (*{ln.user for ln in window}, line.user)


async def _shaped(
    inference: Inference,
    messages: list[dict[str, str]],
    gen: Generation,
    guard: Guard,
    form: Form,
    user: str,
) -> AsyncIterator[str]:
    """The answer held to ``gen.schema``: the one word as a sentence, the one sentence
    (a yes or no, or one that uses the words asked for), or the things as a bulleted
    list (which the answer posts as one line, and counts by its bullets, so "bacon and
    eggs" is one thing); nothing
    (so it is written again) when a thing repeats another or the guard stops it on its
    own (an item copied from the chat or the question would pass inside a list). From a
    server without structured outputs (a 400 naming ``response_format``), the free
    answer."""
    body = ""
    try:
        async with aclosing(inference.stream_chat(messages, gen, user=user)) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                body += piece
    except InferenceError as exc:
        if not (exc.param or "").startswith("response_format"):
            raise
        log.debug("the model server has no structured outputs; asking for free text")
        free = replace(gen, schema=None)
        async with aclosing(inference.stream_chat(messages, free, user=user)) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                yield piece
        return
    things = Form.things(body)
    if things is None:  # a server that ignored the schema: free text after all
        yield body
        return
    distinct = {thing.lower() for thing in things}
    if things and len(distinct) == len(things) and all(guard.verdict(t) is None for t in things):
        things[0] = things[0][:1].upper() + things[0][1:]
        if form.sentence:  # the sentence itself
            yield things[0]
        else:
            yield prose(things) if form.one_word else "\n".join(f"- {t}" for t in things)
