"""The command line's arguments: the parser, and what the flags mean for config and runs.

Flags that stand for config keys become dotted overrides (flags win over everything
else); the rest become the frozen option values ``linkaudit.run`` takes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from linkaudit import __version__
from linkaudit.errors import UsageError
from linkaudit.models import Report
from linkaudit.report import REPORTERS
from linkaudit.run import gate
from linkaudit.run.gate import GateOptions

FORMATS = tuple(REPORTERS)
FIX_FORMATS = ("text", "json")  # a unified diff, or the plan as JSON
FIX_ACTIONS = ("tracking", "redirects", "duplicates", "archive")


def _common(parser: argparse.ArgumentParser, *, report: bool = True) -> None:
    """Options every command takes; ``report``: those of commands that render a Report."""
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="configuration file (default: the nearest linkaudit.yaml, "
                             ".linkaudit.yaml or pyproject.toml [tool.linkaudit], up to the "
                             "repository root)")
    if report:
        parser.add_argument("--format", choices=FORMATS, help="output format (default: text)")
        parser.add_argument("--fail-on", choices=("error", "warning", "info", "never"),
                            help="lowest severity that fails the run (default: error)")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="write the output to FILE instead of standard output (always "
                             "rewritten, empty but valid when there is nothing to report)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or notes")
    parser.add_argument("--verbose", "-v", action="store_true", help="say more on stderr")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an internal error")


def _scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="notes or folders (default: scan.roots from the config)")
    parser.add_argument("--level", choices=("safe", "aggressive"),
                        help="tracking-removal level (default: safe)")
    parser.add_argument("--no-bare-urls", action="store_true",
                        help="ignore bare URLs in running text")
    parser.add_argument("--include-ignored", action="store_const", const=False,
                        dest="gitignore", help="also scan files git ignores")


def _gate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--changed-since", metavar="REF",
                        help="only notes changed since git REF (and their translations)")
    parser.add_argument("--files-from", metavar="FILE",
                        help="only the notes listed in FILE ('-' for standard input)")


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

    fix = commands.add_parser(
        "fix", help="rewrite links in place (dry run: a diff)",
        epilog="Exit codes: 0 done (a dry run, even with edits pending), 1 edits pending "
               "under --check, 2 usage or config error, 3 a file could not be written.")
    _scan_options(fix)
    _common(fix, report=False)
    fix.add_argument("--format", choices=FIX_FORMATS, dest="fix_format", default="text",
                     help="text: a unified diff; json: the plan (file, line, column, old, "
                          "new, reason) and what was left alone")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="apply the edits to the files")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 when edits are pending, and show them")
    fix.add_argument("--online", action="store_true",
                     help="check the links over the network first (else use the store's "
                          "verdicts)")
    for action in FIX_ACTIONS:
        fix.add_argument(f"--no-{action}", action="store_true",
                         help=f"do not apply the {action} action")

    init = commands.add_parser("init", help="write a minimal commented linkaudit.yaml here "
                                            "(never overwrites) and say what to git-ignore")
    init.add_argument("--debug", action="store_true",
                      help="show the traceback of an internal error")
    return parser


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags that stand for config keys, as dotted overrides."""
    table = {"format": "report.format", "fail_on": "report.fail_on",
             "level": "cleaning.level", "gitignore": "scan.gitignore"}
    overrides = {key: getattr(args, name) for name, key in table.items()
                 if getattr(args, name, None) is not None}
    if getattr(args, "no_bare_urls", False):
        overrides["scan.bare_urls"] = False
    if getattr(args, "max_age", None) is not None:
        overrides["cache.max_age"] = args.max_age
    for action in FIX_ACTIONS:
        if getattr(args, f"no_{action}", False):
            overrides[f"fix.{action}"] = False
    return overrides


def gate_options(args: argparse.Namespace) -> GateOptions:
    """``--changed-since`` or ``--files-from`` (the list read here, '-' from stdin)."""
    if args.files_from is None:
        return GateOptions(changed_since=args.changed_since)
    if args.files_from == "-":
        return GateOptions(changed_since=args.changed_since,
                           files=tuple(gate.read_file_list(sys.stdin)))
    try:
        with open(args.files_from, encoding="utf-8") as listing:
            files = tuple(gate.read_file_list(listing))
    except OSError as exc:
        raise UsageError(f"--files-from {args.files_from}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--files-from {args.files_from}: not UTF-8 text") from None
    return GateOptions(changed_since=args.changed_since, files=files)


@functools.lru_cache(maxsize=1)
def _recorded_runs_parser() -> argparse.ArgumentParser:
    """One parser for reading back every recorded run (building one takes ~3 ms)."""
    return build_parser()


def partial_run(arguments: Sequence[str]) -> bool:
    """Whether a recorded command line looked at some notes only: a gate
    (``--changed-since``), a file list (``--files-from``) or paths given. The store keeps
    the command line, not the scope, so the scope is read back from it with this parser;
    a line it cannot parse (an older version's) counts as a full run."""
    parser = _recorded_runs_parser()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args, _ = parser.parse_known_args(list(arguments))
    except SystemExit:
        return False
    return bool(getattr(args, "changed_since", None) or getattr(args, "files_from", None)
                or getattr(args, "paths", None))


def with_partial_runs(report: Report) -> Report:
    """The report with each recorded run of its history marked full or partial."""
    return dataclasses.replace(report, history=tuple(
        dataclasses.replace(run, partial=partial_run(run.arguments)) for run in report.history))
