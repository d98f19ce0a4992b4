"""Command line: parse arguments, load config, call the library, render, return an exit code.

Only this module and ``cli_online`` (check, report, fix) print or decide exit codes (see
``errors.ExitCode``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from linkaudit import __version__
from linkaudit.clean.rules import RuleSet
from linkaudit.config import Config, load_config
from linkaudit.errors import ExitCode, LinkauditError, UsageError
from linkaudit.models import Finding, Report
from linkaudit.report import REPORTERS, render
from linkaudit.report.common import report_failed
from linkaudit.run import gate
from linkaudit.run.scan import fail_level, iter_cleaned, load_rule_set, scan_tree

if TYPE_CHECKING:
    import httpx

FORMATS = tuple(REPORTERS)


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
    parser.add_argument("--include-ignored", action="store_const", const=False,
                        dest="gitignore", help="also scan files git ignores")


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
             "level": "cleaning.level", "gitignore": "scan.gitignore"}
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


def note_paths(args: argparse.Namespace, config: Config) -> list[Path]:
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


def selection(args: argparse.Namespace, config: Config, rules: RuleSet, *,
              new_keys_wanted: bool = False) -> tuple[list[Path], set[str] | None]:
    """Paths to scan and, for a gate run that asks, the check keys new in the change."""
    roots = note_paths(args, config)
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


def emit(report: Report, config: Config, args: argparse.Namespace, console: Console) -> None:
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


def lists_links(config: Config) -> bool:
    return REPORTERS[config.report.format].lists_links


def exit_code(report: Report) -> ExitCode:
    if report.interrupted:
        return ExitCode.RUNTIME
    return ExitCode.FINDINGS if report_failed(report) else ExitCode.OK


# ---------------------------------------------------------------- commands


def cmd_scan(args: argparse.Namespace, config: Config, console: Console) -> ExitCode:
    started = time.time()
    rules = load_rule_set(config)
    paths, _ = selection(args, config, rules)
    outcome = scan_tree(paths, config, rules, keep_links=lists_links(config))
    report = Report(command="scan", notes_scanned=outcome.notes_scanned,
                    links=tuple(outcome.links), link_count=outcome.link_count,
                    findings=tuple(outcome.findings),
                    fail_on=fail_level(config.report.fail_on), started_at=started,
                    finished_at=time.time())
    emit(report, config, args, console)
    return exit_code(report)


def _command(name: str) -> Callable[..., ExitCode]:
    if name == "scan":
        return cmd_scan
    # Loaded only here: httpx, asyncio and the store would double the start of a scan,
    # which pre-commit hooks run on every commit.
    from linkaudit.cli import online as cli_online
    commands: dict[str, Callable[..., ExitCode]] = {
        "check": cli_online.cmd_check, "report": cli_online.cmd_report,
        "fix": cli_online.cmd_fix}
    return commands[name]


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
        command = _command(args.command)
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
