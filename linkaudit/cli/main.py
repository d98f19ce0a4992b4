"""The command line's entry: parse arguments, load config, run one command, exit code.

Only ``linkaudit.cli`` prints or decides exit codes (see ``errors.ExitCode``); the work is
``linkaudit.run``'s. The commands that need the store or the network live in
``cli.online``, imported only when one of them runs.
"""

from __future__ import annotations

import argparse
import contextlib
import stat
import sys
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage message
        return int(exit_.code or 0)
    args.arguments = tuple(sys.argv[1:] if argv is None else argv)  # recorded with a run
    console.quiet = getattr(args, "quiet", False)
    console.verbose = getattr(args, "verbose", False) and not console.quiet
    output = getattr(args, "output", None)
    before = _file_state(output)
    code = _run(args, console, transport)
    if code == ExitCode.RUNTIME and before is not None and _file_state(output) == before:
        # A CI step that publishes it must not present an earlier run's output as this one's.
        console.error(f"{output} was not written: it still holds an earlier run's output")
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


def _file_state(path: Path | None) -> tuple[int, int, int, int] | None:
    """What tells a regular file apart from itself rewritten (replaced or written in place,
    whatever the clock's granularity); None for no file or anything else."""
    try:
        found = path.stat() if path is not None else None
    except OSError:
        return None
    if found is None or not stat.S_ISREG(found.st_mode):
        return None
    return found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size


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
