"""``linkaudit check``, ``report`` and ``fix``: the commands that use the store or network.

Loaded only when one of them runs, so that ``linkaudit scan`` starts without httpx,
asyncio or sqlite3.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx

from linkaudit.cli.args import gate_options, with_partial_runs
from linkaudit.cli.output import Console, emit, lists_links
from linkaudit.config import Config
from linkaudit.errors import ExitCode
from linkaudit.fix.rewrite import summarize
from linkaudit.models import CheckResult, Verdict
from linkaudit.report.common import plural
from linkaudit.run.check import CheckOptions, run_check
from linkaudit.run.fix import FixOptions, apply_fix, plan_fix
from linkaudit.run.report import ReportOptions, history_report
from linkaudit.run.scan import exit_code


class Progress:
    """``checked 120/500 (35/s), 3 failing`` on a terminal; nothing anywhere else."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = self.done = self.failing = 0
        self.enabled = False
        self.started_at = time.monotonic()

    def started(self, targets: int, cached: int, to_request: int) -> None:
        self.console.info(f"{targets} distinct URLs, {cached} from the store, "
                          f"{to_request} to request")
        self.total = to_request
        self.enabled = to_request > 0 and not self.console.quiet and self.console.stderr.isatty()
        self.started_at = time.monotonic()

    def checked(self, result: CheckResult) -> None:
        self.done += 1
        if result.verdict in (Verdict.DEAD, Verdict.UNREACHABLE):
            self.failing += 1
        if self.enabled:
            rate = self.done / max(time.monotonic() - self.started_at, 1e-6)
            self.console.stderr.write(f"\rchecked {self.done}/{self.total} ({rate:.0f}/s), "
                                      f"{self.failing} failing ")
            self.console.stderr.flush()

    def finished(self) -> None:
        if self.enabled:
            self.console.stderr.write("\n")


def cmd_check(args: argparse.Namespace, config: Config, console: Console,
              transport: httpx.AsyncBaseTransport | None = None) -> ExitCode:
    options = CheckOptions(
        paths=tuple(args.paths), gate=gate_options(args), keep_links=lists_links(config),
        use_cache=not args.no_cache, confirm_now=args.confirm_now,
        changes_only=args.changes_only, offline=args.offline,
        arguments=tuple(sys.argv[1:]))
    outcome = run_check(config, options, transport=transport, progress=Progress(console))
    if outcome.nothing_changed:
        return outcome.exit_code
    emit(with_partial_runs(outcome.report), config, args.output, console)
    if outcome.report.interrupted:
        console.error(f"interrupted: {outcome.judged} of {outcome.targets} URLs checked; "
                      "the report is partial")
    return outcome.exit_code


def cmd_report(args: argparse.Namespace, config: Config, console: Console) -> ExitCode:
    report = history_report(config, ReportOptions(since=args.since))
    emit(with_partial_runs(report), config, args.output, console)
    return exit_code(report)


def cmd_fix(args: argparse.Namespace, config: Config, console: Console,
            transport: httpx.AsyncBaseTransport | None = None) -> ExitCode:
    plan = plan_fix(config, FixOptions(paths=tuple(args.paths), online=args.check),
                    transport=transport)
    failures = 0
    if args.write:
        outcome = apply_fix(plan)
        for message in (*outcome.failures, *outcome.unchanged):
            console.error(message)
        failures = len(outcome.failures)
    else:
        for change in plan.files:
            console.stdout.write(change.diff())
    for skipped in plan.skipped:
        console.info(f"{skipped.path}:{skipped.line}:{skipped.column}: {skipped.message}")
    summary = summarize(plan.edits)
    kinds = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.by_reason.items()))
    verb = "applied" if args.write else "planned (dry run; --write applies them)"
    console.note(f"linkaudit fix: {plural(summary.total, 'edit')} in "
                 f"{plural(len(summary.by_file), 'file')} "
                 f"{verb}{': ' + kinds if kinds else ''}; {len(plan.skipped)} skipped")
    return ExitCode.RUNTIME if failures else ExitCode.OK
