"""GitHub-flavoured Markdown for an issue, an e-mail or ``$GITHUB_STEP_SUMMARY``.

Text from notes is escaped so that a message or URL can neither break the table nor
inject HTML; control characters and undecodable bytes of names are backslash-escaped
(``linkaudit.textsafe``); long tables fold into ``<details>`` so the summary stays
readable.
"""

from __future__ import annotations

import re

from linkaudit.models import Finding, Report
from linkaudit.report.common import (
    SEVERITIES_DESCENDING,
    SEVERITY_HEADINGS,
    Counts,
    count,
    location_text,
    plural,
    sorted_findings,
)
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


def _table(header: list[str], rows: list[list[str]], what: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if len(rows) > COLLAPSE_AFTER:
        return [f"<details><summary>{what}</summary>", "", *lines, "", "</details>"]
    return lines


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


class MarkdownReporter:
    name = "markdown"
    lists_links = False

    def render(self, report: Report, *, color: bool = False) -> str:
        counts = count(report)
        lines = ["# linkaudit report", "", _outcome(report, counts), "",
                 *_summary_table(counts), *_verdict_line(counts)]
        if counts.outside_change:
            lines += ["", f"{counts.outside_text().capitalize()}."]
        if report.interrupted:
            lines += ["", "> **Interrupted:** partial results."]
        findings = sorted_findings(report.findings)
        active = [finding for finding in findings if finding.suppressed is None]
        for severity in SEVERITIES_DESCENDING:
            rows = [[_location(f), _cell(f.kind), _cell(f.message), _url(f)]
                    for f in active if f.severity == severity]
            if rows:
                title = f"{SEVERITY_HEADINGS[severity].capitalize()} ({len(rows)})"
                lines += ["", f"## {title}", "",
                          *_table(["location", "kind", "message", "URL"], rows, title)]
        if not active:
            lines += ["", "No problems found."]
        suppressed = [[_location(f), _cell(f.kind), _cell(f.suppressed or ""),
                       _cell(f.message), _url(f)] for f in findings if f.suppressed is not None]
        if suppressed:
            title = f"Suppressed ({len(suppressed)})"
            lines += ["", f"## {title}", "",
                      *_table(["location", "kind", "reason", "message", "URL"], suppressed,
                              title)]
        return without_commands("\n".join(lines) + "\n")
