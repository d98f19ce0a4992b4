"""Where the command line's output goes: the console, and reports rendered to it or a file."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TextIO

from linkaudit.atomic import replacing
from linkaudit.config import Config
from linkaudit.errors import LinkauditError
from linkaudit.models import Report
from linkaudit.report import REPORTERS, write


class Console:
    """Standard output and error; tests pass their own streams."""

    def __init__(self, stdout: TextIO, stderr: TextIO, *, quiet: bool = False,
                 verbose: bool = False) -> None:
        self.stdout, self.stderr, self.quiet, self.verbose = stdout, stderr, quiet, verbose

    def error(self, message: str) -> None:
        print(f"linkaudit: error: {message}", file=self.stderr)

    def info(self, message: str) -> None:
        if self.verbose:
            print(f"linkaudit: {message}", file=self.stderr)

    def note(self, message: str) -> None:
        """A line a user should see unless they asked for quiet."""
        if not self.quiet:
            print(message, file=self.stderr)


def lists_links(config: Config) -> bool:
    """Whether the configured format shows every link (else a count is enough)."""
    return REPORTERS[config.report.format].lists_links


def emit(report: Report, config: Config, output: Path | None, console: Console) -> None:
    """Write the report in the configured format to ``output`` or standard output.

    Streamed formats (JSON) are written as their items are read, never whole in memory.
    """
    fmt = config.report.format
    color = (output is None and fmt == "text" and console.stdout.isatty()
             and "NO_COLOR" not in os.environ)
    if output is None:
        write(report, fmt, console.stdout, color=color)
        return
    try:
        with replacing(output) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            write(report, fmt, text, color=color)
            text.flush()
            text.detach()  # ``replacing`` closes the file once it is safely on disk
    except OSError as exc:
        raise LinkauditError(f"cannot write {output}: {exc.strerror or exc}; "
                             "nothing was written") from None

