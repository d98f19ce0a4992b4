"""The history store: one embedded SQLite file of every check, run, citation and finding.

The store is what turns single checks into a history: successes are reused within a
maximum age, a link is called dead only after repeated failures spread over days (the
``DeadRule`` it is opened with), and a run can say what changed since the previous one.
One run at a time may write (``RunLock``); readers need no lock (WAL mode). This module
opens, writes and closes; the tables are ``schema``'s, the reading of changes and states
``changes``'s, and the error messages ``failures``'s. docs/store.md explains it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from linkaudit.config import Config, StoreConfig
from linkaudit.errors import StoreError
from linkaudit.history.batch import INSERT_CHECK, BatchRows, CheckBatch, insert_rows
from linkaudit.history.changes import Changes, UrlState, changes_since, finding_rows, url_states
from linkaudit.history.dead_rule import (
    DEFAULT_RULE,
    SUCCESS,
    Confirmation,
    DeadRule,
)
from linkaudit.history.failures import (
    cannot_share,
    check_file,
    guarded,
    os_failure,
    refuse_unmerged_log,
    sqlite_failure,
)
from linkaudit.history.lock import RunLock
from linkaudit.history.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    UPSERT_LATEST,
    path_from_store,
    replay,
    stored_note,
)
from linkaudit.models import CheckResult, Finding, Hop, RunSummary, Verdict

_BUSY_TIMEOUT_MS = 10_000  # readers and the writer wait this long for each other
_NO_BOUND = 2**62  # above every run id
_KEYS_A_QUERY = 500  # keys in one IN (...) list
_LATEST_CHECKS = ("SELECT checks.* FROM latest JOIN checks ON checks.id = latest.check_id "
                  "WHERE latest.key IN ({keys})")
_RUN_COLUMNS = "id, started_at, status, counts, command, arguments"  # what RunSummary reads


class Store:
    """The history database of one project. Open with ``Store.open``; use as ``with``."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, lock: RunLock | None,
        now: Callable[[], float], rule: DeadRule,
    ) -> None:
        self._db = db
        self.path = path
        self._lock = lock
        self._now = now
        self.rule = rule  # judges confirm(), changes() and latest_states()

    # -------------------------------------------------------------- opening and closing

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        lock_timeout: float = StoreConfig().lock_timeout,
        now: Callable[[], float] = time.time,
        readonly: bool = False,
        rule: DeadRule = DEFAULT_RULE,
    ) -> Store:
        """Open (creating on first use) and upgrade the store; a writer takes the run lock.

        A writer marks runs left ``running`` by a crashed process as ``interrupted``.
        Readers take no lock and never change the file; one that cannot share it (a
        read-only folder or file: no room for SQLite's shared-memory index) reads it as
        immutable. ``rule`` is the dead rule that ``confirm``, ``changes`` and
        ``latest_states`` judge with (``dead_after``).
        """
        exists = check_file(path)
        if readonly:
            if not exists:
                raise StoreError(f"{path}: no history yet; run `linkaudit check` first")
            try:
                return cls._connect(path, None, now, rule, mode="ro")
            except StoreError as exc:
                if not cannot_share(exc.__cause__):
                    raise
            refuse_unmerged_log(path)
            return cls._connect(path, None, now, rule, mode="ro&immutable=1")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_failure(path.parent, "create the store's folder", exc) from None
        lock = RunLock.acquire(path.with_name(path.name + ".lock"), lock_timeout, now)
        try:
            store = cls._connect(path, lock, now, rule, mode="rwc")
        except BaseException:
            lock.release()
            raise
        return store

    @classmethod
    def open_for(cls, config: Config, *, readonly: bool = False) -> Store:
        """Open the store a config names, with its lock timeout and its dead rule."""
        return cls.open(config.resolve(config.store.path), readonly=readonly,
                        lock_timeout=config.store.lock_timeout,
                        rule=DeadRule.from_config(config.dead_after))

    @classmethod
    def _connect(
        cls, path: Path, lock: RunLock | None, now: Callable[[], float], rule: DeadRule, *,
        mode: str,
    ) -> Store:
        """Connect with an SQLite URI ``mode`` (rwc: write; ro; ro&immutable=1) and prepare."""
        target = f"file:{quote(os.fsencode(path))}?mode={mode}"
        try:
            db = sqlite3.connect(target, uri=True, isolation_level=None,
                                 timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise sqlite_failure(path, exc) from exc
        db.row_factory = sqlite3.Row
        store = cls(db, path, lock, now, rule)
        try:
            store._prepare(readonly=mode != "rwc")
        except BaseException:
            db.close()
            raise
        return store

    @guarded
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
                MIGRATIONS[step](self._db)
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

    @guarded
    def begin_run(self, command: str, arguments: Sequence[str]) -> int:
        """Record a run as ``running``; returns its id."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (command, arguments, pid, started_at, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (command, json.dumps(list(arguments)), os.getpid(), self._now()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @guarded
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

    @guarded
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

    @guarded
    def runs(self, limit: int | None = None) -> list[RunSummary]:
        """The last ``limit`` runs (all when None), oldest first."""
        rows = self._db.execute(
            f"SELECT * FROM (SELECT {_RUN_COLUMNS} FROM runs "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            (-1 if limit is None else limit,)).fetchall()
        return [_run_summary(row) for row in rows]

    @guarded
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

    def batch(self, run_id: int, *, size: int = 1000, seconds: float = 1.0,
              clock: Callable[[], float] = time.monotonic) -> CheckBatch:
        """Checks of a run recorded a batch at a time (see ``CheckBatch``): a batch's keys lie
        all over the tables, and each commit writes every page it changed."""
        return CheckBatch(self, run_id, size, seconds, clock)

    @guarded
    def record_many(self, run_id: int, results: Iterable[CheckResult]) -> None:
        """Store checks in one transaction. Cached results are already stored: skipped.

        The batch's latest rows are read in one query, and its checks and latest rows
        worked out together (``BatchRows``), then written by two prepared statements.
        """
        fresh = [result for result in results if not result.from_cache]
        if not fresh:
            return
        with self._transaction():
            rows = BatchRows(run_id, self._now, self._rows_of_keys(
                "SELECT * FROM latest WHERE key IN ({keys})",
                list({result.key for result in fresh})))
            rows.add(fresh, self._db.execute("SELECT coalesce(max(id), 0) + 1 FROM checks"
                                              ).fetchone()[0])
            # A row a statement (see ``insert_rows``): these tables have constraints.
            self._db.executemany(INSERT_CHECK, rows.checks)
            self._db.executemany(UPSERT_LATEST, rows.latest)
            for key, since in rows.late.items():
                replay(self._db, key, since)

    def cached(self, key: str, max_age: float) -> CheckResult | None:
        """The latest check of ``key`` when it is a success younger than ``max_age`` s."""
        return self.cached_many((key,), max_age).get(key)

    @guarded
    def cached_many(self, keys: Iterable[str], max_age: float) -> dict[str, CheckResult]:
        """``cached`` of many keys in a few queries: the keys that have one, with it."""
        oldest = self._now() - max_age
        return {row["key"]: _check_result(row)
                for row in self._rows_of_keys(_LATEST_CHECKS, list(keys))
                if row["outcome"] == SUCCESS and row["checked_at"] >= oldest}

    @guarded
    def latest(self, key: str) -> CheckResult | None:
        """The latest check of ``key`` whatever its verdict or age (offline runs)."""
        rows = list(self._rows_of_keys(_LATEST_CHECKS, [key]))
        return _check_result(rows[0]) if rows else None

    def _rows_of_keys(self, query: str, keys: Sequence[str]) -> Iterator[sqlite3.Row]:
        """The rows of ``query`` for ``keys`` (its ``{keys}``: their placeholders), a few
        hundred keys a query (under any SQLite's limit of bound values)."""
        for start in range(0, len(keys), _KEYS_A_QUERY):
            chunk = keys[start:start + _KEYS_A_QUERY]
            yield from self._db.execute(query.format(keys=", ".join("?" * len(chunk))), chunk)

    @guarded
    def confirm(self, key: str, failures_needed: int | None = None,
                min_days: float | None = None) -> Confirmation:
        """Failed checks of ``key`` since its last success, against the dead rule.

        ``failures_needed`` and ``min_days`` override the store's rule (N and D).
        """
        rule = self.rule.overridden(failures_needed, min_days)
        row = self._db.execute(
            "SELECT failures, first_failure, last_failure FROM latest WHERE key = ?",
            (key,)).fetchone()
        if row is None:
            return rule.judge(0, None, None)
        return rule.judge(row["failures"], row["first_failure"], row["last_failure"])

    # -------------------------------------------------------------- citations and findings

    @guarded
    def set_citations(self, run_id: int, rows: Iterable[tuple[str, str, Path | str, int]],
                      scope: Collection[Path | str] | None = None) -> None:
        """Record the ``(key, url, path, line)`` rows seen by this run as the cited set.

        ``scope`` is what the run read: None for a full run, which drops every citation it
        did not see; else the notes and folders a partial run read (a PATH subset, a gate's
        changed files), and only citations of notes in them that it did not see are
        dropped: notes the run did not read keep theirs. A citation keeps its first-seen
        time while its note still cites the key (even when its line moved); last-seen is
        this run's start.
        """
        with self._transaction():
            seen = self._db.execute("SELECT started_at FROM runs WHERE id = ?",
                                    (run_id,)).fetchone()
            if seen is None:
                raise StoreError(f"{self.path}: no run {run_id} in the history store")
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming "
                             "(key TEXT, url TEXT, path TEXT, line INTEGER)")
            self._db.execute("DELETE FROM incoming")
            insert_rows(self._db, "INSERT INTO incoming VALUES {values}", 4,
                        _citation_rows(rows))
            # In the table's key order, the rows go through its B-tree in one sweep (a
            # spill's rows come a sorted run after another). Rows of one (key, path, line)
            # carry the same values, so their order cannot matter. An empty table (a first
            # run) has no first-seen time to look up: nor must SQLite copy the rows aside
            # first, as it does for an INSERT that reads its own table.
            first_seen = ("COALESCE((SELECT MIN(first_seen) FROM citations AS c "
                          "WHERE c.key = i.key AND c.path = i.path), :seen)"
                          if self._db.execute("SELECT 1 FROM citations").fetchone() else ":seen")
            self._db.execute(f"""
                INSERT INTO citations (key, url, path, line, first_seen, last_seen, last_run)
                SELECT i.key, i.url, i.path, i.line, {first_seen}, :seen, :run
                FROM incoming AS i ORDER BY i.key, i.path, i.line
                ON CONFLICT (key, path, line) DO UPDATE SET
                    url = excluded.url, last_seen = excluded.last_seen,
                    last_run = excluded.last_run""",
                {"seen": seen[0], "run": run_id})
            if scope is None:
                self._db.execute("DELETE FROM citations WHERE last_run != ?", (run_id,))
                return
            read = {Path(place) for place in scope}
            stale = [row[0] for row in self._db.execute(
                "SELECT DISTINCT path FROM citations WHERE last_run != ?", (run_id,))
                if not read.isdisjoint((note := path_from_store(row[0]), *note.parents))]
            self._db.executemany("DELETE FROM citations WHERE path = ? AND last_run != ?",
                                 ((path, run_id) for path in stale))

    @guarded
    def record_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Store this run's (unsuppressed) findings by fingerprint, for "new since last run"."""
        with self._transaction():
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS new_findings "
                             "(fingerprint, kind, path, line, url, message)")
            self._db.execute("DELETE FROM new_findings")
            insert_rows(self._db, "INSERT INTO new_findings VALUES {values}", 6,
                        finding_rows(findings))
            # Fingerprints are hashes: inserted as they come, each lands at a random place
            # of the table's B-tree; in their order, they are appended (several times
            # faster). The rowid keeps the first of equal fingerprints first, as it came.
            self._db.execute(
                "INSERT OR IGNORE INTO findings "
                "(run_id, fingerprint, kind, path, line, url, message) "
                "SELECT ?, fingerprint, kind, path, line, url, message FROM new_findings "
                "ORDER BY fingerprint, rowid", (run_id,))

    # -------------------------------------------------------------- what changed

    @guarded
    def changes(self, run_id: int, *, failures_needed: int | None = None,
                min_days: float | None = None) -> Changes:
        """Compare the history as of ``run_id`` with the previous finished run.

        ``failures_needed`` and ``min_days`` override the store's rule (N and D).
        """
        previous = self.last_run(before=run_id)
        return changes_since(self._db, run_id, None if previous is None else previous.run_id,
                             self.rule.overridden(failures_needed, min_days))

    # -------------------------------------------------------------- keeping it small

    @guarded
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

    @guarded
    def latest_states(self, since: float | None = None, *, failures_needed: int | None = None,
                      min_days: float | None = None) -> list[UrlState]:
        """Keys that are dead, failing, recovered or redirected now, by key.

        With ``since``: only keys checked since then, and "recovered" means a failure
        since then; without it, any failure in the history counts. ``failures_needed`` and
        ``min_days`` override the store's rule (N and D).
        """
        return url_states(self._db, since, self.rule.overridden(failures_needed, min_days))


# ---------------------------------------------------------------- row conversion


def _citation_rows(
    rows: Iterable[tuple[str, str, Path | str, int]],
) -> Iterator[tuple[str, str, str | bytes, int]]:
    """``(key, url, stored note, line)`` of each citation."""
    for key, url, path, line in rows:
        yield key, url, stored_note(path), line


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


