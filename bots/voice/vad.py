"""Where speech starts and ends in a microphone stream: Silero VAD (the ONNX file
faster-whisper ships, so nothing is downloaded), run one 32 ms frame at a time with its
state carried between calls, and ``Turns``, the end-pointer over its probabilities.

``Turns`` is pure logic, so its rules are tested with plain numbers:

- speech *starts* after ``start_ms`` of frames at or above the threshold (a click or a
  cough shorter than that is not speech); the utterance keeps ``pre_roll_ms`` before it,
  so the first syllable is not cut;
- after ``pause_ms`` of silence it *pauses*: the audio so far is final unless speech
  resumes, so the session may start transcribing it already;
- after ``end_ms`` of silence it *ends*; ``max_s`` of speech ends it too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

RATE = 16_000  # samples per second, everywhere in the voice path
FRAME = 512  # samples per VAD frame: 32 ms, the frame Silero v5/v6 take at 16 kHz
FRAME_MS = FRAME * 1000 // RATE
_CONTEXT = 64  # samples of the previous frame Silero looks at


class Silero:
    """Speech probability per frame. Not thread-safe: one per conversation."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model  # the listen extra; cached per process

        self._session: Any = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT), dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        chunk = frame.reshape(1, FRAME).astype(np.float32)
        given = {"input": np.concatenate([self._context, chunk], 1), "h": self._h, "c": self._c}
        out, self._h, self._c = self._session.run(None, given)
        self._context = chunk[:, -_CONTEXT:]
        return float(np.ravel(out)[0])


@dataclass(frozen=True)
class Event:
    kind: str  # "start", "pause", "resume" or "end"
    audio: np.ndarray | None = None  # int16 samples: the utterance so far ("pause", "end")


def _frames(ms: float) -> int:
    return max(1, round(ms / FRAME_MS))


class Turns:
    """The end-pointer: frames and their speech probability in, events out."""

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        start_ms: float = 96,
        pause_ms: float = 96,
        end_ms: float = 480,
        pre_roll_ms: float = 320,
        max_s: float = 30,
    ) -> None:
        self.threshold = threshold
        self.quiet_below = max(0.01, threshold - 0.15)  # hysteresis, as Silero's own
        self._start, self._pause, self._end = _frames(start_ms), _frames(pause_ms), _frames(end_ms)
        self.max_frames = _frames(max_s * 1000)
        self._before: deque[np.ndarray] = deque(maxlen=_frames(pre_roll_ms) + self._start)
        self._heard: list[np.ndarray] = []
        self._voiced = 0  # frames in a row at or above the threshold
        self._silent = 0  # frames in a row below quiet_below, while speaking
        self.speaking = False
        self._paused = False

    def feed(self, frame: np.ndarray, prob: float) -> list[Event]:
        if not self.speaking:
            self._before.append(frame)
            self._voiced = self._voiced + 1 if prob >= self.threshold else 0
            if self._voiced < self._start:
                return []
            self.speaking, self._heard, self._silent = True, list(self._before), 0
            self._before.clear()
            return [Event("start")]
        self._heard.append(frame)
        events: list[Event] = []
        if prob >= self.threshold or (prob >= self.quiet_below and not self._silent):
            if self._paused:
                events.append(Event("resume"))
            self._silent, self._paused = 0, False
        else:
            self._silent += 1
        if self._silent == self._pause and not self._paused:
            self._paused = True
            events.append(Event("pause", self._audio()))
        if self._silent >= self._end or len(self._heard) >= self.max_frames:
            events.append(self.finish())
        return events

    def finish(self) -> Event:
        """End the utterance now (the end of speech, or a press-to-talk release)."""
        audio = self._audio()
        self.speaking, self._paused, self._heard, self._voiced = False, False, [], 0
        self._silent = 0
        return Event("end", audio)

    def _audio(self) -> np.ndarray:
        """The utterance so far, without the silence past ``pause_ms`` at its end (so a
        "pause" and the "end" after it carry the same samples)."""
        keep = len(self._heard) - max(0, self._silent - self._pause)
        return np.concatenate(self._heard[:keep]) if self._heard else np.zeros(0, np.int16)


def frames_of(pcm: bytes, left: bytes) -> tuple[list[np.ndarray], bytes]:
    """Little-endian 16-bit samples cut into whole frames, and the bytes left over."""
    data = left + pcm
    whole = len(data) // (FRAME * 2) * FRAME * 2
    samples = np.frombuffer(data[:whole], dtype="<i2")
    return [samples[i : i + FRAME] for i in range(0, len(samples), FRAME)], data[whole:]


Probability = Callable[[np.ndarray], float]


def listen(frames: list[np.ndarray], prob: Probability, turns: Turns) -> list[Event]:
    """Each frame through the model and the end-pointer (run off the event loop)."""
    events: list[Event] = []
    for frame in frames:
        events += turns.feed(frame, prob(frame.astype(np.float32) / 32768.0))
    return events
