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
from collections import defaultdict
from html import escape
from urllib.parse import urlsplit

from linkaudit.audit.online import STATES
from linkaudit.models import CheckResult, Finding, LinkRecord, Report, RunSummary
from linkaudit.report.common import (
    SEVERITIES_DESCENDING,
    SEVERITY_HEADINGS,
    Counts,
    count,
    display_path,
    format_time,
    note_paths,
    plural,
    sorted_findings,
    verdict_of,
)
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

_STYLE = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  padding: 1rem 2rem 3rem; max-width: 1200px; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); }
.meta, .shown, .empty { color: var(--muted); }
.banner { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem 1rem; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; padding: 0; list-style: none; }
.cards li { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .9rem; }
.cards b { display: block; font-size: 1.4rem; }
.outcome-failed { color: #c62828; font-weight: 600; }
.outcome-passed { color: #2e7d32; font-weight: 600; }
.filters { position: sticky; top: 0; background: #fff; padding: .6rem 0; display: flex;
  gap: 1rem; flex-wrap: wrap; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; cursor: pointer; user-select: none; white-space: nowrap; }
th::after { content: " \\2195"; color: #8c959f; }
th[aria-sort=ascending]::after { content: " \\2191"; color: inherit; }
th[aria-sort=descending]::after { content: " \\2193"; color: inherit; }
td.num { text-align: right; } td.url { word-break: break-all; }
.sev-error { color: #c62828; font-weight: 600; } .sev-warning { color: #9a6700; }
.sev-info { color: #0969da; } tr.suppressed td { color: var(--muted); }
.verdict-ok { color: #2e7d32; } .verdict-redirected { color: #1565c0; }
.verdict-dead, .verdict-unreachable { color: #c62828; font-weight: 600; }
.verdict-failing { color: #ef6c00; font-weight: 600; }
.verdict-blocked { color: #9a6700; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
svg .grid { stroke: #e5e7eb; } svg .axis { stroke: #57606a; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var severity = document.getElementById("severity-filter");
  var verdict = document.getElementById("verdict-filter");
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.data"));

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort")
                                          : cell.textContent.trim();
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a.localeCompare(b);
  }
  function sortBy(table, header) {
    var index = header.cellIndex;
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var order = compare(cellValue(r1, index), cellValue(r2, index));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function matches(row, attribute, value) {
    if (!value || !row.hasAttribute(attribute)) { return true; }
    return row.getAttribute(attribute).split(" ").indexOf(value) >= 0;
  }
  function applyFilters() {
    var text = filter.value.toLowerCase();
    tables.forEach(function (table) {
      var rows = table.tBodies[0].rows, shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        var visible = row.textContent.toLowerCase().indexOf(text) >= 0 &&
          matches(row, "data-severity", severity.value) &&
          matches(row, "data-verdict", verdict.value);
        row.hidden = !visible;
        if (visible) { shown++; }
      }
      document.getElementById(table.id + "-shown").textContent =
        shown + " of " + rows.length + " shown";
    });
  }
  tables.forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, th);
        }
      });
    });
  });
  var wanted = new URLSearchParams(location.hash.slice(1));
  filter.value = wanted.get("filter") || "";
  severity.value = wanted.get("severity") || "";
  verdict.value = wanted.get("verdict") || "";
  [filter, severity, verdict].forEach(function (control) {
    control.addEventListener("input", applyFilters);
  });
  applyFilters();
  document.body.setAttribute("data-ready", "true");
})();
"""


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


def _table(table_id: str, title: str, header: list[str], rows: list[str], empty: str) -> str:
    heading = f"<h2>{_e(title)}</h2>"
    if not rows:
        return f'<section id="{table_id}-section">{heading}<p class="empty">{_e(empty)}</p>' \
               "</section>"
    head = "".join(f'<th scope="col">{_e(name)}</th>' for name in header)
    return (
        f'<section id="{table_id}-section">{heading}'
        f'<p class="shown" id="{table_id}-shown"></p>'
        f'<table class="data" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n" + "\n".join(rows) + "\n</tbody></table></section>"
    )


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


def _note_rows(report: Report) -> list[str]:
    """One row per note: its language, its link count and its unsuppressed findings."""
    links: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in report.links:
        links[display_path(link.path)].append(link)
    findings: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        if finding.suppressed is None:
            findings[display_path(finding.path)].append(finding)
    rows = []
    for path in note_paths(report):
        lang = next((link.lang for link in links[path] if link.lang), "") or ""
        per_severity = [sum(f.severity == s for f in findings[path])
                        for s in SEVERITIES_DESCENDING]
        present = " ".join(str(s) for s, n in zip(SEVERITIES_DESCENDING, per_severity,
                                                   strict=True) if n)
        rows.append(
            f'<tr data-severity="{present}">' + _cell(_e(path)) + _cell(_e(lang))
            + _cell(str(len(links[path])), css="num")
            + "".join(_cell(str(n), css="num") for n in per_severity) + "</tr>"
        )
    return rows


def _result_row(result: CheckResult, verdict: str, citations: list[LinkRecord]) -> str:
    detail = _e(result.detail)
    if result.final_url and result.final_url != result.url:
        detail += f" → {_url(result.final_url)}"
    places = "".join(f"<li>{_e(display_path(link.path))}:{link.line}</li>"
                     for link in citations)
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


def _result_rows(report: Report) -> list[str]:
    citations: dict[str, list[LinkRecord]] = defaultdict(list)
    for link in sorted(report.links, key=lambda link: (display_path(link.path), link.line)):
        citations[link.check_key].append(link)
    return [_result_row(result, verdict_of(report, result), citations[result.key])
            for result in sorted(report.results, key=lambda result: result.key)]


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


class HtmlReporter:
    name = "html"
    lists_links = True

    def render(self, report: Report, *, color: bool = False) -> str:
        return without_commands(self._page(report), char_reference)

    def _page(self, report: Report) -> str:
        counts = count(report)
        findings = _table(
            "findings", f"Findings ({len(report.findings)})",
            ["note", "line", "col", "severity", "kind", "message", "URL"],
            [_finding_row(finding) for finding in sorted_findings(report.findings)],
            "No problems found.")
        notes = _table("notes", "Notes", ["note", "lang", "links", *SEVERITY_HEADINGS.values()],
                       _note_rows(report), "No notes with links.")
        urls = _table("urls", f"URLs ({len(report.results)})",
                      ["URL", "verdict", "status", "detail", "citations", "last checked"],
                      _result_rows(report), "No URLs were checked in this run.")
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            "<title>linkaudit report</title>",
            f"<style>{_STYLE}</style></head>",
            "<body>",
            _header(report),
            _summary(report, counts),
            '<section id="health"><h2>Link health over recorded runs</h2>',
            _chart(report.history),
            "</section>",
            _filters(),
            findings,
            notes,
            urls,
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ])
