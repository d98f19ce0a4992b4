"""SARIF 2.1.0 for code-scanning services (GitHub code scanning and the like).

Locations are relative to ``%SRCROOT%`` so the upload matches files in the checkout;
columns count Unicode code points (``columnKind``), as linkaudit does, not UTF-16 units.
Suppressed findings stay in the log with a ``suppressions`` entry, as SARIF intends.
A file name's bytes are percent-encoded in its URI exactly (undecodable ones included);
message text shows control characters and such bytes as backslash escapes
(``linkaudit.textsafe``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote

from linkaudit import __version__
from linkaudit.audit.findings import KINDS
from linkaudit.models import Finding, Location, Report, Severity
from linkaudit.report.common import display_path, finding_sort_key, message_with_url
from linkaudit.report.stream import LineWriter, Streamed
from linkaudit.spill import in_order
from linkaudit.textsafe import backslash_escaped, json_escaped

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/linkaudit-md/linkaudit"
SOURCE_ROOT = "%SRCROOT%"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _artifact(place: Location | Finding) -> dict[str, Any]:
    """Relative paths as percent-encoded URIs under %SRCROOT%, absolute ones as file URIs."""
    if place.path.is_absolute():
        return {"uri": place.path.as_uri()}
    return {"uri": quote(os.fsencode(display_path(place.path))), "uriBaseId": SOURCE_ROOT}


def _location(place: Location | Finding) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": _artifact(place),
            "region": {"startLine": max(place.line, 1), "startColumn": max(place.column, 1)},
        }
    }


def _rules(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """One rule per kind present; its default level is the highest severity seen for it."""
    highest: dict[str, Severity] = {}
    for finding in findings:
        highest[finding.kind] = max(finding.severity, highest.get(finding.kind, Severity.INFO))
    return [
        {
            "id": kind,
            "shortDescription": {"text": KINDS[kind][1] if kind in KINDS else f"linkaudit {kind}"},
            "defaultConfiguration": {"level": _LEVELS[severity]},
        }
        for kind, severity in sorted(highest.items())
    ]


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.kind,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": backslash_escaped(message_with_url(finding), keep="\r\n")},
        "locations": [_location(finding)],
    }
    if finding.related:
        result["relatedLocations"] = [
            {"id": index, **_location(place), "message": {"text": "also cited here"}}
            for index, place in enumerate(finding.related)
        ]
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "external",
                                   "justification": backslash_escaped(finding.suppressed)}]
    return result


def _document(report: Report, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The log with its results left out (they are written one by one after it)."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "linkaudit",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [{"executionSuccessful": not report.interrupted}],
                "columnKind": "unicodeCodePoints",
                "results": [],
            }
        ],
    }


_RESULTS = '"results": []'  # where the results go: a key no string in the log can hold
_RESULT_INDENT = "\n" + " " * 8  # a result's lines in the indented log


# ``json.dumps(value, ensure_ascii=False, indent=2)``, its encoder made once, not per result
_dumps = json.JSONEncoder(ensure_ascii=False, indent=2).encode


class SarifReporter(Streamed):
    name = "sarif"
    lists_links = False

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        """The rules (every kind present) in a first pass over the findings, then the
        log around its results, each result dumped as ``json.dumps(indent=2)`` would."""
        rules = _rules(report.findings)
        index = {rule["id"]: position for position, rule in enumerate(rules)}
        before, after = _dumps(_document(report, rules)).split(_RESULTS)
        text = LineWriter(out, json_escaped)
        text.write(before + _RESULTS[:-1])
        separator = _RESULT_INDENT
        for finding in in_order(report.findings, finding_sort_key):
            result = _dumps(_result(finding, index[finding.kind]))
            text.write(separator + result.replace("\n", _RESULT_INDENT))
            separator = "," + _RESULT_INDENT
        if separator != _RESULT_INDENT:  # some result was written: the list's own lines
            text.write(_RESULT_INDENT[:-2])
        text.write("]" + after + "\n")
        text.close()
