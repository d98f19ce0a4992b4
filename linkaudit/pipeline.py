"""The offline pipeline, stage after stage: scan → clean → audit.

Kept out of the CLI so that library users and tests run exactly what the command runs.
Notes stream through one at a time; what outlives a note is its small link records.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from linkaudit.audit import (
    OfflineAudit,
    Standing,
    apply_policy,
    day,
    problem_finding,
    severity_overrides,
)
from linkaudit.check import NO_NETWORK_REASONS, Checker, network_unavailable
from linkaudit.config import Config
from linkaudit.models import (
    CheckResult,
    CleanedLink,
    FileProblem,
    Finding,
    LinkRecord,
    Location,
    Note,
    Report,
    Severity,
    Verdict,
)
from linkaudit.normalize import LinkCleaner, locale_variant_key
from linkaudit.rules import RuleSet, load_rules
from linkaudit.scan import family_key, iter_note_paths, read_note, scan_paths
from linkaudit.store import DAY, Changes, Store


@dataclass
class Citations:
    """Every place each check key is cited, and the URL as first written."""

    places: dict[str, list[Location]] = field(default_factory=lambda: defaultdict(list))
    urls: dict[str, str] = field(default_factory=dict)

    def add(self, note: Note, link: CleanedLink) -> None:
        self.places[link.check_key].append(Location(note.path, link.link.line,
                                                    link.link.column))
        self.urls.setdefault(link.check_key, link.clean_url)


@dataclass
class ScanOutcome:
    notes_scanned: int
    link_count: int
    links: list[LinkRecord]
    findings: list[Finding]
    citations: Citations
    ignored_lines: dict[Path, frozenset[int]]


def load_rule_set(config: Config) -> RuleSet:
    return load_rules(config.cleaning, config.base_dir)


def _cleaned(item: Note | FileProblem, cleaner: LinkCleaner
             ) -> tuple[Note, tuple[CleanedLink, ...]] | Finding:
    if isinstance(item, Note):
        return item, cleaner.clean(item.links)
    return problem_finding(item)


def iter_cleaned(paths: Sequence[Path], config: Config, rules: RuleSet
                 ) -> Iterator[tuple[Note, tuple[CleanedLink, ...]] | Finding]:
    """Each readable note with its cleaned links, or a finding for a file that is not."""
    cleaner = LinkCleaner(rules, config.cleaning.level)
    for item in scan_paths(paths, config.scan):
        yield _cleaned(item, cleaner)


def family_groups(paths: Sequence[Path], config: Config) -> Iterator[list[Path]]:
    """Note paths grouped by translation family, from file names alone.

    Reading one family at a time lets drift be decided, and the family forgotten, before
    the next is read: memory follows the largest family, not the tree.
    """
    groups: dict[str, list[Path]] = {}
    for path in iter_note_paths(paths, config.scan):
        groups.setdefault(family_key(path, config.scan), []).append(path)
    yield from groups.values()


@dataclass(frozen=True)
class _ScanJob:
    """What a scan worker needs; forked workers inherit it instead of unpickling rules."""

    config: Config
    rules: RuleSet
    keep_links: bool
    keep_citations: bool


_job: _ScanJob | None = None  # set in the parent just before forking scan workers


def scan_tree(paths: Sequence[Path], config: Config, rules: RuleSet | None = None, *,
              keep_links: bool = True, keep_citations: bool = False) -> ScanOutcome:
    """Scan, clean and audit offline; every finding has the configured policy applied.

    ``keep_links`` lists every link for the report (JSON, HTML, JUnit need them);
    ``keep_citations`` remembers where each URL is cited (network checks need it).
    Large trees are read by ``scan.workers`` processes, a batch of families each.
    """
    global _job
    job = _ScanJob(config, rules or load_rule_set(config), keep_links, keep_citations)
    groups = list(family_groups(paths, config))
    batches = _batches(groups)
    workers = min(config.scan.workers or os.cpu_count() or 1, len(batches))
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _job = job
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                parts = list(pool.map(_scan_batch, batches))
        finally:
            _job = None
        outcome = _merge(parts)
    else:
        outcome = _scan_groups(groups, job)
    outcome.findings = apply_policy(outcome.findings,
                                    severities=severity_overrides(config.report.severities),
                                    ignore=config.ignore, ignored_lines=outcome.ignored_lines)
    return outcome


_BATCH_NOTES = 400  # notes per worker task: big enough to pay for the hand-over


def _batches(groups: list[list[Path]]) -> list[list[list[Path]]]:
    """Whole families in batches of about ``_BATCH_NOTES`` notes (drift needs a whole family)."""
    batches: list[list[list[Path]]] = [[]]
    size = 0
    for group in groups:
        if size >= _BATCH_NOTES:
            batches.append([])
            size = 0
        batches[-1].append(group)
        size += len(group)
    return batches


def _scan_batch(groups: list[list[Path]]) -> ScanOutcome:
    assert _job is not None, "scan workers are forked after the job is set"
    return _scan_groups(groups, _job)


def _scan_groups(groups: Iterable[list[Path]], job: _ScanJob) -> ScanOutcome:
    """Read, clean and audit families one at a time (no policy applied yet)."""
    audit = OfflineAudit(locale_variant_key)
    cleaner = LinkCleaner(job.rules, job.config.cleaning.level)
    outcome = ScanOutcome(0, 0, [], [], Citations(), {})
    for group in groups:
        for path in group:
            item = _cleaned(read_note(path, job.config.scan), cleaner)
            if isinstance(item, Finding):
                outcome.findings.append(item)
                continue
            note, links = item
            outcome.notes_scanned += 1
            outcome.link_count += len(links)
            if note.ignored_lines:
                outcome.ignored_lines[note.path] = note.ignored_lines
            outcome.findings += audit.note(note, links)
            for link in links:
                if job.keep_links:
                    outcome.links.append(LinkRecord(
                        path=note.path, line=link.link.line, column=link.link.column,
                        kind=link.link.kind, url=link.url, clean_url=link.clean_url,
                        check_key=link.check_key, family=note.family, lang=note.lang,
                        label=link.link.label))
                if job.keep_citations and link.malformed is None:
                    outcome.citations.add(note, link)
        outcome.findings += audit.finish()
    return outcome


def _merge(parts: Iterable[ScanOutcome]) -> ScanOutcome:
    """Worker outcomes in batch order, as one."""
    merged = ScanOutcome(0, 0, [], [], Citations(), {})
    for part in parts:
        merged.notes_scanned += part.notes_scanned
        merged.link_count += part.link_count
        merged.links += part.links
        merged.findings += part.findings
        merged.ignored_lines.update(part.ignored_lines)
        for key, places in part.citations.places.items():
            merged.citations.places[key] += places
        for key, url in part.citations.urls.items():
            merged.citations.urls.setdefault(key, url)
    return merged


def fail_level(name: str) -> Severity | None:
    """``--fail-on`` as a severity; ``never`` is None."""
    return None if name == "never" else Severity[name.upper()]



# ---------------------------------------------------------------- network checks


def check_targets(citations: Citations, only: Collection[str] | None = None
                  ) -> list[tuple[str, str]]:
    """One ``(check key, URL)`` per distinct http(s) source, optionally limited to ``only``."""
    return sorted((key, url) for key, url in citations.urls.items()
                  if key.startswith(("http://", "https://"))
                  and (only is None or key in only))


class CheckRun:
    """One run of network checks against the history store.

    Results are recorded as they arrive, so Ctrl-C keeps what was checked. Failures that
    could mean "this machine has no network" (DNS, connect) are held back until the end:
    when every URL failed that way, nothing is recorded and nothing is called dead.
    """

    def __init__(self, config: Config, store: Store | None, run_id: int | None, *,
                 max_age: float | None, confirm_now: Collection[str] | bool = False) -> None:
        self.config, self.store, self.run_id = config, store, run_id
        self.max_age = max_age
        self.confirm_now = confirm_now
        self.results: list[CheckResult] = []
        self._held: list[CheckResult] = []

    def reuse_cached(self, targets: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Take fresh successes from the store; return the targets still to request."""
        if self.store is None or self.max_age is None:
            return list(targets)
        remaining = []
        for key, url in targets:
            cached = self.store.cached(key, self.max_age)
            if cached is None:
                remaining.append((key, url))
            else:
                self.results.append(cached)
        return remaining

    def stored_only(self, targets: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Offline: take the latest stored verdict of each target; return those never seen."""
        unseen = []
        for key, url in targets:
            latest = self.store.latest(key) if self.store is not None else None
            if latest is None:
                unseen.append((key, url))
            else:
                self.results.append(latest)
        return unseen

    async def run(self, checker: Checker, targets: Sequence[tuple[str, str]],
                  on_result: Callable[[CheckResult], None] | None = None) -> None:
        async for result in checker.results(targets):
            self.results.append(result)
            if result.status is None and result.reason in NO_NETWORK_REASONS:
                self._held.append(result)
            elif self.store is not None and self.run_id is not None:
                self.store.record(self.run_id, result)
            if on_result is not None:
                on_result(result)

    def settle(self) -> bool:
        """Record held-back failures unless the network was down; True when it was."""
        down = network_unavailable(self.results)
        if not down and self.store is not None and self.run_id is not None:
            self.store.record_many(self.run_id, self._held)
        self._held = []
        return down

    def standing(self) -> dict[str, Standing]:
        """For each dead URL: confirmed dead, or failing k of N (history store rule)."""
        standing: dict[str, Standing] = {}
        rule = self.config.dead_after
        for result in self.results:
            failed = result.verdict is Verdict.DEAD or result.final_verdict is Verdict.DEAD
            if not failed or self.store is None:
                continue
            if self.confirm_now is True or (self.confirm_now and result.key in self.confirm_now):
                standing[result.key] = Standing(confirmed=True)
                continue
            seen = self.store.confirm(result.key, rule.failures, rule.days / DAY)
            first = day(seen.first_failure)
            standing[result.key] = Standing(
                confirmed=seen.state == "dead",
                detail=f"failing ({seen.failures} of {seen.needed}, first seen {first})")
        return standing

    def counts(self, standing: Mapping[str, Standing]) -> dict[str, int]:
        """Link health of this run for the history chart."""
        counts = {"ok": 0, "redirected": 0, "failing": 0, "dead": 0}
        for result in self.results:
            if result.key in standing:
                counts["dead" if standing[result.key].confirmed else "failing"] += 1
            elif result.verdict is Verdict.OK:
                counts["ok"] += 1
            elif result.verdict is Verdict.REDIRECTED:
                counts["redirected"] += 1
        return counts



def only_changes(report: Report, changes: Changes) -> Report:
    """The report cut down to what changed since the previous run (for cron mail)."""
    new = {(change.key, change.url) for change in changes.new_findings}
    new_urls = {change.url for change in (*changes.new_dead, *changes.new_redirects)}
    kept = [f for f in report.findings
            if (f.kind, f.url or "") in new or (f.url in new_urls and f.kind in
                                                  ("dead", "redirected"))]
    kept += [Finding(kind="recovered", severity=Severity.INFO, path=Path("-"), line=1,
                     column=1, url=change.url, message=f"recovered: {change.detail}")
             for change in changes.recovered]
    return replace(report, findings=tuple(kept))
