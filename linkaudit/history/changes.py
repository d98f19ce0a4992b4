"""Reading the history: what changed since the previous run, and each URL's state now.

Both read the counters each check carries (schema v2) and judge them with the dead rule,
so "as of run N" is one row per key, never a replay of the history.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from linkaudit.history.dead_rule import SUCCESS, Confirmation, DeadRule
from linkaudit.history.schema import path_from_store, stored_note
from linkaudit.models import Finding, Verdict
from linkaudit.spill import Spilled, row_of


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


def fingerprint(finding: Finding) -> str:
    """A finding's identity across runs: kind, note and URL; lines and wording may move."""
    return _digest(finding.kind, finding.path.as_posix(), finding.url)


def _digest(kind: str, note: str, url: str | None) -> str:
    text = f"{kind}\x1f{note}\x1f{url or ''}"
    # surrogatepass: an undecodable file name (surrogate-escaped) has a fingerprint too
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


_FIELD = {field.name: index for index, field in enumerate(fields(Finding))}
_KIND, _PATH, _LINE, _MESSAGE, _URL, _SUPPRESSED = (
    _FIELD[name] for name in ("kind", "path", "line", "message", "url", "suppressed"))


def finding_rows(findings: Iterable[Finding]) -> Iterator[tuple[object, ...]]:
    """``(fingerprint, kind, stored note, line, url, message)`` of each unsuppressed
    finding; a note's path is worked out once for its run of findings.

    A spill's findings are read as rows (``row_groups``), never built (the objects cost
    more than the rest of this): notes come merged, each note's findings in their order,
    so of equal fingerprints (one note's) the same comes first.
    """
    rows: Iterable[tuple[Any, ...]]
    if isinstance(findings, Spilled):
        rows = itertools.chain.from_iterable(
            map(operator.itemgetter(1), findings.row_groups()))
    else:
        as_row = row_of(Finding)
        assert as_row is not None  # a dataclass of fields given by position
        rows = map(as_row, findings)
    last: Path | None = None
    note: str = ""
    stored: str | bytes = ""
    for row in rows:
        if row[_SUPPRESSED] is not None:
            continue
        if row[_PATH] is not last:
            last = row[_PATH]
            note, stored = last.as_posix(), stored_note(last)
        kind, url = row[_KIND], row[_URL]
        yield _digest(kind, note, url), kind, stored, row[_LINE], url, row[_MESSAGE]


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


def changes_since(db: sqlite3.Connection, run_id: int, previous: int | None,
                  rule: DeadRule) -> Changes:
    """Compare the history as of ``run_id`` with run ``previous`` (None: nothing before)."""
    after = previous or 0
    rows = db.execute(_CHANGED_KEYS, {"after": after, "run": run_id})
    new_dead: list[Change] = []
    recovered: list[Change] = []
    redirects: list[Change] = []

    def dead(prefix: str, row: sqlite3.Row) -> bool:
        return rule.judge(row[f"{prefix}failures"], row[f"{prefix}first_failure"],
                          row[f"{prefix}last_failure"]).state == "dead"

    for row in rows:
        seen = row["before_id"] is not None
        change = Change(row["key"], row["url"], row["detail"])
        if dead("", row) and not (seen and dead("before_", row)):
            new_dead.append(change)
        if row["outcome"] == SUCCESS and seen and row["before_failures"] > 0:
            recovered.append(change)
        if row["moved"] and not (row["before_moved"]
                                 and row["before_final_url"] == row["final_url"]):
            redirects.append(Change(row["key"], row["url"], f"→ {row['final_url']}"))
    findings = db.execute(
        "SELECT kind, url, path, line, message FROM findings WHERE run_id = ? "
        "AND fingerprint NOT IN (SELECT fingerprint FROM findings WHERE run_id = ?) "
        "ORDER BY path, line, kind", (run_id, after)).fetchall()
    return Changes(
        previous_run=previous,
        new_dead=tuple(new_dead), recovered=tuple(recovered),
        new_redirects=tuple(redirects),
        new_findings=tuple(Change(f["kind"], f["url"] or "",
                                  f"{path_from_store(f['path'])}:{f['line']}: {f['message']}")
                           for f in findings),
    )


def url_states(db: sqlite3.Connection, since: float | None, rule: DeadRule) -> list[UrlState]:
    """Keys that are dead, failing, recovered or redirected now, by key.

    With ``since``: only keys checked since then, and "recovered" means a failure
    since then; without it, any failure in the history counts.
    """
    floor = -math.inf if since is None else since
    rows = db.execute("""
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
    path_of = functools.cache(path_from_store)  # a note cites many URLs: one Path each
    return [_url_state(list(group), floor, rule, path_of)
            for _key, group in itertools.groupby(rows, key=lambda row: row["key"])]


def _url_state(
    rows: list[sqlite3.Row], floor: float, rule: DeadRule,
    path_of: Callable[[str | bytes], Path],
) -> UrlState:
    """One UrlState from a key's latest row joined with each of its citations."""
    head = rows[0]
    confirmed = rule.judge(head["failures"], head["first_failure"], head["last_failure"])
    if head["failures"] > 0:
        state = confirmed.state
    elif head["outcome"] == SUCCESS and head["last_failure_ever"] is not None \
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
