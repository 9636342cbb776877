"""The voice page's answer begun at the first pause (``voice.answer_early``), over the
socket against the real server (Whisper tiny.en, Piper, a slow lecturer): nothing of it
reaches the page or the stream's overlay before the end of speech, it is dropped unseen
when the speaker goes on, and words carried on from a talked-over turn survive that."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from bench.scores import word_error_rate as wer
from bots.voice.settings import VoiceSettings

from .kit.inprocess import EchoServer
from .kit.voice import LECTURE, Lecturer, microphone, silence
from .test_voice import AGAIN, ASKED, Talk, _cancelled, listening, page_on, utterances

__all__ = ["listening", "utterances"]  # module fixtures of their own here


patient_overlay: dict[str, list[tuple[float, str]]] = {}  # what the overlay saw, when


@pytest.fixture
async def patient(
    listening: tuple[EchoServer, Lecturer], utterances: tuple[np.ndarray, np.ndarray]
) -> AsyncIterator[Talk]:
    """A page whose end-pointer waits 1.5 s: the first pause's words are surely heard
    (and the answer begun) before the end, on any machine."""
    seen = patient_overlay.setdefault("seen", [])
    seen.clear()
    overlay = [lambda reply: seen.append((time.monotonic(), reply.line.text))]
    async with page_on(listening, utterances, VoiceSettings(end_ms=1500), overlay) as page:
        yield page


@pytest.mark.slow
async def test_an_answer_begun_at_the_pause_shows_nothing_before_the_end(patient: Talk) -> None:
    async with microphone(patient.url) as mic:
        await mic.say(np.concatenate([silence(0.3), patient.said, silence(2.2)]),
                      speech_ends=int(0.3 * 16000) + len(patient.said))  # fmt: skip
        done = await mic.wait_for("done")
    turn = done["turn"]
    assert done["text"] == LECTURE and patient.voice.turns == 1
    # Begun early: the answer was under way for most of the 1.5 s wait...
    assert done["timing"]["early_ms"] > 500, done["timing"]
    # ...but the page saw nothing of it before the end of speech was found.
    shown = [t for t, e in mic.heard.events if e.get("turn") == turn]
    shown += [t for t, meta, _ in mic.heard.audio if meta["turn"] == turn]
    assert min(shown) - mic.spoke_until > 1.2, min(shown) - mic.spoke_until
    assert [e["type"] for e in mic.heard.of("heard")] == ["heard"]
    # Nor did the stream's overlay (it shows the voice channel): once, after the end.
    seen = patient_overlay["seen"]
    assert len(seen) == 1 and seen[0][0] - mic.spoke_until > 1.2, seen


@pytest.mark.slow
async def test_an_answer_begun_at_a_pause_is_dropped_unseen_when_the_speaker_goes_on(
    patient: Talk,
) -> None:
    cancelled_before = _cancelled(patient.server)
    async with microphone(patient.url) as mic:
        # A second's pause: heard and answered early; then more words, the same utterance.
        await mic.say(np.concatenate([silence(0.3), patient.said, silence(1.0)]))
        await mic.say(np.concatenate([patient.again, silence(2.2)]))
        done = await mic.wait_for("done")
    assert patient.voice.early_dropped == 1 and patient.voice.turns == 1
    heard = mic.heard.of("heard")
    assert len(heard) == 1 and wer(f"{ASKED} {AGAIN}", heard[0]["text"]) <= 0.25, heard
    assert done["turn"] == heard[0]["turn"] == 2  # turn 1 was the dropped one: never seen
    assert not mic.heard.of("stop") and not [m for _, m, _ in mic.heard.audio if m["turn"] == 1]
    assert _cancelled(patient.server) >= cancelled_before + 1  # its generation was stopped
    assert [text for _, text in patient_overlay["seen"]] == [f"!ask {heard[0]['text']}"]


@pytest.mark.slow
async def test_words_carried_on_survive_an_early_turn_that_is_dropped(patient: Talk) -> None:
    """Turn 1 is talked over before it spoke, so its words begin the next turn; that
    turn is begun early at a pause and dropped when the speaker goes on: the words it
    carried on still begin the turn that answers."""
    patient.backend.token_delay_s = 1.0  # turn 1 says nothing before it is talked over
    try:
        async with microphone(patient.url) as mic:
            await mic.say(np.concatenate([silence(0.3), patient.said, silence(1.7)]))
            await mic.say(np.concatenate([patient.again, silence(1.0)]))  # early, dropped
            await mic.say(np.concatenate([patient.again, silence(2.2)]))
            await mic.wait_for("stop", 1)
            heard = await mic.wait_for("heard", 3)
    finally:
        patient.backend.token_delay_s = 0.2
    assert patient.voice.early_dropped == 1, mic.heard.events
    assert wer(f"{ASKED} {AGAIN} {AGAIN}", heard["text"]) <= 0.15, heard  # without turn 1's
    assert "teletype" in heard["text"].lower(), heard  # words: 0.25
