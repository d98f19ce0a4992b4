"""History store: every check, run and citation in one embedded SQLite file.

The store is what turns single checks into a history: successes are reused within a
maximum age, a link is called dead only after repeated failures spread over days, and a
run can say what changed since the previous one. One run at a time may write (an
exclusive lock file beside the database); readers need no lock (WAL mode).

Schema versions are numbered by ``PRAGMA user_version``; ``_MIGRATIONS[n]`` upgrades a
version-``n`` database to ``n + 1`` in one transaction. docs/store.md explains the tables.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import itertools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import quote

from linkaudit.config import DeadAfterConfig, StoreConfig
from linkaudit.errors import StoreError
from linkaudit.models import CheckResult, Finding, Hop, RunSummary, Verdict

DAY = 86400.0
_SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # an SQLite file is never shorter than its header
_BUSY_TIMEOUT_MS = 10_000  # readers and the writer wait this long for each other
_LOCK_POLL = 0.05
_NO_BOUND = 2**62  # above every run id
_DEFAULT_DEAD_AFTER = DeadAfterConfig()
_DEFAULT_NEEDED = _DEFAULT_DEAD_AFTER.failures
_DEFAULT_MIN_DAYS = _DEFAULT_DEAD_AFTER.days / DAY


# ---------------------------------------------------------------- public values


@dataclass(frozen=True, slots=True)
class Confirmation:
    """How far a link is on its way to being confirmed dead (IABot-style)."""

    state: str  # "ok" (no failure since the last success) | "failing" | "dead"
    failures: int  # failed checks since the last success
    needed: int  # failed checks needed for "dead"
    first_failure: float | None = None
    last_failure: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a URL is cited now, and since when."""

    path: Path
    line: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class UrlState:
    """The current state of one check key that a report should mention."""

    key: str
    url: str
    state: str  # "dead" | "failing" | "recovered" | "redirected"
    verdict: Verdict  # of the latest check
    confirmation: Confirmation
    first_seen: float  # first citation or first check, whichever came first
    last_seen: float  # last run that cited it (last check when never cited)
    last_checked: float
    detail: str
    status: int | None
    final_url: str | None
    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One line of "what changed": a key (or a finding kind), its URL, and why."""

    key: str
    url: str
    detail: str


@dataclass(frozen=True)
class Changes:
    """What a run found that the previous finished run had not."""

    previous_run: int | None
    new_dead: tuple[Change, ...] = ()
    recovered: tuple[Change, ...] = ()
    new_redirects: tuple[Change, ...] = ()
    new_findings: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new_dead or self.recovered or self.new_redirects or self.new_findings)


def confirmation(
    failures: int, first: float | None, last: float | None, needed: int, min_days: float
) -> Confirmation:
    """Dead once ``needed`` failures span at least ``min_days`` days; failing before that."""
    if failures == 0 or first is None or last is None:
        return Confirmation("ok", 0, needed)
    spread_enough = last - first >= min_days * DAY
    state = "dead" if failures >= needed and spread_enough else "failing"
    return Confirmation(state, failures, needed, first, last)


def fingerprint(finding: Finding) -> str:
    """A finding's identity across runs: kind, note and URL; lines and wording may move."""
    parts = (finding.kind, finding.path.as_posix(), finding.url or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


# ---------------------------------------------------------------- schema

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
_UPSERT_LATEST = (
    "INSERT OR REPLACE INTO latest (key, check_id, verdict, checked_at, outcome, failures, "
    "first_failure, last_failure, last_failure_ever, first_checked) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_REPLAY_BATCH = 10_000
_RUN_COLUMNS = "id, started_at, status, counts, command, arguments"  # what RunSummary reads


def _outcome(verdict: str, final_verdict: str | None) -> int:
    """What a check means for the history: 1 success, -1 failure, 0 neither.

    A redirect counts as its final URL's verdict; only ``dead`` is a failure (``blocked``
    and ``unreachable`` say nothing about the page).
    """
    effective = final_verdict if verdict == Verdict.REDIRECTED else verdict
    return 1 if effective == Verdict.OK else -1 if effective == Verdict.DEAD else 0


@dataclass(frozen=True, slots=True)
class _Tally:
    """A key's failure counters as of one check."""

    failures: int = 0  # failed checks since the last success
    first_failure: float | None = None
    last_failure: float | None = None
    last_failure_ever: float | None = None

    def after(self, outcome: int, at: float) -> _Tally:
        """The counters once a check with ``outcome`` at time ``at`` is added (in order)."""
        if outcome > 0:
            return _Tally(last_failure_ever=self.last_failure_ever)
        if outcome < 0:
            first = self.first_failure if self.failures else at
            return _Tally(self.failures + 1, first, at, at)
        return self

    @classmethod
    def of(cls, row: sqlite3.Row) -> _Tally:
        return cls(row["failures"], row["first_failure"], row["last_failure"],
                   row["last_failure_ever"])

    def values(self) -> tuple[int, float | None, float | None, float | None]:
        return (self.failures, self.first_failure, self.last_failure, self.last_failure_ever)


def _replay(db: sqlite3.Connection, key: str | None = None, since: float | None = None) -> None:
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
        tally, first_checked = _Tally(), None
        if since is not None:
            before = db.execute(
                "SELECT failures, first_failure, last_failure, last_failure_ever FROM checks "
                "WHERE key = ? AND checked_at < ? ORDER BY checked_at DESC, id DESC LIMIT 1",
                (group_key, since)).fetchone()
            tally = _Tally() if before is None else _Tally.of(before)
            known = db.execute("SELECT first_checked FROM latest WHERE key = ?",
                               (group_key,)).fetchone()
            first_checked = None if known is None else min(known[0], since)
        for check_id, _key, verdict, final_verdict, at in group:
            outcome = _outcome(verdict, final_verdict)
            tally = tally.after(outcome, at)
            first_checked = at if first_checked is None else first_checked
            updates.append((outcome, *tally.values(), check_id))
        db.execute(_UPSERT_LATEST,
                   (group_key, check_id, verdict, at, outcome, *tally.values(), first_checked))
        if len(updates) >= _REPLAY_BATCH:
            _write_tallies(db, updates)
            updates = []
    _write_tallies(db, updates)


def _write_tallies(db: sqlite3.Connection, updates: list[tuple[Any, ...]]) -> None:
    db.executemany(
        f"UPDATE checks SET {', '.join(c + ' = ?' for c in _TALLY_COLUMNS)} WHERE id = ?",
        updates)


def _create_v1(db: sqlite3.Connection) -> None:
    for statement in _V1:
        db.execute(statement)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    for statement in _V2:
        db.execute(statement)
    _replay(db)


_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1, _v1_to_v2)
SCHEMA_VERSION = len(_MIGRATIONS)


# Each key checked after run :after up to run :run, with its latest check as of :run and
# as of :after (the "before_" columns; before_id is NULL when it was not checked yet).
_CHANGED_KEYS = """
    WITH pairs AS (
        SELECT k.key,
            (SELECT id FROM checks AS c WHERE c.key = k.key AND c.run_id <= :run
             ORDER BY c.checked_at DESC, c.id DESC LIMIT 1) AS now_id,
            (SELECT id FROM checks AS c WHERE c.key = k.key AND c.run_id <= :after
             ORDER BY c.checked_at DESC, c.id DESC LIMIT 1) AS before_id
        FROM (SELECT DISTINCT key FROM checks WHERE run_id > :after AND run_id <= :run) AS k
    )
    SELECT n.key, n.url, n.detail, n.outcome, n.final_url, n.failures, n.first_failure,
           n.last_failure, n.verdict = 'redirected' AND n.permanent AS moved,
           p.before_id, b.failures AS before_failures,
           b.first_failure AS before_first_failure, b.last_failure AS before_last_failure,
           b.verdict = 'redirected' AND b.permanent AS before_moved,
           b.final_url AS before_final_url
    FROM pairs AS p
    JOIN checks AS n ON n.id = p.now_id
    LEFT JOIN checks AS b ON b.id = p.before_id
    ORDER BY n.key
"""


# ---------------------------------------------------------------- helpers

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(method: Callable[Concatenate[Store, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """Turn any SQLite failure inside a store method into a StoreError with a message."""

    def wrapper(self: Store, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _sqlite_failure(self.path, exc) from exc

    return cast("Callable[Concatenate[Store, _P], _R]", functools.wraps(method)(wrapper))


def _sqlite_failure(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return StoreError(
            f"{path}: the history store is damaged ({text}); it was left as it is: move it "
            "aside to start a new history, or restore a backup"
        )
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: the history store stayed busy ({text}); try again")
    return StoreError(f"{path}: history store failure: {text}")


def _os_failure(path: Path, doing: str, exc: OSError) -> StoreError:
    return StoreError(f"{path}: cannot {doing}: {exc.strerror or exc}")


def _check_file(path: Path) -> bool:
    """True when a database file exists; refuse anything that is not an SQLite file."""
    try:
        with path.open("rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except (FileNotFoundError, NotADirectoryError):
        return False  # opening creates it (or says why its folder cannot be made)
    except IsADirectoryError:
        raise StoreError(f"{path}: is a folder, not a history store; point store.path at "
                         "a file") from None
    except OSError as exc:
        raise _os_failure(path, "read the history store", exc) from None
    if header and (len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_HEADER)
                   or _claimed_size(header) > path.stat().st_size):
        raise StoreError(f"{path}: not a linkaudit history store (not an SQLite database, or "
                         "truncated); it was left as it is: move it aside or point store.path "
                         "elsewhere")
    return bool(header)


def _claimed_size(header: bytes) -> int:
    """File size the SQLite header promises (0 when that field is not trustworthy)."""
    page_size = int.from_bytes(header[16:18], "big")
    pages, change_counter, valid_for = (
        int.from_bytes(header[start:start + 4], "big") for start in (28, 24, 92))
    if valid_for != change_counter:
        return 0
    return pages * (65536 if page_size == 1 else page_size)


def _format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="seconds")


class _RunLock:
    """An exclusive ``flock`` on a file beside the database, holding "pid started_at"."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, path: Path, timeout: float, now: Callable[[], float]) -> _RunLock:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_failure(path, "create the store's lock file", exc) from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise _os_failure(path, "lock the history store", exc) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = cls._holder(fd)
                os.close(fd)
                raise StoreError(f"another linkaudit run holds the store{holder}; waited "
                                 f"{timeout:g} s (store lock {path})")
            time.sleep(min(_LOCK_POLL, remaining))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {now()}\n".encode(), 0)
        return cls(fd)

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid, since = os.pread(fd, 100, 0).decode().split()
            return f" (pid {int(pid)} since {_format_time(float(since))})"
        except (OSError, ValueError):
            return ""

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


# ---------------------------------------------------------------- the store


class Store:
    """The history database of one project. Open with ``Store.open``; use as ``with``."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, lock: _RunLock | None, now: Callable[[], float]
    ) -> None:
        self._db = db
        self.path = path
        self._lock = lock
        self._now = now

    # -------------------------------------------------------------- opening and closing

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        lock_timeout: float = StoreConfig().lock_timeout,
        now: Callable[[], float] = time.time,
        readonly: bool = False,
    ) -> Store:
        """Open (creating on first use) and upgrade the store; a writer takes the run lock.

        A writer marks runs left ``running`` by a crashed process as ``interrupted``.
        Readers take no lock and never change the file.
        """
        exists = _check_file(path)
        if readonly:
            if not exists:
                raise StoreError(f"{path}: no history yet; run `linkaudit check` first")
            return cls._connect(path, None, now, readonly=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_failure(path.parent, "create the store's folder", exc) from None
        lock = _RunLock.acquire(path.with_name(path.name + ".lock"), lock_timeout, now)
        try:
            store = cls._connect(path, lock, now, readonly=False)
        except BaseException:
            lock.release()
            raise
        return store

    @classmethod
    def _connect(
        cls, path: Path, lock: _RunLock | None, now: Callable[[], float], *, readonly: bool
    ) -> Store:
        target = f"file:{quote(str(path))}?mode={'ro' if readonly else 'rwc'}"
        try:
            db = sqlite3.connect(target, uri=True, isolation_level=None,
                                 timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise _sqlite_failure(path, exc) from exc
        db.row_factory = sqlite3.Row
        store = cls(db, path, lock, now)
        try:
            store._prepare(readonly)
        except BaseException:
            db.close()
            raise
        return store

    @_guarded
    def _prepare(self, readonly: bool) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer linkaudit (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade linkaudit or point store.path elsewhere")
        if readonly:
            if version < SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema {version} needs an upgrade to "
                                 f"{SCHEMA_VERSION}; run `linkaudit check` once to upgrade it")
            return
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        for step in range(version, SCHEMA_VERSION):
            with self._transaction():
                _MIGRATIONS[step](self._db)
                self._db.execute(f"PRAGMA user_version = {step + 1}")
        self._interrupt_running_runs()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Mark this run ``interrupted`` if it never finished, then release the lock."""
        try:
            if self._lock is not None:
                self._interrupt_running_runs()
        finally:
            self._db.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -------------------------------------------------------------- runs

    @_guarded
    def begin_run(self, command: str, arguments: Sequence[str]) -> int:
        """Record a run as ``running``; returns its id."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (command, arguments, pid, started_at, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (command, json.dumps(list(arguments)), os.getpid(), self._now()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @_guarded
    def finish_run(
        self, run_id: int, *, exit_code: int, counts: Mapping[str, int],
        status: str = "finished",
    ) -> None:
        """Close a run with its exit code and link counts (ok, redirected, failing, dead)."""
        if status not in ("finished", "interrupted"):
            raise ValueError(f"run status must be finished or interrupted, not {status!r}")
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET status = ?, exit_code = ?, counts = ?, finished_at = ? "
                "WHERE id = ?",
                (status, exit_code, json.dumps(dict(counts)), self._now(), run_id))

    @_guarded
    def _interrupt_running_runs(self) -> None:
        """Runs still ``running`` while we hold the lock died or were cut short."""
        with self._transaction():
            self._db.execute("""
                UPDATE runs SET status = 'interrupted',
                    finished_at = COALESCE(
                        (SELECT MAX(checked_at) FROM checks WHERE run_id = runs.id), started_at),
                    counts = (SELECT json_object(
                        'ok', COALESCE(SUM(verdict = 'ok'), 0),
                        'redirected', COALESCE(SUM(verdict = 'redirected' AND outcome >= 0), 0),
                        'failing', COALESCE(SUM(outcome < 0), 0),
                        'dead', 0) FROM checks WHERE run_id = runs.id)
                WHERE status = 'running'""")

    @_guarded
    def runs(self, limit: int | None = None) -> list[RunSummary]:
        """The last ``limit`` runs (all when None), oldest first."""
        rows = self._db.execute(
            f"SELECT * FROM (SELECT {_RUN_COLUMNS} FROM runs "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            (-1 if limit is None else limit,)).fetchall()
        return [_run_summary(row) for row in rows]

    @_guarded
    def last_run(self, before: int | None = None) -> RunSummary | None:
        """The latest finished run (with an id below ``before``, when given)."""
        row = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs "
            "WHERE status = 'finished' AND id < ? ORDER BY id DESC LIMIT 1",
            (_NO_BOUND if before is None else before,)).fetchone()
        return None if row is None else _run_summary(row)

    # -------------------------------------------------------------- checks and cache

    def record(self, run_id: int, result: CheckResult) -> None:
        """Store one check, committed at once so a crash keeps every finished check."""
        self.record_many(run_id, (result,))

    @_guarded
    def record_many(self, run_id: int, results: Iterable[CheckResult]) -> None:
        """Store checks in one transaction. Cached results are already stored: skipped."""
        with self._transaction():
            late: dict[str, float] = {}  # key -> its earliest late check
            for result in results:
                if not result.from_cache:
                    self._insert_check(run_id, result, late)
            for key, since in late.items():
                _replay(self._db, key, since)

    def _insert_check(self, run_id: int, result: CheckResult, late: dict[str, float]) -> None:
        """Insert a check with its counters and make it the latest; or note it as late."""
        at = result.checked_at or self._now()
        outcome = _outcome(result.verdict, result.final_verdict)
        previous = self._db.execute("SELECT * FROM latest WHERE key = ?",
                                    (result.key,)).fetchone()
        if previous is not None and at < previous["checked_at"]:
            # older than what we know: recount the key's history from this check on
            late[result.key] = min(at, late.get(result.key, at))
        tally = (_Tally() if previous is None else _Tally.of(previous)).after(outcome, at)
        check_id = self._db.execute(
            "INSERT INTO checks (run_id, key, url, verdict, reason, status, chain, final_url, "
            "permanent, final_verdict, detail, attempts, checked_at, outcome, failures, "
            "first_failure, last_failure, last_failure_ever) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, result.key, result.url, result.verdict.value, result.reason,
             result.status, json.dumps([[hop.url, hop.status] for hop in result.chain]),
             result.final_url, result.permanent,
             None if result.final_verdict is None else result.final_verdict.value,
             result.detail, result.attempts, at, outcome, *tally.values()),
        ).lastrowid
        if result.key not in late:
            first_checked = at if previous is None else previous["first_checked"]
            self._db.execute(_UPSERT_LATEST, (result.key, check_id, result.verdict.value, at,
                                              outcome, *tally.values(), first_checked))

    @_guarded
    def cached(self, key: str, max_age: float) -> CheckResult | None:
        """The latest check of ``key`` when it is a success younger than ``max_age`` s."""
        row = self._latest_check(key)
        if row is None or row["outcome"] <= 0 or row["checked_at"] < self._now() - max_age:
            return None
        return _check_result(row)

    @_guarded
    def latest(self, key: str) -> CheckResult | None:
        """The latest check of ``key`` whatever its verdict or age (offline runs)."""
        row = self._latest_check(key)
        return None if row is None else _check_result(row)

    def _latest_check(self, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT checks.* FROM latest JOIN checks ON checks.id = latest.check_id "
            "WHERE latest.key = ?", (key,)).fetchone()
        return row

    @_guarded
    def confirm(self, key: str, failures_needed: int, min_days: float) -> Confirmation:
        """Failed checks of ``key`` since its last success, against the dead rule."""
        row = self._db.execute(
            "SELECT failures, first_failure, last_failure FROM latest WHERE key = ?",
            (key,)).fetchone()
        if row is None:
            return Confirmation("ok", 0, failures_needed)
        return confirmation(row["failures"], row["first_failure"], row["last_failure"],
                            failures_needed, min_days)

    # -------------------------------------------------------------- citations and findings

    @_guarded
    def set_citations(self, run_id: int, rows: Iterable[tuple[str, str, Path | str, int]]) -> None:
        """Replace the cited set with ``(key, url, path, line)`` rows seen by this run.

        A citation keeps its first-seen time while its note still cites the key (even when
        its line moved); last-seen is this run's start.
        """
        with self._transaction():
            seen = self._db.execute("SELECT started_at FROM runs WHERE id = ?",
                                    (run_id,)).fetchone()
            if seen is None:
                raise StoreError(f"{self.path}: no run {run_id} in the history store")
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming "
                             "(key TEXT, url TEXT, path TEXT, line INTEGER)")
            self._db.execute("DELETE FROM incoming")
            self._db.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?)",
                                 ((key, url, Path(path).as_posix(), line)
                                  for key, url, path, line in rows))
            self._db.execute("""
                INSERT INTO citations (key, url, path, line, first_seen, last_seen, last_run)
                SELECT i.key, i.url, i.path, i.line,
                       COALESCE((SELECT MIN(first_seen) FROM citations AS c
                                 WHERE c.key = i.key AND c.path = i.path), :seen),
                       :seen, :run
                FROM incoming AS i WHERE true
                ON CONFLICT (key, path, line) DO UPDATE SET
                    url = excluded.url, last_seen = excluded.last_seen,
                    last_run = excluded.last_run""",
                {"seen": seen[0], "run": run_id})
            self._db.execute("DELETE FROM citations WHERE last_run != ?", (run_id,))

    @_guarded
    def record_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Store this run's (unsuppressed) findings by fingerprint, for "new since last run"."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO findings "
                "(run_id, fingerprint, kind, path, line, url, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((run_id, fingerprint(f), f.kind, f.path.as_posix(), f.line, f.url, f.message)
                 for f in findings if f.suppressed is None))

    # -------------------------------------------------------------- what changed

    @_guarded
    def changes(
        self, run_id: int, *, failures_needed: int = _DEFAULT_NEEDED,
        min_days: float = _DEFAULT_MIN_DAYS,
    ) -> Changes:
        """Compare the history as of ``run_id`` with the previous finished run."""
        previous = self.last_run(before=run_id)
        after = 0 if previous is None else previous.run_id
        rows = self._db.execute(_CHANGED_KEYS, {"after": after, "run": run_id})
        new_dead: list[Change] = []
        recovered: list[Change] = []
        redirects: list[Change] = []

        def dead(prefix: str, row: sqlite3.Row) -> bool:
            counts = (row[f"{prefix}failures"], row[f"{prefix}first_failure"],
                      row[f"{prefix}last_failure"])
            return confirmation(*counts, failures_needed, min_days).state == "dead"

        for row in rows:
            seen = row["before_id"] is not None
            change = Change(row["key"], row["url"], row["detail"])
            if dead("", row) and not (seen and dead("before_", row)):
                new_dead.append(change)
            if row["outcome"] > 0 and seen and row["before_failures"] > 0:
                recovered.append(change)
            if row["moved"] and not (row["before_moved"]
                                     and row["before_final_url"] == row["final_url"]):
                redirects.append(Change(row["key"], row["url"], f"→ {row['final_url']}"))
        findings = self._db.execute(
            "SELECT kind, url, path, line, message FROM findings WHERE run_id = ? "
            "AND fingerprint NOT IN (SELECT fingerprint FROM findings WHERE run_id = ?) "
            "ORDER BY path, line, kind", (run_id, after)).fetchall()
        return Changes(
            previous_run=after or None,
            new_dead=tuple(new_dead), recovered=tuple(recovered),
            new_redirects=tuple(redirects),
            new_findings=tuple(Change(f["kind"], f["url"] or "",
                                      f"{f['path']}:{f['line']}: {f['message']}")
                               for f in findings),
        )

    # -------------------------------------------------------------- keeping it small

    @_guarded
    def prune(self, older_than: float) -> int:
        """Delete checks made before ``older_than`` (epoch s); return how many.

        Each URL keeps its latest check and its newest check before the cutoff: that row's
        counters (failures since the last success, first failure) carry the older history,
        so the dead rule, the cache and "what changed" read the same afterwards. Findings
        of runs started before the cutoff go too, except the newest finished run's (the
        next run compares with them). Old checks are found through their runs (indexed),
        so a daily prune reads what expired since the last one, not the whole history.
        SQLite reuses the freed pages; the file itself only shrinks with ``VACUUM``.
        """
        with self._transaction():
            deleted = self._db.execute("""
                DELETE FROM checks
                WHERE run_id IN (SELECT id FROM runs WHERE started_at < :cutoff)
                AND checked_at < :cutoff AND id NOT IN (SELECT check_id FROM latest)
                AND EXISTS (SELECT 1 FROM checks AS newer
                            WHERE newer.key = checks.key AND newer.checked_at < :cutoff
                            AND (newer.checked_at, newer.id) > (checks.checked_at, checks.id))
                """, {"cutoff": older_than}).rowcount
            self._db.execute("""
                DELETE FROM findings
                WHERE run_id IN (SELECT id FROM runs WHERE started_at < :cutoff)
                AND run_id != (SELECT coalesce(max(id), 0) FROM runs WHERE status = 'finished')
                """, {"cutoff": older_than})
        return int(deleted)

    # -------------------------------------------------------------- reporting

    @_guarded
    def latest_states(
        self, since: float | None = None, *, failures_needed: int = _DEFAULT_NEEDED,
        min_days: float = _DEFAULT_MIN_DAYS,
    ) -> list[UrlState]:
        """Keys that are dead, failing, recovered or redirected now, by key.

        With ``since``: only keys checked since then, and "recovered" means a failure
        since then; without it, any failure in the history counts.
        """
        floor = -math.inf if since is None else since
        rows = self._db.execute("""
            SELECT l.key, l.outcome, l.failures, l.first_failure, l.last_failure,
                   l.last_failure_ever, l.first_checked, l.checked_at,
                   c.url, c.verdict, c.detail, c.status, c.final_url,
                   ci.path, ci.line, ci.first_seen, ci.last_seen
            FROM latest AS l
            JOIN checks AS c ON c.id = l.check_id
            LEFT JOIN citations AS ci ON ci.key = l.key
            WHERE l.checked_at >= :floor AND (l.failures > 0 OR l.verdict = 'redirected'
                  OR (l.outcome > 0 AND l.last_failure_ever >= :floor))
            ORDER BY l.key, ci.path, ci.line""", {"floor": floor})
        path_of = functools.cache(Path)  # a note cites many URLs: build each Path once
        return [_url_state(list(group), floor, failures_needed, min_days, path_of)
                for _key, group in itertools.groupby(rows, key=lambda row: row["key"])]


# ---------------------------------------------------------------- row conversion


def _run_summary(row: sqlite3.Row) -> RunSummary:
    counts = json.loads(row["counts"])
    return RunSummary(
        run_id=row["id"], started_at=row["started_at"], status=row["status"],
        ok=int(counts.get("ok", 0)), redirected=int(counts.get("redirected", 0)),
        failing=int(counts.get("failing", 0)), dead=int(counts.get("dead", 0)),
        command=row["command"], arguments=tuple(json.loads(row["arguments"])),
    )


def _check_result(row: sqlite3.Row) -> CheckResult:
    return CheckResult(
        key=row["key"], url=row["url"], verdict=Verdict(row["verdict"]), detail=row["detail"],
        reason=row["reason"], status=row["status"],
        chain=tuple(Hop(url, status) for url, status in json.loads(row["chain"])),
        final_url=row["final_url"],
        permanent=None if row["permanent"] is None else bool(row["permanent"]),
        final_verdict=None if row["final_verdict"] is None else Verdict(row["final_verdict"]),
        attempts=row["attempts"], checked_at=row["checked_at"], from_cache=True,
    )


def _url_state(
    rows: list[sqlite3.Row], floor: float, needed: int, min_days: float,
    path_of: Callable[[str], Path],
) -> UrlState:
    """One UrlState from a key's latest row joined with each of its citations."""
    head = rows[0]
    confirmed = confirmation(head["failures"], head["first_failure"], head["last_failure"],
                             needed, min_days)
    if head["failures"] > 0:
        state = confirmed.state
    elif head["outcome"] > 0 and head["last_failure_ever"] is not None \
            and head["last_failure_ever"] >= floor:
        state = "recovered"
    else:
        state = "redirected"
    citations = tuple(Citation(path_of(row["path"]), row["line"], row["first_seen"],
                               row["last_seen"]) for row in rows if row["path"] is not None)
    return UrlState(
        key=head["key"], url=head["url"], state=state, verdict=Verdict(head["verdict"]),
        confirmation=confirmed,
        first_seen=min([head["first_checked"], *(c.first_seen for c in citations)]),
        last_seen=max((c.last_seen for c in citations), default=head["checked_at"]),
        last_checked=head["checked_at"], detail=head["detail"], status=head["status"],
        final_url=head["final_url"], citations=citations,
    )
