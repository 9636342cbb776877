"""No secret in any log line, from any library: a log-record factory, installed at start,
that masks the value of every configured secret (and of token-like URL query parameters,
IRC ``PASS``/``AUTHENTICATE`` arguments) in every record's message, arguments,
traceback and stack before any handler sees it.

A factory rather than a handler filter: it sees records of every logger, whatever
handlers a library adds, and records are masked once, where they are made. Why this is
needed: twitchio's HTTP errors carry the whole token URL (``client_secret`` and
``refresh_token`` in the query string), and pydle logs raw protocol lines at debug.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary words

# ?client_secret=…&refresh_token=…: any query parameter whose name says it is a secret.
_QUERY = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:secret|token|passw(?:or)?d|api[_-]?key|apikey|auth|"
    r"signature|sig|code|key))=)([^&#\s'\"<>]+)"
)
_IRC = re.compile(r"(?im)\b((?:PASS|AUTHENTICATE)\s+:?)(?!\+(?:\s|$))(\S+)")
_BEARER = re.compile(r"(?i)\b((?:Bearer|OAuth|Bot)\s+)([A-Za-z0-9._~+/=-]{12,})")


class Redactor:
    """Masks the given secret values, and secret-shaped parts of URLs and protocol
    lines, in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= MIN_SECRET}
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(values, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
        text = _IRC.sub(lambda m: m.group(1) + MASK, text)
        return _BEARER.sub(lambda m: m.group(1) + MASK, text)

    def scrub(self, record: logging.LogRecord) -> None:
        """Mask ``record`` in place: its message (arguments merged in), traceback and
        stack, which formatters then use as they are."""
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: keep what can be shown
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.mask(message), None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.mask(text)
            record.exc_info = None  # formatters must not format the raw one again
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)


def install(secrets: Iterable[str]) -> Callable[[], None]:
    """Mask ``secrets`` in every log record from now on; returns an undo (for tests)."""
    redactor = Redactor(secrets)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
