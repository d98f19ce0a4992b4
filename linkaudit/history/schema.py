"""The store's tables, numbered schema versions, and the steps that upgrade one to the next.

Schema versions are numbered by ``PRAGMA user_version``; ``MIGRATIONS[n]`` upgrades a
version-``n`` database to ``n + 1`` (the store runs each step in one transaction). The v2
step and late checks both ``replay`` a key's counters; docs/store.md explains the tables.
"""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from linkaudit.history.dead_rule import Tally, outcome

_V1 = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        arguments TEXT NOT NULL,              -- JSON list
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL,                 -- running | finished | interrupted
        exit_code INTEGER,
        counts TEXT NOT NULL DEFAULT '{}'     -- JSON object: ok, redirected, failing, dead, ...
    )""",
    """CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        url TEXT NOT NULL,
        verdict TEXT NOT NULL,
        reason TEXT NOT NULL,
        status INTEGER,
        chain TEXT NOT NULL,                  -- JSON list of [url, status]
        final_url TEXT,
        permanent INTEGER,
        final_verdict TEXT,
        detail TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        checked_at REAL NOT NULL
    )""",
    "CREATE INDEX checks_by_key ON checks (key, checked_at)",
    """CREATE TABLE citations (
        key TEXT NOT NULL,
        url TEXT NOT NULL,
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        last_run INTEGER NOT NULL,
        PRIMARY KEY (key, path, line)
    ) WITHOUT ROWID""",
    """CREATE TABLE findings (
        run_id INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        url TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    ) WITHOUT ROWID""",
)

# v2: each check carries its key's failure counters as of that check (so "as of run N" is
# one row, not a replay of the history), and ``latest`` holds the current row per key, so
# the cache, confirmation and reports read one row per key. Plus an index on a run's checks.
_TALLY_COLUMNS = ("outcome", "failures", "first_failure", "last_failure", "last_failure_ever")
_V2 = (
    # outcome: 1 success, -1 failure, 0 neither (unreachable, blocked, skipped, ...)
    "ALTER TABLE checks ADD COLUMN outcome INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE checks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",  # since last success
    "ALTER TABLE checks ADD COLUMN first_failure REAL",  # since the last success
    "ALTER TABLE checks ADD COLUMN last_failure REAL",  # since the last success
    "ALTER TABLE checks ADD COLUMN last_failure_ever REAL",
    """CREATE TABLE latest (
        key TEXT PRIMARY KEY,
        check_id INTEGER NOT NULL,            -- the latest check of key; copies of its fields:
        verdict TEXT NOT NULL,
        checked_at REAL NOT NULL,
        outcome INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        first_failure REAL,
        last_failure REAL,
        last_failure_ever REAL,
        first_checked REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX checks_by_run ON checks (run_id)",
)
UPSERT_LATEST = (
    "INSERT OR REPLACE INTO latest (key, check_id, verdict, checked_at, outcome, failures, "
    "first_failure, last_failure, last_failure_ever, first_checked) VALUES ({})".format(
        ", ".join("?" * 10))
)
_REPLAY_BATCH = 10_000


def replay(db: sqlite3.Connection, key: str | None = None, since: float | None = None) -> None:
    """Recompute, in time order, the counters of ``key``'s checks (every key's when None).

    With ``since``, only checks from then on, continuing the counters of the key's last
    check before it: a check that arrives late (older than the key's latest) is counted in
    place, and history pruned long before it is not needed. Also the v1 -> v2 migration.
    Only columns outside the scanned index are updated, so updating behind the cursor is safe.
    """
    conditions = [*(["key = :key"] if key is not None else []),
                  *(["checked_at >= :since"] if since is not None else [])]
    rows = db.execute(
        "SELECT id, key, verdict, final_verdict, checked_at FROM checks "
        f"WHERE {' AND '.join(conditions) or '1'} ORDER BY key, checked_at, id",
        {"key": key, "since": since})
    updates: list[tuple[Any, ...]] = []
    for group_key, group in itertools.groupby(rows, key=lambda row: str(row[1])):
        tally, first_checked = Tally(), None
        if since is not None:
            before = db.execute(
                "SELECT failures, first_failure, last_failure, last_failure_ever FROM checks "
                "WHERE key = ? AND checked_at < ? ORDER BY checked_at DESC, id DESC LIMIT 1",
                (group_key, since)).fetchone()
            tally = Tally() if before is None else Tally.of(before)
            known = db.execute("SELECT first_checked FROM latest WHERE key = ?",
                               (group_key,)).fetchone()
            first_checked = None if known is None else min(known[0], since)
        for check_id, _key, verdict, final_verdict, at in group:
            result = outcome(verdict, final_verdict)
            tally = tally.after(result, at)
            first_checked = at if first_checked is None else first_checked
            updates.append((result, *tally.values(), check_id))
        db.execute(UPSERT_LATEST,
                   (group_key, check_id, verdict, at, result, *tally.values(), first_checked))
        if len(updates) >= _REPLAY_BATCH:
            _write_tallies(db, updates)
            updates = []
    _write_tallies(db, updates)


def _write_tallies(db: sqlite3.Connection, updates: list[tuple[Any, ...]]) -> None:
    db.executemany(
        f"UPDATE checks SET {', '.join(c + ' = ?' for c in _TALLY_COLUMNS)} WHERE id = ?",
        updates)


def stored_path(path: Path) -> str | bytes:
    """A note path as stored: POSIX text, or its raw bytes (a BLOB) when not valid UTF-8.

    File names are bytes on POSIX; one that is not UTF-8 arrives surrogate-escaped and
    cannot be SQLite text, so it is kept as the bytes it came from and reads back the same.
    """
    text = path.as_posix()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def stored_note(path: Path | str) -> str | bytes:
    """``stored_path`` of a note given as a path or text, worked out once per note rather
    than once per citation or finding (cached by text: equal paths of different text, on
    a case-insensitive system, may be stored differently)."""
    return _stored_text(str(path if isinstance(path, Path) else Path(path)))


# Citations come in key order, so every note of the tree recurs all along: the cache holds
# a large tree's notes (a smaller one thrashed at 5,000 notes), and stays bounded.
@functools.lru_cache(maxsize=65_536)
def _stored_text(text: str) -> str | bytes:
    return stored_path(Path(text))


def path_from_store(value: str | bytes) -> Path:
    """The note path ``stored_path`` stored."""
    return Path(os.fsdecode(value) if isinstance(value, bytes) else value)


def create_v1(db: sqlite3.Connection) -> None:
    for statement in _V1:
        db.execute(statement)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    for statement in _V2:
        db.execute(statement)
    replay(db)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (create_v1, _v1_to_v2)
SCHEMA_VERSION = len(MIGRATIONS)
