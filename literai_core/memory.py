"""Long-term memory of a channel's regulars: what viewers said about themselves ("my cat
is called Miso", "I main Zelda"), kept in SQLite across restarts and recalled into
``!ask``'s prompt when a question touches it, or when the asker asks about themselves
("remember me?").

What is kept: a viewer's own public chat line in the first person that says something
about them (``notable``: 4 to 40 words, not a question, no link, no blocked word), in
their own words; and the channel's chat summaries (``!summary``, timed recaps) as what
past streams were about, recalled for "what happened last stream?". Never a private
conversation (a DM), a command, or the bot's own line.
Bounded: ``per_user`` lines per viewer and channel, ``per_channel`` per channel (the
oldest go first), nothing older than ``retention_days``, and at most ``PENDING`` lines
waiting to be written (more are skipped and counted). Writes and reads run off the
event loop, one at a time, on one connection.

Viewers control their data: ``!memory`` shows it, ``!forget me`` deletes it. Deleted
rows are gone from the file, not just hidden: ``secure_delete`` zeroes freed pages, and
the full-text index is merged (``optimize``) after a deletion so that its segments no
longer hold the words either.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .chat import ChatLine
from .filter import ContentFilter
from .settings import MemorySettings
from .trim import trim_reply

log = logging.getLogger(__name__)

PENDING = 256
SUMMARY = "stream summary"  # the name a kept summary is shown under
SUMMARY_CHARS = 280
_PAST = re.compile(
    r"\b(?:(?:last|previous|earlier|other) (?:stream|time|session|day|night)|yesterday)\b",
    re.IGNORECASE,
)
_SELF = re.compile(
    r"\b(?:i am|i'm|im|i was|i've|i have|i had|i live|i work|i play|i main|i own|i love|"
    r"i like|i hate|i got|i use|i study|i moved|i started|i speedrun|i stream|i build|"
    r"my [\w' -]{1,30}? (?:is|are|was|were|has|have|named|called))\b",
    re.IGNORECASE,
)
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_TERM = re.compile(r"[^\W_]{3,}", re.UNICODE)
_ME = re.compile(r"\b(?:me|my|mine|i|remember|about myself)\b", re.IGNORECASE)
_STOP = frozenset(
    "the and for are but not you your what when where who why how does did was were "
    "have has had this that these those with from about can could would should will "
    "just like any some tell know think remember please yes really".split()
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS facts(
    id INTEGER PRIMARY KEY, platform TEXT NOT NULL, channel TEXT NOT NULL,
    who TEXT NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL, said_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS facts_who ON facts(platform, who, channel, said_at);
CREATE INDEX IF NOT EXISTS facts_channel ON facts(platform, channel, said_at);
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(
    text, content='facts', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS facts_in AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts(rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER IF NOT EXISTS facts_out AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, text) VALUES ('delete', old.id, old.text); END;
"""


def notable(text: str) -> bool:
    """Whether a chat line says something about its speaker worth remembering."""
    n = len(text.split())
    if not 4 <= n <= 40 or text.rstrip().endswith("?") or _LINK.search(text):
        return False
    return _SELF.search(text) is not None


def terms(text: str) -> list[str]:
    """A question's content words, for the full-text query (each quoted there)."""
    found = [t.lower() for t in _TERM.findall(text)]
    return list(dict.fromkeys(t for t in found if t not in _STOP))[:12]


@dataclass(frozen=True)
class Fact:
    name: str  # the viewer, as they were called when they said it
    text: str
    said_at: float  # wall-clock seconds


class Memory:
    """One SQLite file of remembered lines; every method but ``hear`` runs off the loop."""

    def __init__(
        self, path: Path, settings: MemorySettings, now: Callable[[], float] = time.time
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.settings, self.now = settings, now
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, str, str, str, str, float]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self.kept = self.skipped = 0
        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.executescript(SCHEMA)
        self._prune()

    # -- writing -------------------------------------------------------------------

    def hear(self, line: ChatLine, screen: ContentFilter | None = None) -> bool:
        """Remember ``line`` if it is notable, public and passes ``screen``; True when
        it was taken."""
        if line.private or line.own or not notable(line.text):
            return False
        if screen is not None and screen.blocked(line.text, line.scope_key):
            return False
        if len(self._pending) >= PENDING:
            self.skipped += 1
            return False
        who = line.user.casefold()
        self._pending.append(
            (line.platform, line.scope or line.channel, who, line.user, line.text, self.now())
        )
        self._wake()
        return True

    def keep_summary(self, line: ChatLine, summary: str) -> bool:
        """Remember a summary of this channel's chat (``!summary``, a recap) as what the
        stream was about: kept like a viewer's line under the channel (``SUMMARY``), the
        latest ``per_user`` of them; never a private conversation's."""
        if line.private or not summary.strip() or len(self._pending) >= PENDING:
            return False
        text = trim_reply(summary, SUMMARY_CHARS)
        self._pending.append(
            (line.platform, line.scope or line.channel, "", SUMMARY, text, self.now())
        )
        self._wake()
        return True

    def _wake(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(32, len(self._pending)))]
            try:
                await asyncio.to_thread(self._write, batch)
            except sqlite3.Error:
                log.exception("memory: could not write %d lines", len(batch))

    def _write(self, batch: list[tuple[str, str, str, str, str, float]]) -> None:
        s = self.settings
        with self._lock:
            for platform, channel, who, name, text, at in batch:
                seen = self._db.execute(
                    "SELECT 1 FROM facts WHERE platform=? AND who=? AND channel=? AND text=?",
                    (platform, who, channel, text),
                ).fetchone()
                if seen:
                    continue
                self._db.execute(
                    "INSERT INTO facts(platform, channel, who, name, text, said_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (platform, channel, who, name, text, at),
                )
                self.kept += 1
                self._db.execute(
                    "DELETE FROM facts WHERE id IN (SELECT id FROM facts WHERE platform=? "
                    "AND who=? AND channel=? ORDER BY said_at DESC LIMIT -1 OFFSET ?)",
                    (platform, who, channel, s.per_user),
                )
                self._db.execute(
                    "DELETE FROM facts WHERE id IN (SELECT id FROM facts WHERE platform=? "
                    "AND channel=? ORDER BY said_at DESC LIMIT -1 OFFSET ?)",
                    (platform, channel, s.per_channel),
                )

    def _prune(self) -> None:
        """Drop what is older than ``retention_days``."""
        cutoff = self.now() - self.settings.retention_days * 86400
        with self._lock:
            gone = self._db.execute("DELETE FROM facts WHERE said_at < ?", (cutoff,)).rowcount
            if gone:
                self._db.execute("INSERT INTO facts_fts(facts_fts) VALUES ('optimize')")
        if gone:
            log.info("memory: %d lines past retention deleted", gone)

    async def flush(self) -> None:
        """Wait until every line heard so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def aclose(self) -> None:
        await self.flush()
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading -------------------------------------------------------------------

    async def recall(self, line: ChatLine, question: str) -> list[Fact]:
        """The few remembered lines of this channel most relevant to ``question`` (the
        asker's own first), within ``recall`` lines and ``recall_chars`` characters."""
        s = self.settings
        if s.recall == 0:
            return []
        channel = line.scope or line.channel
        try:
            facts = await asyncio.to_thread(
                self._recall, line.platform, channel, line.user.casefold(), question
            )
        except sqlite3.Error:  # an answer without memories beats no answer
            log.exception("memory: recall failed")
            return []
        kept: list[Fact] = []
        size = 0
        for fact in facts:
            size += len(fact.name) + len(fact.text) + 4
            if len(kept) == s.recall or size > s.recall_chars:
                break
            kept.append(fact)
        return kept

    def _recall(self, platform: str, channel: str, who: str, question: str) -> list[Fact]:
        rows: list[tuple[int, str, str, float]] = []
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms(question))
        with self._lock:
            if query:
                rows += self._db.execute(
                    "SELECT f.id, f.name, f.text, f.said_at FROM facts_fts "
                    "JOIN facts f ON f.id = facts_fts.rowid WHERE facts_fts MATCH ? "
                    "AND f.platform = ? AND f.channel = ? "
                    "ORDER BY f.who = ? DESC, bm25(facts_fts) LIMIT 12",
                    (query, platform, channel, who),
                ).fetchall()
            if _PAST.search(question):  # "what happened last stream?"
                rows += self._db.execute(
                    "SELECT id, name, text, said_at FROM facts WHERE platform = ? AND who = '' "
                    "AND channel = ? ORDER BY said_at DESC LIMIT 2",
                    (platform, channel),
                ).fetchall()
            if _ME.search(question):
                rows += self._db.execute(
                    "SELECT id, name, text, said_at FROM facts WHERE platform = ? AND who = ? "
                    "AND channel = ? ORDER BY said_at DESC LIMIT 5",
                    (platform, who, channel),
                ).fetchall()
        unique: dict[int, tuple[int, str, str, float]] = {}
        for row in rows:  # in order, each line once
            unique.setdefault(row[0], row)
        return [Fact(name, text, at) for _, name, text, at in unique.values()]

    async def about(self, platform: str, user: str, channel: str | None) -> list[Fact]:
        """What is kept about ``user`` (in ``channel``, or in every channel), newest first."""
        return await asyncio.to_thread(self._about, platform, user.casefold(), channel)

    def _about(self, platform: str, who: str, channel: str | None) -> list[Fact]:
        sql = "SELECT name, text, said_at FROM facts WHERE platform = ? AND who = ?"
        args: tuple[str, ...] = (platform, who)
        if channel is not None:
            sql, args = sql + " AND channel = ?", (*args, channel)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY said_at DESC", args).fetchall()
        return [Fact(*row) for row in rows]

    # -- forgetting ----------------------------------------------------------------

    async def forget_user(self, platform: str, user: str) -> int:
        """Delete everything kept about ``user`` on ``platform``: their lines, and the
        stream summaries that name them (a summary quotes viewers); how many went."""
        if not user.strip():
            return 0
        await self.flush()  # a line still waiting must not be written after this
        return await asyncio.to_thread(self._forget, platform, user)

    def _forget(self, platform: str, user: str) -> int:
        """The user's lines, and the summaries that name them as a whole word (a name
        inside another word, "al" in "also", does not count)."""
        name = re.compile(rf"(?<![^\W_]){re.escape(user)}(?![^\W_])", re.IGNORECASE)
        like = user.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._lock:
            found = self._db.execute(
                "SELECT id, text FROM facts WHERE platform = ? AND who = '' "
                "AND text LIKE ? ESCAPE '\\'",
                (platform, f"%{like}%"),
            ).fetchall()
        named = tuple(str(i) for i, text in found if name.search(text))
        where = f"platform = ? AND (who = ? OR id IN ({', '.join('?' * len(named))}))"
        return self._delete(where, (platform, user.casefold(), *named))

    async def forget_channel(self, platform: str, channel: str) -> int:
        await self.flush()
        return await asyncio.to_thread(
            self._delete, "platform = ? AND channel = ?", (platform, channel)
        )

    def _delete(self, where: str, args: tuple[str, ...]) -> int:
        with self._lock:
            gone = self._db.execute(f"DELETE FROM facts WHERE {where}", args).rowcount
            self._db.execute("INSERT INTO facts_fts(facts_fts) VALUES ('optimize')")
        return int(gone)
