"""The voice page's conversation: the end-pointer's rules on plain numbers, then the
real WebSocket against literai's real server (Whisper tiny.en hears, Piper speaks; the
text engine is a slow lecturer, so a barge-in lands while it writes): an utterance is
heard, answered in text and in speech sentence by sentence; talking over the answer
stops it, the server's generation with it, and the new utterance is answered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import numpy as np
import openai
import pytest

from bench.scores import word_error_rate as wer
from bots.config import ConfigError, environment, load_config
from bots.voice.page import Voice
from bots.voice.settings import VoiceSettings
from bots.voice.vad import FRAME, Turns
from literai_core.chat import Reply
from literai_core.core import ChatCore
from literai_core.inference import InferenceError, OpenAIInference

from .kit.chat import bot_settings
from .kit.inprocess import MODEL, EchoServer
from .kit.scripted import MADE, ScriptedInference
from .kit.voice import (
    LECTURE,
    Lecturer,
    microphone,
    pcm16k,
    silence,
    spoken,
    voice_page,
    voice_server,
)

ASKED = "How does an old teletype work?"
AGAIN = "Tell me about the weather on the river tonight."

# -- the end-pointer --------------------------------------------------------------


def _frames(turns: Turns, probs: list[float]) -> list[tuple[int, str, int]]:
    """(frame index, event, samples carried) for each event."""
    out = []
    for i, p in enumerate(probs):
        frame = np.full(FRAME, i, dtype=np.int16)
        for e in turns.feed(frame, p):
            out.append((i, e.kind, 0 if e.audio is None else len(e.audio)))
    return out


def test_speech_starts_pauses_and_ends_with_its_pre_roll() -> None:
    turns = Turns(start_ms=96, pause_ms=160, end_ms=480, pre_roll_ms=64)
    probs = [0.0] * 10 + [0.9] * 20 + [0.0] * 20
    events = _frames(turns, probs)
    # 3 frames of speech start it; 5 quiet ones pause it; 15 end it.
    assert [(i, k) for i, k, _ in events] == [(12, "start"), (34, "pause"), (44, "end")]
    pause, end = events[1][2], events[2][2]
    assert pause == end == (2 + 20 + 5) * FRAME  # pre-roll, speech, the pause's silence
    assert not turns.speaking


def test_a_click_is_not_speech_and_speech_resumes_after_a_short_pause() -> None:
    turns = Turns(start_ms=96, pause_ms=160, end_ms=480)
    assert _frames(turns, [0.0, 0.9, 0.9, 0.0, 0.9, 0.0]) == []
    probs = [0.9] * 5 + [0.0] * 6 + [0.9] * 5 + [0.0] * 15
    kinds = [k for _, k, _ in _frames(turns, probs)]
    assert kinds == ["start", "pause", "resume", "pause", "end"]


def test_hysteresis_keeps_a_softer_syllable_and_a_long_utterance_is_cut() -> None:
    turns = Turns(threshold=0.5, start_ms=32, pause_ms=64, end_ms=128, max_s=1)
    # 0.4 is under the threshold but above its quiet level: still speech while speaking.
    kinds = [k for _, k, _ in _frames(turns, [0.9] + [0.4] * 10 + [0.0] * 4)]
    assert kinds == ["start", "pause", "end"]
    long = [k for _, k, _ in _frames(Turns(start_ms=32, max_s=1), [0.9] * 40)]
    assert long == ["start", "end", "start"]  # cut at 31 frames (1 s); speech goes on


def test_settings_refuse_a_pause_past_the_end_and_voice_needs_the_pages() -> None:
    with pytest.raises(ValueError, match="pause_ms must be shorter than end_ms"):
        VoiceSettings(pause_ms=500, end_ms=400)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"voice\.command: there is no command 'nope'"):
        Voice(VoiceSettings(command="nope")).attach(ChatCore(bot_settings(), ScriptedInference()))
    config = load_config(overrides={"voice": {"enabled": True}, "console": {"enabled": False}})
    with pytest.raises(ConfigError, match=r"voice\.enabled.*set web\.enabled: true"):
        environment(config)


# -- the page's socket ------------------------------------------------------------


@dataclass
class Talk:
    url: str
    voice: Voice
    backend: Lecturer
    server: EchoServer
    said: np.ndarray
    again: np.ndarray


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EchoServer, Lecturer]]:
    backend = Lecturer()
    with voice_server(tmp_path_factory.mktemp("voice"), backend) as server:
        yield server, backend


@pytest.fixture(scope="module")
def utterances(listening: tuple[EchoServer, Lecturer]) -> tuple[np.ndarray, np.ndarray]:
    return spoken(listening[0], ASKED), spoken(listening[0], AGAIN)


@asynccontextmanager
async def page_on(
    listening: tuple[EchoServer, Lecturer],
    utterances: tuple[np.ndarray, np.ndarray],
    settings: VoiceSettings,
    observers: Sequence[Callable[[Reply], None]] = (),
) -> AsyncIterator[Talk]:
    """A voice page on the listening server's lecturer, with the utterances to say."""
    server, backend = listening
    client = openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key=server.api_key)
    inference = OpenAIInference(client, MODEL)
    runner, url, voice = await voice_page(inference, settings, observers=observers)
    try:
        yield Talk(url, voice, backend, server, *utterances)
    finally:
        await runner.cleanup()
        await client.close()


@pytest.fixture
async def talk(
    listening: tuple[EchoServer, Lecturer], utterances: tuple[np.ndarray, np.ndarray]
) -> AsyncIterator[Talk]:
    async with page_on(listening, utterances, VoiceSettings()) as page:
        yield page


@pytest.mark.slow
async def test_an_utterance_is_heard_answered_and_spoken_sentence_by_sentence(talk: Talk) -> None:
    async with microphone(talk.url) as mic:
        await mic.say(np.concatenate([silence(0.5), talk.said, silence(1.0)]))
        heard = await mic.wait_for("heard")
        assert wer(ASKED, heard["text"]) <= 0.25, heard
        done = await mic.wait_for("done", heard["turn"])
    assert done["text"] == LECTURE and done["kind"] == "answer"
    growing = [e["text"] for e in mic.heard.of("answer", heard["turn"])]
    assert len(growing) >= 3 and growing[-1] == LECTURE  # it streamed
    spoken = [(meta["seq"], meta["text"].strip()) for _, meta, _ in mic.heard.audio]
    assert spoken == [
        (0, "A teletype is a printing telegraph."),
        (1, "It types each letter that arrives over the wire, one after another."),
        (2, "Newsrooms kept them running all night for the wire services."),
    ]
    for _, _, wav in mic.heard.audio:
        assert wav[:4] == b"RIFF" and len(pcm16k(wav)) > 0.5 * 16000
    first_audio = mic.heard.audio[0][0]
    assert first_audio < mic.heard.first("done", 1)  # type: ignore[operator]
    timing = done["timing"]
    assert 0 < timing["first_text_ms"] < timing["first_audio_ms"]
    assert talk.voice.turns == 1 and talk.voice.barge_ins == 0


@pytest.mark.slow
async def test_talking_over_the_answer_stops_it_and_the_new_question_is_answered(
    talk: Talk,
) -> None:
    cut_before, cancelled_before = talk.backend.cut_off, _cancelled(talk.server)
    dropped_before = talk.voice.early_dropped
    async with microphone(talk.url) as mic:
        await mic.say(np.concatenate([silence(0.3), talk.said, silence(0.8)]))
        await mic.wait_for_audio()  # the first sentence is playing; the lecture goes on
        await mic.say(np.concatenate([talk.again, silence(1.0)]))
        stop = await mic.wait_for("stop")
        done = await mic.wait_for("done", after=stop["turn"])
    first = mic.heard.of("heard")[0]["turn"]  # 1, or 2 after a turn begun at a pause
    assert stop == {"type": "stop", "turn": first}
    assert not mic.heard.of("done", first)  # the first turn never finished
    assert wer(AGAIN, mic.heard.of("heard", done["turn"])[0]["text"]) <= 0.25
    assert done["text"] == LECTURE
    # The server stopped writing the first turn (and a turn dropped at a pause, if its
    # generation had begun), and says so in its metrics.
    dropped = talk.voice.early_dropped - dropped_before
    assert 1 <= talk.backend.cut_off - cut_before <= 1 + dropped
    assert 1 <= _cancelled(talk.server) - cancelled_before <= 1 + dropped
    assert talk.voice.barge_ins == 1


def _cancelled(server: EchoServer) -> float:
    return server.metric("literai_generations_cancelled_total", f'model="{MODEL}"')


@pytest.mark.slow
async def test_words_talked_over_before_the_answer_spoke_begin_the_next_turn(talk: Talk) -> None:
    async with microphone(talk.url) as mic:
        # A pause long enough to end the utterance, too short for the answer to speak.
        await mic.say(np.concatenate([silence(0.3), talk.said, silence(0.6)]))
        await mic.say(np.concatenate([talk.again, silence(1.0)]))
        stop = await mic.wait_for("stop")
        heard = await mic.wait_for("heard", after=stop["turn"])
        await mic.wait_for("done", heard["turn"])
    # the first turn never spoke
    assert all(meta["turn"] == heard["turn"] for _, meta, _ in mic.heard.audio)
    assert wer(f"{ASKED} {AGAIN}", heard["text"]) <= 0.25, heard


# -- bounds -----------------------------------------------------------------------


async def test_other_origins_and_pages_past_the_limit_are_refused() -> None:
    runner, url, _ = await voice_page(ScriptedInference(), VoiceSettings(max_sessions=1))
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url + "/voice/ws", origin="http://evil.example")
            assert refused.value.status == 403
            async with http.ws_connect(url + "/voice/ws", origin=url) as first:
                assert (await first.receive_json(timeout=30))["type"] == "ready"
                async with http.ws_connect(url + "/voice/ws") as second:
                    said = await second.receive_json(timeout=10)
                    assert said == {
                        "type": "unavailable",
                        "message": "too many voice pages are open",
                    }
                await first.send_str("not json")
                assert (await first.receive_json(timeout=10))["type"] == "error"
                await first.send_bytes(b"\0" * (2**20 + 2))  # past 1 MiB a message
                closed = await first.receive(timeout=10)
                assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 1009
            page = await http.get(url + "/voice")
            assert page.status == 200
            assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    finally:
        await runner.cleanup()


async def test_press_to_talk_hears_the_press_and_a_press_stops_the_answer() -> None:
    said = ("how are you",)
    answer = ("I am fine today. ", "Thanks for asking me. ")
    inference = ScriptedInference(said, answer, MADE, MADE, ("and now",), ("Sure. ",), MADE)
    runner, url, voice = await voice_page(inference)
    try:
        async with microphone(url) as mic:
            await mic.ws.send_json({"type": "mode", "mode": "ptt"})
            await mic.say(silence(0.3), speed=10)  # not pressed: nobody hears it
            await mic.ws.send_json({"type": "ptt", "down": True})
            await mic.ws.send_json({"type": "ptt", "down": False})  # a tap, not speech
            assert (await mic.wait_for("heard", 0))["text"] == ""
            await mic.press(silence(0.5))
            assert (await mic.wait_for("heard", 1))["text"] == "how are you"
            assert (await mic.wait_for("done", 1))[
                "text"
            ] == "I am fine today. Thanks for asking me."
            await mic.ws.send_json({"type": "ptt", "down": True})  # while it is still playing
            assert await mic.wait_for("stop", 1) == {"type": "stop", "turn": 1}
            await mic.say(silence(0.5), speed=10)
            await mic.ws.send_json({"type": "ptt", "down": False})
            await mic.wait_for("done", 2)
            await mic.ws.send_json({"type": "played", "turn": 2})  # the page played it all
            await mic.ws.send_json({"type": "ptt", "down": True})
            await mic.ws.send_json({"type": "ptt", "down": False})
            await mic.wait_for("heard", 2)
    finally:
        await runner.cleanup()
    assert [c.kind for c in inference.calls] == [
        "transcribe", "chat", "speech", "speech", "transcribe", "chat", "speech"
    ]  # fmt: skip
    assert len(mic.heard.of("stop")) == 1 and voice.barge_ins == 1
    assert [meta["text"].strip() for _, meta, _ in mic.heard.audio] == [
        "I am fine today.", "Thanks for asking me.", "Sure."
    ]  # fmt: skip


async def test_a_server_without_speech_to_text_makes_the_page_say_so() -> None:
    off = InferenceError("that is not set up on this server", not_configured=True)
    runner, url, _ = await voice_page(ScriptedInference(off))
    try:
        async with microphone(url) as mic:
            await mic.ws.send_json({"type": "mode", "mode": "ptt"})
            await mic.press(silence(0.5))
            said = await mic.wait_for("unavailable", 1)
    finally:
        await runner.cleanup()
    assert said["message"] == "speech to text: that is not set up on this server"


@pytest.mark.parametrize("context", [False, True])
async def test_each_utterance_is_answered_on_its_own_unless_context_is_on(context: bool) -> None:
    first, second = ("what is a teletype",), ("and a ribbon",)
    inference = ScriptedInference(
        first, ("A printing telegraph. ",), MADE, second, ("Ink. ",), MADE
    )
    runner, url, _ = await voice_page(inference, VoiceSettings(context=context))
    try:
        async with microphone(url) as mic:
            await mic.ws.send_json({"type": "mode", "mode": "ptt"})
            for turn in (1, 2):
                await mic.press(silence(0.3))
                await mic.wait_for("done", turn)
    finally:
        await runner.cleanup()
    chats = [c for c in inference.calls if c.kind == "chat"]
    prompt = " ".join(m["content"] for m in chats[1].messages or [])
    assert ("A printing telegraph." in prompt) is context
    assert ("what is a teletype" in prompt) is context  # the user's side too, before it
    if context:
        assert prompt.index("what is a teletype") < prompt.index("A printing telegraph.")
    assert "and a ribbon" in prompt
