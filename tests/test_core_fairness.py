"""No viewer can starve the others: every command counts against a per-user rate (help,
unknown and platform commands too, across channels), one notice says so, and the same
notice is said once per channel for a while."""

from __future__ import annotations

from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.commands import default_components
from literai_core.gate import OWNER
from literai_core.router import Component, Context, command

from .kit.chat import line, make_core, mod_line, text_of
from .kit.scripted import ScriptedInference


class _Voice(Component):
    @command("skip", uses_model=False)
    async def skip(self, ctx: Context) -> Reply:
        """!skip

        Skip.
        """
        return Reply(ctx.line, ReplyKind.NOTICE, f"Skipped {ctx.line.time:g}.")


async def test_every_command_counts_against_the_users_rate_across_channels() -> None:
    core = make_core(
        ScriptedInference(),
        components=[*default_components(), _Voice()],
        user_commands=3,
        user_window_s=30,
        repeat_notice_s=0,
    )
    said = [await core.handle(line("!skip", time=t)) for t in (0, 1)]
    other_channel = await core.handle(line("!nosuch", channel="#other", time=2))
    assert [await text_of(r) for r in said] == ["Skipped 0.", "Skipped 1."]
    assert (await text_of(other_channel)).startswith("Unknown command")
    refused = await core.handle(line("!help", time=3))
    assert refused is not None and refused.kind is ReplyKind.REFUSED
    assert await refused.text() == "@alice slow down — try again in 27 s."
    assert await core.handle(line("!skip", time=4)) is None  # said once, then quiet
    assert await core.handle(line("!help", user="bob", time=5)) is not None  # others go on
    assert await text_of(await core.handle(line("!skip", time=31))) == "Skipped 31."
    # The owner (on the voice page, which may begin and drop an answer at every pause)
    # is not counted: their own bot. A platform's role of that name is no owner.
    owner = [
        ChatLine("voice", "voice", "me", "!skip", 40 + t, frozenset({OWNER})) for t in range(5)
    ]
    assert [await text_of(await core.handle(o)) for o in owner] == [
        f"Skipped {40 + t}." for t in range(5)
    ]
    named = [mod_line("!skip", time=50 + t, roles=(OWNER,)) for t in range(4)]
    said = [await core.handle(n) for n in named]
    assert said[3] is not None and said[3].kind is ReplyKind.REFUSED  # counted: 3 a window


async def test_the_same_notice_is_said_once_per_channel_for_a_while() -> None:
    core = make_core(ScriptedInference(), repeat_notice_s=30)
    first = await core.handle(line("!help", user="a", time=0))
    assert first is not None
    assert await core.handle(line("!help", user="b", time=1)) is None  # the same text
    assert await core.handle(line("!help", user="c", channel="#two", time=2)) is not None
    assert await core.handle(line("!help", user="d", time=31)) is not None
