"""How the chat benchmarks print: a header, one figure per line, then one JSON line."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(header: str, fig: dict[str, object], keys: Iterable[str], **extra: object) -> None:
    print(header)
    for key in keys:
        print(f"{key:28}{fig[key]}")
    print(json.dumps({**fig, **extra, "date": datetime.date.today().isoformat()}))
