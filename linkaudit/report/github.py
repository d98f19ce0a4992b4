"""GitHub Actions workflow commands: each finding becomes an annotation on its line.

Values are escaped as the Actions runner expects (``toolkit/command.ts``); without that a
``%`` or newline in a message, or a ``,`` or ``:`` in a path, would cut the command short.
"""

from __future__ import annotations

from linkaudit.models import Finding, Report, Severity
from linkaudit.report.common import display_path, message_with_url, sorted_findings

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command property value (file, title...): data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(finding: Finding) -> str:
    properties = {
        "file": display_path(finding.path),
        "line": str(finding.line),
        "col": str(finding.column),
        "title": f"linkaudit {finding.kind}",
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    message = escape_data(message_with_url(finding))
    return f"::{_COMMANDS[finding.severity]} {joined}::{message}"


class GithubReporter:
    name = "github"
    lists_links = False

    def render(self, report: Report, *, color: bool = False) -> str:
        return "".join(
            _annotation(finding) + "\n"
            for finding in sorted_findings(report.findings)
            if finding.suppressed is None
        )
