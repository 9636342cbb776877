"""The chat summary's default: the chat's most informative lines, quoted in order, with
no model call, no mention that pings again, no command and none of the bot's own lines."""

from __future__ import annotations

from literai_core.chat import ChatLine, ReplyKind
from literai_core.commands import default_components
from literai_core.commands.summary import Recap
from literai_core.highlights import QUOTE_CHARS, highlights, quote, weight

from .kit.chat import announced, line, make_core, text_of
from .kit.scripted import ScriptedInference

CHAT = [
    ("mod_tessa", "run is starting, timer's up"),
    ("kappa_kyle", "LETS GOOO"),
    ("pixelpaws", "hi chat, first time catching this live"),
    ("mod_tessa", "today is Celeste, All Red Berries, PB attempts"),
    ("kappa_kyle", "PogChamp PogChamp PogChamp PogChamp"),
    ("lurker", "!ask what game is this?"),
    ("mod_tessa", "current PB is 1:54:03, sum of best is around 1:49"),
    ("glitchwitch", "@frostbyte good luck!! you got this"),
    ("wavedasher", "new PB is 1:52:47, old was 1:54:03"),
    ("wavedasher", "new PB 1:52:47 old 1:54:03"),  # the same news again
    ("mod_tessa", "@wavedasher thanks for the splits, Mirror Temple was clean"),
]


def _lines(chat: list[tuple[str, str]] = CHAT) -> list[ChatLine]:
    return [ChatLine("twitch", "#main", who, text, float(i)) for i, (who, text) in enumerate(chat)]


def test_the_lines_that_say_most_are_quoted_in_the_order_said() -> None:
    out = highlights(_lines(), 400)
    assert out == (
        "mod_tessa: today is Celeste, All Red Berries, PB attempts. "
        "mod_tessa: current PB is 1:54:03, sum of best is around 1:49. "
        "wavedasher: new PB is 1:52:47, old was 1:54:03. "
        "mod_tessa: wavedasher thanks for the splits, Mirror Temple was clean."
    )
    assert "PogChamp" not in out and "LETS" not in out and "!ask" not in out
    assert "@" not in out  # a quote does not ping anyone again
    # Short of room: the line that says most, then what else fits.
    best = "mod_tessa: current PB is 1:54:03, sum of best is around 1:49."
    assert highlights(_lines(), 100) == best


def test_weights_and_quotes() -> None:
    assert weight("hi") == 0 and weight("LUL LUL KEKW LUL") == 0
    assert weight("the PB is 1:52:47 now") > weight("what is the PB right now?")
    said = "Summary so far: PB is 1:54:03 at Celeste"
    own = ChatLine("twitch", "#main", "literai", said, 1.0, own=True)
    assert highlights([own], 400) == ""  # the bot's own line is never its source
    long = ChatLine("irc", "#c", "bob", "word " * 100 + "1:52:47", 0.0)
    assert len(quote(long)) <= len("bob: ") + QUOTE_CHARS and quote(long).endswith("…")
    assert quote(ChatLine("irc", "#c", "amy", "is it 3pm?", 0.0)) == "amy: is it 3pm?"


async def test_summary_and_recap_quote_highlights_without_a_model_call() -> None:
    inference = ScriptedInference()
    components = default_components(clock=lambda: 99.0)
    core = make_core(inference, components=components, user_cooldown_s=0)
    posted = announced(core)
    start = line("start", time=99)
    await core.handle(start)
    recap = Recap(core, start, 5)
    for i, (user, text) in enumerate(CHAT):
        await core.handle(line(text, user=user, time=100 + i))
    summary = await text_of(await core.handle(line("!summary 5", time=200)))
    assert summary.startswith("Last 5 minutes: mod_tessa: today is Celeste")
    assert "1:52:47" in summary and inference.calls == []
    reply = await recap.run_once(300.0)
    assert reply is not None and posted[0][0] is ReplyKind.ANSWER
    assert posted[0][2].startswith("📝 Recap, last 5 minutes: mod_tessa: today is Celeste")
    quiet = make_core(ScriptedInference(), user_cooldown_s=0)
    for i, text in enumerate(["hi", "LUL", "hello all", "o7"]):
        await quiet.handle(line(text, user=f"u{i}", time=i))
    said = await text_of(await quiet.handle(line("!summary", time=10)))
    assert said == "Nothing much was said in the last 15 minutes."
    await core.aclose()
    await quiet.aclose()
