"""JUnit XML for CI test dashboards: each note is a test case that fails on its findings.

Only findings at or above ``fail_on`` are ``<failure>`` elements; lower ones are listed
in the case's ``<system-out>`` so they are visible without turning the build red, and
suppressed findings are left out. A finding about a URL cited by several notes (a dead
source cited by every translation) is listed in each of those notes' cases, at the place
that note cites it: a dashboard shows one row per note, and a note whose citation is dead
is broken whichever translation happened to be reported first.

Characters XML cannot carry become U+FFFD; other control characters (line breaks and
tabs aside) and a file name's undecodable bytes are backslash escapes, and no line of the
file can start a CI workflow command (``linkaudit.textsafe``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from linkaudit.models import Finding, Location, Report
from linkaudit.report.common import (
    display_path,
    is_failing,
    location_text,
    note_paths,
    sorted_findings,
)
from linkaudit.textsafe import backslash_escaped, char_reference, without_commands

# Characters XML 1.0 cannot carry at all, even escaped (lone surrogates aside: those are
# a file name's undecodable bytes, shown as backslash escapes).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text XML can carry: what it cannot is U+FFFD, other controls (line breaks and tabs
    aside) and undecodable bytes are backslash escapes."""
    return backslash_escaped(_NOT_XML.sub("\ufffd", text), keep="\t\r\n")


def _describe(finding: Finding, place: Location | None) -> str:
    where = location_text(finding) if place is None \
        else f"{display_path(place.path)}:{place.line}:{place.column}"
    lines = [f"{_xml_text(where)}: {finding.severity} {finding.kind}: "
             f"{_xml_text(finding.message)}"]
    if place is not None:
        lines.append(f"    (cited here too; reported once, at "
                     f"{_xml_text(location_text(finding))})")
    if finding.url is not None:
        lines.append(f"    {_xml_text(finding.url)}")
    return "\n".join(lines)


def _by_note(findings: list[Finding]) -> dict[str, list[tuple[Finding, Location | None]]]:
    """Each note's findings: its own (place None) and those citing it among the related."""
    by_path: dict[str, list[tuple[Finding, Location | None]]] = defaultdict(list)
    for finding in findings:
        own = display_path(finding.path)
        by_path[own].append((finding, None))
        seen = {own}
        for place in finding.related:
            path = display_path(place.path)
            if path not in seen:
                seen.add(path)
                by_path[path].append((finding, place))
    for entries in by_path.values():
        entries.sort(key=lambda entry: _line_column(*entry))
    return by_path


def _line_column(finding: Finding, place: Location | None) -> tuple[int, int, str]:
    where = finding if place is None else place
    return where.line, where.column, finding.kind


class JunitReporter:
    name = "junit"
    lists_links = True

    def render(self, report: Report, *, color: bool = False) -> str:
        active = [f for f in sorted_findings(report.findings) if f.suppressed is None]
        by_path = _by_note(active)
        suite = ET.Element("testsuite", name="linkaudit")
        failed_cases = 0
        for path in sorted({*note_paths(report), *by_path}):
            case = ET.SubElement(suite, "testcase", classname="linkaudit",
                                 name=_xml_text(path))
            entries = by_path.get(path, [])
            failing = [(f, place) for f, place in entries if is_failing(f, report.fail_on)]
            for finding, place in failing:
                where = finding if place is None else place
                failure = ET.SubElement(case, "failure", type=_xml_text(finding.kind),
                                        message=_xml_text(f"{where.line}:{where.column}: "
                                                          f"{finding.message}"))
                failure.text = _describe(finding, place)
            others = [_describe(f, place) for f, place in entries
                      if not is_failing(f, report.fail_on)]
            if others:
                ET.SubElement(case, "system-out").text = "\n".join(others)
            failed_cases += bool(failing)
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failed_cases))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        ET.indent(suite)
        body = ET.tostring(suite, encoding="unicode")
        body = without_commands(body, char_reference)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
