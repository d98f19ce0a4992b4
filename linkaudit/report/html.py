"""One self-contained HTML page: summary, sortable and filterable tables, health chart.

Nothing is fetched (inline CSS and JS, inline SVG, and a Content-Security-Policy that
forbids any request), so the file can be mailed or archived as is. Every piece of text
from notes is HTML-escaped and only http(s) URLs become links; the script reads data from
the DOM only, so no note text ever lands inside JavaScript. Control characters (line
breaks and tabs aside, which HTML shows as spaces) and a file name's undecodable bytes are
shown as backslash escapes, and percent-encoded in a link's address; no line of the page
can start a CI workflow command (``linkaudit.textsafe``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from html import escape
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from linkaudit.audit.online import STATES
from linkaudit.models import CheckResult, Finding, LinkRecord, Report, RunSummary, Severity
from linkaudit.report.common import (
    SEVERITIES_DESCENDING,
    SEVERITY_HEADINGS,
    Counts,
    count,
    display_path,
    finding_sort_key,
    format_time,
    plural,
    verdict_of,
)
from linkaudit.report.html_assets import SCRIPT, STYLE
from linkaudit.report.stream import LineWriter, Streamed, regrouped
from linkaudit.spill import in_order
from linkaudit.textsafe import backslash_escaped, char_reference, percent_escaped, without_commands

_SERIES = (  # (RunSummary field, legend label, colour), stacked bottom to top
    ("ok", "ok", "#2e7d32"),
    ("redirected", "redirected", "#1565c0"),
    ("failing", "failing", "#ef6c00"),
    ("dead", "dead", "#c62828"),
)
_CHART_WIDTH, _CHART_HEIGHT = 820, 300
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 40, 64
_PLOT_HEIGHT = _CHART_HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM
_PLOT_BOTTOM = _MARGIN_TOP + _PLOT_HEIGHT
_MAX_X_LABELS = 12
_UNFINISHED_OPACITY = 0.45  # bars of interrupted or still-running runs are drawn pale

def _e(text: object) -> str:
    return escape(backslash_escaped(str(text), keep="\t\r\n"), quote=True)


def _url(url: str) -> str:
    """A URL as a link when it is http(s), as plain text otherwise (no javascript:)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme in ("http", "https"):
        href = escape(percent_escaped(url), quote=True)
        return f'<a href="{href}" rel="noopener noreferrer nofollow">{_e(url)}</a>'
    return _e(url)


def _cell(content: str, *, sort: object = None, css: str = "") -> str:
    attributes = f' class="{css}"' if css else ""
    if sort is not None:
        attributes += f' data-sort="{_e(sort)}"'
    return f"<td{attributes}>{content}</td>"


def _table(out: LineWriter, table_id: str, title: str, header: list[str],
           rows: Iterable[str], empty: str | None) -> None:
    """A section with a sortable table of ``rows``, or the ``empty`` text if not None."""
    heading = f"<h2>{_e(title)}</h2>"
    if empty is not None:
        out.write(f'<section id="{table_id}-section">{heading}<p class="empty">{_e(empty)}'
                  "</p></section>\n")
        return
    head = "".join(f'<th scope="col">{_e(name)}</th>' for name in header)
    out.write(f'<section id="{table_id}-section">{heading}'
              f'<p class="shown" id="{table_id}-shown"></p>'
              f'<table class="data" id="{table_id}"><thead><tr>{head}</tr></thead>'
              "<tbody>\n")
    for row in rows:
        out.write(row + "\n")
    out.write("</tbody></table></section>\n")


def _finding_row(finding: Finding) -> str:
    severity = str(finding.severity)
    label = _e(severity)
    state = severity
    if finding.suppressed is not None:
        label += f" (suppressed: {_e(finding.suppressed)})"
        state = "suppressed"
    url = "" if finding.url is None else _url(finding.url)
    if finding.clean_url is not None and finding.url is not None \
            and finding.clean_url != finding.url:
        url += f" → {_url(finding.clean_url)}"
    related = "".join(f"<br>also cited at {_e(display_path(place.path))}:{place.line}"
                      for place in finding.related)
    css = ' class="suppressed"' if finding.suppressed is not None else ""
    return (
        f'<tr data-severity="{state}"{css}>'
        + _cell(_e(display_path(finding.path)))
        + _cell(str(finding.line), css="num")
        + _cell(str(finding.column), css="num")
        + _cell(label, sort=int(finding.severity), css=f"sev-{severity}")
        + _cell(_e(finding.kind))
        + _cell(_e(finding.message) + related)
        + _cell(url, css="url")
        + "</tr>"
    )


class _Notes:
    """Each note's language, link count and unsuppressed findings by severity, gathered
    as the links and findings go by: one row per note, never the items themselves."""

    def __init__(self, links: Iterable[LinkRecord]) -> None:
        self._notes: dict[str, tuple[list[str | int], Counter[Severity]]] = {}
        for link in links:
            note, _ = self._note(link.path)
            note[0] = note[0] or link.lang or ""
            note[1] += 1  # type: ignore[operator]

    def _note(self, path: Path) -> tuple[list[str | int], Counter[Severity]]:
        shown = display_path(path)
        if shown not in self._notes:
            self._notes[shown] = (["", 0], Counter())
        return self._notes[shown]

    def finding_rows(self, findings: Iterable[Finding]) -> Iterator[str]:
        """Each finding's row, counting it for its note on the way."""
        for finding in findings:
            _, severities = self._note(finding.path)
            if finding.suppressed is None:
                severities[finding.severity] += 1
            yield _finding_row(finding)

    def __len__(self) -> int:
        return len(self._notes)

    def rows(self) -> Iterator[str]:
        for path in sorted(self._notes):
            (lang, links), severities = self._notes[path]
            per_severity = [severities[s] for s in SEVERITIES_DESCENDING]
            present = " ".join(str(s) for s in SEVERITIES_DESCENDING if severities[s])
            yield (f'<tr data-severity="{present}">' + _cell(_e(path)) + _cell(_e(lang))
                   + _cell(str(links), css="num")
                   + "".join(_cell(str(n), css="num") for n in per_severity) + "</tr>")


def _result_row(result: CheckResult, verdict: str, citations: list[tuple[str, int]]) -> str:
    detail = _e(result.detail)
    if result.final_url and result.final_url != result.url:
        detail += f" → {_url(result.final_url)}"
    places = "".join(f"<li>{_e(path)}:{line}</li>" for path, line in citations)
    cited = f"<details><summary>{len(citations)}</summary><ul>{places}</ul></details>" \
        if citations else "0"
    checked = _e(format_time(result.checked_at)) + (" (cached)" if result.from_cache else "")
    return (
        f'<tr data-verdict="{verdict}">' + _cell(_url(result.url), css="url")
        + _cell(_e(verdict), css=f"verdict-{verdict}")
        + _cell("" if result.status is None else str(result.status), css="num")
        + _cell(detail) + _cell(cited, sort=len(citations), css="num")
        + _cell(checked, sort=result.checked_at) + "</tr>"
    )


def _result_rows(report: Report) -> Iterator[str]:
    results = sorted(report.results, key=lambda result: result.key)
    for result, citations in zip(results, _citations(report, results), strict=True):
        yield _result_row(result, verdict_of(report, result), citations)


def _citations(report: Report, results: list[CheckResult]) -> Iterator[list[tuple[str, int]]]:
    """For each result (sorted by key), the places citing its URL, by path and line: the
    links' places regrouped by URL on disk, and read one URL at a time."""
    keys = {result.key for result in results}
    places = regrouped(report.links, ((link.check_key, display_path(link.path), link.line)
                                      for link in report.links if link.check_key in keys),
                       itemgetter(0))
    groups = groupby(in_order(places, itemgetter(0, 1, 2)), key=itemgetter(0))
    key, group = next(groups, (None, iter(())))
    last: tuple[str | None, list[tuple[str, int]]] = (None, [])
    for result in results:
        if result.key != last[0]:
            while key is not None and key < result.key:
                key, group = next(groups, (None, iter(())))
            last = result.key, [(path, line) for _, path, line in group] \
                if key == result.key else []
        yield last[1]


def _nice_step(largest: int) -> int:
    """A round tick step (1, 2 or 5 times a power of ten) giving about four ticks."""
    raw = max(largest / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(int(m * magnitude) for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _run_label(run: RunSummary, previous: RunSummary | None) -> str:
    """``MM-DD``; a later run of the same day shows its time (``HH:MM``) instead."""
    when = format_time(run.started_at)
    if not when:
        return f"#{run.run_id}"
    same_day = previous is not None and format_time(previous.started_at)[:10] == when[:10]
    return when[11:16] if same_day else when[5:10]


def _bars(history: tuple[RunSummary, ...], top: int) -> list[str]:
    """One stacked bar per run, each segment with a tooltip; dates under some bars."""
    plot_width = _CHART_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    slot = plot_width / len(history)
    label_every = math.ceil(len(history) / _MAX_X_LABELS)
    parts = []
    for position, run in enumerate(history):
        x = _MARGIN_LEFT + position * slot + slot * 0.15
        y = float(_PLOT_BOTTOM)
        run_name = f"run {run.run_id} ({format_time(run.started_at) or 'time unknown'})"
        faded = ""
        if run.status != "finished":
            run_name += f", {run.status}"
            faded = f' opacity="{_UNFINISHED_OPACITY}"'
        parts.append(f'<g class="run"{faded}>')
        for field, label, colour in _SERIES:
            value = getattr(run, field)
            height = value / top * _PLOT_HEIGHT
            y -= height
            parts.append(f'<rect class="bar-{field}" x="{x:.1f}" y="{y:.1f}" '
                         f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{colour}">'
                         f"<title>{_e(run_name)}: {value} {label}</title></rect>")
        parts.append("</g>")
        if position % label_every == 0:
            labelled = history[position - label_every] if position else None
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{_PLOT_BOTTOM + 18}" '
                         f'text-anchor="middle">{_e(_run_label(run, labelled))}</text>')
    return parts


def _axes(top: int, step: int) -> list[str]:
    """Grid lines with tick values, and both axes with their labels."""
    right = _CHART_WIDTH - _MARGIN_RIGHT
    parts = []
    for tick in range(0, top + 1, step):
        y = _PLOT_BOTTOM - tick / top * _PLOT_HEIGHT
        parts.append(f'<line class="grid" x1="{_MARGIN_LEFT}" x2="{right}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text x="{_MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{tick}</text>')
    parts += [
        f'<line class="axis" x1="{_MARGIN_LEFT}" x2="{right}" y1="{_PLOT_BOTTOM}" '
        f'y2="{_PLOT_BOTTOM}"/>',
        f'<line class="axis" x1="{_MARGIN_LEFT}" x2="{_MARGIN_LEFT}" y1="{_MARGIN_TOP}" '
        f'y2="{_PLOT_BOTTOM}"/>',
        f'<text x="{(_MARGIN_LEFT + right) / 2:.1f}" y="{_CHART_HEIGHT - 12}" '
        'text-anchor="middle">recorded run (start date or time, UTC)</text>',
        f'<text transform="translate(16 {_MARGIN_TOP + _PLOT_HEIGHT / 2:.1f}) rotate(-90)" '
        'text-anchor="middle">links</text>',
    ]
    return parts


def _legend(history: tuple[RunSummary, ...]) -> list[str]:
    """A swatch per series; a note on pale bars when some run did not finish."""
    entries = [(field, label, colour, "") for field, label, colour in _SERIES]
    if any(run.status != "finished" for run in history):
        entries.append(("unfinished", "unfinished run", "#57606a",
                        f' opacity="{_UNFINISHED_OPACITY}"'))
    return [
        f'<g class="legend-{field}"{faded}><rect x="{_MARGIN_LEFT + index * 110}" y="12" '
        f'width="12" height="12" fill="{colour}"/></g><text x="{_MARGIN_LEFT + index * 110 + 18}"'
        f' y="22">{label}</text>'
        for index, (field, label, colour, faded) in enumerate(entries)
    ]


def _chart(history: tuple[RunSummary, ...]) -> str:
    """Stacked bars of link health per full run, as inline SVG; partial runs listed below.

    A partial run (a gate, a file list, chosen paths) counts only the links it looked at:
    drawn beside a full run it would look like a collapse of health, so it is not drawn.
    """
    if not history:
        return '<p class="empty" id="no-history">no recorded runs yet</p>'
    full = tuple(run for run in history if not run.partial)
    partial = _partial_runs([run for run in history if run.partial])
    if not full:
        return '<p class="empty" id="no-history">no full runs recorded yet</p>' + partial
    largest = max(sum(getattr(run, field) for field, _, _ in _SERIES) for run in full)
    step = _nice_step(largest)
    top = max(step * math.ceil(largest / step), step)
    return "\n".join([
        f'<svg id="health-chart" role="img" aria-labelledby="chart-title" '
        f'viewBox="0 0 {_CHART_WIDTH} {_CHART_HEIGHT}" width="100%" '
        f'style="max-width:{_CHART_WIDTH}px" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Link health per full run</title>',
        *_axes(top, step),
        *_bars(full, top),
        *_legend(full),
        "</svg>",
    ]) + partial


def _partial_runs(runs: list[RunSummary]) -> str:
    """The partial runs as a folded list: when, what they looked at, what they found."""
    if not runs:
        return ""
    items = "".join(
        f"<li>run {run.run_id} ({_e(format_time(run.started_at) or 'time unknown')}"
        f"{'' if run.status == 'finished' else ', ' + _e(run.status)}): "
        f"{_e(' '.join(run.arguments) or run.command)}: "
        + _e(", ".join(f"{getattr(run, field)} {label}" for field, label, _ in _SERIES
                       if getattr(run, field)) or "no links checked")
        + "</li>" for run in runs)
    return (f'<details id="partial-runs"><summary>{plural(len(runs), "partial run")} not '
            "drawn: a gate, a file list or chosen paths counts only the links it looked "
            f"at</summary><ul>{items}</ul></details>")


def _summary(report: Report, counts: Counts) -> str:
    cards = [("notes", counts.notes), ("links", counts.links),
             *((SEVERITY_HEADINGS[s], n) for s, n in counts.by_severity.items()),
             ("suppressed", counts.suppressed), ("URLs checked", counts.checked)]
    items = "".join(f"<li><b>{n}</b>{_e(name)}</li>" for name, n in cards)
    if report.fail_on is None:
        outcome = '<p class="outcome-none">Reported only: no severity fails this run.</p>'
    elif counts.failed:
        outcome = f'<p class="outcome-failed">Failed: findings at or above {report.fail_on}.</p>'
    else:
        outcome = f'<p class="outcome-passed">Passed: nothing at or above {report.fail_on}.</p>'
    verdicts = f"<p>Checked {plural(counts.checked, 'URL')}: {_e(counts.verdicts())}.</p>" \
        if counts.checked else ""
    if counts.failing_note:
        verdicts += f'<p class="banner" id="failing-note">{_e(counts.failing_note)}.</p>'
    return f'<section id="summary">{outcome}<ul class="cards">{items}</ul>{verdicts}</section>'


def _filters() -> str:
    severities = "".join(f'<option value="{s}">{s}</option>' for s in SEVERITIES_DESCENDING)
    verdicts = "".join(f'<option value="{v}">{v}</option>' for v in STATES)
    return (
        '<section class="filters" aria-label="filters">'
        '<label>Filter <input id="filter" type="search" placeholder="text in any column">'
        "</label>"
        '<label>Severity <select id="severity-filter"><option value="">all</option>'
        f'{severities}<option value="suppressed">suppressed</option></select></label>'
        '<label>Verdict <select id="verdict-filter"><option value="">all</option>'
        f"{verdicts}</select></label></section>"
    )


def _header(report: Report) -> str:
    meta = [f"command: {_e(report.command)}"]
    if report.started_at:
        meta.append(f"started {_e(format_time(report.started_at))}")
    if report.finished_at:
        meta.append(f"finished {_e(format_time(report.finished_at))}")
    banner = '<p class="banner" id="interrupted">Interrupted: partial results.</p>' \
        if report.interrupted else ""
    return f'<header><h1>linkaudit report</h1><p class="meta">{" · ".join(meta)}</p>' \
           f"{banner}</header>"


class HtmlReporter(Streamed):
    name = "html"
    lists_links = True

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        """The page part by part; each table's rows are written as they are made, from the
        findings and links read from disk (counts and note rows gathered on the way)."""
        page = LineWriter(out, lambda text: without_commands(text, char_reference))
        page.write("\n".join([
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            "<title>linkaudit report</title>",
            f"<style>{STYLE}</style></head>",
            "<body>",
            _header(report),
            _summary(report, count(report)),
            '<section id="health"><h2>Link health over recorded runs</h2>',
            _chart(report.history),
            "</section>",
            _filters(),
            "",
        ]))
        notes = _Notes(report.links)
        _table(page, "findings", f"Findings ({len(report.findings)})",
               ["note", "line", "col", "severity", "kind", "message", "URL"],
               notes.finding_rows(in_order(report.findings, finding_sort_key)),
               None if report.findings else "No problems found.")
        _table(page, "notes", "Notes", ["note", "lang", "links", *SEVERITY_HEADINGS.values()],
               notes.rows(), None if notes else "No notes with links.")
        _table(page, "urls", f"URLs ({len(report.results)})",
               ["URL", "verdict", "status", "detail", "citations", "last checked"],
               _result_rows(report),
               None if report.results else "No URLs were checked in this run.")
        page.write(f"<script>{SCRIPT}</script>\n</body></html>\n")
        page.close()
