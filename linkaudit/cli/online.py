"""``linkaudit check``, ``report`` and ``fix``: the commands that use the store or network.

Loaded only when one of them runs, so that ``linkaudit scan`` starts without httpx,
asyncio or sqlite3.
"""

from __future__ import annotations

import argparse
import time

import httpx

from linkaudit.cli.args import gate_options, with_partial_runs
from linkaudit.cli.fix_output import left_alone_lines, render_plan, summary_line
from linkaudit.cli.output import Console, emit, lists_links, write_output
from linkaudit.config import Config
from linkaudit.errors import ExitCode
from linkaudit.models import CheckResult, Verdict
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
        arguments=args.arguments)
    outcome = run_check(config, options, transport=transport, progress=Progress(console))
    emit(with_partial_runs(outcome.report), config, args.output, console,
         nothing_to_report=outcome.nothing_changed)
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
    """Dry run (a diff, exit 0), --check (exit 1 with edits pending) or --write."""
    options = FixOptions(paths=tuple(args.paths), online=args.online,
                         arguments=args.arguments)
    plan = plan_fix(config, options, transport=transport)
    mode = "write" if args.write else "check" if args.check else "dry-run"
    failures: tuple[str, ...] = ()
    if args.write:
        outcome = apply_fix(plan)
        for message in (*outcome.failures, *outcome.unchanged):
            console.error(message)
        failures = outcome.failures
    text = render_plan(plan, args.fix_format, applied=args.write)
    if args.output is not None:
        write_output(args.output, text)
    elif args.fix_format == "json" or not args.write:
        console.stdout.write(text)
    for line in left_alone_lines(plan):
        console.note(line)
    if plan.without_verdicts is not None:
        console.note("linkaudit fix: redirects and dead links are left as they are: "
                     f"{plan.without_verdicts} (`linkaudit fix --online` checks, then fixes)")
    console.note(summary_line(plan, mode))
    if failures:
        return ExitCode.RUNTIME
    return ExitCode.FINDINGS if args.check and plan.edits else ExitCode.OK
