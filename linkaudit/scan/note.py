"""Files to notes: find the note files, read them exactly, split off front matter, extract links.

A note's text is its bytes decoded as UTF-8 with nothing translated (BOM and CRLF kept), so
every offset the scanner reports is valid for rewriting the file. python-frontmatter reads
the metadata but the body offset is found here, because the library hides front matter
behind a BOM and reports no offsets. Anything wrong with one file is a value
(``FileProblem``), never an exception: one bad note must not stop a scan of thousands.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from linkaudit.config import ScanConfig
from linkaudit.models import FileProblem, Note
from linkaudit.scan.markdown import extract

__all__ = ["family_key", "iter_note_paths", "read_note", "scan_paths"]

_OPENING = re.compile(r"\ufeff?-{3,}[ \t]*(?:\r\n|\r|\n)")
_CLOSING = re.compile(r"-{3,}[ \t]*(?:\r\n|\r|\n|\Z)")
_LINE_END = re.compile(r"\r\n|\r|\n")
_LANGUAGE_FOLDER = re.compile(r"(?P<primary>[a-z]{2})(?:[-_][a-z0-9]{2,8})?|hant|hans")
# ISO 639-1: a folder is a language only when its name starts with a real code ("js" is not).
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
_ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
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


# ---------------------------------------------------------------- finding files


def iter_note_paths(paths: Sequence[Path], config: ScanConfig) -> Iterator[Path]:
    """Note files under ``paths``, in a stable order, each once.

    A file named directly is always taken (the user asked for it), whatever its name.
    Folders are walked recursively, sorted, without following symlinked folders: a file
    is taken when an ``include`` glob matches its name and no ``exclude`` glob matches its
    path relative to the walked folder. A path that does not exist is passed on, so
    ``read_note`` reports it.
    """
    includes = tuple(_glob_regex(pattern) for pattern in config.include)
    excludes = tuple(_glob_regex(pattern) for pattern in config.exclude)
    seen: set[str] = set()
    for root in paths:
        candidates = _walk(root, includes, excludes) if root.is_dir() else iter((root,))
        for path in candidates:
            key = os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                yield path


def _walk(
    root: Path, includes: Sequence[re.Pattern[str]], excludes: Sequence[re.Pattern[str]]
) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        relative_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        dirnames[:] = sorted(
            name for name in dirnames if not _excluded_folder(prefix + name, excludes)
        )
        for name in sorted(filenames):
            if not any(regex.fullmatch(name) for regex in includes):
                continue
            if not any(regex.fullmatch(prefix + name) for regex in excludes):
                yield Path(folder) / name


def _excluded_folder(relative: str, excludes: Sequence[re.Pattern[str]]) -> bool:
    """A folder is skipped when a glob matches it or anything inside it (``x/**``)."""
    return any(regex.fullmatch(relative) or regex.fullmatch(relative + "/") for regex in excludes)


@functools.lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``**/`` spans folders (or none), ``*`` and ``?`` stay in one."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2:]:
            close = pattern.index("]", index + 2)
            body = pattern[index + 1:close]
            negated = body.startswith("!")
            body = re.escape(body[1:] if negated else body).replace("\\-", "-")
            parts.append(f"[{'^' if negated else ''}{body}]")
            index = close + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))


# ---------------------------------------------------------------- reading one note


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
        lang=raw_lang or _folder_language(path) or _pattern_group(path, config, "lang"),
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


def family_key(path: Path, config: ScanConfig) -> str:
    """The key shared by a post's translations: the pattern's ``family`` group, else the stem."""
    return _pattern_group(path, config, "family") or path.stem


def _pattern_group(path: Path, config: ScanConfig, group: str) -> str | None:
    match = _compiled(config.family_pattern).search(path.stem)
    if match is None or group not in match.re.groupindex:
        return None
    value = match.group(group)
    return value.lower() if value and group == "lang" else value or None


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


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


def _folder_language(path: Path) -> str | None:
    """The parent folder's name when it is a language code (``de``, ``pt-br``, ``hant``)."""
    name = path.parent.name.lower()
    match = _LANGUAGE_FOLDER.fullmatch(name)
    if match is None:
        return None
    primary = match.group("primary")
    return name if primary is None or primary in _ISO_639_1 else None
