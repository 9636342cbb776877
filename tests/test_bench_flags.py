"""The benchmarks' own flags: a bad value is one line from argparse, before anything
starts (no server, no model, no platform fakes)."""

from __future__ import annotations

import sys

import pytest

from bench import answers, soak


@pytest.mark.parametrize(
    ("main", "argv", "says"),
    [
        (answers.main, ["--kinds", "gpt2,bogus"], "unknown kinds ['bogus']; known: context,"),
        (answers.main, ["--variants", "nope"], "unknown variants ['nope']"),
        (soak.main, ["--history", "3"], "--history: at least 10 lines"),
    ],
)
def test_a_bad_flag_is_one_line(
    main: object, argv: list[str], says: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["bench", *argv])
    with pytest.raises(SystemExit) as stopped:
        main()  # type: ignore[operator]
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
