"""Plain text for terminals and logs: one block per note, one summary line at the end.

Lines start with ``path:line:col:`` so editors and terminals can jump to the place.
Control characters and undecodable bytes from notes and file names are shown as
backslash escapes (``linkaudit.textsafe``), so a name or URL can neither drive the
terminal nor start a CI workflow command.
"""

from __future__ import annotations

from itertools import groupby

from linkaudit.models import Finding, Report, Severity
from linkaudit.report.common import count, display_path, location_text, sorted_findings
from linkaudit.textsafe import backslash_escaped as printable
from linkaudit.textsafe import without_commands

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_SEVERITY_COLOURS = {
    Severity.ERROR: "\x1b[31m",
    Severity.WARNING: "\x1b[33m",
    Severity.INFO: "\x1b[36m",
}

class _Style:
    """Wraps text in ANSI codes only when colour was asked for."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


def _finding_lines(finding: Finding, style: _Style) -> list[str]:
    where = printable(location_text(finding))
    label = style(_SEVERITY_COLOURS[finding.severity], f"{finding.severity} {finding.kind}")
    if finding.suppressed is not None:
        label = style(_DIM, f"{finding.severity} {finding.kind} "
                            f"(suppressed: {printable(finding.suppressed)})")
    lines = [f"  {where}: {label}: {printable(finding.message)}"]
    if finding.url is not None:
        url = printable(finding.url)
        if finding.clean_url is not None and finding.clean_url != finding.url:
            url += f" → {printable(finding.clean_url)}"
        lines.append(f"      {url}")
    lines += [
        f"      also cited at {printable(display_path(place.path))}:{place.line}"
        for place in finding.related
    ]
    return lines


class TextReporter:
    name = "text"
    lists_links = False

    def render(self, report: Report, *, color: bool = False) -> str:
        style = _Style(color)
        lines: list[str] = []
        findings = sorted_findings(report.findings)
        for path, group in groupby(findings, key=lambda finding: display_path(finding.path)):
            lines.append(style(_BOLD, printable(path)))
            for finding in group:
                lines += _finding_lines(finding, style)
            lines.append("")
        if all(finding.suppressed is not None for finding in findings):
            lines += ["no problems found", ""]
        counts = count(report)
        if counts.failing_note:
            lines.append(f"note: {counts.failing_note}")
        lines.append(counts.line(report.interrupted))
        return without_commands("\n".join(lines) + "\n")
