"""GitHub Actions workflow commands: each finding becomes an annotation on its line.

Values are escaped as the Actions runner expects (``toolkit/command.ts``); without that a
``%`` or newline in a message, or a ``,`` or ``:`` in a path, would cut the command short.
CR and LF travel as those escapes (the runner decodes them exactly); other control
characters and undecodable bytes of names and URLs are backslash-escaped first
(``linkaudit.textsafe``): a CI log shows them, it never receives them raw.
"""

from __future__ import annotations

from typing import TextIO

from linkaudit.models import Finding, Report, Severity
from linkaudit.report.common import display_path, finding_sort_key, message_with_url
from linkaudit.report.stream import Streamed
from linkaudit.spill import in_order
from linkaudit.textsafe import backslash_escaped, without_commands

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command property value (file, title...): data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _shown(text: str) -> str:
    """CR and LF kept for the runner's escapes; other controls, undecodable bytes and
    anything a runner could read as a command escaped."""
    return without_commands(backslash_escaped(text, keep="\r\n"))


def _annotation(finding: Finding) -> str:
    properties = {
        "file": _shown(display_path(finding.path)),
        "line": str(finding.line),
        "col": str(finding.column),
        "title": f"linkaudit {finding.kind}",
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    message = escape_data(_shown(message_with_url(finding)))
    return f"::{_COMMANDS[finding.severity]} {joined}::{message}"


class GithubReporter(Streamed):
    name = "github"
    lists_links = False

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        for finding in in_order(report.findings, finding_sort_key):
            if finding.suppressed is None:
                out.write(_annotation(finding) + "\n")
