"""One note from its file: read the bytes exactly, decode, split off front matter, extract links.

A note's text is its bytes decoded as UTF-8 with nothing translated (BOM and CRLF kept), so
every offset the scanner reports is valid for rewriting the file. python-frontmatter reads
the metadata but the body offset is found here, because the library hides front matter
behind a BOM and reports no offsets. Anything wrong with one file is a value
(``FileProblem``), never an exception: one bad note must not stop a scan of thousands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from linkaudit.config import ScanConfig
from linkaudit.models import FileProblem, Note
from linkaudit.scan.families import family_key, path_language
from linkaudit.scan.files import iter_note_paths
from linkaudit.scan.markdown import extract

__all__ = ["parse_note", "read_note", "scan_paths"]

_OPENING = re.compile(r"\ufeff?-{3,}[ \t]*(?:\r\n|\r|\n)")
_CLOSING = re.compile(r"-{3,}[ \t]*(?:\r\n|\r|\n|\Z)")
_LINE_END = re.compile(r"\r\n|\r|\n")
# libyaml's safe loader when PyYAML was built with it (several times faster); still safe.
_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = (
    yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
# Flat front matter (one ``key: value`` per line, what generated notes carry) is read
# without the YAML parser, with PyYAML's own resolver and constructors, so the values are
# the ones the loader would give; any other shape goes to the loader.
_FLAT_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?:[ ]+(.*?))?[ ]*")
_PLAIN_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_FLAT_TAGS = frozenset(f"tag:yaml.org,2002:{name}"
                       for name in ("str", "bool", "null", "int", "float", "timestamp"))
_NOT_FLAT = object()


def read_note(path: Path, config: ScanConfig) -> Note | FileProblem:
    """One note, with metadata, language, family and links; or why the file cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileProblem(path, "unreadable", f"cannot read file: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _encoding_problem(path, data, exc)
    return parse_note(path, text, config)


def parse_note(path: Path, text: str, config: ScanConfig) -> Note:
    """A note from its text (front matter, then links in the body); ``path`` names it."""
    metadata: Mapping[str, Any] = {}
    problems: tuple[FileProblem, ...] = ()
    raw_lang: str | None = None
    body_start = 0
    split = _split_front_matter(text)
    if split is not None:
        yaml_start, yaml_end, body_start = split
        first_line = _line_of(text, yaml_start)
        parsed = _load_front_matter(path, text[yaml_start:yaml_end], first_line, config.lang_key)
        if isinstance(parsed, FileProblem):
            problems = (parsed,)
        else:
            metadata, raw_lang = parsed
    found = extract(text, start=body_start, bare_urls=config.bare_urls, html=config.html)
    return Note(
        path=path,
        text=text,
        lang=raw_lang or path_language(path, config),
        family=family_key(path, config),
        metadata=metadata,
        body_start=body_start,
        links=found.links,
        references=found.references,
        problems=problems,
        ignored_lines=found.ignored_lines,
    )


def scan_paths(paths: Sequence[Path], config: ScanConfig) -> Iterator[Note | FileProblem]:
    """Every note under ``paths``, read one at a time (a large tree is never held at once)."""
    for path in iter_note_paths(paths, config):
        yield read_note(path, config)


def _encoding_problem(path: Path, data: bytes, exc: UnicodeDecodeError) -> FileProblem:
    line = data.count(b"\n", 0, exc.start) + 1
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
    message = (
        f"not UTF-8: invalid byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
        f"(line {line}, column {column})"
    )
    return FileProblem(path, "encoding", message, line, column)


def _split_front_matter(text: str) -> tuple[int, int, int] | None:
    """(YAML start, YAML end, body start) when the text opens with a ``---`` block."""
    opening = _OPENING.match(text)
    if opening is None:
        return None
    for line_end in _LINE_END.finditer(text, opening.end() - 1):
        closing = _CLOSING.match(text, line_end.end())
        if closing is not None:
            return opening.end(), line_end.end(), closing.end()
    return None


def _line_of(text: str, offset: int) -> int:
    return sum(1 for _ in _LINE_END.finditer(text, 0, offset)) + 1


def _load_front_matter(
    path: Path, source: str, first_line: int, lang_key: str
) -> tuple[Mapping[str, Any], str | None] | FileProblem:
    """Metadata and the language as written; a front-matter problem when it is not a mapping."""
    try:
        metadata = _flat_front_matter(source)
        if metadata is None:
            metadata = YAMLHandler().load(source, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        column = mark.column + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return FileProblem(path, "front-matter", f"invalid YAML in front matter: {problem}",
                           line, column)
    if metadata is None:
        return {}, None
    if not isinstance(metadata, dict):
        kind = "a list" if isinstance(metadata, list) else f"a single value ({metadata!r})"
        return FileProblem(path, "front-matter",
                           f"front matter is {kind}, not a mapping of keys", first_line, 1)
    value = metadata.get(lang_key)
    if value is None:
        return metadata, None
    written = value if isinstance(value, str) else _scalar_as_written(source, lang_key)
    return metadata, (written or str(value)).strip().lower() or None


def _flat_front_matter(source: str) -> dict[Any, Any] | None:
    """The mapping of flat ``key: scalar`` front matter; None for anything else."""
    metadata: dict[Any, Any] = {}
    for line in source.split("\n"):
        if not line:
            continue
        match = _FLAT_LINE.fullmatch(line)
        if match is None or _resolved_tag(match.group(1)) != "tag:yaml.org,2002:str":
            return None
        value = _flat_scalar(match.group(2) or "")
        if value is _NOT_FLAT:
            return None
        metadata[match.group(1)] = value
    return metadata


@functools.lru_cache(maxsize=4096)  # keys and most values repeat from note to note
def _flat_scalar(raw: str) -> Any:
    """A one-line scalar as PyYAML's safe loader reads it, or ``_NOT_FLAT`` when unsure.

    Every value it gives is immutable (str, bool, None, numbers, dates), so it can be shared.
    """
    if not raw.isprintable():
        return _NOT_FLAT
    if raw[:1] == '"':
        inner = raw[1:-1]
        plain_quoted = len(raw) > 1 and raw[-1] == '"' and '"' not in inner
        return inner if plain_quoted and "\\" not in inner else _NOT_FLAT
    if raw[:1] == "'":
        inner = raw[1:-1]
        single_quoted = len(raw) > 1 and raw[-1] == "'" and "'" not in inner.replace("''", "")
        return inner.replace("''", "'") if single_quoted else _NOT_FLAT
    if raw and (raw[0] in _PLAIN_INDICATORS or ": " in raw or " #" in raw
                or raw[-1] == ":"):
        return _NOT_FLAT
    tag = _resolved_tag(raw)
    if tag not in _FLAT_TAGS:
        return _NOT_FLAT
    return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, raw))


@functools.lru_cache(maxsize=1024)
def _resolved_tag(plain: str) -> str:
    tag = _RESOLVER.resolve(yaml.ScalarNode, plain, (True, False))  # type: ignore[no-untyped-call]
    return str(tag)


def _scalar_as_written(source: str, key: str) -> str | None:
    """The text of a top-level scalar as written: YAML reads ``lang: no`` as False."""
    node = yaml.compose(source, Loader=_SAFE_LOADER)
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode):
            return str(value_node.value)
    return None
