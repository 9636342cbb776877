"""Reactions to stream events (literai_core/events.py): templates, batching within a
kind's interval, bounded memory in a storm, the model's line checked by the guard, and
the filter on every line."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from literai_core.chat import ReplyKind
from literai_core.events import KEPT, EventSettings, Reaction, Reactions, StreamEvent, who
from literai_core.inference import InferenceError

from .kit.chat import announced, make_core
from .kit.clock import FakeClock
from .kit.scripted import ScriptedInference
from .kit.waiting import until


def settings(mode: str = "template", **kinds: dict[str, object]) -> EventSettings:
    on = {kind: {"mode": mode, **kinds.get(kind, {})} for kind in ("follow", "gift", "cheer")}
    return EventSettings(gather_s=2, **on)  # type: ignore[arg-type]


def event(kind: str, user: str, amount: int = 1) -> StreamEvent:
    return StreamEvent(kind, "twitch", "#main", user, amount)  # type: ignore[arg-type]


def test_names_are_listed_then_counted() -> None:
    assert who(["ana"]) == "ana"
    assert who(["ana", "bo"]) == "ana and bo"
    assert who(["ana", "bo", "cy"]) == "ana, bo and cy"
    assert who(["ana", "bo", "cy", "dee"]) == "ana, bo, cy and 1 other"
    assert who(["ana", "bo", "cy"], 9) == "ana, bo, cy and 9 others"


@pytest.mark.parametrize(
    "template",
    ["{user}", "{users.__class__.__init__.__globals__}", "{users!r}", "{users[0]}", "{", "{0}"],
)
def test_a_template_takes_only_its_plain_fields(template: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Reaction(template=template)  # type: ignore[call-arg]
    assert "template" in str(caught.value)


async def test_events_of_a_kind_are_thanked_together_within_its_interval() -> None:
    clock = FakeClock()
    core = make_core(ScriptedInference())
    posted = announced(core)
    reactions = Reactions(core, settings(), clock, clock.sleep)
    assert reactions.offer(event("gift", "ana", 5))
    await until(lambda: clock.sleeping == [clock.now + 2])  # gathering for 2 s
    assert reactions.offer(event("gift", "bo", 1))  # joins the pending line
    clock.advance(2)
    await until(lambda: len(posted) == 1)
    assert posted[0] == (ReplyKind.ANSWER, "#main", "Thanks for the 6 gift subs, ana and bo!")
    for user in ("cy", "dee", "eve", "fay"):  # within the next 30 s: one line, later
        reactions.offer(event("gift", user, 1))
    reactions.offer(event("follow", "gus"))  # another kind has its own interval
    await until(lambda: len(clock.sleeping) == 2)
    clock.advance(2)
    await until(lambda: len(posted) == 2)
    assert posted[1][2] == "Welcome, gus!"
    clock.advance(27.9)
    await asyncio.sleep(0.05)
    assert len(posted) == 2  # the gifts wait for their interval
    clock.advance(0.1)
    await until(lambda: len(posted) == 3)
    assert posted[2][2] == "Thanks for the 4 gift subs, cy, dee, eve and 1 other!"
    assert not reactions.offer(event("raid", "hal", 30))  # raids are off


async def test_a_storm_keeps_a_bounded_batch_and_counts_everyone() -> None:
    clock = FakeClock()
    core = make_core(ScriptedInference())
    posted = announced(core)
    reactions = Reactions(core, settings(), clock, clock.sleep)
    for n in range(5000):
        reactions.offer(event("cheer", f"viewer{n}", 100))
    (batch,) = reactions._pending.values()
    assert len(batch.names) == KEPT and batch.count == 5000
    await until(lambda: bool(clock.sleeping))
    clock.advance(2)
    await until(lambda: len(posted) == 1)
    assert posted[0][2] == "Thanks for the 500000 bits, viewer0, viewer1, viewer2 and 4997 others!"


async def test_anonymous_ones_are_thanked_without_a_name() -> None:
    clock = FakeClock(jump=True)
    core = make_core(ScriptedInference())
    posted = announced(core)
    Reactions(core, settings(), clock, clock.sleep).offer(event("cheer", "", 50))
    await until(lambda: len(posted) == 1)
    assert posted[0][2] == "Thanks for the 50 bits, an anonymous viewer!"


async def test_the_models_line_is_used_when_the_guard_passes_it() -> None:
    clock = FakeClock(jump=True)
    inference = ScriptedInference(("Thank you so much for the follow, ana, ", "welcome in!"))
    core = make_core(inference)
    posted = announced(core)
    Reactions(core, settings("model"), clock, clock.sleep).offer(event("follow", "ana"))
    await until(lambda: len(posted) == 1)
    assert posted[0][2] == "Thank you so much for the follow, ana, welcome in!"
    (call,) = inference.calls
    assert "thank ana for following the channel" in call.messages[1]["content"]


@pytest.mark.parametrize(
    "answer",
    [
        ("In one short, warm sentence for the stream chat, thank ana for following.",),
        ("user: thanks ana!",),  # a new turn
        ("thanks ana for the",),  # unfinished
        ("Thank you so much for the follow, welcome in!",),  # names no one
        (InferenceError("the model server is not running"),),
    ],
)
async def test_a_refused_or_failed_model_line_falls_back_to_the_template(
    answer: tuple[object, ...],
) -> None:
    clock = FakeClock(jump=True)
    core = make_core(ScriptedInference(answer))  # type: ignore[arg-type]
    posted = announced(core)
    Reactions(core, settings("model"), clock, clock.sleep).offer(event("follow", "ana"))
    await until(lambda: len(posted) == 1)
    assert posted[0][2] == "Welcome, ana!"


async def test_a_name_with_a_blocked_word_is_masked_by_the_filter() -> None:
    clock = FakeClock(jump=True)
    core = make_core(ScriptedInference())
    posted = announced(core)
    Reactions(core, settings(), clock, clock.sleep).offer(event("follow", "shit_lord"))
    await until(lambda: len(posted) == 1)
    assert "shit" not in posted[0][2].lower() and posted[0][2].startswith("Welcome, ")
