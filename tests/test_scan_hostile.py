"""Hostile and unlucky notes: each is a finding on that note, never a hang, a leak or a crash."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.audit.suppression import Suppressions
from linkaudit.cli.main import main
from linkaudit.config import IgnoreRule, ScanConfig, load_config
from linkaudit.errors import ConfigError
from linkaudit.models import FileProblem, Note
from linkaudit.scan import iter_note_paths, parse_note, read_note, scan_paths
from linkaudit.scan.markdown import extract
from linkaudit.scan.markdown.helpers import stops_bare_url
from linkaudit.userregex import compile_user_regex

CONFIG = ScanConfig()
POSIX_ONLY = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def problem_of(path: Path, config: ScanConfig = CONFIG, roots: tuple[Path, ...] = ()
               ) -> FileProblem:
    result = read_note(path, config, roots)
    assert isinstance(result, FileProblem), result
    return result


# ---------------------------------------------------------------- front matter


@pytest.mark.parametrize(("front", "line", "words"), [
    ("title: x\ndate: 2025-02-30\n", 3, "'2025-02-30': day is out of range"),
    ("n: !!float abc\n", 2, "'abc'"),
    ("title: x\nlist:\n  - !!int 0x\n", 4, "'0x'"),
])
def test_values_yaml_cannot_build_are_front_matter_findings(
        tmp_path: Path, front: str, line: int, words: str) -> None:
    """A value YAML parses but Python cannot build is a front-matter problem at its line."""
    note = read_note(write(tmp_path / "a.md", f"---\n{front}---\nSee https://a.example/\n"),
                     CONFIG)
    assert isinstance(note, Note)
    (problem,) = note.problems
    assert (problem.kind, problem.line) == ("front-matter", line)
    assert words in problem.message
    assert [link.url for link in note.links] == ["https://a.example/"]  # the body still counts


def test_an_aliased_list_as_language_is_no_language(tmp_path: Path) -> None:
    """A language key holding a nine-level "billion laughs" list is ignored, never printed."""
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]"
               for i in range(8)]
    text = "---\n" + "\n".join([*levels, "lang: *i"]) + "\n---\nx\n"
    note = read_note(write(tmp_path / "a.md", text), CONFIG)
    assert isinstance(note, Note)
    assert (note.lang, note.problems) == (None, ())


def test_deeply_nested_front_matter_is_a_finding(tmp_path: Path) -> None:
    """Front matter nested deeper than the interpreter can build is a problem, not a crash."""
    note = read_note(write(tmp_path / "a.md", "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n"),
                     CONFIG)
    assert isinstance(note, Note)
    assert note.problems[0].kind == "front-matter"


def test_an_unexpected_error_in_one_note_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever raises while one note is parsed becomes an unreadable problem on that note."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("scanner bug")
    monkeypatch.setattr("linkaudit.scan.note.extract", broken)
    note = parse_note(Path("a.md"), "text", CONFIG)
    assert [(p.kind, "scanner bug" in p.message) for p in note.problems] == [("unreadable", True)]


@pytest.mark.parametrize("command", ["scan", "fix"])
def test_bad_front_matter_does_not_stop_scan_or_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """scan and fix go on past a note whose front matter cannot be built, without a crash."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("LINKAUDIT_")]:
        monkeypatch.delenv(name)
    write(tmp_path / "config.yaml", "scan:\n  roots: [notes]\n")
    write(tmp_path / "notes" / "bad.md", "---\ndate: 2025-02-30\n---\nhttps://a.example/x\n")
    write(tmp_path / "notes" / "good.md", "[a](https://b.example/?utm_source=x)\n")
    out, err = io.StringIO(), io.StringIO()
    code = main([command, "--format", "json"] if command == "scan" else [command],
                stdout=out, stderr=err)
    assert code in (0, 1), err.getvalue()  # fix's dry-run exit code is its own business
    assert "Traceback" not in err.getvalue()
    if command == "scan":
        kinds = sorted(f["kind"] for f in json.loads(out.getvalue())["findings"])
        assert kinds == ["front-matter", "tracking"]


_YAML_PIECES = ["date: 2025-02-30", "n: !!float abc", "n: !!int 0x", "lang: no", "a: &x [1]",
                "b: *x", "c: *missing", "t: !!python/object:os.system x", "- list", "k: [",
                "k: 'unclosed", "lang: [de, en]", "lang: {a: 1}", "x: 1e999", "d: 2025-13-01",
                "ts: 2025-02-29 10:00:00", "key: value", ": nothing", "? complex", "\t: tab"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_YAML_PIECES), max_size=5),
       st.text(alphabet="[]()!<>`\\:/ -#*\nhttps.é\r\t\x00", max_size=200),
       st.sampled_from(["a.md", "de/a-de.md", "x\u202e.md", "sp ace.md", "-n.md"]))
def test_any_tree_of_hostile_notes_scans_to_notes_and_problems(
        yaml_lines: list[str], body: str, name: str) -> None:
    """Whatever the front matter, body and name, the scan yields a Note or a problem per file."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        text = "---\n" + "\n".join(yaml_lines) + "\n---\n" + body
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        (result,) = scan_paths([Path(folder)], CONFIG)
        assert isinstance(result, (Note, FileProblem))
        if isinstance(result, Note):
            assert all(p.kind == "front-matter" for p in result.problems), result.problems
            for link in result.links:
                assert result.text[link.span.start:link.span.end] == link.url


# ---------------------------------------------------------------- files


@POSIX_ONLY
def test_a_fifo_named_like_a_note_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO is reported as not a regular file; reading it never waits for a writer."""
    os.mkfifo(tmp_path / "pipe.md")
    results = list(scan_paths([tmp_path], CONFIG))
    assert [(r.kind, "FIFO" in r.message) for r in results if isinstance(r, FileProblem)] == [
        ("unreadable", True)]


@POSIX_ONLY
@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/zero"])
def test_symlinks_out_of_the_roots_are_not_read(tmp_path: Path, target: str) -> None:
    """A symlinked note pointing outside the scanned folders is reported, its target unread."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "e.md").symlink_to(target)
    (result,) = scan_paths([tmp_path / "notes"], CONFIG)
    assert isinstance(result, FileProblem)
    assert "outside the scanned folders" in result.message
    problem = problem_of(tmp_path / "notes" / "e.md")  # named directly: the same answer
    assert "outside the scanned folders" in problem.message


@POSIX_ONLY
def test_follow_symlinks_still_reads_only_regular_files(tmp_path: Path) -> None:
    """With scan.follow_symlinks, a link to a device is still refused (not a regular file)."""
    (tmp_path / "z.md").symlink_to("/dev/zero")
    problem = problem_of(tmp_path / "z.md", replace(CONFIG, follow_symlinks=True))
    assert "not a regular file (a device)" in problem.message


@POSIX_ONLY
def test_symlinks_inside_the_roots_are_read(tmp_path: Path) -> None:
    """A symlink to another note inside the scanned folders is read as usual."""
    write(tmp_path / "en" / "a.md", "https://a.example/\n")
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "a.md").symlink_to(Path("..") / "en" / "a.md")
    results = list(scan_paths([tmp_path], CONFIG))
    assert [type(r).__name__ for r in results] == ["Note", "Note"]


def test_notes_over_the_size_limit_are_reported_and_skipped(tmp_path: Path) -> None:
    """A note larger than scan.max_note_size is an unreadable problem naming the limit."""
    path = write(tmp_path / "big.md", "x" * 2000)
    problem = problem_of(path, replace(CONFIG, max_note_size=1000))
    assert "over scan.max_note_size (1,000)" in problem.message
    assert isinstance(read_note(path, replace(CONFIG, max_note_size=2000)), Note)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
def test_the_read_stops_at_the_limit_whatever_the_claimed_size(tmp_path: Path) -> None:
    """A file claiming size 0 (as /proc files do) is still read no further than the limit."""
    (tmp_path / "status.md").symlink_to("/proc/self/status")
    config = replace(CONFIG, max_note_size=10, follow_symlinks=True)
    assert "more than 10 bytes" in problem_of(tmp_path / "status.md", config).message


# ---------------------------------------------------------------- bounded cost


def test_link_text_of_nested_images_is_not_kept_when_long() -> None:
    """Nested image brackets keep short alt texts only, so memory stays linear."""
    depth = 2000
    found = extract("![" * depth + "a" + "](u)" * depth)
    assert len(found.links) == depth
    assert sum(len(link.text or "") for link in found.links) <= 256 * depth
    assert found.links[-1].text is None and found.links[0].text == "a"


def test_the_fast_bare_url_run_never_takes_a_stopping_character() -> None:
    """Every character the one-step run takes is one the bare-URL rule lets through."""
    run = re.compile(r"[!-;=-~\w]")
    takes = (chr(c) for c in range(sys.maxunicode + 1)
             if unicodedata.category(chr(c)) != "Cs")
    assert not [c for c in takes if run.fullmatch(c) and stops_bare_url(c)]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="![]()<>`\\:/ h\n*-#é", min_size=1, max_size=40),
       st.integers(min_value=1, max_value=200))
def test_repeated_snippets_scan_with_spans_intact(piece: str, copies: int) -> None:
    """Any snippet repeated many times scans without error and every span holds its URL."""
    text = piece * copies
    for link in extract(text).links:
        assert text[link.span.start:link.span.end] == link.url


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="()\\a \n", max_size=80))
def test_the_too_deep_shortcut_changes_no_destination(parens: str) -> None:
    """Refusing 33 open parentheses at once finds exactly what the walk finds."""
    text = "[a](" + parens + ")"
    shortcut = extract(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("linkaudit.scan.markdown.links._TOO_DEEP", re.compile(r"(?!)"))
        assert extract(text) == shortcut


def test_deep_parentheses_are_refused_past_32_levels() -> None:
    """32 nested parentheses make a destination; 33 do not (the limit cmark uses too)."""
    assert [link.url for link in extract("[a](" + "(" * 32 + ")" * 33).links] == [
        "(" * 32 + ")" * 32]
    assert extract("[a](" + "(" * 33 + ")" * 34).links == ()


# ---------------------------------------------------------------- user regexes


def test_catastrophic_patterns_run_in_linear_time() -> None:
    """(a+)+$ on a long non-matching text answers at once on RE2."""
    pattern = compile_user_regex(r"(a+)+$", "test")
    assert pattern.search("a" * 100_000 + "b") is None


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=x)y", r"(?<!x)y", "("])
def test_patterns_re2_cannot_run_are_config_errors(pattern: str) -> None:
    """Back-references, look-around and broken patterns are config errors naming the place."""
    with pytest.raises(ConfigError, match=r"^where: bad regular expression"):
        compile_user_regex(pattern, "where")


@pytest.mark.parametrize(("section", "text"), [
    ("ignore", "ignore:\n  - pattern: '(?=x)'\n"),
    ("family_pattern", "scan:\n  family_pattern: '(a)\\1'\n"),
])
def test_config_patterns_are_checked_for_re2(tmp_path: Path, section: str, text: str) -> None:
    """Loading a config with a pattern RE2 cannot run is a config error (exit 2)."""
    path = write(tmp_path / "config.yaml", text)
    with pytest.raises(ConfigError, match=section):
        load_config(path, environ={})


def test_ignore_rules_and_exclude_globs_match_on_re2(tmp_path: Path) -> None:
    """Ignore rules still suppress by URL; many-star globs still exclude, quickly."""
    rule = IgnoreRule(pattern=r"(a+)+\.example", reason="flaky")
    suppressions = Suppressions([rule])
    from linkaudit.models import Finding, Severity
    finding = Finding(kind="dead", severity=Severity.ERROR, path=Path("a.md"), line=1,
                      column=1, message="m", url="https://aaaa.example/")
    assert suppressions.reason(finding) == "flaky"
    write(tmp_path / ("a/" * 30) / "x.md", "x")
    write(tmp_path / "keep.md", "x")
    config = replace(CONFIG, exclude=("**/" * 12 + "x.md",))
    assert [p.name for p in iter_note_paths([tmp_path], config)] == ["keep.md"]


def test_links_past_max_links_per_note_are_dropped_and_reported(tmp_path: Path) -> None:
    """Only the first scan.max_links_per_note links, in text order, reach the audit; a
    too-many-links problem points at the first link dropped."""
    path = tmp_path / "a.md"
    path.write_text("[d]: https://d.example/\n\nhttps://a.example/ [d]\n"
                    "https://b.example/\nhttps://c.example/\n", encoding="utf-8")
    note = read_note(path, replace(CONFIG, max_links_per_note=3))
    assert isinstance(note, Note)
    assert [link.url for link in note.links] == ["https://d.example/", "https://a.example/",
                                                 "https://b.example/"]
    [problem] = note.problems
    assert (problem.kind, problem.line, problem.column) == ("too-many-links", 5, 1)
    assert "4 links, over scan.max_links_per_note (3)" in problem.message
    full = read_note(path, replace(CONFIG, max_links_per_note=4))
    assert isinstance(full, Note) and len(full.links) == 4 and not full.problems


def test_max_links_per_note_is_validated_and_its_finding_is_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key takes a positive count; a scan reports the note once, as a warning."""
    with pytest.raises(ConfigError, match="max_links_per_note"):
        load_config(None, overrides={"scan.max_links_per_note": 0}, environ={},
                    search_from=tmp_path)
    (tmp_path / "a.md").write_text("https://a.example/ https://b.example/\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINKAUDIT_SCAN__MAX_LINKS_PER_NOTE", "1")
    out = io.StringIO()
    code = main(["scan", str(tmp_path), "--format", "json", "--fail-on", "warning"],
                stdout=out, stderr=io.StringIO())
    findings = json.loads(out.getvalue())["findings"]
    assert code == 1
    assert [(f["kind"], f["severity"], f["line"], f["column"]) for f in findings] == [
        ("too-many-links", "warning", 1, 20)]
