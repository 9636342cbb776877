"""The benchmarks' own flags: a bad value is one line from argparse, before anything
starts (no server, no model, no platform fakes)."""

from __future__ import annotations

import sys

import pytest

from bench import answers, events, listen, longform, soak, stream, structured, voice


@pytest.mark.parametrize(
    ("main", "argv", "says"),
    [
        (answers.main, ["--kinds", "gpt2,bogus"], "unknown kinds ['bogus']; known: context,"),
        (answers.main, ["--variants", "nope"], "unknown variants ['nope']"),
        (soak.main, ["--history", "3"], "--history: at least 10 lines"),
        (longform.main, ["--variants", "defaults,nope"], "--variants: unknown ['nope']"),
        (structured.main, ["--streams", "0"], "must be at least 1"),
        (structured.main, ["--chat-template", "/nope.jinja"], "--chat-template: no file"),
        (stream.main, ["--minutes", "0"], "must be positive"),
        (events.main, ["--seeds", "0"], "at least 1"),
        (listen.main, ["--runs", "0"], "at least 1"),
        (voice.main, ["--rounds", "0"], "at least 1"),
        (voice.main, ["--lines", "-1"], "--lines must be 0 to 200"),
        (voice.main, ["--end-ms", "10"], "--end-ms: Input should be greater than or equal to 64"),
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


def test_a_command_sent_while_its_sender_was_told_to_wait_is_quieted_not_lost() -> None:
    tally = soak.Tally()
    for cid, at, who in (("a", 10.0, "peer1"), ("b", 12.5, "peer1"), ("c", 20.0, "peer1"),
                         ("d", 12.6, "peer2")):  # fmt: skip
        tally.asked[cid], tally.platform_of[cid], tally.sender_of[cid] = at, "irc", who
    tally.quiet.append(("irc", "peer1", 10.0, 13.0))  # "a" was told: try again in 3 s
    assert soak.quieted(tally, {"b", "c", "d"}) == {"b"}


def test_the_stream_benchs_blocked_word_count_sees_through_disguises() -> None:
    assert stream.blocked_in("and f u c k to that, sh1t, b.i.t.c.h, a$$hole") == 4
    assert stream.blocked_in("and **** to that, the paper tape") == 0
