"""llama.cpp's extra weight buffers (AMX, repack): the probe that decides whether a model
may use them, and loading with them off, on the real llama.cpp and the packaged model."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from inference_server.backends import llama_buffers
from inference_server.backends.llama_buffers import extra_buffers_work, load_llama
from inference_server.model_files import resolve_model_path
from inference_server.settings import ModelSettings

MODEL = resolve_model_path("smollm2", ModelSettings())  # type: ignore[call-arg]


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "literai" / "llama-buffers.json"


def test_plain_buffers_decode_a_prompt_and_leave_the_defaults_alone() -> None:
    import llama_cpp.llama_cpp as raw

    default = raw.llama_model_default_params
    llm = load_llama(MODEL, "off", n_ctx=128, n_threads=1, verbose=False)
    try:
        llm.eval(llm.tokenize(b"The teletype printed a long line of text."))  # many tokens
        assert llm.n_tokens > 5
    finally:
        llm.close()
    assert raw.llama_model_default_params is default
    assert raw.llama_model_default_params().use_extra_bufts  # llama.cpp's default, kept


def test_a_child_that_dies_is_a_no(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    assert llama_buffers._probe(broken) is False  # the child failed: not safe


def test_the_answer_is_probed_once_and_remembered(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes: list[Path] = []
    real = llama_buffers._probe

    def counted(path: Path) -> bool:
        probes.append(path)
        return real(path)

    monkeypatch.setattr(llama_buffers, "_probe", counted)
    monkeypatch.setattr(llama_buffers, "_build_info", lambda: "CPU : AVX2 = 1 | AMX_INT8 = 1 |")
    first = extra_buffers_work(MODEL)
    assert probes == [MODEL]
    assert list(json.loads(cache.read_text()).values()) == [first]
    assert extra_buffers_work(MODEL) is first and probes == [MODEL]  # from the cache
    # What the real probe found is what loading with the buffers does here: when it says
    # yes, a prompt decodes with them (a crash would take the test run down).
    if first:
        llm = load_llama(MODEL, "on", n_ctx=128, n_threads=1, verbose=False)
        llm.eval(llm.tokenize(b"The teletype printed a long line of text."))
        llm.close()


def test_without_amx_kernels_nothing_is_probed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_buffers, "_build_info", lambda: "CPU : AVX2 = 1 | REPACK = 1 |")
    monkeypatch.setattr(llama_buffers, "_probe", lambda path: pytest.fail("probed"))
    assert extra_buffers_work(MODEL) is True
    assert not cache.exists()


def test_the_system_info_is_read_once_so_a_half_written_one_cannot_decide(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp rewrites one static string on every ``llama_print_system_info``; a read
    while another thread rewrites it can miss its AMX line. Loads in parallel threads,
    as the server's are: every one is decided on the first, whole, read."""
    import llama_cpp

    reads = iter([b"CPU : AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "])
    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: next(reads, b"CPU : "))
    monkeypatch.setattr(llama_buffers, "_INFO", [])
    monkeypatch.setattr(llama_buffers, "_probe", lambda path: False)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: extra_buffers_work(MODEL), range(8)))
    assert found == [False] * 8


def test_an_unwritable_cache_costs_only_a_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "literai").write_text("a file where the folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(llama_buffers, "_build_info", lambda: "AMX_INT8 = 1")
    monkeypatch.setattr(llama_buffers, "_probe", lambda path: False)
    assert extra_buffers_work(MODEL) is False


def test_the_cache_keeps_the_newest_answers_only(cache: Path) -> None:
    for i in range(llama_buffers.KEEP + 5):
        llama_buffers._remember(f"key{i}", i % 2 == 0)
    kept = json.loads(cache.read_text())
    assert len(kept) == llama_buffers.KEEP and "key0" not in kept
    assert llama_buffers._remembered(f"key{llama_buffers.KEEP + 4}") is True
