"""Where the command line's output goes: the console, and reports rendered to it or a file."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TextIO

from linkaudit.atomic import replace_file, replacing
from linkaudit.config import Config
from linkaudit.errors import LinkauditError
from linkaudit.models import Report
from linkaudit.report import REPORTERS, write
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

    Every format is written as its items are read, never whole in memory; a file is
    written beside ``output`` and replaces it only once complete (``atomic.replacing``).
    """
    fmt = config.report.format
    color = (output is None and fmt == "text" and console.stdout.isatty()
             and "NO_COLOR" not in os.environ)
    blank = nothing_to_report and fmt in BLANK_WHEN_EMPTY
    if output is None:
        if not blank:
            write(report, fmt, console.stdout, color=color)
        return
    try:
        with replacing(output) as raw:
            # A file name that is not UTF-8 reaches the text as lone surrogates; they are
            # written as ``\\udcXX`` escapes (valid UTF-8, a valid JSON escape), not a failure.
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                                    newline="")
            if not blank:
                write(report, fmt, text, color=color)
            text.flush()
            text.detach()  # ``replacing`` closes the file once it is safely on disk
    except OSError as exc:
        raise _cannot_write(output, exc) from None


def write_output(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole or not at all (a full disk leaves the old file).

    Lone surrogates (file names that are not UTF-8) are written as ``\\udcXX`` escapes.
    """
    try:
        replace_file(path, text.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: OSError) -> LinkauditError:
    return LinkauditError(f"cannot write {path}: {exc.strerror or exc}; nothing was written")
