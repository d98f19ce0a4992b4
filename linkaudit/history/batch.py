"""Rows written in batches: check results one transaction per batch, not per URL, the rows
of a batch worked out together; into temporary tables, many rows a statement, not one."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from linkaudit.history.dead_rule import Tally, outcome
from linkaudit.models import CheckResult

if TYPE_CHECKING:
    import sqlite3

INSERT_CHECK = (
    "INSERT INTO checks (id, run_id, key, url, verdict, reason, status, chain, final_url, "
    "permanent, final_verdict, detail, attempts, checked_at, outcome, failures, "
    "first_failure, last_failure, last_failure_ever) VALUES ({})".format(", ".join("?" * 19))
)

_VALUES_A_STATEMENT = 900  # bound values: under the limit of any SQLite (999 before 3.32)


def insert_rows(db: sqlite3.Connection, statement: str, width: int,
                rows: Iterable[Sequence[object]]) -> None:
    """Execute ``statement`` over ``rows`` (each ``width`` values), as many rows a statement
    as SQLite binds at once: ``{values}`` in it is their multi-row VALUES list.

    Binding row after row, one statement each, costs several times what SQLite then does
    with the row. For tables without constraints (temporary ones): into a table that has
    some, a statement of many rows keeps a statement journal (to undo its earlier rows
    should a later one fail), a temporary file of each page it changes, costing more.
    """
    per = _VALUES_A_STATEMENT // width
    row = "(" + ", ".join("?" * width) + ")"
    full = statement.format(values=", ".join([row] * per))
    values = itertools.chain.from_iterable(rows)
    while chunk := tuple(itertools.islice(values, per * width)):
        db.execute(full if len(chunk) == per * width
                   else statement.format(values=", ".join([row] * (len(chunk) // width))),
                   chunk)


class Recorder(Protocol):
    """What a batch writes through (the store)."""

    def record_many(self, run_id: int, results: Iterable[CheckResult]) -> None: ...


class CheckBatch:
    """Checks recorded as they arrive, one transaction per ``size`` of them or per
    ``seconds`` (whichever comes first), instead of one per check.

    A crash (kill -9) loses at most the open batch, never the file: each batch commits
    whole or not at all. ``flush`` records what is pending; a run calls it at its end,
    Ctrl-C included, so an interrupted run keeps every finished check.
    """

    def __init__(self, store: Recorder, run_id: int, size: int, seconds: float,
                 clock: Callable[[], float]) -> None:
        self.store, self.run_id, self.size, self.seconds = store, run_id, size, seconds
        self._clock = clock
        self._pending: list[CheckResult] = []
        self._since = clock()

    def add(self, result: CheckResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= self.size or self._clock() - self._since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.store.record_many(self.run_id, self._pending)
            self._pending = []
        self._since = self._clock()


class BatchRows:
    """The ``checks`` rows (``INSERT_CHECK``) and ``latest`` rows (``UPSERT_LATEST``) of a
    batch, each check counted after its key's latest row, read once for the batch.

    A check older than its key's latest is "late": stored, but its key's counters are
    replayed from it on (``late``: key -> its earliest late check) and its latest row is
    left to that replay.
    """

    def __init__(self, run_id: int, now: Callable[[], float],
                 known: Iterable[sqlite3.Row]) -> None:
        self.run_id, self._now = run_id, now
        # key -> (checked_at, first_checked, counters) of its latest check
        self._known = {row["key"]: (row["checked_at"], row["first_checked"], Tally.of(row))
                       for row in known}
        self.checks: list[tuple[object, ...]] = []
        self.latest: list[tuple[object, ...]] = []
        self.late: dict[str, float] = {}

    def add(self, results: Sequence[CheckResult], first_id: int) -> None:
        """Rows of ``results``, numbered from ``first_id`` (as SQLite numbers rows: the
        table's largest id + 1), so that each latest row names its check."""
        for check_id, result in enumerate(results, first_id):
            key, at = result.key, result.checked_at or self._now()
            result_outcome = outcome(result.verdict, result.final_verdict)
            previous = self._known.get(key)
            if previous is not None and at < previous[0]:
                self.late[key] = min(at, self.late.get(key, at))
            tally = (Tally() if previous is None else previous[2]).after(result_outcome, at)
            self.checks.append(_bound((
                check_id, self.run_id, key, result.url, result.verdict.value, result.reason,
                result.status, json.dumps([[hop.url, hop.status] for hop in result.chain]),
                result.final_url, None if result.permanent is None else int(result.permanent),
                None if result.final_verdict is None else result.final_verdict.value,
                result.detail, result.attempts, at, result_outcome, *tally.values())))
            if key not in self.late:
                first_checked = at if previous is None else previous[1]
                self._known[key] = (at, first_checked, tally)
                self.latest.append(_bound((key, check_id, result.verdict.value, at,
                                           result_outcome, *tally.values(), first_checked)))


def _bound(row: tuple[object, ...]) -> tuple[object, ...]:
    """``row`` with NaN for None, which SQLite stores as NULL all the same: for None (and
    any value not exactly int, float, str) Python's sqlite3 looks an adapter up first, a
    failed attribute lookup with its error message, several times what the binding costs."""
    return tuple([math.nan if value is None else value for value in row])
