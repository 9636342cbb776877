"""Moderator commands in the chat core: who may use them, !clear, !persona, !pause
and !resume, and threads that follow their parent channel's settings."""

from __future__ import annotations

from literai_core.chat import ChatLine
from literai_core.inference import InferenceError

from .kit.chat import (
    MAIN,
    PERSONA,
    line,
    make_core,
    mod_line,
    text_of,
)
from .kit.scripted import ScriptedInference

# -------------------------------------------------------------------------------------- moderators


async def test_moderator_commands_check_roles() -> None:
    core = make_core(ScriptedInference())
    for text in ("!clear", "!persona be a pirate", "!pause", "!resume"):
        refused = await text_of(await core.handle(line(text)))
        assert refused == f"Only moderators can use {text.split()[0]}."
    help_for_viewer = await text_of(await core.handle(line("!help")))
    assert "!clear" not in help_for_viewer and "!ask" in help_for_viewer
    help_for_mod = await text_of(await core.handle(mod_line("!help")))
    assert "!clear" in help_for_mod and "!persona" in help_for_mod


async def test_clear_persona_pause_and_resume() -> None:
    inference = ScriptedInference(["Arr."], ["Fine."])
    core = make_core(inference, user_cooldown_s=0)
    await core.handle(line("hello there"))
    assert (await text_of(await core.handle(mod_line("!clear")))).startswith("Done")
    assert core.windows.lines(MAIN) == []
    await text_of(await core.handle(mod_line("!persona You are a pirate.")))
    await text_of(await core.handle(line("!ask who are you?", time=1)))
    assert inference.calls[-1].messages[0]["content"] == "You are a pirate."  # type: ignore[index]
    other = ChatLine("twitch", "#other", "alice", "!ask hi", 2)
    await text_of(await core.handle(other))
    assert inference.calls[-1].messages[0]["content"] == PERSONA  # other channels keep theirs
    assert (await text_of(await core.handle(mod_line("!pause", 3)))).startswith("Paused")
    assert await core.handle(line("!ask anyone?", time=4)) is None
    assert (await text_of(await core.handle(line("!help", time=4)))).startswith("Commands")
    await text_of(await core.handle(mod_line("!resume", 5)))
    await text_of(await core.handle(mod_line("!persona reset", 5)))
    assert core.persona(MAIN) == PERSONA


async def test_a_thread_keeps_its_own_window_but_follows_its_parents_settings() -> None:
    inference = ScriptedInference(["Arr."], ["Arr again."])
    core = make_core(inference, user_cooldown_s=0)
    thread = "#main/thread-1"
    await core.handle(line("said in the channel"))
    await text_of(await core.handle(mod_line("!persona You are a pirate.")))
    in_thread = ChatLine("twitch", thread, "bob", "!ask who are you?", 1, scope="#main")
    await text_of(await core.handle(in_thread))
    messages = inference.calls[-1].messages
    assert messages is not None and messages[0]["content"] == "You are a pirate."
    assert not any("said in the channel" in m["content"] for m in messages)  # own window
    await text_of(await core.handle(mod_line("!pause", 2)))
    paused = ChatLine("twitch", thread, "bob", "!ask still there?", 3, scope="#main")
    assert await core.handle(paused) is None  # the parent's pause holds in its threads


# -------------------------------------------------------------------------------- a channel's model


async def test_a_channel_uses_its_configured_model_and_others_the_default() -> None:
    inference = ScriptedInference(["One."], ["Two."], ["Three."])
    core = make_core(
        inference, user_cooldown_s=0, channel_models={"#main": "pyref", "irc:#ops": "ops"}
    )
    await text_of(await core.handle(line("!ask what is a for loop?")))
    assert inference.calls[-1].gen.model == "pyref"
    await text_of(await core.handle(line("!gpt2 hello", channel="#other", time=1)))
    assert inference.calls[-1].gen.model is None  # the client's default model
    await text_of(await core.handle(line("!ask hi", channel="#ops", platform="irc", time=2)))
    assert inference.calls[-1].gen.model == "ops"  # platform:channel keys


async def test_persona_names_a_served_model_and_reset_puts_it_back() -> None:
    inference = ScriptedInference(["In its voice."], ["Back to default."])
    inference.served = ["smollm2", "pyref"]
    core = make_core(inference, user_cooldown_s=0)
    said = await text_of(await core.handle(mod_line("!persona model=nosuch")))
    assert said == "There is no model nosuch here; one of: smollm2, pyref."
    assert core.model(MAIN) is None
    said = await text_of(await core.handle(mod_line("!persona model=pyref You are a manual.")))
    assert said == "Model for this channel: pyref. Persona updated for this channel."
    await text_of(await core.handle(line("!gpt2 The for statement", time=1)))
    assert inference.calls[-1].gen.model == "pyref"
    shown = await text_of(await core.handle(mod_line("!persona", 2)))
    assert shown == "Persona: You are a manual. (model: pyref)"
    refused = await text_of(await core.handle(line("!persona model=smollm2", time=2)))
    assert refused == "Only moderators can use !persona."
    assert core.model(MAIN) == "pyref"
    await text_of(await core.handle(mod_line("!persona reset", 3)))
    await text_of(await core.handle(line("!ask hi", time=4)))
    assert inference.calls[-1].gen.model is None and core.persona(MAIN) == PERSONA


async def test_persona_model_when_the_server_cannot_list_models() -> None:
    inference = ScriptedInference()

    async def down() -> list[str]:
        raise InferenceError("the model server is unreachable")

    inference.models = down  # type: ignore[method-assign]
    core = make_core(inference)
    said = await text_of(await core.handle(mod_line("!persona model=pyref")))
    assert said == "Sorry, I couldn't check the models: the model server is unreachable."
    assert core.model(MAIN) is None
