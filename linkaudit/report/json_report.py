"""JSON with a named, versioned schema (documented in docs/formats.md) for other tools.

``version`` changes only when a field is removed or changes meaning; new fields may be
added within a version, so readers must ignore keys they do not know. Strings are exact:
control characters, bidi controls and a file name's undecodable bytes (lone surrogates,
as ``os.fsdecode`` gives them) are ``\\uNNNN`` escapes, so ``os.fsencode`` of a decoded
``file`` gives the name's bytes back.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, TextIO

from linkaudit.models import (
    CheckResult,
    Finding,
    LinkKind,
    LinkRecord,
    Location,
    Report,
    RunSummary,
    Severity,
    Verdict,
)
from linkaudit.report.common import count, display_path, rows_by_note, verdict_of
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


def _links(links: Collection[LinkRecord], known: _Known) -> Iterator[str]:
    """Each note's links, as one text of items."""
    for file, rows in rows_by_note(links, LinkRecord, ("line", "column")):
        link = _columns(LinkRecord, rows)
        (url, raw_url), (clean, raw_clean), (key, raw_key) = map(
            _strings, (link["url"], link["clean_url"], link["check_key"]))
        yield _ITEM_SEPARATOR.join(map(_link_template(raw_url, raw_clean, raw_key).__mod__, zip(
            itertools.repeat(encode_basestring(file)), link["line"], link["column"],
            map(_KIND_NAMES.__getitem__, link["kind"]), map(known.__getitem__, link["label"]),
            url, clean, key, map(known.__getitem__, link["family"]),
            map(known.__getitem__, link["lang"]))))


def _findings(findings: Collection[Finding], known: _Known) -> Iterator[str]:
    """Each note's findings, as one text of items."""
    for file, rows in rows_by_note(findings, Finding, ("line", "column", "kind")):
        finding = _columns(Finding, rows)
        (url, raw_url), (clean, raw_clean) = map(
            _nullable, (finding["url"], finding["clean_url"]))
        yield _ITEM_SEPARATOR.join(map(_finding_template(raw_url, raw_clean).__mod__, zip(
            map(known.__getitem__, finding["kind"]),
            map(_SEVERITY_NAMES.__getitem__, finding["severity"]),
            itertools.repeat(encode_basestring(file)), finding["line"], finding["column"],
            url, map(known.__getitem__, finding["message"]),
            clean, map(known.__getitem__, finding["removed_params"]),
            _places(finding["related"]), map(known.__getitem__, finding["suppressed"]))))


def _columns(kind: type, rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """The rows' values field by field, each field's values of every row together."""
    return dict(zip(_field_names(kind), zip(*rows, strict=True), strict=True))


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(kind))


def _nullable(values: tuple[Any, ...]) -> tuple[Iterable[str], bool]:
    """``_strings`` of a column of strings and None: a column of one or the other alone in
    a C loop."""
    nulls = values.count(None)
    if not nulls:
        return _strings(values)
    if nulls == len(values):
        return itertools.repeat("null", nulls), False
    return _encoded(values), False


def _strings(values: tuple[str, ...]) -> tuple[Iterable[str], bool]:
    """A column of strings as they go in a template, and whether raw: the strings
    themselves when none needs an escape (the template quotes them), else their JSON.
    Telling costs a fraction of encoding, which reads every character twice."""
    text = "".join(values)
    if text.isascii() and (encoded := text.encode()).translate(_ESCAPED) == encoded:
        return values, True
    return map(encode_basestring, values), False


# Each byte JSON escapes in an ASCII string made another (a letter), the others kept
_ESCAPED = bytes(ord("a") if byte < 0x20 or byte in b'"\\' else byte for byte in range(256))


class _Known(dict[Any, str]):
    """Values' JSON by value, for the fields whose values repeat (kinds, messages, removed
    parameters, families): a look-up costs far less than encoding again. Bounded: emptied
    when full, so a tree of all different values costs one table of them at most."""

    def __missing__(self, value: Any) -> str:
        if len(self) >= _KNOWN_VALUES:
            self.clear()
        text = self[value] = _json(value)
        return text


_KNOWN_VALUES = 4096


def _template(*keys: str, raw: Collection[str] = ()) -> str:
    """A JSON object of ``keys`` in order, for ``%`` with each value's JSON (or an int), or
    for a key in ``raw`` the string itself, with nothing to escape (``_strings``)."""
    return "{" + ", ".join(f'{encode_basestring(key)}: "%s"' if key in raw
                           else f"{encode_basestring(key)}: %s" for key in keys) + "}"


# Items are written from these templates (what the C encoder gives for a dict of the same
# keys), their values' JSON made a note's column at a time: a dict per item and its
# encoding cost more than the rest of the report. The URLs' columns come raw or encoded.
@functools.cache
def _link_template(url: bool, clean_url: bool, check_key: bool) -> str:
    raw = itertools.compress(("url", "clean_url", "check_key"), (url, clean_url, check_key))
    return _template("file", "line", "column", "kind", "label", "url", "clean_url",
                     "check_key", "family", "lang", raw=tuple(raw))


@functools.cache
def _finding_template(url: bool, clean_url: bool) -> str:
    raw = itertools.compress(("url", "clean_url"), (url, clean_url))
    return _template("kind", "severity", "file", "line", "column", "url", "message",
                     "clean_url", "removed_params", "related", "suppressed", raw=tuple(raw))


_PLACE = _template("file", "line", "column")
_SEVERITY_NAMES = {severity: encode_basestring(str(severity)) for severity in Severity}
_KIND_NAMES = {kind: encode_basestring(str(kind)) for kind in LinkKind}


def _places(column: tuple[tuple[Location, ...], ...]) -> Iterator[str]:
    """Each finding's related places as JSON; a note's findings with none, in a C loop."""
    if not any(column):
        return itertools.repeat("[]", len(column))
    return map(_related, column)


def _related(places: tuple[Location, ...]) -> str:
    return "[" + ", ".join([_PLACE % (encode_basestring(display_path(place.path)),
                                      place.line, place.column) for place in places]) + "]"


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
    known = _Known()
    return {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "command": report.command,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "interrupted": report.interrupted,
        "summary": _summary(report),
        "links": _links(report.links, known),
        "findings": _findings(report.findings, known),
        "results": _encoded(_result(result, report)
                            for result in sorted(report.results, key=lambda r: r.key)),
        "history": _encoded(map(_run, report.history)),
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data, in the documented schema."""
    document: dict[str, Any] = json.loads(JsonReporter().render(report))
    return document


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


def _encoder() -> Callable[[Iterable[Any]], Iterator[str]]:
    """What ``json.dumps(value, ensure_ascii=False, separators=(", ", ": "))`` gives for
    each value, made once: ``dumps`` with options builds a new encoder per call, and
    ``encode`` a new C encoder. The C one is called directly when there is one (without
    the circular-reference check, which our acyclic documents never need), in C loops."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
    if c_make_encoder is None:
        return lambda values: map(encoder.encode, values)
    c_encode = c_make_encoder(None, encoder.default, encode_basestring, None,
                              encoder.key_separator, encoder.item_separator,
                              encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    return lambda values: map("".join, map(c_encode, values, itertools.repeat(0)))


_encoded = _encoder()


def _json(value: Any) -> str:
    return next(_encoded((value,)))


def _encode(value: Any) -> str:
    return json_escaped(_json(value))


def write_document(document: dict[str, Any], out: TextIO) -> None:
    """One top-level key per line and one list item per line; a list is given as an
    iterator of its items' JSON texts.

    Readable and diffable like an indented dump, but every piece goes through the C
    encoder (``indent`` forces the pure-Python one, 5x slower on a large tree).
    """
    out.write("{\n")
    for index, (key, value) in enumerate(document.items()):
        out.write(f",\n  {_encode(key)}: " if index else f"  {_encode(key)}: ")
        if not isinstance(value, Iterator):
            out.write(_encode(value))
            continue
        chunks = _chunks(value)
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
_CHUNK_CHARS = 1 << 16


def _chunks(items: Iterator[str]) -> Iterator[str]:
    """Encoded list items (one or several in each text), joined and escaped at least
    ``_CHUNK_CHARS`` characters at a time.

    Escaping the joined text gives what escaping each item gives: the escapes are per
    character, no workflow command can span two items (a value neither starts nor ends in
    ``#``), and none can start a line, so that is not looked for: the encoder writes line
    breaks inside strings as escapes, so a chunk's only line starts are its first item's
    and those after a separator, each followed by spaces and a JSON value (``{``, ``[``,
    ``"``, a digit, ``-`` or a letter), never by ``:``.
    """
    block: list[str] = []
    size = 0
    for item in items:
        block.append(item)
        size += len(item)
        if size >= _CHUNK_CHARS:
            yield json_escaped(_ITEM_SEPARATOR.join(block), line_starts=False)
            block, size = [], 0
    if block:
        yield json_escaped(_ITEM_SEPARATOR.join(block), line_starts=False)
