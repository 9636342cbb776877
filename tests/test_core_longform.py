"""What the chat core posts unasked: timed recaps (driven by a manual sleep, one round
at a time) and !podcast in chat."""

from __future__ import annotations

from pathlib import Path

from literai_core.chat import ReplyKind
from literai_core.commands import default_components
from literai_core.commands.summary import Recap
from literai_core.inference import InferenceError

from .kit.chat import (
    announced,
    line,
    make_core,
    mod_line,
    text_of,
)
from .kit.clock import ManualSleep
from .kit.scripted import ScriptedInference
from .kit.waiting import until

# ----------------------------------------------------------------------------------- posts unasked


async def test_timed_recap_posts_what_is_new_and_says_a_failure_once() -> None:
    down = InferenceError("the model server is down")
    inference = ScriptedInference(down, down, ["They discussed paper tape."])
    sleep = ManualSleep()
    components = default_components(clock=lambda: 99.0, sleep=sleep)
    core = make_core(
        inference,
        components=components,
        user_cooldown_s=0,
        summary={"recap_min_minutes": 1, "chat_style": "model"},
    )
    posted = announced(core)
    assert (await text_of(await core.handle(line("!recap every 5")))).startswith("Only moder")
    for bad in ("!recap", "!recap every soon", "!recap every 0.5", "!recap sometimes"):
        usage = await text_of(await core.handle(mod_line(bad)))
        assert usage.startswith("Usage: !recap every <minutes>"), (bad, usage)
        assert bad == "!recap" or "(1 to 1440)" in usage
    on = await text_of(await core.handle(mod_line("!recap every 2")))
    assert on.startswith("I'll post a recap of the chat every 2 minutes")
    for _ in range(3):  # rounds with nothing new: nothing posted, no model call
        await sleep.tick()
    assert posted == [] and inference.calls == [] and sleep.asked[0] == 120
    for i in range(3):
        await core.handle(line(f"paper tape {i}", user=f"u{i}", time=1 + i))
    for _ in range(3):
        await sleep.tick()
    assert posted == [
        (ReplyKind.ERROR, "#main",
         "Sorry, I couldn't make this recap: the model server is down. I'll try again later."),
        (ReplyKind.ANSWER, "#main", "📝 Recap, last 2 minutes: They discussed paper tape."),
    ]  # fmt: skip
    assert len(inference.calls) == 3  # failed twice, said so once
    assert "u2: paper tape 2" in (inference.calls[-1].messages or [])[-1]["content"]
    await sleep.tick()
    assert len(posted) == 2  # those lines are recapped; nothing new since
    assert await text_of(await core.handle(mod_line("!recap off"))) == "Timed recaps are off."
    assert await text_of(await core.handle(mod_line("!recap off"))) == (
        "Timed recaps are off already."
    )
    await core.aclose()


async def test_a_recap_round_alone_without_any_loop() -> None:
    inference = ScriptedInference(["Tape was discussed."])
    core = make_core(inference, user_cooldown_s=0, summary={"chat_style": "model"})
    posted = announced(core)
    start = line("before", time=0)
    await core.handle(start)
    recap = Recap(core, start, 5)
    assert await recap.run_once(10.0) is None  # nothing new since it started
    for i in range(3):
        await core.handle(line(f"tape {i}", user=f"u{i}", time=1 + i))
    reply = await recap.run_once(20.0)
    assert reply is not None and reply.line.time == 20.0
    assert posted == [(ReplyKind.ANSWER, "#main", "📝 Recap, last 5 minutes: Tape was discussed.")]
    assert await recap.run_once(30.0) is None


async def test_podcast_rules_in_chat() -> None:
    inference = ScriptedInference(InferenceError("the model server is down"))
    unset = make_core(inference, user_cooldown_s=0)
    said = await text_of(await unset.handle(line("!podcast")))
    assert said == "Podcasts aren't set up here."  # no episode folder given to the core
    episodes = Path("/nonexistent/never-written")
    core = make_core(
        inference,
        components=default_components(episodes=episodes),
        user_cooldown_s=0,
        podcast={"cooldown_s": 600},
    )
    posted = announced(core)
    assert await text_of(await core.handle(line("!podcast", time=1))) == (
        "Not much has been said here yet."
    )
    given = await text_of(await core.handle(line("!podcast my own text", time=2)))
    assert given == "Only moderators can give me a text; !podcast alone talks about the chat."
    for i in range(3):
        await core.handle(line(f"tape talk {i}", user=f"u{i}", time=3 + i))
    started = await text_of(await core.handle(line("!podcast", time=10)))
    assert started.startswith("🎙️ Recording an episode about the recent chat")
    await until(lambda: len(posted) == 1)  # the model is down: said, nothing written
    assert posted == [
        (ReplyKind.ERROR, "#main",
         "Sorry, I couldn't finish the episode: the model server is down.")
    ]  # fmt: skip
    prompt = (inference.calls[0].messages or [])[-1]["content"]
    assert "u2: tape talk 2" in prompt
    again = await text_of(await core.handle(line("!podcast", time=20)))
    assert again == "The next episode can start in 10 min."  # per channel, for viewers
    inference.queue(["Ada: Hi.\nBob: Hello."])  # then no more answers
    await text_of(await core.handle(mod_line("!podcast a text from a mod", time=30)))
    refused = await core.handle(mod_line("!podcast another", time=31))
    assert refused is not None and refused.kind is ReplyKind.REFUSED
    await core.aclose()
