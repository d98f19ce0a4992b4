"""Command line: parse arguments, load config, call the library, render, return an exit code.

Only this module prints or decides exit codes (see ``errors.ExitCode``).
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from linkaudit import __version__, gate
from linkaudit.archive import Snapshots, find_snapshots, snapshot_requests
from linkaudit.audit import (
    apply_policy,
    online_findings,
    severity_overrides,
    state_findings,
    unchecked_findings,
)
from linkaudit.check import Checker
from linkaudit.clean import clean_url
from linkaudit.client import make_client
from linkaudit.config import Config, load_config
from linkaudit.errors import (
    ExitCode,
    LinkauditError,
    NetworkUnavailable,
    StoreError,
    UsageError,
    WriteError,
)
from linkaudit.models import CheckResult, CleanedLink, Edit, Finding, Note, Report, Verdict
from linkaudit.pipeline import (
    CheckRun,
    check_targets,
    fail_level,
    iter_cleaned,
    load_rule_set,
    only_changes,
    scan_tree,
)
from linkaudit.plan import plan_edits
from linkaudit.report import REPORTERS, render
from linkaudit.report.common import plural, report_failed
from linkaudit.rewrite import apply_edits, summarize, unified_diff, write_file
from linkaudit.rules import RuleSet
from linkaudit.store import DAY, Store

FORMATS = tuple(REPORTERS)
HISTORY_RUNS = 60  # recorded runs shown in the health chart


class Console:
    """Where output goes; tests pass their own streams."""

    def __init__(self, stdout: TextIO, stderr: TextIO, *, quiet: bool = False,
                 verbose: bool = False) -> None:
        self.stdout, self.stderr, self.quiet, self.verbose = stdout, stderr, quiet, verbose

    def error(self, message: str) -> None:
        print(f"linkaudit: error: {message}", file=self.stderr)

    def info(self, message: str) -> None:
        if self.verbose:
            print(f"linkaudit: {message}", file=self.stderr)


# ---------------------------------------------------------------- arguments


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="configuration file (default: nearest config.yaml)")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: text)")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="write the report to FILE instead of standard output")
    parser.add_argument("--fail-on", choices=("error", "warning", "info", "never"),
                        help="lowest severity that fails the run (default: error)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or notes")
    parser.add_argument("--verbose", "-v", action="store_true", help="say more on stderr")


def _scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="notes or folders (default: scan.roots from the config)")
    parser.add_argument("--level", choices=("safe", "aggressive"),
                        help="tracking-removal level (default: safe)")
    parser.add_argument("--no-bare-urls", action="store_true",
                        help="ignore bare URLs in running text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkaudit",
        description="Audit the links and citations of Markdown notes.",
        epilog="Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or config "
               "error, 3 runtime failure.")
    parser.add_argument("--version", action="version", version=f"linkaudit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="offline audit: tracking, duplicates, drift, "
                                            "broken references")
    _scan_options(scan)
    _gate_options(scan)
    _common(scan)

    check = commands.add_parser("check", help="scan, then check every distinct URL once")
    _scan_options(check)
    _gate_options(check)
    _common(check)
    check.add_argument("--no-cache", action="store_true",
                       help="request every URL, even if a recent success is stored")
    check.add_argument("--max-age", metavar="DURATION",
                       help="reuse stored successes younger than this (default: cache.max_age)")
    check.add_argument("--confirm-now", action="store_true",
                       help="call a failing link dead now, without waiting for "
                            "dead_after.failures checks over dead_after.days")
    check.add_argument("--changes-only", action="store_true",
                       help="print only what changed since the previous run; nothing "
                            "(exit 0) when nothing did (for cron)")
    check.add_argument("--offline", action="store_true",
                       help="make no request: use the verdicts recorded in the store")

    report = commands.add_parser("report", help="what the history store knows; checks nothing")
    _common(report)
    report.add_argument("--since", metavar="DATE|last-run",
                        help="only what happened since DATE (YYYY-MM-DD) or the last run")

    fix = commands.add_parser("fix", help="rewrite links in place (dry run: a diff)")
    _scan_options(fix)
    _common(fix)
    fix.add_argument("--write", action="store_true", help="apply the edits to the files")
    fix.add_argument("--check", action="store_true",
                     help="check the links first (else use the store's verdicts)")
    for action in ("tracking", "redirects", "duplicates", "archive"):
        fix.add_argument(f"--no-{action}", action="store_true",
                         help=f"do not apply the {action} action")
    return parser


def _gate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--changed-since", metavar="REF",
                        help="only notes changed since git REF (and their translations)")
    parser.add_argument("--files-from", metavar="FILE",
                        help="only the notes listed in FILE ('-' for standard input)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags that stand for config keys (flags win over everything else)."""
    table = {"format": "report.format", "fail_on": "report.fail_on",
             "level": "cleaning.level"}
    overrides = {key: getattr(args, name) for name, key in table.items()
                 if getattr(args, name, None) is not None}
    if getattr(args, "no_bare_urls", False):
        overrides["scan.bare_urls"] = False
    if getattr(args, "max_age", None) is not None:
        overrides["cache.max_age"] = args.max_age
    for action in ("tracking", "redirects", "duplicates", "archive"):
        if getattr(args, f"no_{action}", False):
            overrides[f"fix.{action}"] = False
    return overrides


def _paths(args: argparse.Namespace, config: Config) -> list[Path]:
    paths: list[Path] = list(args.paths) or [_relative(config.resolve(root))
                                              for root in config.scan.roots]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return paths


def _relative(path: Path) -> Path:
    """Paths under the current folder are shown relative to it, as a user would type them."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _selection(args: argparse.Namespace, config: Config, rules: RuleSet, *,
               new_keys_wanted: bool = False) -> tuple[list[Path], set[str] | None]:
    """Paths to scan and, for a gate run that asks, the check keys new in the change."""
    roots = _paths(args, config)
    if args.changed_since is None and args.files_from is None:
        return roots, None
    if args.changed_since is not None:
        changed = gate.changed_since(args.changed_since, Path.cwd())
    elif args.files_from == "-":
        changed = gate.read_file_list(sys.stdin)
    else:
        try:
            with open(args.files_from, encoding="utf-8") as listing:
                changed = gate.read_file_list(listing)
        except OSError as exc:
            raise UsageError(f"--files-from {args.files_from}: {exc.strerror}") from None
    touched, notes = gate.with_families(changed, roots, config.scan)
    if not new_keys_wanted:
        return notes, None
    new_keys: set[str] = set()
    for item in iter_cleaned(touched, config, rules):
        if isinstance(item, Finding):
            continue
        note, links = item
        before = gate.keys_at(args.changed_since, note.path, config.scan, rules,
                                  config.cleaning.level) \
            if args.changed_since is not None else None
        new_keys |= {link.check_key for link in links} - (before or set())
    return notes, new_keys


def _emit(report: Report, config: Config, args: argparse.Namespace, console: Console) -> None:
    fmt = config.report.format
    color = (args.output is None and fmt == "text" and console.stdout.isatty()
             and "NO_COLOR" not in os.environ)
    text = render(report, fmt, color=color)
    if args.output is None:
        console.stdout.write(text)
        return
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LinkauditError(f"cannot write {args.output}: {exc.strerror}") from None


def _lists_links(config: Config) -> bool:
    return REPORTERS[config.report.format].lists_links


def _exit_code(report: Report) -> ExitCode:
    if report.interrupted:
        return ExitCode.RUNTIME
    return ExitCode.FINDINGS if report_failed(report) else ExitCode.OK


# ---------------------------------------------------------------- commands


def cmd_scan(args: argparse.Namespace, config: Config, console: Console) -> ExitCode:
    started = time.time()
    rules = load_rule_set(config)
    paths, _ = _selection(args, config, rules)
    outcome = scan_tree(paths, config, rules, keep_links=_lists_links(config))
    report = Report(command="scan", notes_scanned=outcome.notes_scanned,
                    links=tuple(outcome.links), link_count=outcome.link_count,
                    findings=tuple(outcome.findings),
                    fail_on=fail_level(config.report.fail_on), started_at=started,
                    finished_at=time.time())
    _emit(report, config, args, console)
    return _exit_code(report)


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
    paths, new_keys = _selection(args, config, rules, new_keys_wanted=True)
    outcome = scan_tree(paths, config, rules, keep_links=_lists_links(config),
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
                f"network unavailable: none of {len(remaining)} URLs could be resolved or "
                "connected to; nothing was recorded and no link is called dead")
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
        code = _exit_code(report)
        store.set_citations(run_id, ((key, outcome.citations.urls[key], place.path, place.line)
                                     for key, places in outcome.citations.places.items()
                                     for place in places))
        store.record_findings(run_id, findings)
        store.finish_run(run_id, exit_code=code, counts=run.counts(standing),
                         status="interrupted" if interrupted else "finished")
        report = dataclasses.replace(report, history=tuple(store.runs(limit=HISTORY_RUNS)))
        if args.changes_only and not interrupted:
            changes = store.changes(run_id, failures_needed=config.dead_after.failures,
                                    min_days=config.dead_after.days / DAY)
            if not changes:
                return ExitCode.OK
            report = only_changes(report, changes)
            code = _exit_code(report)
    _emit(report, config, args, console)
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
    _emit(report, config, args, console)
    return _exit_code(report)


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
    items = [item for item in iter_cleaned(_paths(args, config), config, rules)
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


COMMANDS: dict[str, Callable[..., ExitCode]] = {
    "scan": cmd_scan, "check": cmd_check, "report": cmd_report, "fix": cmd_fix,
}
NETWORK_COMMANDS = ("check", "fix")


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None, transport: httpx.AsyncBaseTransport | None = None
         ) -> int:
    """Run one command; ``transport`` replaces the network (tests, cassettes)."""
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage message
        return int(exit_.code or 0)
    console.quiet, console.verbose = args.quiet, args.verbose and not args.quiet
    try:
        config = load_config(args.config, overrides=_overrides(args))
        command = COMMANDS[args.command]
        if args.command in NETWORK_COMMANDS:
            return int(command(args, config, console, transport))
        return int(command(args, config, console))
    except LinkauditError as exc:
        console.error(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        console.error("interrupted")
        return int(ExitCode.RUNTIME)
    except BrokenPipeError:  # e.g. `linkaudit scan | head`
        return int(ExitCode.OK)
