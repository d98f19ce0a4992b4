"""The HTML page's inline style sheet and script (nothing is fetched: the page's
Content-Security-Policy forbids any request). The script reads data from the DOM only.
"""

STYLE = """
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

SCRIPT = """
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
