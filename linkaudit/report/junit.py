"""JUnit XML for CI test dashboards: each note is a test case that fails on its findings.

Only findings at or above ``fail_on`` are ``<failure>`` elements; lower ones are listed
in the case's ``<system-out>`` so they are visible without turning the build red, and
suppressed findings are left out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from linkaudit.models import Finding, Report
from linkaudit.report.common import (
    display_path,
    is_failing,
    location_text,
    note_paths,
    sorted_findings,
)

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _describe(finding: Finding) -> str:
    lines = [f"{location_text(finding)}: {finding.severity} {finding.kind}: {finding.message}"]
    if finding.url is not None:
        lines.append(f"    {finding.url}")
    return _xml_text("\n".join(lines))


class JunitReporter:
    name = "junit"
    lists_links = True

    def render(self, report: Report, *, color: bool = False) -> str:
        active = [f for f in sorted_findings(report.findings) if f.suppressed is None]
        by_path = {path: list(group) for path, group in
                   groupby(active, key=lambda finding: display_path(finding.path))}
        suite = ET.Element("testsuite", name="linkaudit")
        failed_cases = 0
        for path in note_paths(report):
            case = ET.SubElement(suite, "testcase", classname="linkaudit",
                                 name=_xml_text(path))
            failing = [f for f in by_path.get(path, []) if is_failing(f, report.fail_on)]
            for finding in failing:
                failure = ET.SubElement(case, "failure", type=_xml_text(finding.kind),
                                        message=_xml_text(f"{finding.line}:{finding.column}: "
                                                          f"{finding.message}"))
                failure.text = _describe(finding)
            others = [f for f in by_path.get(path, []) if not is_failing(f, report.fail_on)]
            if others:
                ET.SubElement(case, "system-out").text = "\n".join(map(_describe, others))
            failed_cases += bool(failing)
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failed_cases))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        ET.indent(suite)
        body = ET.tostring(suite, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
