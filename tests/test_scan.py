"""Tests for linkaudit.scan.note: finding note files and reading them into Notes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.config import ScanConfig
from linkaudit.models import FileProblem, LinkKind, Note
from linkaudit.scan import family_key, iter_note_paths, read_note, scan_paths
from linkaudit.scan import note as scan

CONFIG = ScanConfig()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def note_at(path: Path, content: str | bytes, config: ScanConfig = CONFIG) -> Note:
    result = read_note(write(path, content), config)
    assert isinstance(result, Note), result
    return result


# ---------------------------------------------------------------- front matter


# Pieces the flat reader must get right or hand to the YAML loader: YAML 1.1 booleans,
# nulls, numbers, dates, quotes, comments, indicators, ": " inside values.
_FLAT_KEYS = ["lang", "title", "date", "on", "Null", "a-b", "_x", "y", "no"]
_FLAT_VALUES = [
    "", "true", "No", "off", "~", "null", "hant", "12", "0x1f", "1_000", "0o17", "1.5", ".inf",
    ".NaN", "1e3", "2025-11-20", "2025-11-20 10:00:00", "2025-11-20T10:00:00Z",
    "2025-11-20 10:00:00 +0800", "'it''s'", "'a'b'", "''", '"q"', '"a\\tb"', '"x" y', '"a"b"',
    "a: b", "a #c", "a:b", "a:", "-x", "- x", "[1]", "{a}", "&a x", "*a", "!!str 1", "|", ">",
    "%x", "@x", "QUIC 解決隊頭阻塞問題", "\u00a0x", "x\u3000y", "<<", "=", "http://a.b/c?d=e#f",
    "a\x07b", "a\tb",
]


def _assert_flat_reads_as_yaml(source: str) -> None:
    flat = scan._flat_front_matter(source)
    if flat is not None:
        loaded = yaml.load(source, Loader=yaml.SafeLoader) or {}
        assert repr(flat) == repr(loaded), source  # repr: NaN is not equal to itself


@pytest.mark.parametrize("value", _FLAT_VALUES)
@pytest.mark.parametrize("key", ["title", "on"])
@pytest.mark.parametrize("layout", ["{key}: {value}\n", "{key}:  {value}  \n", "{key}:{value}\n",
                                    "{key}: {value}\r\n", "{key}:\t{value}\n"])
def test_flat_front_matter_reads_each_value_as_the_yaml_loader(
    key: str, value: str, layout: str
) -> None:
    """Whenever the flat reader answers for one line, it equals PyYAML's safe loader."""
    _assert_flat_reads_as_yaml(layout.format(key=key, value=value))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_FLAT_KEYS),
                          st.sampled_from(_FLAT_VALUES)
                          | st.text(alphabet="ab :#'\"-0.1\u00e9\\", max_size=8),
                          st.sampled_from([":", ": ", ":  "]),
                          st.sampled_from(["", " ", "  "])), max_size=6))
def test_flat_front_matter_reads_documents_as_the_yaml_loader(
    lines: list[tuple[str, str, str, str]],
) -> None:
    """Whole documents of such lines: flat mapping and loader mapping agree."""
    _assert_flat_reads_as_yaml(
        "".join(f"{key}{colon}{value}{trailing}\n" for key, value, colon, trailing in lines))


def test_flat_front_matter_takes_generated_notes_and_declines_the_rest() -> None:
    """The usual generated front matter is read flat; nested or odd YAML goes to the loader."""
    generated = "audio: false\nlang: ja\ntitle: QUIC と HOL\ndate: 2025-11-20\n"
    assert scan._flat_front_matter(generated) == yaml.safe_load(generated)
    for source in ("tags:\n  - a\n", "a: 1\n# note\n", "x: &a 1\ny: *a\n",
                   "title: a\r\n", "on: 1\n", "t: |\n  x\n", "k:\tv\n"):
        assert scan._flat_front_matter(source) is None, source



def test_front_matter_metadata_body_offset_and_links(tmp_path: Path) -> None:
    """Metadata is read, the body starts after the closing ``---``, links are in the body only."""
    text = "---\ntitle: 'A: b'\nlang: EN\nurl: https://front.example\n---\nSee [x](https://x.com)\n"
    note = note_at(tmp_path / "post.md", text)
    assert note.metadata["title"] == "A: b"
    assert note.title == "A: b"
    assert note.lang == "en"
    assert note.body_start == text.index("See")
    assert [(link.url, link.line, link.column) for link in note.links] == [("https://x.com", 6, 9)]
    assert note.problems == ()


def test_bom_and_crlf_are_kept_and_front_matter_still_found(tmp_path: Path) -> None:
    """A BOM and CRLF survive in Note.text; front matter behind a BOM is still read."""
    raw = "\ufeff---\r\nlang: de\r\n---\r\n[a](https://x.com)\r\n"
    note = note_at(tmp_path / "post.md", raw)
    assert note.text == raw
    assert note.lang == "de"
    assert note.body_start == raw.index("[a]")
    (link,) = note.links
    assert note.text[link.span.start:link.span.end] == "https://x.com"
    assert (link.line, link.column) == (4, 5)


def test_broken_yaml_is_a_problem_but_links_are_still_extracted(tmp_path: Path) -> None:
    """Invalid YAML gives a front-matter problem at its file line; the body is still scanned."""
    text = "---\ntitle: ok\nbad: [unclosed\nlang: en\n---\n[a](https://x.com)\n"
    note = note_at(tmp_path / "de" / "post.md", text)
    (problem,) = note.problems
    assert problem.kind == "front-matter"
    assert "invalid YAML" in problem.message
    assert 3 <= problem.line <= 5
    assert note.metadata == {}
    assert note.lang == "de"  # falls back to the folder
    assert [link.url for link in note.links] == ["https://x.com"]


def test_front_matter_is_read_with_a_safe_loader(tmp_path: Path) -> None:
    """A Python-object tag in front matter is a front-matter problem, never constructed."""
    text = "---\ntitle: !!python/object/apply:os.getcwd []\n---\n[a](https://x.com)\n"
    note = note_at(tmp_path / "post.md", text)
    (problem,) = note.problems
    assert problem.kind == "front-matter"
    assert "python/object" in problem.message
    assert note.metadata == {}


def test_alias_bomb_in_front_matter_is_read_as_shared_lists(tmp_path: Path) -> None:
    """A "billion laughs" front matter (9 levels of 9 aliases) costs nothing: YAML aliases
    are references to one list, never copies, and nothing walks the metadata."""
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        name, below = "abcdefghi"[level], "abcdefghi"[level - 1]
        levels.append(f"{name}: &{name} [{', '.join(['*' + below] * 9)}]")
    text = "---\n" + "\n".join([*levels, "lang: en"]) + "\n---\n[x](https://x.com/?utm_source=a)\n"
    note = note_at(tmp_path / "post.md", text)
    assert (note.lang, [link.url for link in note.links]) == ("en", ["https://x.com/?utm_source=a"])
    assert note.metadata["i"][0] is note.metadata["h"]


@pytest.mark.parametrize(("yaml_text", "described"),
                         [("- a\n- b\n", "a list"), ("just text\n", "a single value")])
def test_non_mapping_front_matter_is_a_problem(tmp_path: Path, yaml_text: str,
                                               described: str) -> None:
    """Front matter that is a list or a scalar is reported and read as empty metadata."""
    note = note_at(tmp_path / "post.md", f"---\n{yaml_text}---\nbody\n")
    (problem,) = note.problems
    assert (problem.kind, problem.line) == ("front-matter", 2)
    assert described in problem.message
    assert note.metadata == {}


@pytest.mark.parametrize(("value", "lang"),
                         [("no", "no"), ("NO", "no"), ("'no'", "no"), ("1.10", "1.10"),
                          ("pt-BR", "pt-br"), ("''", None)])
def test_language_as_written(tmp_path: Path, value: str, lang: str | None) -> None:
    """``lang: no`` (YAML False) gives "no"; values are the written text, lowercased."""
    note = note_at(tmp_path / "post.md", f"---\nlang: {value}\n---\n")
    assert note.lang == lang


def test_empty_unclosed_and_missing_front_matter(tmp_path: Path) -> None:
    """Empty front matter is an empty mapping; unclosed or missing front matter is body."""
    empty = note_at(tmp_path / "a.md", "---\n---\nbody\n")
    assert (empty.metadata, empty.body_start, empty.problems) == ({}, 8, ())
    unclosed = note_at(tmp_path / "b.md", "---\ntitle: x\nhttps://x.com\n")
    assert unclosed.body_start == 0
    assert [link.url for link in unclosed.links] == ["https://x.com"]
    plain = note_at(tmp_path / "c.md", "No front matter https://y.com")
    assert (plain.body_start, plain.metadata, plain.lang) == (0, {}, None)


def test_ignored_lines_are_stored_on_the_note(tmp_path: Path) -> None:
    """Suppression comments in the body end up in Note.ignored_lines."""
    note = note_at(tmp_path / "a.md", "---\nx: 1\n---\n<!-- linkaudit-ignore-next-line -->\nhttps://x.com\n")
    assert note.ignored_lines == frozenset({5})


def test_options_turn_off_bare_and_html_links(tmp_path: Path) -> None:
    """ScanConfig.bare_urls and .html are passed to the extractor."""
    config = replace(CONFIG, bare_urls=False, html=False)
    note = note_at(tmp_path / "a.md", 'https://bare.com <a href="/h">x</a> [i](/i)\n', config)
    assert [link.kind for link in note.links] == [LinkKind.INLINE]


# ---------------------------------------------------------------- language and family


def test_language_from_folder_then_file_name(tmp_path: Path) -> None:
    """Without a lang key: a language-code folder, else the file name's language suffix."""
    assert note_at(tmp_path / "_posts" / "hant" / "x.md", "x").lang == "hant"
    assert note_at(tmp_path / "_posts" / "pt-br" / "x.md", "x").lang == "pt-br"
    assert note_at(tmp_path / "notes" / "2025-01-01-x-ja.md", "x").lang == "ja"
    assert note_at(tmp_path / "js" / "readme.md", "x").lang is None


def test_family_key_joins_translations() -> None:
    """Language versions share the family group; names that do not match keep their stem."""
    de = family_key(Path("_posts/de/2025-10-22-alibaba-cloud-cto-de.md"), CONFIG)
    en = family_key(Path("notes/2025-10-22-alibaba-cloud-cto-en.md"), CONFIG)
    hant = family_key(Path("_posts/hant/2025-10-22-alibaba-cloud-cto-hant.md"), CONFIG)
    assert de == en == hant == "2025-10-22-alibaba-cloud-cto"
    assert family_key(Path("README.md"), CONFIG) == "README"
    custom = replace(CONFIG, family_pattern=r"^(?P<family>\d+)_")
    assert family_key(Path("12_post.md"), custom) == "12"


# ---------------------------------------------------------------- unreadable files


def test_non_utf8_file_is_an_encoding_problem(tmp_path: Path) -> None:
    """Invalid UTF-8 gives an encoding problem naming the byte offset, line and column."""
    path = write(tmp_path / "latin.md", b"ok\ncaf\xe9\n")
    problem = read_note(path, CONFIG)
    assert isinstance(problem, FileProblem)
    assert (problem.kind, problem.line, problem.column) == ("encoding", 2, 4)
    assert "byte offset 6" in problem.message and "0xe9" in problem.message


def test_directory_and_missing_file_are_unreadable(tmp_path: Path) -> None:
    """A folder named like a note, or a vanished file, is an unreadable problem with the reason."""
    (tmp_path / "dir.md").mkdir()
    for path, reason in ((tmp_path / "dir.md", "directory"), (tmp_path / "gone.md", "No such")):
        problem = read_note(path, CONFIG)
        assert isinstance(problem, FileProblem)
        assert problem.kind == "unreadable"
        assert reason in problem.message


def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    """A file without read permission is an unreadable problem (skipped where root reads it)."""
    path = write(tmp_path / "secret.md", "x")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read mode-000 files (root)")
        problem = read_note(path, CONFIG)
        assert isinstance(problem, FileProblem)
        assert (problem.kind, "Permission denied" in problem.message) == ("unreadable", True)
    finally:
        path.chmod(0o644)


# ---------------------------------------------------------------- walking


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.md", "a.markdown", "notes.txt", "sub/c.md", "sub/deep/.git/x.md",
                 ".git/y.md", "node_modules/pkg/z.md", "drafts/d.md"):
        write(tmp_path / name, "x")
    return tmp_path


def relative(paths: Iterator[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_walk_includes_excludes_and_sorts(tree: Path) -> None:
    """Include globs match names, exclude globs match relative paths at any depth; stable order."""
    assert relative(iter_note_paths([tree], CONFIG), tree) == [
        "a.markdown", "b.md", "drafts/d.md", "sub/c.md"]
    config = replace(CONFIG, exclude=("drafts/**", "sub/*.md"))
    assert relative(iter_note_paths([tree], config), tree) == [
        "a.markdown", "b.md", ".git/y.md", "node_modules/pkg/z.md", "sub/deep/.git/x.md"]


def test_named_files_are_taken_once_whatever_their_name(tree: Path) -> None:
    """A file named on the command line is taken even if no include glob matches; no repeats."""
    paths = [tree / "notes.txt", tree / "sub", tree / "sub" / "c.md", tree / "missing.md"]
    assert relative(iter_note_paths(paths, CONFIG), tree) == ["notes.txt", "sub/c.md", "missing.md"]


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    """Symlinked folders are not followed, so a link to a parent folder ends the walk."""
    write(tmp_path / "a" / "n.md", "x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert relative(iter_note_paths([tmp_path], CONFIG), tmp_path) == ["a/n.md"]


def test_scan_paths_streams_notes_and_problems(tmp_path: Path) -> None:
    """scan_paths yields lazily: a Note per readable file, a FileProblem for the rest."""
    write(tmp_path / "good.md", "[a](https://x.com)")
    write(tmp_path / "bad.md", b"\xff")
    results = scan_paths([tmp_path], CONFIG)
    assert iter(results) is results
    first, second = list(results)
    assert isinstance(first, FileProblem) and first.path.name == "bad.md"
    assert isinstance(second, Note) and [link.url for link in second.links] == ["https://x.com"]
