"""A scan run: the offline pipeline, stage after stage (scan → clean → audit).

Kept out of the CLI so that library users and tests run exactly what the command runs.
Notes stream through one at a time; what outlives a note is its small link records.
Offline by construction: nothing here imports the HTTP client, asyncio or the store, so
``linkaudit scan`` (run by pre-commit hooks on every commit) starts fast.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from linkaudit.audit.findings import (
    OfflineAudit,
    apply_policy,
    problem_finding,
    severity_overrides,
)
from linkaudit.audit.local_links import LocalLinkAudit
from linkaudit.clean.keys import LinkCleaner, locale_variant_key
from linkaudit.clean.rules import RuleSet, load_rules
from linkaudit.config import Config
from linkaudit.errors import ExitCode
from linkaudit.models import (
    CleanedLink,
    FileProblem,
    Finding,
    LinkRecord,
    Location,
    Note,
    Report,
    Severity,
)
from linkaudit.report.common import report_failed
from linkaudit.run.change import in_change
from linkaudit.run.gate import GateOptions, select
from linkaudit.scan import family_key, iter_note_paths, read_note, scan_paths


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
    local_links: LocalLinkAudit  # caches what it learns of the site for the whole run
    roots: tuple[Path, ...] = ()  # the scanned paths: symlinks are followed only inside them


_job: _ScanJob | None = None  # set in the parent just before forking scan workers


def scan_tree(paths: Sequence[Path], config: Config, rules: RuleSet | None = None, *,
              keep_links: bool = True, keep_citations: bool = False) -> ScanOutcome:
    """Scan, clean and audit offline; every finding has the configured policy applied.

    ``keep_links`` lists every link for the report (JSON, HTML, JUnit need them);
    ``keep_citations`` remembers where each URL is cited (network checks need it).
    Large trees are read by ``scan.workers`` processes, a batch of families each.
    """
    global _job
    job = _ScanJob(config, rules or load_rule_set(config), keep_links, keep_citations,
                   LocalLinkAudit(config, paths), tuple(paths))
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
            item = _cleaned(read_note(path, job.config.scan, job.roots), cleaner)
            if isinstance(item, Finding):
                outcome.findings.append(item)
                continue
            note, links = item
            outcome.notes_scanned += 1
            outcome.link_count += len(links)
            if note.ignored_lines:
                outcome.ignored_lines[note.path] = note.ignored_lines
            outcome.findings += audit.note(note, links)
            outcome.findings += job.local_links.note(note, links)
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


def exit_code(report: Report) -> ExitCode:
    """What a run ends with: interrupted, findings at or above ``fail_on``, or ok."""
    if report.interrupted:
        return ExitCode.RUNTIME
    return ExitCode.FINDINGS if report_failed(report) else ExitCode.OK


@dataclass(frozen=True)
class ScanOptions:
    """What to scan: ``paths`` (default ``scan.roots``), narrowed by a gate."""

    paths: tuple[Path, ...] = ()
    gate: GateOptions = field(default_factory=GateOptions)
    keep_links: bool = True  # list every link in the report (formats that show them)


def run_scan(config: Config, options: ScanOptions = ScanOptions()) -> Report:
    """Scan, clean and audit offline; the report's findings have the policy applied."""
    started = time.time()
    rules = load_rule_set(config)
    selection = select(config, options.paths, options.gate)
    outcome = scan_tree(selection.paths, config, rules, keep_links=options.keep_links)
    findings, outside = in_change(outcome.findings, selection, config, rules)
    return Report(command="scan", notes_scanned=outcome.notes_scanned,
                  links=tuple(outcome.links), link_count=outcome.link_count,
                  findings=tuple(findings), fail_on=fail_level(config.report.fail_on),
                  started_at=started, finished_at=time.time(), outside_change=outside)
