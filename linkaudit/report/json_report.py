"""JSON with a named, versioned schema (documented in docs/formats.md) for other tools.

``version`` changes only when a field is removed or changes meaning; new fields may be
added within a version, so readers must ignore keys they do not know. Strings are exact:
control characters, bidi controls and a file name's undecodable bytes (lone surrogates,
as ``os.fsdecode`` gives them) are ``\\uNNNN`` escapes, so ``os.fsencode`` of a decoded
``file`` gives the name's bytes back.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Collection, Iterator
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, TextIO

from linkaudit.models import (
    CheckResult,
    Finding,
    LinkKind,
    LinkRecord,
    Report,
    RunSummary,
    Severity,
    Verdict,
)
from linkaudit.report.common import (
    by_note,
    count,
    display_path,
    finding_order_in_note,
    verdict_of,
)
from linkaudit.textsafe import json_escaped

SCHEMA_NAME = "linkaudit-report"
SCHEMA_VERSION = 2


def _summary(report: Report) -> dict[str, Any]:
    counts = count(report)
    gate = {} if counts.outside_change is None else {"outside_change": counts.outside_change}
    return {
        "notes": counts.notes,
        "links": counts.links,
        "by_severity": {str(severity): n for severity, n in counts.by_severity.items()},
        "by_kind": counts.by_kind,
        "suppressed": counts.suppressed,
        "checked": counts.checked,
        "by_verdict": counts.by_verdict,
        "fail_on": None if report.fail_on is None else str(report.fail_on),
        "failed": counts.failed,
        **gate,
    } | ({"slowed_down": dict(report.slowed_down)} if report.slowed_down else {})


def _links(links: Collection[LinkRecord]) -> Iterator[dict[str, Any]]:
    for file, note_links in by_note(links, _place):
        for link in note_links:
            yield _link(link, file)


def _link(link: LinkRecord, file: str) -> dict[str, Any]:
    return {
        "file": file,
        "line": link.line,
        "column": link.column,
        "kind": _KIND_NAMES[link.kind],
        "label": link.label,
        "url": link.url,
        "clean_url": link.clean_url,
        "check_key": link.check_key,
        "family": link.family,
        "lang": link.lang,
    }


_SEVERITY_NAMES = {severity: str(severity) for severity in Severity}  # str() of an enum is slow
_KIND_NAMES = {kind: str(kind) for kind in LinkKind}


def _findings(findings: Collection[Finding]) -> Iterator[dict[str, Any]]:
    for file, note_findings in by_note(findings, finding_order_in_note):
        for finding in note_findings:
            yield _finding(finding, file)


def _place(item: LinkRecord) -> tuple[int, int]:
    return item.line, item.column


def _finding(finding: Finding, file: str) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "severity": _SEVERITY_NAMES[finding.severity],
        "file": file,
        "line": finding.line,
        "column": finding.column,
        "url": finding.url,
        "message": finding.message,
        "clean_url": finding.clean_url,
        "removed_params": list(finding.removed_params),
        "related": [
            {"file": display_path(place.path), "line": place.line, "column": place.column}
            for place in finding.related
        ] if finding.related else [],
        "suppressed": finding.suppressed,
    }


def _result(result: CheckResult, report: Report) -> dict[str, Any]:
    verdict = verdict_of(report, result)
    final = result.final_verdict
    return {
        "key": result.key,
        "url": result.url,
        "verdict": verdict,
        "reason": result.reason,
        "status": result.status,
        "detail": result.detail,
        "chain": [{"url": hop.url, "status": hop.status} for hop in result.chain],
        "final_url": result.final_url,
        "permanent": result.permanent,
        "final_verdict": None if final is None else verdict if final is Verdict.DEAD
        else str(final),
        "attempts": result.attempts,
        "checked_at": result.checked_at,
        "from_cache": result.from_cache,
    }


def _run(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "ok": run.ok,
        "redirected": run.redirected,
        "failing": run.failing,
        "dead": run.dead,
        "status": run.status,
        "command": run.command,
        "partial": run.partial,
    }


def _sections(report: Report) -> dict[str, Any]:
    """The document with its long lists as iterators, produced as they are written."""
    return {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "command": report.command,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "interrupted": report.interrupted,
        "summary": _summary(report),
        "links": _links(report.links),
        "findings": _findings(report.findings),
        "results": (_result(result, report)
                    for result in sorted(report.results, key=lambda r: r.key)),
        "history": [_run(run) for run in report.history],
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data, in the documented schema."""
    return {key: list(value) if isinstance(value, Iterator) else value
            for key, value in _sections(report).items()}


class JsonReporter:
    name = "json"
    lists_links = True

    def render(self, report: Report, *, color: bool = False) -> str:
        text = io.StringIO()
        self.write(report, text)
        return text.getvalue()

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        """Write the document to ``out`` item by item: a spilled report is never whole in
        memory, neither as data nor as text."""
        write_document(_sections(report), out)


def _encoder() -> Callable[[Any], str]:
    """What ``json.dumps(value, ensure_ascii=False, separators=(", ", ": "))`` gives, made
    once: ``dumps`` with options builds a new encoder per call, and ``encode`` a new C
    encoder. The C one is called directly when there is one (without the circular-reference
    check, which our acyclic documents never need)."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
    if c_make_encoder is None:
        return encoder.encode
    c_encode = c_make_encoder(None, encoder.default, encode_basestring, None,
                              encoder.key_separator, encoder.item_separator,
                              encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    return lambda value: "".join(c_encode(value, 0))


_ENCODE = _encoder()


def _encode(value: Any) -> str:
    return json_escaped(_ENCODE(value))


def write_document(document: dict[str, Any], out: TextIO) -> None:
    """One top-level key per line and one list item per line.

    Readable and diffable like an indented dump, but every piece goes through the C
    encoder (``indent`` forces the pure-Python one, 5x slower on a large tree).
    """
    out.write("{\n")
    for index, (key, value) in enumerate(document.items()):
        out.write(f",\n  {_encode(key)}: " if index else f"  {_encode(key)}: ")
        if not isinstance(value, list | Iterator):
            out.write(_encode(value))
            continue
        chunks = _chunks(map(_ENCODE, value))
        first = next(chunks, None)
        if first is None:
            out.write("[]")
            continue
        out.write("[\n    ")
        out.write(first)
        for chunk in chunks:
            out.write(_ITEM_SEPARATOR)
            out.write(chunk)
        out.write("\n  ]")
    out.write("\n}\n")


_ITEM_SEPARATOR = ",\n    "
_CHUNK_ITEMS = 256


def _chunks(items: Iterator[str]) -> Iterator[str]:
    """Encoded list items, ``_CHUNK_ITEMS`` of them joined and escaped at a time.

    Escaping the joined text gives what escaping each item gives: the escapes are per
    character, and no workflow command can start at an item's line (it starts with the
    indent and a JSON value) nor span two items (a value neither starts nor ends in ``#``).
    """
    while block := list(itertools.islice(items, _CHUNK_ITEMS)):
        yield json_escaped(_ITEM_SEPARATOR.join(block))
