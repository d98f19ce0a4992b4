"""A check run: scan, check every distinct URL once, record it in the history store.

Apart from ``pipeline`` (the offline stages) so that ``linkaudit scan`` never imports the
HTTP client or the store. ``run_check`` is the whole run; ``CheckRun`` its part with the
store; ``check_urls`` checks URLs alone, with no notes and no store.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import httpx

from linkaudit.audit.findings import apply_policy, severity_overrides
from linkaudit.audit.online import (
    Standing,
    failed,
    online_findings,
    standing_of,
    unchecked_findings,
)
from linkaudit.check import NO_NETWORK_REASONS, Checker, make_client, network_unavailable
from linkaudit.clean.keys import clean_links
from linkaudit.clean.rules import RuleSet
from linkaudit.config import Config
from linkaudit.errors import ExitCode, NetworkUnavailable
from linkaudit.history import Changes, Store
from linkaudit.models import CheckResult, Finding, Report, Severity, Verdict
from linkaudit.run.change import base_notes, in_change
from linkaudit.run.gate import GateOptions, Selection, select
from linkaudit.run.history import HISTORY_RUNS, open_store
from linkaudit.run.scan import (
    Citations,
    exit_code,
    fail_level,
    iter_cleaned,
    load_rule_set,
    scan_tree,
)


@dataclass(frozen=True)
class CheckOptions:
    """What to check and how far to trust the store."""

    paths: tuple[Path, ...] = ()  # default: scan.roots
    gate: GateOptions = field(default_factory=GateOptions)
    keep_links: bool = True  # list every link in the report (formats that show them)
    use_cache: bool = True  # reuse stored successes younger than cache.max_age
    confirm_now: bool = False  # call a failing link dead now, without the dead_after rule
    changes_only: bool = False  # the report holds only what changed since the previous run
    offline: bool = False  # no request: the store's latest verdicts
    arguments: tuple[str, ...] = ()  # recorded with the run (the command line)


class CheckProgress(Protocol):
    """Told how a run goes; the CLI draws a progress line with it."""

    def started(self, targets: int, cached: int, to_request: int) -> None: ...

    def checked(self, result: CheckResult) -> None: ...

    def finished(self) -> None: ...


@dataclass(frozen=True)
class CheckOutcome:
    """The run's report, and what a caller tells the user about it."""

    report: Report
    exit_code: ExitCode
    targets: int  # distinct URLs the run had to judge
    judged: int  # of them, judged before the end (all unless interrupted)
    nothing_changed: bool = False  # changes_only, and nothing changed: the report is empty


def run_check(config: Config, options: CheckOptions = CheckOptions(), *,
              transport: httpx.AsyncBaseTransport | None = None,
              progress: CheckProgress | None = None) -> CheckOutcome:
    """Scan, check what the store cannot answer, record it, and report.

    Raises ``NetworkUnavailable`` (nothing recorded) when no URL resolved, connected or
    passed TLS.
    Ctrl-C during the requests ends the run early with what was checked recorded, and a
    report marked interrupted.
    """
    started = time.time()
    rules = load_rule_set(config)
    selection = select(config, options.paths, options.gate)
    wanted = new_keys(selection, config, rules)
    outcome = scan_tree(selection.paths, config, rules, keep_links=options.keep_links,
                        keep_citations=True)
    targets = check_targets(outcome.citations, wanted)
    with open_store(config) as store:
        run_id = store.begin_run("check", list(options.arguments))
        max_age = float(config.cache.max_age) if options.use_cache else None
        if options.offline:
            max_age = math.inf
        confirm_now: bool | set[str] = True if options.confirm_now else (wanted or False)
        run = CheckRun(config, store, run_id, max_age=max_age, confirm_now=confirm_now)
        remaining = run.reuse_cached(targets)
        if options.offline:
            remaining = run.stored_only(remaining)
        if progress is not None:
            progress.started(len(targets), len(targets) - len(remaining), len(remaining))
        interrupted = False
        try:
            if remaining and not options.offline:
                asyncio.run(_check(run, config, remaining, progress, transport))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if progress is not None:
                progress.finished()
        if run.settle() and not interrupted:
            store.finish_run(run_id, exit_code=ExitCode.RUNTIME, counts={}, status="finished")
            raise NetworkUnavailable(
                f"network unavailable: none of {len(remaining)} URLs could be resolved, "
                "connected to or reached over TLS (check this machine's network, proxy and "
                "CA certificates); nothing was recorded and no link is called dead")
        standing = run.standing()
        unchecked = [key for key, _url in remaining] if options.offline else []
        places = outcome.citations.places(
            {result.key for result in run.results if result.verdict is not Verdict.OK}
            | set(unchecked))
        offline, outside = in_change(outcome.findings, selection, config, rules)
        findings = offline.plus(apply_policy(
            [*online_findings(run.results, places, standing),
             *unchecked_findings(unchecked, places)],
            severities=severity_overrides(config.report.severities), ignore=config.ignore,
            ignored_lines=outcome.ignored_lines))
        report = Report(command="check", notes_scanned=outcome.notes_scanned,
                        links=outcome.links, link_count=outcome.link_count,
                        findings=findings,
                        results=tuple(sorted(run.results, key=lambda r: r.key)),
                        fail_on=fail_level(config.report.fail_on), started_at=started,
                        finished_at=time.time(), interrupted=interrupted,
                        failing=frozenset(key for key, seen in standing.items()
                                          if not seen.confirmed),
                        dead_after=(store.rule.failures_needed, store.rule.min_days),
                        outside_change=outside,
                        slowed_down=tuple(sorted(run.slowed_down.items())))
        code = exit_code(report)
        partial = bool(options.paths) or options.gate.active
        store.set_citations(run_id, outcome.citations.rows(),
                            scope=selection.paths if partial else None)
        store.record_findings(run_id, findings)
        store.finish_run(run_id, exit_code=code, counts=run.counts(standing),
                         status="interrupted" if interrupted else "finished")
        report = replace(report, history=tuple(store.runs(limit=HISTORY_RUNS)))
        changes = None
        if options.changes_only and not interrupted:
            changes = store.changes(run_id)
        if config.store.keep:  # after the comparison, which reads the previous run
            store.prune(older_than=started - config.store.keep)
    judged = len(run.results)
    if changes is None:
        return CheckOutcome(report, code, len(targets), judged)
    if not changes:
        empty = replace(report, links=(), findings=(), results=())
        return CheckOutcome(empty, ExitCode.OK, len(targets), judged, nothing_changed=True)
    report = only_changes(report, changes)
    return CheckOutcome(report, exit_code(report), len(targets), judged)


def new_keys(selection: Selection, config: Config, rules: RuleSet) -> set[str] | None:
    """Check keys the changed notes cite and did not cite at the base revision.

    None when this is not a gate run (every key counts). With ``--files-from`` there is no
    base, so every key of the listed notes is new.
    """
    if selection.touched is None:
        return None
    level = config.cleaning.level
    found: set[str] = set()
    for item in iter_cleaned(selection.touched, config, rules):
        if isinstance(item, Finding):
            continue
        note, links = item
        found |= {link.check_key for link in links}
    if selection.base is not None:
        for note in base_notes(selection.touched, selection.base, config):
            found -= {link.check_key for link in clean_links(note.links, rules, level)}
    return found


async def _check(run: CheckRun, config: Config, targets: list[tuple[str, str]],
                 progress: CheckProgress | None,
                 transport: httpx.AsyncBaseTransport | None) -> None:
    async with make_client(config.network, transport=transport) as client:
        checker = Checker(client, config.network)
        try:
            await run.run(checker, targets, None if progress is None else progress.checked)
        finally:
            run.slowed_down = checker.slowed_down


def check_urls(urls: Iterable[str], config: Config | None = None, *,
               transport: httpx.AsyncBaseTransport | None = None) -> list[CheckResult]:
    """Check URLs as they are, once each, with no notes and no history: one result per URL.

    Each URL is its own check key; results come in the order of ``urls`` (duplicates once).
    ``config`` defaults to the built-in settings.
    """
    config = config or Config()
    targets = list(dict.fromkeys(urls))
    run = CheckRun(config, None, None, max_age=None)

    async def go() -> None:
        async with make_client(config.network, transport=transport) as client:
            await run.run(Checker(client, config.network), [(url, url) for url in targets])

    asyncio.run(go())
    by_key = {result.key: result for result in run.results}
    return [by_key[url] for url in targets]


def check_targets(citations: Citations, only: Collection[str] | None = None
                  ) -> list[tuple[str, str]]:
    """One ``(check key, URL)`` per distinct http(s) source, optionally limited to ``only``."""
    return sorted((key, url) for key, url in citations.urls.items()
                  if key.startswith(("http://", "https://"))
                  and (only is None or key in only))


class CheckRun:
    """One run of network checks against the history store.

    Results are recorded as they arrive, a batch at a time (one transaction per batch, see
    ``Store.batch``), so Ctrl-C keeps what was checked. Failures that could mean "this
    machine has no network" (DNS, connect) are held back until the end: when every URL
    failed that way, nothing is recorded and nothing is called dead.
    """

    def __init__(self, config: Config, store: Store | None, run_id: int | None, *,
                 max_age: float | None, confirm_now: Collection[str] | bool = False) -> None:
        self.config, self.store, self.run_id = config, store, run_id
        self.max_age = max_age
        self.confirm_now = confirm_now
        self.results: list[CheckResult] = []
        self._held: list[CheckResult] = []
        self.slowed_down: dict[str, int] = {}  # per host, 429s (or 503 + Retry-After)

    def reuse_cached(self, targets: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Take fresh successes from the store; return the targets still to request."""
        if self.store is None or self.max_age is None:
            return list(targets)
        remaining = []
        found = self.store.cached_many([key for key, _url in targets], self.max_age)
        for key, url in targets:
            cached = found.get(key)
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
        batch = None if self.store is None or self.run_id is None \
            else self.store.batch(self.run_id)
        try:
            async for result in checker.results(targets):
                self.results.append(result)
                if result.status is None and result.reason in NO_NETWORK_REASONS:
                    self._held.append(result)
                elif batch is not None:
                    batch.add(result)
                if on_result is not None:
                    on_result(result)
        finally:  # Ctrl-C too: what was checked is recorded
            if batch is not None:
                batch.flush()

    def settle(self) -> bool:
        """Record held-back failures unless the network was down; True when it was."""
        down = network_unavailable(self.results)
        if not down and self.store is not None and self.run_id is not None:
            self.store.record_many(self.run_id, self._held)
        self._held = []
        return down

    def standing(self) -> dict[str, Standing]:
        """For each dead URL: confirmed dead, or failing k of N (the store's dead rule)."""
        standing: dict[str, Standing] = {}
        for result in self.results:
            if not failed(result) or self.store is None:
                continue
            if self.confirm_now is True or (self.confirm_now and result.key in self.confirm_now):
                standing[result.key] = Standing(confirmed=True)
                continue
            seen = self.store.confirm(result.key)
            standing[result.key] = standing_of(seen, self.store.rule.min_days)
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
                     column=1, url=change.url, message=change.detail)
             for change in changes.recovered]
    return replace(report, findings=tuple(kept))
