"""Plain text for terminals and logs: one block per note, one summary line at the end.

Lines start with ``path:line:col:`` so editors and terminals can jump to the place.
Control characters and undecodable bytes from notes and file names are shown as
backslash escapes (``linkaudit.textsafe``), so a name or URL can neither drive the
terminal nor start a CI workflow command.
"""

from __future__ import annotations

from typing import TextIO

from linkaudit.models import Finding, Report, Severity
from linkaudit.report.common import (
    by_note,
    count,
    display_path,
    finding_order_in_note,
    location_text,
)
from linkaudit.report.stream import LineWriter, Streamed
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


class TextReporter(Streamed):
    name = "text"
    lists_links = False

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        style = _Style(color)
        lines = LineWriter(out, without_commands)
        for path, group in by_note(report.findings, finding_order_in_note):
            lines.write(style(_BOLD, printable(path)) + "\n")
            for finding in group:
                lines.write("\n".join(_finding_lines(finding, style)) + "\n")
            lines.write("\n")
        counts = count(report)  # unsuppressed findings only
        if not any(counts.by_severity.values()):
            lines.write("no problems found\n\n")
        if counts.failing_note:
            lines.write(f"note: {counts.failing_note}\n")
        lines.write(counts.line(report.interrupted) + "\n")
        lines.close()
