"""``literai config --explain``: every key of the deployment config, with its default,
its bounds and what it means, walked from the settings models themselves (so a new,
described field shows up without anyone listing it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from .config import LiteraiConfig


@dataclass(frozen=True)
class Key:
    """One config key: where it is, its default, its bounds and what it means."""

    path: str
    default: str
    bounds: str
    description: str


def explain(model: type[BaseModel] = LiteraiConfig, prefix: str = "") -> Iterator[Key]:
    """Every key of ``model``, nested sections walked (``<name>`` for keys of a mapping
    of sections, ``[]`` for items of a list of them)."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = _section_of(info.annotation)
        if inner is not None:
            section, how = inner
            if how:  # a mapping or list of sections: its default entries, then their keys
                names = _plain(info.get_default(call_default_factory=True))
                shown = ", ".join(names) if isinstance(names, dict) else f"{len(names)} items"
                yield Key(path, shown or "(none)", "", info.description or "")
            yield from explain(section, f"{path}{how}.")
            continue
        bounds = [
            f"{k} {getattr(m, k)}"
            for m in info.metadata
            for k in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")
            if getattr(m, k, None) is not None
        ]
        choices = _choices(info.annotation)
        if choices:
            bounds.append("one of " + ", ".join(choices))
        if info.is_required():
            shown = "(required)"
        else:
            default = info.get_default(call_default_factory=True)
            shown = yaml.safe_dump(_plain(default), default_flow_style=True, width=1000)
            shown = shown.strip().removesuffix("...").strip()
        yield Key(path, shown, "; ".join(bounds), info.description or "")


def _section_of(annotation: Any) -> tuple[type[BaseModel], str] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and len(args) == 2 and _is_model(args[1]):
        return args[1], ".<name>"
    if origin is list and args and _is_model(args[0]):
        return args[0], "[]"
    return None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _choices(annotation: Any) -> list[str]:
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    return []


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def explain_text() -> str:
    lines = []
    for key in explain():
        bounds = f" [{key.bounds}]" if key.bounds else ""
        lines.append(f"{key.path} = {key.default}{bounds}\n    {key.description}")
    return "\n".join(lines)
