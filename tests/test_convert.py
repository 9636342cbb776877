"""inference_server/models.py's converter on the real packaged model: Q4_1 in, Q4_0 out,
atomically; `literai model convert` killed midway leaves no file."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import llama_cpp
import pytest

from inference_server.backends.llama_prompt import open_model
from inference_server.model_files import converted_model_path, resolve_model_path
from inference_server.models import ConvertError, convert_gguf
from inference_server.settings import ModelSettings

from .kit.server import LITERAI, write_config

pytestmark = pytest.mark.slow  # the packaged model, and `literai model convert` as a subprocess

ROOT = Path(__file__).resolve().parent.parent
Q4_0 = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0


@pytest.fixture(scope="module")
def packaged() -> Path:
    return resolve_model_path("smollm2", ModelSettings())  # no data_dir: the packaged Q4_1


@pytest.fixture(scope="module")
def converted(packaged: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = converted_model_path("smollm2", tmp_path_factory.mktemp("data"), "q4_0")
    assert convert_gguf(packaged, dst) == dst
    return dst


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_q4_0_loads_and_writes_english(converted: Path) -> None:
    assert leftovers(converted.parent) == []
    assert converted.stat().st_mode & 0o044  # umask, not mkstemp's 0600
    llm = open_model(converted, n_ctx=256, n_threads=1)
    try:
        assert llama_cpp.llama_model_ftype(llm.model) == Q4_0
        assert llm.metadata["general.file_type"] == str(Q4_0)
        out = llm.create_completion("The three primary colors are", max_tokens=24, temperature=0)
        text = out["choices"][0]["text"]  # type: ignore[index]
    finally:
        llm.close()
    words = re.findall(r"[A-Za-z]+", text)
    assert len(words) >= 3, text
    assert sum(c.isascii() for c in text) / len(text) > 0.9, text


def test_via_f16_gives_q4_0_and_cleans_up(packaged: Path, tmp_path: Path) -> None:
    dst = convert_gguf(packaged, tmp_path / "m.gguf", via="f16")
    assert leftovers(tmp_path) == []  # neither the F16 intermediate nor the .part
    llm = llama_cpp.Llama(model_path=str(dst), vocab_only=True, verbose=False)
    try:
        assert llm.metadata["general.file_type"] == str(Q4_0)
    finally:
        llm.close()


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match=r"source model not found: .*nope\.gguf"):
        convert_gguf(tmp_path / "nope.gguf", tmp_path / "out.gguf")
    assert list(tmp_path.iterdir()) == []


def test_source_that_is_not_gguf(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConvertError, match="not a GGUF file"):
        convert_gguf(tmp_path / "notes.txt", tmp_path / "out.gguf")


def test_destination_under_a_file(packaged: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConvertError, match=r"cannot create the folder for .*file/models/m\.gguf"):
        convert_gguf(packaged, tmp_path / "file" / "models" / "m.gguf")


def test_failed_conversion_keeps_the_old_file(packaged: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with packaged.open("rb") as f:
        broken.write_bytes(f.read(8 << 20))  # header intact, tensor data cut short
    dst = tmp_path / "out" / "m.gguf"
    dst.parent.mkdir()
    dst.write_bytes(b"the previous model")
    with pytest.raises(ConvertError, match=r"broken\.gguf to f16 failed .*(corrupted|bounds)"):
        convert_gguf(broken, dst, via="f16")
    assert dst.read_bytes() == b"the previous model"
    assert leftovers(dst.parent) == []


def test_killed_midway_leaves_no_dst(packaged: Path, tmp_path: Path) -> None:
    """A real crash: SIGKILL while the F16 intermediate is being written."""
    config = write_config(tmp_path, data_dir=str(tmp_path / "data"))
    dst = converted_model_path("smollm2", tmp_path / "data")
    proc = subprocess.Popen(
        [*LITERAI, "model", "convert", "--via", "f16", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in dst.parent.glob(f".{dst.name}.*.f16")):
            assert proc.poll() is None, "the conversion ended before it could be killed"
            assert time.monotonic() < deadline, "no intermediate file appeared"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert not dst.exists()
    assert leftovers(dst.parent) != []  # the killed run's hidden temporary files...
    again = subprocess.run(
        [*LITERAI, "model", "convert", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert leftovers(dst.parent) == []  # ...are swept by the next run
    assert dst.read_bytes()[:4] == b"GGUF"
