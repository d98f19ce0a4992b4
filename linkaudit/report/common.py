"""What every reporter needs to agree on: order, failing rule, counts, paths and times.

Kept in one place so that the text summary, the JSON counts and the exit decision can
never disagree about what "failing" or "an error" means. Link states use the words of
``audit.findings.STATES``, the same words as the finding kinds.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, TypeVar

from linkaudit.audit.online import STATES, link_state
from linkaudit.models import CheckResult, Finding, LinkRecord, Report, Severity
from linkaudit.spill import Spilled, row_of

PathItem = TypeVar("PathItem", Finding, LinkRecord)

SEVERITIES_DESCENDING = (Severity.ERROR, Severity.WARNING, Severity.INFO)
SEVERITY_HEADINGS = {Severity.ERROR: "errors", Severity.WARNING: "warnings", Severity.INFO: "info"}


def display_path(path: Path) -> str:
    """A path as given (relative stays relative), with forward slashes on every OS.

    Items come note by note, each note's sharing one path object, and are shown, sorted
    and grouped by it: the last path's text is kept for the next call.
    """
    global _last_shown
    last, text = _last_shown
    if path is not last:
        text = path.as_posix()
        _last_shown = path, text
    return text


_last_shown: tuple[Path | None, str] = (None, "")


def location_text(finding: Finding) -> str:
    """``path:line:col``, the form editors and terminals jump to."""
    return f"{display_path(finding.path)}:{finding.line}:{finding.column}"


def message_with_url(finding: Finding) -> str:
    """The message, with the URL on a second line unless the message already names it."""
    if finding.url is None or finding.url in finding.message:
        return finding.message
    return f"{finding.message}\n{finding.url}"


def finding_sort_key(finding: Finding) -> tuple[str, int, int, str]:
    return (display_path(finding.path), finding.line, finding.column, finding.kind)


def finding_order_in_note(finding: Finding) -> tuple[int, int, str]:
    """``finding_sort_key`` within one note, where the path is the same for all."""
    return finding.line, finding.column, finding.kind


def by_note(items: Collection[PathItem], within: Callable[[PathItem], Any]
            ) -> Iterator[tuple[str, list[PathItem]]]:
    """Each note's path text with its items sorted by ``within``, notes in path order.

    The path is rendered once per note instead of once per item (a spill is already read
    one note at a time).
    """
    if isinstance(items, Spilled):
        for _coarse, group in items.groups():
            ordered = sorted(group, key=within)
            yield display_path(ordered[0].path), ordered
        return
    in_path_order = sorted(items, key=lambda item: (display_path(item.path), within(item)))
    for text, group in groupby(in_path_order, key=lambda item: display_path(item.path)):
        yield text, list(group)


def rows_by_note(items: Collection[PathItem], kind: type[PathItem], within: tuple[str, ...]
                 ) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """``by_note``, sorted by the fields named ``within``, with each item as its row (its
    fields' values, ``spill.row_of``): a spill's items are read as rows, never built."""
    if not isinstance(items, Spilled):
        row = row_of(kind)
        for text, group in by_note(items, attrgetter(*within)):
            yield text, list(map(row, group))  # type: ignore[arg-type]
        return
    index = {field.name: n for n, field in enumerate(fields(kind))}
    order, path = itemgetter(*(index[name] for name in within)), index["path"]
    for _coarse, rows in items.row_groups():
        rows.sort(key=order)
        yield display_path(rows[0][path]), rows


def is_failing(finding: Finding, fail_on: Severity | None) -> bool:
    """A finding fails the run when not suppressed and at or above ``fail_on``."""
    return finding.suppressed is None and fail_on is not None and finding.severity >= fail_on


def report_failed(report: Report) -> bool:
    if isinstance(report.findings, Spilled):  # read once for this and the counts
        return _failed(_tally(report.findings)[0], report.fail_on)
    return any(is_failing(finding, report.fail_on) for finding in report.findings)


def format_time(timestamp: float) -> str:
    """Seconds since the epoch as a UTC time for people; 0 means unknown."""
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class Counts:
    """Counts shown by every format; severities and kinds count unsuppressed findings."""

    notes: int
    links: int
    by_severity: dict[Severity, int]
    by_kind: dict[str, int]
    suppressed: int
    by_verdict: dict[str, int]
    checked: int
    failed: bool
    failing_note: str  # what "failing" means and when those links will be dead; "" if none
    outside_change: int | None = None  # gate runs: findings outside the change, not listed

    def verdicts(self) -> str:
        """Checked URLs by state, e.g. ``3 ok, 1 failing``; states with none are left out."""
        return ", ".join(f"{n} {state}" for state, n in self.by_verdict.items() if n)

    def line(self, interrupted: bool) -> str:
        """The one-line summary: notes, links, severities, then URLs checked by verdict."""
        parts = [plural(self.notes, "note"), plural(self.links, "link")]
        parts += [f"{n} {SEVERITY_HEADINGS[s]}" if n != 1 else f"1 {s}"
                  for s, n in self.by_severity.items()]
        text = ", ".join(parts)
        if self.suppressed:
            text += f" ({self.suppressed} suppressed)"
        if self.checked:
            text += f"; checked {plural(self.checked, 'URL')}: {self.verdicts()}"
        if self.outside_change:
            text += f"; {self.outside_text()}"
        if interrupted:
            text += "; interrupted: partial results"
        return text

    def outside_text(self) -> str:
        """What a gate run left out: ``12 findings already in notes outside the change``."""
        return (f"{plural(self.outside_change or 0, 'finding')} already in notes outside "
                "the change, not listed")


def verdict_of(report: Report, result: CheckResult) -> str:
    """The verdict of one checked URL in this report: its state word (a failed link not
    yet called dead by the history rule is `failing`)."""
    return link_state(result, report.failing)


def _failing_note(failing: int, dead_after: tuple[int, float] | None) -> str:
    """Tells plainly that failing links failed and when they will be called dead."""
    if not failing:
        return ""
    links = "1 link failed" if failing == 1 else f"{failing} links failed"
    rule = "repeated failures over days (dead_after in config.yaml)"
    if dead_after is not None:
        checks, days = dead_after
        rule = f"{plural(checks, 'failed check')} spanning {days:g} " \
               f"day{'' if days == 1 else 's'} (dead_after)"
    return f"{links} but {'is' if failing == 1 else 'are'} not called dead yet: " \
           f"a link is dead after {rule}; run check --confirm-now to call " \
           f"{'it' if failing == 1 else 'them'} dead now"


_Tally = tuple[Counter[Severity], Counter[str], int]  # unsuppressed by severity, kind; all
# What a finding is tallied by; a spill of findings counted by it as they were written
# (``SpillWriter``'s ``counted``) is tallied without being read.
TALLY_KEY = attrgetter("suppressed", "severity", "kind")
_TALLIES: weakref.WeakKeyDictionary[Spilled[Finding], _Tally] = weakref.WeakKeyDictionary()


def _tally(findings: Iterable[Finding]) -> _Tally:
    """Unsuppressed findings by severity and by kind, and how many in all, in one pass.

    A spill counted as it was written is not read at all; another is read from disk and
    never changes, so its tally is kept while it lives: the exit code and the counts of
    the output do not read it once each.
    """
    if isinstance(findings, Spilled) and findings in _TALLIES:
        return _TALLIES[findings]
    severities: Counter[Severity] = Counter()
    kinds: Counter[str] = Counter()
    total = 0
    counted = findings.counts if isinstance(findings, Spilled) \
        and findings.counted is TALLY_KEY else None
    if counted is None:  # counted in C by (reason, severity, kind)
        counted = Counter(map(TALLY_KEY, findings))
    for (reason, severity, kind), n in counted.items():  # summed per severity and kind
        total += n
        if reason is None:
            severities[severity] += n
            kinds[kind] += n
    if isinstance(findings, Spilled):
        _TALLIES[findings] = severities, kinds, total
    return severities, kinds, total


def _failed(severities: Counter[Severity], fail_on: Severity | None) -> bool:
    return fail_on is not None and any(n for severity, n in severities.items()
                                       if severity >= fail_on)


def count(report: Report) -> Counts:
    """The counts, in one pass over the findings (a spilled report is read once)."""
    severities, kinds, total = _tally(report.findings)
    verdicts = Counter(verdict_of(report, result) for result in report.results)
    fail_on = report.fail_on
    return Counts(
        notes=report.notes_scanned,
        links=len(report.links) if report.link_count is None else report.link_count,
        by_severity={severity: severities[severity] for severity in SEVERITIES_DESCENDING},
        by_kind=dict(sorted(kinds.items())),
        suppressed=total - sum(severities.values()),
        by_verdict={word: verdicts[word] for word in STATES},
        checked=len(report.results),
        failed=_failed(severities, fail_on),
        failing_note=_failing_note(kinds["failing"], report.dead_after),
        outside_change=report.outside_change,
    )
