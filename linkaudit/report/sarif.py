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
from typing import Any
from urllib.parse import quote

from linkaudit import __version__
from linkaudit.audit.findings import KINDS
from linkaudit.models import Finding, Location, Report, Severity
from linkaudit.report.common import display_path, message_with_url, sorted_findings
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


def _rules(findings: list[Finding]) -> list[dict[str, Any]]:
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


def sarif_document(report: Report) -> dict[str, Any]:
    findings = sorted_findings(report.findings)
    rules = _rules(findings)
    index = {rule["id"]: position for position, rule in enumerate(rules)}
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
                "results": [_result(finding, index[finding.kind]) for finding in findings],
            }
        ],
    }


class SarifReporter:
    name = "sarif"
    lists_links = False

    def render(self, report: Report, *, color: bool = False) -> str:
        return json_escaped(json.dumps(sarif_document(report), ensure_ascii=False,
                                       indent=2)) + "\n"
