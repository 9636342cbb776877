"""How bench/longform.py reports: the figures of one run (the JSON line's keys, defined
in longform's docstring), a table per path and text, and one row per variant."""

from __future__ import annotations

from typing import Any

Item = dict[str, Any]


def _of(items: list[Item], kind: str) -> list[Item]:
    """The items of ``kind`` there is a text of to score (declined ones have none)."""
    return [it for it in items if it["kind"] == kind and "failed" not in it]


def figures(items: list[Item]) -> dict[str, object]:
    sums, passages = _of(items, "summary"), _of(items, "passage")
    lines, casts = _of(items, "podcast_line"), _of(items, "podcast")
    spoken = [ln for ln in lines if not ln["fixed"]]
    return {
        "summary_faithfulness": min((s["faithfulness"] for s in sums), default=None),
        "summary_coverage": round(sum(s["coverage"] for s in sums) / len(sums), 3)
        if sums else None,
        "instruction_echo": sum(it["echo"] for it in [*sums, *passages, *lines]),
        "unfinished": sum(it["unfinished"] for it in [*sums, *passages]),
        "max_self_repeat4": max((p["self_repeat4"] for p in passages), default=None),
        "repeat_passages": sum(p["self_repeat4"] > 0.2 for p in passages),
        "max_repeat4_against": max((p["repeat4_against"] for p in passages), default=None),
        "own_echo": next((s["own_echo"] for s in sums if s["path"] == "!summary"), None),
        "podcast_both_speak": bool(casts) and all(n >= 1 for n in casts[0]["content"].values()),
        "podcast_bad_lines": sum(
            ln["echo"] or ln["self_repeat4"] > 0.2 or ln["unfinished"] for ln in spoken
        ),
        "summaries": len(sums),
        "declined": sum("failed" in it for it in items),
        "passages": len(passages),
        "podcast_lines": len(lines),
        "errors": sum(it["count"] for it in _of(items, "errors")),
        "seconds": round(sum(it["s"] for it in _of(items, "seconds"))),
    }  # fmt: skip


def table(items: list[Item]) -> None:
    """One row per path and text: items, echoes, unfinished, the mean faithfulness and
    coverage, the highest self/earlier 4-gram repeat, and what else the path has."""
    cols = f"{'path':10}{'item':20}{'n':>3}{'echo':>5}{'unfin':>6}{'faith':>7}{'cover':>7}"
    print(cols + f"{'self4':>7}{'vs_old':>7}  other")
    groups: dict[tuple[str, str], list[Item]] = {}
    for it in items:
        if it["kind"] in ("summary", "passage", "podcast_line"):
            groups.setdefault((it["path"], it["item"]), []).append(it)
    for (path, name), rows in groups.items():

        def mean(key: str, rows: list[Item] = rows) -> str:
            got = [r[key] for r in rows if key in r]
            return f"{sum(got) / len(got):.3f}" if got else "-"

        def top(key: str, rows: list[Item] = rows) -> str:
            got = [r[key] for r in rows if key in r]
            return f"{max(got):.3f}" if got else "-"

        other = ""
        if any("failed" in r for r in rows):
            other = f"declined {sum('failed' in r for r in rows)}: {rows[-1].get('failed', '')}"
        elif path == "!summary":
            other = f"own_echo {rows[0]['own_echo']}"
        elif path == "podcast":
            cast = next(c for c in _of(items, "podcast") if c["item"] == name)
            other = f"content lines {cast['content']} label_in_text {cast['label_in_text']}"
        elif path == "story":
            other = f"tries {[r['tries'] for r in rows]}"
        echo, unfin = sum(r.get("echo", 0) for r in rows), sum(r.get("unfinished", 0) for r in rows)
        cells = f"{len(rows):>3}{echo:>5}{unfin:>6}{mean('faithfulness'):>7}{mean('coverage'):>7}"
        reps = f"{top('self_repeat4'):>7}{top('repeat4_against'):>7}"
        print(f"{path:10}{name[:19]:20}{cells}{reps}  {other}")


def variants_table(figs: dict[str, dict[str, object]]) -> None:
    """One row per variant: the figures the targets are about."""
    keys = ["summary_faithfulness", "summary_coverage", "instruction_echo", "unfinished",
            "max_self_repeat4", "max_repeat4_against", "podcast_bad_lines", "declined",
            "seconds"]  # fmt: skip
    print(f"\n{'variant':14}" + "".join(f"{k[:11]:>12}" for k in keys))
    for name, fig in figs.items():
        print(f"{name:14}" + "".join(f"{fig[k]!s:>12}" for k in keys))
