"""A podcast episode's sound and timeline (literAI's idea): each script line spoken in
its host's voice, 250 ms of silence between lines, one WAV, and a timeline of who says
what when; written as a folder that appears whole or not at all.

The script itself (summaries -> a two-host dialogue -> scenes and images) is built on
top of this; see the README for what exists so far.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import tempfile
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .inference import Inference

GAP_S = 0.25


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str
    section: int = 0


@dataclass(frozen=True)
class Cue:
    line: int
    speaker: str
    text: str
    section: int
    start: float  # seconds into the episode
    end: float
    image: str | None = None


class EpisodeError(ValueError):
    pass


def _pcm(data: bytes) -> tuple[bytes, tuple[int, int, int]]:
    """Frames and (rate, channels, sample width) of a WAV."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.readframes(w.getnframes()), (
                w.getframerate(),
                w.getnchannels(),
                w.getsampwidth(),
            )
    except (wave.Error, EOFError) as exc:
        raise EpisodeError(f"the speech server sent audio I cannot read: {exc}") from None


async def render(
    inference: Inference,
    lines: list[Line],
    voices: dict[str, str],
    *,
    model: str,
    gap_s: float = GAP_S,
    progress: Callable[[int, int], None] | None = None,
    cache: Path | None = None,
) -> tuple[bytes, list[Cue]]:
    """Speak every line in its speaker's voice; one WAV and the cues, in order. With a
    ``cache`` folder each line's audio is kept there, and a rerun (``--resume``) speaks
    only the lines not yet spoken."""
    if not lines:
        raise EpisodeError("the script is empty")
    missing = sorted({ln.speaker for ln in lines} - set(voices))
    if missing:
        raise EpisodeError(f"no voice for {', '.join(missing)}")
    frames: list[bytes] = []
    cues: list[Cue] = []
    fmt: tuple[int, int, int] | None = None
    t = 0.0
    for i, line in enumerate(lines):
        if progress is not None:
            progress(i, len(lines))
        audio = await _spoken(inference, line, voices[line.speaker], model, cache, i)
        pcm, this = _pcm(audio)
        if fmt is None:
            fmt = this
        elif this != fmt:
            raise EpisodeError(
                f"the voices differ in format ({fmt} and {this}); use voices of one sample rate"
            )
        rate, channels, width = fmt
        if i:
            gap = int(rate * gap_s) * channels * width
            frames.append(b"\0" * gap)
            t += gap / (rate * channels * width)
        seconds = len(pcm) / (rate * channels * width)
        start, end = round(t, 3), round(t + seconds, 3)
        cues.append(Cue(i, line.speaker, line.text, line.section, start, end))
        frames.append(pcm)
        t += seconds
    if progress is not None:
        progress(len(lines), len(lines))
    assert fmt is not None
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setframerate(fmt[0])
        w.setnchannels(fmt[1])
        w.setsampwidth(fmt[2])
        w.writeframes(b"".join(frames))
    return out.getvalue(), cues


async def _spoken(
    inference: Inference, line: Line, voice: str, model: str, cache: Path | None, i: int
) -> bytes:
    key = hashlib.sha256(f"{voice}\0{model}\0{line.text}".encode()).hexdigest()[:16]
    kept = cache / f"line-{i:04d}-{key}.wav" if cache is not None else None
    if kept is not None and kept.is_file():
        return await asyncio.to_thread(kept.read_bytes)
    audio = await inference.speech(line.text, voice=voice, model=model)
    if kept is not None:
        await asyncio.to_thread(atomic_write, kept, audio)
    return audio


def atomic_write(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole or is as it was, even after a crash: written
    beside it, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    _durable(tmp, data)
    os.replace(tmp, path)
    _sync_dir(path.parent)


def _durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` survive a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune_episodes(folder: Path, keep: int, max_bytes: int, *, spare: str = "") -> list[str]:
    """Delete the oldest episodes until at most ``keep`` remain and together they take
    at most ``max_bytes`` (``spare``, the one just written, is never deleted); the ids
    deleted. Folders being written (their names start with a dot) are left alone."""
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_dir() and not path.name.startswith(".") and (path / "timeline.json").exists():
            size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
            found.append((path.stat().st_mtime, path.name, size))
    found.sort()
    total = sum(size for _, _, size in found)
    gone: list[str] = []
    for _, name, size in found:
        if len(found) - len(gone) <= keep and total <= max_bytes:
            break
        if name == spare:
            continue
        shutil.rmtree(folder / name, ignore_errors=True)
        gone.append(name)
        total -= size
    return gone


def write_episode(
    folder: Path,
    episode_id: str,
    title: str,
    wav: bytes,
    cues: list[Cue],
    images: dict[str, bytes] | None = None,
    sections: list[dict[str, object]] | None = None,
) -> Path:
    """Write ``folder/episode_id`` whole: audio.wav, timeline.json (with ``sections``: each
    part's summary, image prompt and image), transcript.txt and the images. Everything
    goes into a temporary folder beside it first, which is then renamed into place; a
    crash leaves no half episode (only a temp folder to clear)."""
    if not episode_id.replace("-", "").isalnum():
        raise EpisodeError(f"bad episode id {episode_id!r}")
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / episode_id
    if final.exists():
        raise EpisodeError(f"episode {episode_id} exists already")
    tmp = Path(tempfile.mkdtemp(prefix=f".{episode_id}-", dir=folder))
    try:
        _durable(tmp / "audio.wav", wav)
        for name, data in (images or {}).items():
            _durable(tmp / name, data)
        duration = cues[-1].end if cues else 0.0
        timeline = {"id": episode_id, "title": title, "duration": duration,
                    "sections": sections or [], "lines": [asdict(c) for c in cues]}  # fmt: skip
        _durable(tmp / "timeline.json", json.dumps(timeline, indent=1).encode())
        transcript = "\n".join(f"{c.speaker}: {c.text}" for c in cues)
        _durable(tmp / "transcript.txt", f"{title}\n\n{transcript}\n".encode())
        _sync_dir(tmp)
        os.replace(tmp, final)
        _sync_dir(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
