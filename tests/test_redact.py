"""No secret reaches a log line, from any library: the record factory masks configured
secrets and secret-shaped URL parameters and protocol lines in messages, arguments and
tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bots.redact import MASK, Redactor, install

SECRET = "s3cr3t-client-value"
TOKEN = "oauth-token-abcdef123"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A handler on the root logger, as ``literai`` sets one up, after ``install``."""
    undo = install([SECRET, TOKEN, "abc"])  # "abc": too short to mask safely
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        undo()


def test_secrets_in_messages_arguments_and_tracebacks_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("some.library")  # not ours: any library's logger
    log.warning("could not send: %s", f"token {TOKEN} was refused")
    log.info("plain %s and %d", "words", 3)
    try:
        raise RuntimeError(f"Request https://id.example/oauth2/token?client_secret={SECRET} failed")
    except RuntimeError:
        log.exception("refresh failed for %s", TOKEN)
    text = captured.getvalue()
    assert SECRET not in text and TOKEN not in text
    assert f"token {MASK} was refused" in text
    assert "plain words and 3" in text
    assert "RuntimeError: Request https://id.example/oauth2/token?client_secret=***" in text
    assert "Traceback (most recent call last)" in text  # the traceback is still there


def test_token_like_query_parameters_are_masked_even_when_not_configured() -> None:
    r = Redactor()
    url = (
        "Request https://id.twitch.tv/oauth2/token?client_id=abc&client_secret=xyz123"
        "&grant_type=refresh_token&refresh_token=r-456 failed with status 400"
    )
    assert r.mask(url) == (
        "Request https://id.twitch.tv/oauth2/token?client_id=abc&client_secret=***"
        "&grant_type=refresh_token&refresh_token=*** failed with status 400"
    )
    assert r.mask("GET /x?api_key=k1&page=2") == "GET /x?api_key=***&page=2"
    assert r.mask("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"


def test_irc_pass_and_sasl_lines_are_masked() -> None:
    r = Redactor()
    assert r.mask(">> PASS hunter2-server") == ">> PASS ***"
    assert r.mask("<< AUTHENTICATE bGl0ZXJhaQBsaXRlcmFpAHNlY3JldA==") == "<< AUTHENTICATE ***"
    assert r.mask("<< AUTHENTICATE +") == "<< AUTHENTICATE +"  # the empty challenge
    assert r.mask("PRIVMSG #c :I passed the test") == "PRIVMSG #c :I passed the test"


def test_short_values_are_not_masked_and_longer_secrets_win() -> None:
    r = Redactor(["abc", "token-1", "token-12345"])
    assert r.mask("abc token-12345 token-1") == "abc *** ***"
