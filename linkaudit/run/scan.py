"""A scan run: the offline pipeline, stage after stage (scan → clean → audit).

Kept out of the CLI so that library users and tests run exactly what the command runs.
Notes stream through one at a time; what outlives a note (its links, findings and
citations) is spilled to disk in sorted runs (``linkaudit.spill``), so memory does not
grow with the tree.
Offline by construction: nothing here imports the HTTP client, asyncio or the store, so
``linkaudit scan`` (run by pre-commit hooks on every commit) starts fast.
"""

from __future__ import annotations

import multiprocessing
import operator
import os
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkaudit.audit.findings import (
    OfflineAudit,
    apply_policy,
    problem_finding,
    severity_overrides,
)
from linkaudit.audit.local_links import LocalLinkAudit
from linkaudit.clean.keys import LinkCleaner
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
from linkaudit.report.common import TALLY_KEY, display_path, report_failed
from linkaudit.run.change import in_change
from linkaudit.run.gate import GateOptions, select
from linkaudit.scan import family_key, iter_note_paths, read_note, scan_paths
from linkaudit.spill import Runs, SpillDir, Spilled, SpillWriter

_Place = tuple[str, Path, int, int]  # (check key, note, line, column) of one citation


_place_key = operator.itemgetter(0)  # a place's check key


def _path_key(item: Finding | LinkRecord) -> str:
    return display_path(item.path)


def _row_path_key(row: tuple[Any, ...]) -> str:
    return display_path(row[0])  # a LinkRecord's row, whose first field is its path


@dataclass
class Citations:
    """The URL each check key was first written as (in memory: one per distinct URL), and
    every place each key is cited (spilled to disk: one per link occurrence)."""

    urls: dict[str, str]
    spilled: Collection[_Place] = ()  # spilled runs (each by check key), in reading order

    def rows(self) -> Iterator[tuple[str, str, Path, int]]:
        """``(key, url as first written, note, line)`` of every citation, run after run:
        a key's citations in reading order, not necessarily together."""
        for key, path, line, _column in self.spilled:
            yield key, self.urls[key], path, line

    def places(self, keys: Collection[str] | None = None) -> dict[str, list[Location]]:
        """Where each of ``keys`` (every key when None) is cited, in reading order."""
        found: dict[str, list[Location]] = defaultdict(list)
        for key, path, line, column in self.spilled:
            if keys is None or key in keys:
                found[key].append(Location(path, line, column))
        return found


@dataclass
class ScanOutcome:
    """What a scan found. Links, findings (the policy applied) and citations are spilled:
    they are read back from disk, in path (citations: key) order, not held in memory."""

    notes_scanned: int
    link_count: int
    links: Collection[LinkRecord]  # empty unless asked for
    findings: Spilled[Finding]
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
    severities: Mapping[str, Severity]  # validated in the parent, before any fork
    spill: SpillDir
    local_links: LocalLinkAudit  # caches what it learns of the site for the whole run
    # One memo for all of a process's batches (each forked worker has its copy), since the
    # same sources are cited across batches (bounded, see LinkCleaner); let go with the job.
    cleaner: LinkCleaner
    roots: tuple[Path, ...] = ()  # the scanned paths: symlinks are followed only inside them


@dataclass
class _Part:
    """One batch's outcome: counts and run files, small enough to hand back to the parent."""

    notes_scanned: int
    link_count: int
    links: Runs
    findings: Runs
    places: Runs
    urls: dict[str, str]
    ignored_lines: dict[Path, frozenset[int]]


_job: _ScanJob | None = None  # set in the parent just before forking scan workers


def scan_tree(paths: Sequence[Path], config: Config, rules: RuleSet | None = None, *,
              keep_links: bool = True, keep_citations: bool = False) -> ScanOutcome:
    """Scan, clean and audit offline; every finding has the configured policy applied.

    ``keep_links`` lists every link for the report (JSON, HTML, JUnit need them);
    ``keep_citations`` remembers where each URL is cited (network checks need it).
    Large trees are read by ``scan.workers`` processes, a batch of families each; each
    batch spills its links, findings and citations to disk, so memory follows a batch.
    """
    global _job
    rules = rules or load_rule_set(config)
    job = _ScanJob(config, rules, keep_links, keep_citations,
                   severity_overrides(config.report.severities), SpillDir(),
                   LocalLinkAudit(config, paths), LinkCleaner(rules, config.cleaning.level),
                   tuple(paths))
    tasks = list(enumerate(_batches(list(family_groups(paths, config)))))
    workers = min(config.scan.workers or os.cpu_count() or 1, len(tasks))
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _job = job
        try:
            parts = _scan_in_parallel(tasks, job, workers)
        finally:
            _job = None
    else:
        parts = [_scan_groups(index, groups, job) for index, groups in tasks]
    urls: dict[str, str] = {}
    ignored_lines: dict[Path, frozenset[int]] = {}
    for part in parts:
        for key, url in part.urls.items():
            urls.setdefault(key, url)
        ignored_lines.update(part.ignored_lines)
    return ScanOutcome(
        notes_scanned=sum(part.notes_scanned for part in parts),
        link_count=sum(part.link_count for part in parts),
        links=Spilled.of(job.spill, _path_key, (part.links for part in parts))
        if keep_links else (),
        findings=Spilled.of(job.spill, _path_key, (part.findings for part in parts),
                            counted=TALLY_KEY),
        citations=Citations(urls, Spilled.of(job.spill, _place_key,
                                             (part.places for part in parts))),
        ignored_lines=ignored_lines)


def _scan_in_parallel(tasks: Sequence[tuple[int, list[list[Path]]]], job: _ScanJob,
                      workers: int) -> list[_Part]:
    """``workers - 1`` forked processes and this one read the batches together.

    This process takes, from the end, batches no worker has started, instead of waiting
    idle: the same speed with one copy of the interpreter fewer in memory.
    """
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers - 1, mp_context=context) as pool:
        futures = [pool.submit(_scan_batch, task) for task in tasks]
        mine: dict[int, _Part] = {}
        for index in reversed(range(len(tasks))):
            if not futures[index].cancel():
                break
            mine[index] = _scan_groups(*tasks[index], job)
        return [mine[index] if index in mine else futures[index].result()
                for index in range(len(tasks))]


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


def _scan_batch(task: tuple[int, list[list[Path]]]) -> _Part:
    assert _job is not None, "scan workers are forked after the job is set"
    return _scan_groups(*task, _job)


def _scan_groups(index: int, groups: Iterable[list[Path]], job: _ScanJob) -> _Part:
    """Read, clean and audit families one at a time; spill what each family gave.

    A family's findings wait for its end (drift is decided per family, and the policy
    needs its ignore comments); links and citations are spilled as they come.
    """
    cleaner = job.cleaner
    audit = OfflineAudit(cleaner.variant_key)
    links: SpillWriter[tuple[Any, ...]] = SpillWriter(job.spill, f"links-{index}",
                                                      _row_path_key, rows_of=LinkRecord)
    places: SpillWriter[_Place] = SpillWriter(job.spill, f"places-{index}", _place_key)
    spilled: SpillWriter[Finding] = SpillWriter(job.spill, f"findings-{index}", _path_key,
                                                TALLY_KEY)
    part = _Part(0, 0, Runs(), Runs(), Runs(), {}, {})
    for group in groups:
        findings: list[Finding] = []
        for path in group:
            item = _cleaned(read_note(path, job.config.scan, job.roots), cleaner)
            if isinstance(item, Finding):
                findings.append(item)
                continue
            note, cleaned = item
            part.notes_scanned += 1
            part.link_count += len(cleaned)
            if note.ignored_lines:
                part.ignored_lines[note.path] = note.ignored_lines
            findings += audit.note(note, cleaned)
            findings += job.local_links.note(note, cleaned)
            if job.keep_links:  # rows: LinkRecord(path, line, column, kind, url, ...)
                links.extend([(note.path, link.link.line, link.link.column, link.link.kind,
                               link.url, link.clean_url, link.check_key, note.family,
                               note.lang, link.link.label) for link in cleaned])
            if job.keep_citations:
                cited = [link for link in cleaned if link.malformed is None]
                places.extend([(link.check_key, note.path, link.link.line, link.link.column)
                               for link in cited])
                for link in cited:
                    part.urls.setdefault(link.check_key, link.clean_url)
        findings += audit.finish()
        spilled.extend(apply_policy(findings, severities=job.severities,
                                    ignore=job.config.ignore, ignored_lines=part.ignored_lines))
    part.links, part.findings, part.places = links.finish(), spilled.finish(), places.finish()
    return part


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
                  links=outcome.links, link_count=outcome.link_count,
                  findings=findings, fail_on=fail_level(config.report.fail_on),
                  started_at=started, finished_at=time.time(), outside_change=outside)
