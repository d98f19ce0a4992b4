"""The commands that use the history store or the network: check, report and fix.

Kept apart from ``cli`` so that ``linkaudit scan`` starts without importing them; argument
parsing, config and output are ``cli``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from linkaudit.audit.findings import (
    apply_policy,
    online_findings,
    severity_overrides,
    state_findings,
    unchecked_findings,
)
from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.clean.strip import clean_url
from linkaudit.cli.main import Console, emit, exit_code, lists_links, note_paths, selection
from linkaudit.config import Config
from linkaudit.errors import ExitCode, NetworkUnavailable, StoreError, UsageError, WriteError
from linkaudit.fix.archive import Snapshots, find_snapshots, snapshot_requests
from linkaudit.fix.plan import plan_edits
from linkaudit.fix.rewrite import apply_edits, summarize, unified_diff, write_file
from linkaudit.history.store import DAY, Store
from linkaudit.models import CheckResult, CleanedLink, Edit, Finding, Note, Report, Verdict
from linkaudit.report.common import plural
from linkaudit.run.check import CheckRun, check_targets, only_changes
from linkaudit.run.scan import fail_level, iter_cleaned, load_rule_set, scan_tree

HISTORY_RUNS = 60  # recorded runs shown in the health chart


def _open_store(config: Config, *, readonly: bool = False) -> Store:
    return Store.open(config.resolve(config.store.path), lock_timeout=config.store.lock_timeout,
                      readonly=readonly)


class Progress:
    """``checked 120/500 (35/s), 3 failing`` on a terminal; nothing anywhere else."""

    def __init__(self, total: int, console: Console) -> None:
        self.total, self.done, self.failing = total, 0, 0
        self.console = console
        self.enabled = total > 0 and not console.quiet and console.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, result: CheckResult) -> None:
        self.done += 1
        if result.verdict in (Verdict.DEAD, Verdict.UNREACHABLE):
            self.failing += 1
        if self.enabled:
            rate = self.done / max(time.monotonic() - self.started, 1e-6)
            self.console.stderr.write(f"\rchecked {self.done}/{self.total} ({rate:.0f}/s), "
                                      f"{self.failing} failing ")
            self.console.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.console.stderr.write("\n")


def cmd_check(args: argparse.Namespace, config: Config, console: Console,
              transport: httpx.AsyncBaseTransport | None = None) -> ExitCode:
    started = time.time()
    rules = load_rule_set(config)
    paths, new_keys = selection(args, config, rules, new_keys_wanted=True)
    outcome = scan_tree(paths, config, rules, keep_links=lists_links(config),
                        keep_citations=True)
    targets = check_targets(outcome.citations, new_keys)
    with _open_store(config) as store:
        run_id = store.begin_run("check", sys.argv[1:])
        max_age = None if args.no_cache else float(config.cache.max_age)
        if args.offline:
            max_age = math.inf
        confirm_now: bool | set[str] = True if args.confirm_now else (new_keys or False)
        run = CheckRun(config, store, run_id, max_age=max_age, confirm_now=confirm_now)
        remaining = run.reuse_cached(targets)
        if args.offline:
            remaining = run.stored_only(remaining)
        progress = Progress(len(remaining), console)
        console.info(f"{len(targets)} distinct URLs, {len(targets) - len(remaining)} "
                     f"from the store, {len(remaining)} to request")
        interrupted = False
        try:
            if remaining and not args.offline:
                asyncio.run(_check(run, config, remaining, progress, transport))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
        down = run.settle()
        if down and not interrupted:
            store.finish_run(run_id, exit_code=ExitCode.RUNTIME, counts={}, status="finished")
            raise NetworkUnavailable(
                f"network unavailable: none of {len(remaining)} URLs could be resolved, "
                "connected to or reached over TLS (check this machine's network, proxy and "
                "CA certificates); nothing was recorded and no link is called dead")
        standing = run.standing()
        unchecked = [key for key, _url in remaining] if args.offline else []
        findings = [*outcome.findings, *apply_policy(
            [*online_findings(run.results, outcome.citations.places, standing),
             *unchecked_findings(unchecked, outcome.citations.places)],
            severities=severity_overrides(config.report.severities), ignore=config.ignore,
            ignored_lines=outcome.ignored_lines)]
        report = Report(command="check", notes_scanned=outcome.notes_scanned,
                        links=tuple(outcome.links), link_count=outcome.link_count,
                        findings=tuple(findings),
                        results=tuple(sorted(run.results, key=lambda r: r.key)),
                        fail_on=fail_level(config.report.fail_on), started_at=started,
                        finished_at=time.time(), interrupted=interrupted)
        code = exit_code(report)
        store.set_citations(run_id, ((key, outcome.citations.urls[key], place.path, place.line)
                                     for key, places in outcome.citations.places.items()
                                     for place in places))
        store.record_findings(run_id, findings)
        store.finish_run(run_id, exit_code=code, counts=run.counts(standing),
                         status="interrupted" if interrupted else "finished")
        report = dataclasses.replace(report, history=tuple(store.runs(limit=HISTORY_RUNS)))
        changes = None
        if args.changes_only and not interrupted:
            changes = store.changes(run_id, failures_needed=config.dead_after.failures,
                                    min_days=config.dead_after.days / DAY)
        if config.store.keep:  # after the comparison, which reads the previous run
            store.prune(older_than=started - config.store.keep)
    if changes is not None:
        if not changes:
            return ExitCode.OK
        report = only_changes(report, changes)
        code = exit_code(report)
    emit(report, config, args, console)
    if interrupted:
        console.error(f"interrupted: {len(run.results)} of {len(targets)} URLs checked; "
                      "the report is partial")
    return code


async def _check(run: CheckRun, config: Config, targets: list[tuple[str, str]],
                 progress: Progress, transport: httpx.AsyncBaseTransport | None) -> None:
    async with make_client(config.network, transport=transport) as client:
        await run.run(Checker(client, config.network), targets, progress)


def cmd_report(args: argparse.Namespace, config: Config, console: Console) -> ExitCode:
    with _open_store(config, readonly=True) as store:
        since = _since(args.since, store)
        states = store.latest_states(since, failures_needed=config.dead_after.failures,
                                     min_days=config.dead_after.days / DAY)
        report = Report(command="report", notes_scanned=len({c.path for s in states
                                                             for c in s.citations}),
                        links=(), findings=tuple(state_findings(states)),
                        fail_on=fail_level(config.report.fail_on),
                        history=tuple(store.runs(limit=HISTORY_RUNS)))
    emit(report, config, args, console)
    return exit_code(report)


def _since(value: str | None, store: Store) -> float | None:
    if value is None:
        return None
    if value == "last-run":
        last = store.last_run()
        return None if last is None else last.started_at
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").replace(
            tzinfo=datetime.UTC).timestamp()
    except ValueError:
        raise UsageError(f"--since {value!r}: expected YYYY-MM-DD or last-run") from None


def cmd_fix(args: argparse.Namespace, config: Config, console: Console,
            transport: httpx.AsyncBaseTransport | None = None) -> ExitCode:
    rules = load_rule_set(config)
    items = [item for item in iter_cleaned(note_paths(args, config), config, rules)
             if not isinstance(item, Finding)]
    if args.check:
        cmd_check(argparse.Namespace(**{**vars(args), "changed_since": None, "files_from": None,
                                        "no_cache": False, "confirm_now": False,
                                        "changes_only": False, "offline": False,
                                        "format": "text", "output": Path(os.devnull)}),
                  config, Console(console.stdout, console.stderr, quiet=True), transport)
    results, dead = stored_verdicts(config, items)
    archived: Mapping[str, str] = {}
    missing: Mapping[str, str] = {}
    if config.fix.archive and dead:
        snapshots = asyncio.run(_snapshots(config, items, dead, transport))
        archived, missing = snapshots.found, snapshots.missing
    level = config.cleaning.level
    plan = plan_edits(items, options=config.fix, results=results, dead=dead,
                      archived=archived, archive_missing=missing,
                      clean=lambda url: clean_url(url, rules, level).url)
    by_file: dict[Path, list[Edit]] = defaultdict(list)
    for edit in plan.edits:
        by_file[edit.path].append(edit)
    texts = {note.path: note.text for note, _links in items}
    failures = 0
    for path, edits in sorted(by_file.items()):
        new_text = apply_edits(path, texts[path], edits)
        if not args.write:
            console.stdout.write(unified_diff(path, texts[path], new_text))
            continue
        try:
            outcome = write_file(path, texts[path], new_text)
        except WriteError as exc:
            failures += 1
            console.error(str(exc))
            continue
        if not outcome.written:
            console.error(outcome.message)
    for skipped in plan.skipped:
        console.info(f"{skipped.path}:{skipped.line}:{skipped.column}: {skipped.message}")
    summary = summarize(plan.edits)
    if not console.quiet:
        kinds = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.by_reason.items()))
        verb = "applied" if args.write else "planned (dry run; --write applies them)"
        print(f"linkaudit fix: {plural(summary.total, 'edit')} in "
              f"{plural(len(summary.by_file), 'file')} "
              f"{verb}{': ' + kinds if kinds else ''}; {len(plan.skipped)} skipped",
              file=console.stderr)
    return ExitCode.RUNTIME if failures else ExitCode.OK


def stored_verdicts(config: Config, items: Sequence[tuple[Note, Sequence[CleanedLink]]]
                    ) -> tuple[dict[str, CheckResult], set[str]]:
    """What the history store says of the cited URLs: last successes (redirects among
    them), and the keys confirmed dead."""
    keys = {link.check_key for _note, links in items for link in links}
    try:
        store = _open_store(config, readonly=True)
    except StoreError:
        return {}, set()
    with store:
        results: dict[str, CheckResult] = {}
        dead: set[str] = set()
        for key in keys:
            success = store.cached(key, math.inf)
            if success is not None:
                results[key] = success
            if store.confirm(key, config.dead_after.failures,
                             config.dead_after.days / DAY).state == "dead":
                dead.add(key)
    return results, dead


async def _snapshots(config: Config, items: Sequence[tuple[Note, Sequence[CleanedLink]]],
                     dead: set[str], transport: httpx.AsyncBaseTransport | None) -> Snapshots:
    async with make_client(config.network, transport=transport) as client:
        return await find_snapshots(client, config.archive.endpoint,
                                    snapshot_requests(items, dead))
