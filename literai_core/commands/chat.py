"""Talking to the model: ``!gpt2`` (raw continuation) and ``!ask`` (persona chat)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from ..chat import Reply, ReplyKind
from ..inference import Generation, InferenceError
from ..prompts import ask_messages, gpt2_prompt
from ..router import Component, Context, command
from ..settings import GenerationSettings
from ..trim import trim_reply


def _gen(settings: GenerationSettings) -> Generation:
    return Generation(
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        frequency_penalty=settings.frequency_penalty,
    )


class ChatCommands(Component):
    @command("gpt2", arg="Text for the model to continue (default: the recent chat)")
    async def gpt2(self, ctx: Context) -> Reply:
        """!gpt2 [text]

        Continue the chat like the original GPT-2 bot: the last few lines, then your text.
        """
        host = ctx.host
        prompt = gpt2_prompt(host.window(ctx.line.key), ctx.line.user, ctx.args)
        source = host.inference.stream_completion(
            prompt, _gen(host.settings.gpt2), user=ctx.line.user
        )
        limit = host.settings.max_reply_chars
        # One line of chat: the reply is the viewer's text plus the model's continuation
        # up to the first newline that follows something worth saying.
        return Reply.from_stream(
            ctx.line,
            lambda reply: _answer(reply, source, limit, ctx.args, True),
        )

    @command("ask", requires_args=True, arg="Your question")
    async def ask(self, ctx: Context) -> Reply:
        """!ask <question>

        Ask the bot anything; it sees the last few lines of chat.
        """
        host = ctx.host
        messages = ask_messages(
            host.persona(ctx.line.scope_key),
            host.window(ctx.line.key),
            ctx.line.user,
            ctx.args,
        )
        source = host.inference.stream_chat(messages, _gen(host.settings.ask), user=ctx.line.user)
        limit = host.settings.max_reply_chars
        return Reply.from_stream(ctx.line, lambda reply: _answer(reply, source, limit))


async def _answer(
    reply: Reply,
    source: AsyncIterator[str],
    max_chars: int,
    lead: str = "",
    one_line: bool = False,
) -> AsyncIterator[str]:
    """Relay model text, stop reading once there is enough (closing the stream stops the
    model), then finish with trimmed text. A failed call ends in a polite line."""
    text = lead
    if lead:
        yield lead
    try:
        async with aclosing(source) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                done = False
                while one_line and "\n" in piece:
                    before, _, piece = piece.partition("\n")
                    if (text + before)[len(lead) :].strip():
                        text += before
                        yield before
                        done = True
                        break
                    text += before + " "  # nothing said yet: keep reading
                if done:
                    break
                text += piece
                yield piece
                if len(text) > max_chars * 2:
                    break
    except InferenceError as exc:
        polite = f"Sorry, I can't answer right now: {exc}. Please try again in a minute."
        reply.finish(polite, ReplyKind.ERROR)
        yield ("\n" if text.strip() else "") + polite
        return
    # The model usually stops at its token limit, mid-sentence: keep whole sentences.
    final = trim_reply(text, max_chars, cut_off=not one_line)
    if final.strip() and final.strip() != lead.strip():
        reply.finish(final)
    else:
        reply.finish("(I had nothing to add this time. Try again?)", ReplyKind.NOTICE)
