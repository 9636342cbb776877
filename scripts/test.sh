#!/usr/bin/env bash
# Install what the tests need, then run the whole suite: lint, types, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The slowest tests are listed at the end, to see where the suite's time goes.
.venv/bin/python -m pytest --durations=15 "$@"
