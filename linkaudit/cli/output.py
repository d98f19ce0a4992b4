"""Where the command line's output goes: the console, and reports rendered to it or a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from linkaudit.atomic import replace_file
from linkaudit.config import Config
from linkaudit.errors import LinkauditError
from linkaudit.models import Report
from linkaudit.report import REPORTERS, render
from linkaudit.textsafe import backslash_escaped, without_commands


def _safe(message: str) -> str:
    """A message for the terminal or a CI log, on one line: names in it cannot drive either."""
    return without_commands(backslash_escaped(message))


class Console:
    """Standard output and error; tests pass their own streams.

    Messages on stderr go through ``textsafe``: a file name or URL holding ESC or a
    newline cannot drive the terminal or start a CI workflow command.
    """

    def __init__(self, stdout: TextIO, stderr: TextIO, *, quiet: bool = False,
                 verbose: bool = False) -> None:
        self.stdout, self.stderr, self.quiet, self.verbose = stdout, stderr, quiet, verbose

    def error(self, message: str) -> None:
        print(f"linkaudit: error: {_safe(message)}", file=self.stderr)

    def info(self, message: str) -> None:
        if self.verbose:
            print(f"linkaudit: {_safe(message)}", file=self.stderr)

    def note(self, message: str) -> None:
        """A line a user should see unless they asked for quiet."""
        if not self.quiet:
            print(_safe(message), file=self.stderr)


def lists_links(config: Config) -> bool:
    """Whether the configured format shows every link (else a count is enough)."""
    return REPORTERS[config.report.format].lists_links


# Formats whose document with nothing to report is no text at all: cron mails nothing.
BLANK_WHEN_EMPTY = frozenset({"text", "markdown", "github"})


def emit(report: Report, config: Config, output: Path | None, console: Console, *,
         nothing_to_report: bool = False) -> None:
    """Render the report in the configured format to ``output`` or standard output.

    With ``nothing_to_report`` the output is the format's empty document: no text for
    text, Markdown and GitHub annotations, a valid document with no entries for JSON,
    SARIF, JUnit and HTML. ``output`` is rewritten either way, so last night's file never
    stays in place.
    """
    fmt = config.report.format
    color = (output is None and fmt == "text" and console.stdout.isatty()
             and "NO_COLOR" not in os.environ)
    blank = nothing_to_report and fmt in BLANK_WHEN_EMPTY
    text = "" if blank else render(report, fmt, color=color)
    if output is None:
        console.stdout.write(text)
        return
    write_output(output, text)


def write_output(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole or not at all (a full disk leaves the old file).

    A file name that is not UTF-8 reaches the text as lone surrogates; they are written as
    ``\\udcXX`` escapes (valid UTF-8, and a valid JSON escape) instead of failing the run.
    """
    try:
        replace_file(path, text.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        raise LinkauditError(f"cannot write {path}: {exc.strerror or exc}; "
                             "nothing was written") from None
