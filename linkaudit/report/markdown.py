"""GitHub-flavoured Markdown for an issue, an e-mail or ``$GITHUB_STEP_SUMMARY``.

Text from notes is escaped so that a message or URL can neither break the table nor
inject HTML; control characters and undecodable bytes of names are backslash-escaped
(``linkaudit.textsafe``); long tables fold into ``<details>`` so the summary stays
readable.
"""

from __future__ import annotations

import re
from typing import IO, TextIO

from linkaudit.models import Finding, Report
from linkaudit.report.common import (
    SEVERITIES_DESCENDING,
    SEVERITY_HEADINGS,
    Counts,
    count,
    finding_sort_key,
    location_text,
    plural,
)
from linkaudit.report.stream import LineWriter, Streamed, copy_section, section
from linkaudit.spill import in_order
from linkaudit.textsafe import backslash_escaped, without_commands

COLLAPSE_AFTER = 10  # rows; longer tables are folded into <details>
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#~!|])")


def _one_line(text: str) -> str:
    """Line breaks as spaces; other controls and undecodable bytes as backslash escapes."""
    return backslash_escaped(" ".join(text.splitlines()))


def _cell(text: str) -> str:
    """Plain text made safe for a table cell: no HTML, no emphasis, no column break."""
    text = _MARKDOWN_SPECIALS.sub(r"\\\1", _one_line(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """A code span for a table cell, long enough a fence to hold any backticks inside."""
    text = _one_line(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _location(finding: Finding) -> str:
    return _code(location_text(finding))


def _url(finding: Finding) -> str:
    if finding.url is None:
        return ""
    if finding.clean_url is not None and finding.clean_url != finding.url:
        return f"{_code(finding.url)} → {_code(finding.clean_url)}"
    return _code(finding.url)


def _table_head(header: list[str], rows: int, what: str) -> list[str]:
    """The lines before a table's ``rows`` rows; a long table is folded (``_table_foot``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    if rows > COLLAPSE_AFTER:
        return [f"<details><summary>{what}</summary>", "", *lines]
    return lines


def _table_foot(rows: int) -> list[str]:
    return ["", "</details>"] if rows > COLLAPSE_AFTER else []


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |\n"


def _summary_table(counts: Counts) -> list[str]:
    header = ["notes", "links", *SEVERITY_HEADINGS.values(), "suppressed"]
    row = [counts.notes, counts.links, *counts.by_severity.values(), counts.suppressed]
    return ["| " + " | ".join(header) + " |", "|" + " ---: |" * len(header),
            "| " + " | ".join(str(n) for n in row) + " |"]


def _verdict_line(counts: Counts) -> list[str]:
    lines = ["", f"Checked {plural(counts.checked, 'URL')}: {counts.verdicts()}."] \
        if counts.checked else []
    if counts.failing_note:
        lines += ["", f"> **Failing:** {_cell(counts.failing_note)}."]
    return lines


def _outcome(report: Report, counts: Counts) -> str:
    if report.fail_on is None:
        return "**Result:** reported only (no severity fails this run)."
    if counts.failed:
        return f"**Result:** failed: findings at or above {report.fail_on}."
    return f"**Result:** passed: nothing at or above {report.fail_on}."


class MarkdownReporter(Streamed):
    name = "markdown"
    lists_links = False

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        """The counts come first, from the findings' tally; each table's rows are written
        to a section of their own in one pass over the findings, then copied in turn."""
        counts = count(report)
        lines = ["# linkaudit report", "", _outcome(report, counts), "",
                 *_summary_table(counts), *_verdict_line(counts)]
        if counts.outside_change:
            lines += ["", f"{counts.outside_text().capitalize()}."]
        if report.interrupted:
            lines += ["", "> **Interrupted:** partial results."]
        sections = {severity: section() for severity in SEVERITIES_DESCENDING}
        suppressed = section()
        for f in in_order(report.findings, finding_sort_key):
            if f.suppressed is None:
                sections[f.severity].write(
                    _row([_location(f), _cell(f.kind), _cell(f.message), _url(f)]))
            else:
                suppressed.write(_row([_location(f), _cell(f.kind), _cell(f.suppressed),
                                       _cell(f.message), _url(f)]))
        text = LineWriter(out, without_commands)
        for severity, rows in sections.items():
            n = counts.by_severity[severity]
            if n:
                title = f"{SEVERITY_HEADINGS[severity].capitalize()} ({n})"
                lines += ["", f"## {title}", "",
                          *_table_head(["location", "kind", "message", "URL"], n, title)]
            _write_table(text, lines, rows, _table_foot(n))
            lines = []
        if not any(counts.by_severity.values()):
            lines += ["", "No problems found."]
        if counts.suppressed:
            title = f"Suppressed ({counts.suppressed})"
            lines += ["", f"## {title}", "",
                      *_table_head(["location", "kind", "reason", "message", "URL"],
                                   counts.suppressed, title)]
        _write_table(text, lines, suppressed, _table_foot(counts.suppressed))
        text.close()


def _write_table(out: LineWriter, before: list[str], rows: IO[str], after: list[str]
                 ) -> None:
    """Lines, a section's rows, then more lines (each line ends with a newline)."""
    out.write("".join(line + "\n" for line in before))
    copy_section(rows, out)
    out.write("".join(line + "\n" for line in after))
