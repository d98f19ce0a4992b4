"""The command line's entry: parse arguments, load config, run one command, exit code.

Only ``linkaudit.cli`` prints or decides exit codes (see ``errors.ExitCode``); the work is
``linkaudit.run``'s. The commands that need the store or the network live in
``cli.online``, imported only when one of them runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from linkaudit.cli.args import build_parser, config_overrides
from linkaudit.cli.init import cmd_init
from linkaudit.cli.offline import cmd_scan
from linkaudit.cli.output import Console
from linkaudit.collector import fewer_collections
from linkaudit.config import load_config
from linkaudit.errors import ExitCode, LinkauditError

if TYPE_CHECKING:
    import httpx

NETWORK_COMMANDS = ("check", "fix")


def _command(name: str) -> Callable[..., ExitCode]:
    if name == "scan":
        return cmd_scan
    # Loaded only here: httpx, asyncio and the store would double the start of a scan,
    # which pre-commit hooks run on every commit.
    from linkaudit.cli import online
    commands: dict[str, Callable[..., ExitCode]] = {
        "check": online.cmd_check, "report": online.cmd_report, "fix": online.cmd_fix}
    return commands[name]


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None, transport: httpx.AsyncBaseTransport | None = None
         ) -> int:
    """Run one command; ``transport`` replaces the network (tests, cassettes)."""
    if stdout is None:
        _escape_undecodable(sys.stdout)
    if stderr is None:
        _escape_undecodable(sys.stderr)
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    started = time.time()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage message
        return int(exit_.code or 0)
    args.arguments = tuple(sys.argv[1:] if argv is None else argv)  # recorded with a run
    console.quiet = getattr(args, "quiet", False)
    console.verbose = getattr(args, "verbose", False) and not console.quiet
    code = _run(args, console, transport)
    if code == ExitCode.RUNTIME:
        _name_stale_output(getattr(args, "output", None), started, console)
    return code


def _run(args: argparse.Namespace, console: Console,
         transport: httpx.AsyncBaseTransport | None) -> int:
    try:
        if args.command == "init":  # reads no configuration: it writes the first one
            return int(cmd_init(args, console))
        config = load_config(args.config, overrides=config_overrides(args))
        command = _command(args.command)
        with fewer_collections():  # the process is ours: its modules are never traversed
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
    except Exception as exc:  # a bug: one line, never exit 1 ("findings") or a traceback
        if args.debug:
            traceback.print_exc(file=console.stderr)
        console.error(internal_error(exc, debug=args.debug))
        return int(ExitCode.RUNTIME)


def _name_stale_output(output: Path | None, started: float, console: Console) -> None:
    """After a failed run, say that ``--output`` still holds an earlier run's report: a CI
    step that publishes it must not present it as this run's."""
    try:
        stale = output is not None and output.is_file() and output.stat().st_mtime < started
    except OSError:
        return
    if stale:
        console.error(f"{output} was not written: it still holds an earlier run's output")


def _escape_undecodable(stream: TextIO) -> None:
    """Names that are not UTF-8 print as ``\\udcXX`` escapes, never a UnicodeEncodeError."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


def internal_error(exc: BaseException, *, debug: bool) -> str:
    """The one line an unexpected error gets on stderr."""
    detail = " ".join(str(exc).split())[:300] or "no detail"  # one line; Console escapes
    hint = "" if debug else "; run again with --debug for the traceback"
    return f"internal error ({type(exc).__name__}: {detail}); this is a bug in linkaudit{hint}"
