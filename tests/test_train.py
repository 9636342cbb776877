"""``literai train``: the corpus and its held-out tenth, the checks before a run, where
trained models live and how the server picks them up (llama.cpp merged or adapter,
vLLM's --enable-lora), the query/key layout of the merge against the HF export, and the
real CLI end to end: trained, interrupted with Ctrl-C, resumed, served, and better on
its held-out text through the API."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from pathlib import Path

import openai
import pytest

from inference_server.model_files import hf_folder, resolve_model_path
from inference_server.settings import ModelSettings
from inference_server.training.corpus import CorpusError, epoch_order, make_corpus
from inference_server.training.job import Plan, check_start
from inference_server.training.lora import TrainError
from inference_server.training.trained import MANIFEST, find_trained, serve_trained

from .kit.server import LITERAI, ROOT, start_server, stop_server, write_config


def words(text: str) -> list[int]:
    return [len(w) for w in text.split()]


# ------------------------------------------------------------------------------------ the corpus


def test_blocks_hold_out_every_tenth_and_documents_end_with_the_end_token() -> None:
    corpus = make_corpus(["a " * 150, "b " * 50], words, eos=0, block=8)
    # 200 words + 2 end tokens = 202 tokens: 25 whole blocks, the rest dropped
    assert len(corpus.train) + len(corpus.held) == 25 and len(corpus.held) == 2
    assert all(len(b) == 8 for b in corpus.train + corpus.held)
    assert corpus.train[17][6] == 0  # block 18 (the 10th is held out): the first end
    assert corpus.train_tokens == 23 * 8 and corpus.chars == 400


def test_a_tiny_corpus_says_how_much_is_needed() -> None:
    with pytest.raises(CorpusError) as err:
        make_corpus(["hello there " * 10], words, eos=0, block=16)
    assert str(err.value) == (
        "the corpus is too small: 120 characters make 1 blocks of 16 tokens, and at least 20 "
        "are needed (about 1,829 characters); 200,000 or more give the model a voice"
    )
    with pytest.raises(CorpusError, match="at least 20 are needed"):
        make_corpus(["", "   "], words, eos=0, block=16)


def test_the_epoch_order_depends_only_on_seed_and_epoch() -> None:
    assert epoch_order(50, 1, 0) == epoch_order(50, 1, 0)
    assert epoch_order(50, 1, 0) != epoch_order(50, 2, 0)
    assert sorted(epoch_order(50, 3, 7)) == list(range(50))


# ------------------------------------------------------------------------- checks before a run


def plan(tmp: Path, name: str = "teletype") -> Plan:
    base = resolve_model_path("smollm2", ModelSettings())
    return Plan(name, "smollm2", base, hf_folder("smollm2", tmp), tmp)


def test_start_checks_say_what_is_wrong_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(p: Plan, **kw: bool) -> str:
        with pytest.raises(TrainError) as err:
            check_start(
                p, {"smollm2"}, resume=kw.get("resume", False), force=kw.get("force", False)
            )
        assert "\n" not in str(err.value)
        return str(err.value)

    assert refused(plan(tmp_path, "Tele Type")).startswith("'Tele Type' is not a usable name")
    assert refused(plan(tmp_path, "smollm2")) == (
        "'smollm2' is already a model alias in the config; pick another name"
    )
    assert refused(plan(tmp_path), resume=True) == "there is no stopped run of 'teletype' to resume"
    (tmp_path / "trained" / ".teletype.run").mkdir(parents=True)
    assert refused(plan(tmp_path)) == (
        "a stopped run of 'teletype' exists: --resume continues it, --force starts over"
    )
    check_start(plan(tmp_path), set(), resume=False, force=True)
    (tmp_path / "trained" / "teletype").mkdir()
    assert "exists already" in refused(plan(tmp_path))
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10, 9, 1))  # type: ignore[attr-defined]
    assert refused(plan(tmp_path, "other")).startswith("not enough disk space in ")


# --------------------------------------------------------------------- where trained models live


def trained(data: Path, name: str, base: str = "smollm2") -> Path:
    folder = data / "trained" / name
    (folder / "peft").mkdir(parents=True)
    (folder / "peft" / "adapter_config.json").write_text(json.dumps({"r": 16}))
    (folder / MANIFEST).write_text(json.dumps({"name": name, "base": base}))
    return folder


def test_the_server_serves_finished_trained_models_on_their_base_engine(tmp_path: Path) -> None:
    folder = trained(tmp_path, "pyref")
    trained(tmp_path, "orphan", base="gone")
    trained(tmp_path, "q8_0")  # a configured alias has that name
    (tmp_path / "trained" / ".half.partial").mkdir()  # a run that never finished
    assert sorted(find_trained(tmp_path)) == ["orphan", "pyref", "q8_0"]
    models = {"smollm2": ModelSettings(slots=4), "q8_0": ModelSettings()}
    extra, loras = serve_trained(models, "merged", tmp_path)
    assert list(extra) == ["pyref"] and loras == {}
    assert extra["pyref"].path == str(folder / "model.gguf") and extra["pyref"].slots == 4
    extra, _ = serve_trained(models, "adapter", tmp_path)
    assert extra["pyref"].lora == str(folder / "adapter.gguf")
    assert extra["pyref"].path == str(resolve_model_path("smollm2", models["smollm2"], tmp_path))
    assert serve_trained(models, "off", tmp_path) == ({}, {})
    vllm = {"smollm2": ModelSettings(engine="vllm"), "q8_0": ModelSettings()}
    assert serve_trained(vllm, "merged", tmp_path) == ({}, {"smollm2": {"pyref": folder / "peft"}})


def test_a_managed_vllm_serves_the_adapters_with_enable_lora(tmp_path: Path) -> None:
    from inference_server.backends.registry import vllm_loras
    from inference_server.backends.vllm import ManagedVllm, VllmLora

    base = ManagedVllm("smollm2", tmp_path, python=Path("python"), log_path=tmp_path / "log")
    views = vllm_loras(base, {"pyref": trained(tmp_path, "pyref") / "peft"})
    assert isinstance(views["pyref"], VllmLora) and views["pyref"].served_model == "pyref"
    command = base.command(8000)
    at = command.index("--enable-lora")
    assert command[at : at + 5] == [
        "--enable-lora", "--max-lora-rank", "16", "--lora-modules",
        f"pyref={tmp_path / 'trained' / 'pyref' / 'peft'}",
    ]  # fmt: skip


# ------------------------------------------------------------------------------- the real thing


@pytest.mark.slow
def test_the_merge_uses_llama_cpp_query_and_key_layout() -> None:
    """Dequantized GGUF rows equal the HF export's rows permuted the way the merge
    permutes B: a wrong layout would scramble the adapted attention."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    from inference_server.training.gguf_out import _permute

    reader = gguf.GGUFReader(resolve_model_path("smollm2", ModelSettings()))
    tensors = {t.name: t for t in reader.tensors}
    heads = (9, 3)
    with safe_open(str(hf_folder("smollm2", ROOT / "data") / "model.safetensors"), "pt") as f:
        for hf, name in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v")):
            ours = f.get_tensor(f"model.layers.3.self_attn.{hf}.weight").float().numpy()
            t = tensors[f"blk.3.{name}.weight"]
            theirs = gguf.quants.dequantize(t.data, t.tensor_type)
            gap = np.abs(theirs - _permute(ours, t.name, heads)).max()
            assert gap < 0.02, (name, gap)  # bf16 rounding of the export
            if name != "attn_v":
                assert np.abs(theirs - ours).max() > 1.0  # unpermuted, it would not fit


def corpus_file(tmp: Path) -> Path:
    from pydoc_data.topics import topics

    path = tmp / "reference.txt"
    path.write_text("\n\n".join(topics[k] for k in sorted(topics)[:3]))  # ~17,000 characters
    return path


def interrupted(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` and press Ctrl-C once its progress bar has counted a step."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # As at a terminal: a suite started in the background inherits SIGINT ignored,
        # and Python then never turns Ctrl-C into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 240
    while b"1/" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.read1(4096)  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    return proc.returncode, (seen + err).decode()


@pytest.mark.slow
def test_train_interrupt_resume_and_serve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(ROOT / "data" / "models")
    config = write_config(tmp_path, data_dir=str(data))
    cmd = [*LITERAI, "train", str(corpus_file(tmp_path)), "--name", "pyref", "--block", "32"]
    cmd += ["--epochs", "1", "--config", str(config)]
    code, err = interrupted(cmd)
    assert code == 130, err
    assert "the checkpoint is saved and `literai train ... --name pyref --resume` continues" in err
    assert not (data / "trained" / "pyref").exists()  # nothing half-made is served
    assert (data / "trained" / ".pyref.run" / "checkpoint" / "state.json").is_file()
    step = json.loads((data / "trained" / ".pyref.run" / "checkpoint" / "state.json").read_text())
    assert step["step"] >= 1
    done = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "finished the planned epochs" in done.stderr
    folder = Path(done.stdout.strip())
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["steps"] == 28 and manifest["held_loss_best"] < manifest["held_loss_before"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "adapter.gguf", "model.gguf", "peft", MANIFEST
    ]  # fmt: skip
    assert not (data / "trained" / ".pyref.run").exists()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists already" in again.stderr
    # The corpus's own text (its held-out tenth is scored by bench/finetune.py): what
    # the server serves is the trained model, merged or applied at load alike.
    sample = corpus_file(tmp_path).read_text()[-3000:]
    ppl = {mode: served_perplexity(tmp_path, data, mode, sample) for mode in ("merged", "adapter")}
    assert ppl["merged"]["pyref"] < ppl["merged"]["smollm2"], ppl
    assert math.isclose(ppl["adapter"]["pyref"], ppl["merged"]["pyref"], rel_tol=0.05), ppl


def served_perplexity(tmp: Path, data: Path, mode: str, text: str) -> dict[str, float]:
    """The real server with the trained model: listed, and each model's perplexity of
    ``text`` through /v1/completions (echo + logprobs)."""
    server_cfg = {"port": 0, "trained_models": mode, "models": {"smollm2": {"slots": 2}}}
    server = start_server(write_config(tmp, server=server_cfg, data_dir=str(data)))
    try:
        client = server.client(strict=False, timeout=120)
        assert [m.id for m in client.models.list().data][:2] == ["smollm2", "pyref"]
        found = {}
        for model in ("smollm2", "pyref"):
            done = client.completions.create(
                model=model, prompt=text, echo=True, logprobs=0, max_tokens=1, temperature=0
            )
            lp = done.choices[0].logprobs
            assert lp is not None and lp.token_logprobs is not None
            scored = [x for x in lp.token_logprobs[:-1] if x is not None]
            found[model] = math.exp(-sum(scored) / len(scored))
        with pytest.raises(openai.NotFoundError):
            client.completions.create(model="pyref-nope", prompt="x", max_tokens=1)
    finally:
        err = stop_server(server)
    assert "Traceback" not in err, err
    return found


@pytest.mark.slow
def test_train_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, data_dir=str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "models").symlink_to(ROOT / "data" / "models")
    binary, tiny = tmp_path / "image.txt", tmp_path / "tiny.md"
    binary.write_bytes(b"\x89PNG\x00\x00" * 10)
    tiny.write_text("The teletype prints.\n" * 40)
    cases = {
        str(tmp_path / "missing.txt"): f"literai: {tmp_path / 'missing.txt'}: no such file",
        str(binary): f"literai: {binary}: a binary file, not text",
        str(tiny): "literai: the corpus is too small: 840 characters make 0 blocks of 256",
    }
    for path, said in cases.items():
        done = subprocess.run(
            [*LITERAI, "train", path, "--name", "x", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2 and done.stderr.startswith(said), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not any((tmp_path / "data" / "trained").glob("*"))  # nothing left behind
    flags = {
        ("--minutes", "0"): "argument --minutes: must be 0.1-1440, got 0",
        ("--block", "big"): "argument --block: not a number: 'big'",
        ("--base", "gpt4"): "literai: --base 'gpt4' is not a packaged model (smollm2)",
    }
    for flag, said in flags.items():
        done = subprocess.run(
            [*LITERAI, "train", str(tiny), "--name", "x", *flag, "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2 and said in done.stderr, done.stderr
