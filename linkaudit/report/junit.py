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
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import TextIO

from linkaudit.models import Finding, Location, Report
from linkaudit.report.common import display_path, finding_sort_key, is_failing, location_text
from linkaudit.report.stream import LineWriter, Streamed, regrouped
from linkaudit.spill import in_order
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


# An entry of a note's case, rendered: the place in the note (path, line, column), the
# kind, the finding's own sort key, whether it fails, its message and its description.
_Entry = tuple[str, int, int, str, tuple[str, int, int, str], bool, str, str]


def _entries(report: Report, paths: set[str], failed: set[str]) -> Iterator[_Entry]:
    """Each unsuppressed finding as an entry of its own note and of every other note
    citing its URL (at that note's place), rendered: read back sorted by place then by
    the finding's own order, the entries are each case's in the order it lists them.

    On the way, every note with a case goes into ``paths`` and every note with a failure
    into ``failed``: the suite's counts, known before the first case is written.
    """
    paths.update(display_path(link.path) for link in report.links)
    for finding in report.findings:
        own = display_path(finding.path)
        paths.add(own)
        if finding.suppressed is not None:
            continue
        order = finding_sort_key(finding)
        failing = is_failing(finding, report.fail_on)
        yield (own, finding.line, finding.column, finding.kind, order, failing,
               finding.message, _describe(finding, None))
        seen = {own}
        for place in finding.related:
            path = display_path(place.path)
            if path not in seen:
                seen.add(path)
                yield (path, place.line, place.column, finding.kind, order, failing,
                       finding.message, _describe(finding, place))
        paths.update(seen)
        if failing:
            failed.update(seen)


def _case(path: str, entries: Iterable[_Entry]) -> ET.Element:
    case = ET.Element("testcase", classname="linkaudit", name=_xml_text(path))
    others = []
    for _path, line, column, kind, _order, failing, message, description in entries:
        if not failing:
            others.append(description)
            continue
        failure = ET.SubElement(case, "failure", type=_xml_text(kind),
                                message=_xml_text(f"{line}:{column}: {message}"))
        failure.text = description
    if others:
        ET.SubElement(case, "system-out").text = "\n".join(others)
    ET.indent(case, level=1)
    return case


class JunitReporter(Streamed):
    name = "junit"
    lists_links = True

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        """One pass over the findings counts the cases and the failed ones (the suite's
        attributes) and spills each note's entries; the cases are written from those."""
        paths: set[str] = set()
        failed: set[str] = set()
        entries = regrouped(report.findings, _entries(report, paths, failed),
                            itemgetter(0))
        suite = ET.Element("testsuite", name="linkaudit", tests=str(len(paths)),
                           failures=str(len(failed)), errors="0", skipped="0")
        text = LineWriter(out, lambda body: without_commands(body, char_reference))
        text.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        empty = ET.tostring(suite, encoding="unicode")
        if not paths:
            text.write(empty + "\n")
            text.close()
            return
        text.write(empty.removesuffix(" />") + ">")
        grouped = groupby(in_order(entries, itemgetter(0, 1, 2, 3, 4)), key=itemgetter(0))
        own = next(grouped, None)
        for path in sorted(paths):
            if own is not None and own[0] == path:
                case = _case(path, own[1])
                own = next(grouped, None)
            else:
                case = _case(path, ())
            text.write("\n  " + ET.tostring(case, encoding="unicode"))
        text.write("\n</testsuite>\n")
        text.close()
