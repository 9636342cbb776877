"""The architecture's rules, checked on the source (ARCHITECTURE.md): which package may
import what, and how big a module or a function may grow before it must say why."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("literai_core", "inference_server", "bots")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
# The chat core decides; it never touches a platform, a model runtime or a web server.
CORE_FORBIDDEN = (
    "discord", "twitchio", "pydle", "aiohttp", "aiohttp_sse", "llama_cpp", "torch",
    "diffusers", "transformers", "piper", "inference_server", "bots",
)  # fmt: skip


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, anywhere in it (lazy imports included)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _top(name: str) -> str:
    return name.split(".")[0]


def test_inference_server_imports_neither_the_core_nor_the_bots() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources("inference_server")
        for name in _imports(path)
        if _top(name) in ("literai_core", "bots")
    ]
    assert bad == []


def test_the_core_imports_no_platform_model_or_web_library() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources("literai_core")
        for name in _imports(path)
        if _top(name) in CORE_FORBIDDEN
    ]
    assert bad == []


@pytest.mark.parametrize("folder", [*PACKAGES, "bench", "tests"])
def test_modules_stay_small(folder: str) -> None:
    big = {
        str(path.relative_to(ROOT)): n
        for path in _sources(folder)
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert big == {}, f"modules over {MAX_MODULE_LINES} lines: {big}"


def _long_functions(path: Path) -> Iterator[str]:
    lines = path.read_text().splitlines()
    for node in ast.walk(ast.parse("\n".join(lines), str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length <= MAX_FUNCTION_LINES:
            continue
        head = "\n".join(lines[node.lineno - 1 : node.lineno + 12])
        if "Long because:" not in head:
            yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"


@pytest.mark.parametrize("folder", [*PACKAGES, "bench", "tests"])
def test_long_functions_say_why(folder: str) -> None:
    long = [found for path in _sources(folder) for found in _long_functions(path)]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines without 'Long because:'"
