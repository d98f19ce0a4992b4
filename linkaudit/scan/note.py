"""One note from its file: read the bytes exactly, decode, split off front matter, extract links.

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
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from linkaudit.config import ScanConfig
from linkaudit.models import FileProblem, Link, Note
from linkaudit.scan.families import family_key, path_language
from linkaudit.scan.files import iter_note_paths
from linkaudit.scan.markdown import extract

__all__ = ["parse_note", "read_file", "read_note", "scan_paths"]

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
# Non-blocking: opening a FIFO swapped in after the check must not wait for a writer.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_FILE_TYPES = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "device"),
               (stat.S_ISBLK, "device"), (stat.S_ISSOCK, "socket"))


def read_note(path: Path, config: ScanConfig, roots: Sequence[Path] = ()) -> Note | FileProblem:
    """One note, with metadata, language, family and links; or why the file cannot be read.

    ``roots`` are the scanned paths: a symlink is followed only to a target inside them
    (without them, inside the note's own folder), unless ``scan.follow_symlinks``.
    """
    data = read_file(path, config, roots)
    if isinstance(data, FileProblem):
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _encoding_problem(path, data, exc)
    return parse_note(path, text, config)


def read_file(path: Path, config: ScanConfig, roots: Sequence[Path] = ()) -> bytes | FileProblem:
    """The bytes of a regular file of at most ``scan.max_note_size`` bytes, or why not.

    FIFOs, devices and sockets are refused before they are opened (a FIFO would block),
    and again on the open descriptor, opened non-blocking and without following a final
    symlink, so a file swapped in between cannot hang or redirect the read; the read itself
    stops one byte past the limit, whatever the size the file claims (``/proc`` files
    claim 0).
    """
    try:
        target = path
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode):
            target = Path(os.path.realpath(path))
            if not config.follow_symlinks and not _inside(target, roots or (path.parent,)):
                return FileProblem(path, "unreadable", f"symlink to {target}, outside the "
                                   "scanned folders: not read (scan.follow_symlinks reads it)")
            status = os.stat(target)
        problem = _not_a_note_file(path, status, config.max_note_size)
        if problem is not None:
            return problem
        descriptor = os.open(target, _OPEN_FLAGS)
    except OSError as exc:
        return FileProblem(path, "unreadable", f"cannot read file: {exc.strerror or exc}")
    try:
        problem = _not_a_note_file(path, os.fstat(descriptor), config.max_note_size)
        if problem is not None:
            return problem
        chunks: list[bytes] = []
        left = config.max_note_size + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return FileProblem(path, "unreadable", f"cannot read file: {exc.strerror or exc}")
    finally:
        os.close(descriptor)
    if left <= 0:
        return _too_large(path, "more than", config.max_note_size, config.max_note_size)
    return b"".join(chunks)


def _not_a_note_file(path: Path, status: os.stat_result, limit: int) -> FileProblem | None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _FILE_TYPES if test(status.st_mode)), "special file")
        return FileProblem(path, "unreadable", f"not a regular file (a {kind}): not read")
    if status.st_size > limit:
        return _too_large(path, "", status.st_size, limit)
    return None


def _too_large(path: Path, qualifier: str, size: int, limit: int) -> FileProblem:
    return FileProblem(path, "unreadable", f"{qualifier + ' ' if qualifier else ''}{size:,} "
                       f"bytes, over scan.max_note_size ({limit:,}): not read")


def _inside(target: Path, roots: Sequence[Path]) -> bool:
    """Whether ``target`` (resolved) lies in one of the folders ``roots`` name or are in."""
    for root in roots:
        folder = root if root.is_dir() else root.parent
        if target.is_relative_to(os.path.realpath(folder)):
            return True
    return False


def parse_note(path: Path, text: str, config: ScanConfig) -> Note:
    """A note from its text (front matter, then links in the body); ``path`` names it.

    It never raises: whatever goes wrong with one note is a problem on that note, so one
    hostile or unlucky file never stops a run over thousands.
    """
    try:
        return _parse_note(path, text, config)
    except Exception as exc:  # the per-note boundary: a note is a finding, never a crash
        problem = FileProblem(path, "unreadable",
                              f"cannot scan this note ({type(exc).__name__}: {exc})")
        return Note(path=path, text=text, lang=None, family=family_key(path, config),
                    problems=(problem,))


def _parse_note(path: Path, text: str, config: ScanConfig) -> Note:
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
    links = found.links
    if len(links) > config.max_links_per_note:
        problems += (_too_many_links(path, links, config.max_links_per_note),)
        links = links[:config.max_links_per_note]
    return Note(
        path=path,
        text=text,
        lang=raw_lang or path_language(path, config),
        family=family_key(path, config),
        metadata=metadata,
        body_start=body_start,
        links=links,
        references=found.references,
        problems=problems,
        ignored_lines=found.ignored_lines,
    )


def _too_many_links(path: Path, links: Sequence[Link], limit: int) -> FileProblem:
    """Links past ``limit`` are dropped: a hostile note of a million links would otherwise
    cost a million cleanings, findings and checks; the note says where auditing stopped."""
    first = links[limit]
    return FileProblem(path, "too-many-links",
                       f"{len(links):,} links, over scan.max_links_per_note ({limit:,}): "
                       f"the links from line {first.line} on are not audited",
                       first.line, first.column)


def scan_paths(paths: Sequence[Path], config: ScanConfig) -> Iterator[Note | FileProblem]:
    """Every note under ``paths``, read one at a time (a large tree is never held at once)."""
    for path in iter_note_paths(paths, config):
        yield read_note(path, config, paths)


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
            metadata = YAMLHandler().load(source, Loader=_FrontMatterLoader)
    except RecursionError:
        return FileProblem(path, "front-matter", "front matter is nested too deeply",
                           first_line, 1)
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
    if value is None or isinstance(value, (list, dict)):
        return metadata, None  # str() of an aliased list could be a "billion laughs"
    written = value if isinstance(value, str) else _scalar_as_written(source, lang_key)
    return metadata, (written or str(value)).strip().lower() or None


class _FrontMatterLoader(_SAFE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader; a value that parses but cannot be built is a YAML error at its place.

    ``date: 2025-02-30``, ``!!float abc`` and ``!!int 0x`` are valid YAML whose values
    Python cannot construct: the plain loader raises ``ValueError`` without a position.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:
            value = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value{value}: {exc}", node.start_mark) from None


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
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, raw))
    except ValueError:  # date: 2025-02-30; the loader reports it with its position
        return _NOT_FLAT


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
