"""Whole trees from a generator, through the command line in-process (issue 11).

Small trees of notes with hostile names, front matter (YAML that parses to odd shapes,
or does not parse), Markdown holding links of every form to hostile URLs, and every
encoding a note may come in (BOM, CRLF, lone CR, Latin-1, UTF-16). ``scan`` in every
format and ``fix`` (dry run, then ``--write`` twice on the tree) must exit 0-3 without a
traceback or an internal error, give output that parses and carries nothing raw, and the
second ``--write`` must change nothing. Bounded: a few dozen examples, a few seconds, and
no shrinking (a failing tree is shown as generated: each example runs the CLI ten times,
and shrinking one took minutes).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from linkaudit.clean import rules
from linkaudit.report import REPORTERS
from tests.cli_support import clear_environment, run
from tests.test_hostile_names import assert_parses, assert_safe

NAMES = [b"a.md", b"caf\xe9.md", b"a\n::error::b.md", b"esc\x1b[2J.md", b"sp ace.md",
         b"-dash.md", b"\xe2\x80\xaebidi.md", b"_posts/en/2024-01-01-x-en.md",
         b"_posts/ja/2024-01-01-x-ja.md", b"sub/dir/n.md", b"##[error]x.md", b"\xff\xfe.md"]
FRONT_MATTER = ["title: x", "lang: en", "date: 2024-01-01", "title: [", "a: &a [*a, *a]",
                "x: !!binary abc", 'title: "\\x1b[31m\\u202e"', "- a list", "lang: 5",
                "tags: {a: b}", "title: |\n  two\n  lines", "x: !!python/object:os.system {}",
                "x: !!set {a, b}", "? [a]\n: b", "<<: [1]", "x: 1e999", "\t: tab", ""]
URLS = ["https://example.com/a?utm_source=x&id=1", "https://example.com/a", "http://x.org/",
        "https://example.com/p(1)", "https://例え.jp/記事?fbclid=1", "javascript:alert(1)",
        "mailto:a@b.c", "../other.md", "#frag", "http://[::1", "https://e.com/\x1b[31m",
        "https://e.com/a\u202eb", "https://e.com/%0A::error::x", "<https://a.b/ c>", ""]
FORMS = ["[t]({u})", "[t](<{u}>)", '[t]({u} "title")', "[t][r]\n\n[r]: {u}", "[r][]",
         "[r]\n[r]: {u}\n[r]: {u}?dup=1", "<{u}>", "{u}", "![alt]({u})",
         '<a href="{u}">x</a>', "<img src={u}>", "`[t]({u})`", "```\n[t]({u})\n```",
         "<!-- linkaudit-ignore-next-line -->\n[t]({u})", "[[t]({u})]({u})", "[t]({u}",
         "# [heading]({u})", "> [quoted]({u})", "- [item]({u})", "[t]: {u} 'title'\n"]
ENDINGS = ["\n", "\r\n", "\r"]
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16"]


@st.composite
def notes(draw: st.DrawFn) -> bytes:
    """One note's bytes: optional front matter, links of several forms, some noise."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines += ["---", draw(st.sampled_from(FRONT_MATTER)), "---"]
    for _ in range(draw(st.integers(1, 5))):
        form = draw(st.sampled_from(FORMS))
        lines.append(form.format(u=draw(st.sampled_from(URLS))))
        lines.append(draw(st.text(st.characters(codec="utf-8"), max_size=12)))
    text = draw(st.sampled_from(ENDINGS)).join(lines)
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, "replace")


trees = st.dictionaries(st.sampled_from(NAMES), notes(), min_size=1, max_size=4)


def write_tree(root: Path, tree: dict[bytes, bytes]) -> None:
    for name, data in tree.items():
        path = os.path.join(os.fsencode(root), b"notes", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as note:
            note.write(data)


def snapshot(root: Path) -> dict[bytes, bytes]:
    """Every file under ``root`` by relative name, as bytes."""
    found = {}
    for folder, _, files in os.walk(os.fsencode(root)):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, os.fsencode(root))] = handle.read()
    return found


def cli(*argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr; the run must end as the issue asks."""
    code, out, stderr = run(*argv)
    assert 0 <= code <= 3, (argv, code, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, (argv, stderr)
    assert_safe("text", stderr)
    return code, out, stderr


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LINKAUDIT_* variable; the built-in rules file parsed once, not once per run."""
    clear_environment(monkeypatch)
    monkeypatch.setattr(rules, "_builtin_data", functools.cache(rules._builtin_data))


@pytest.mark.usefixtures("clean_environment")
@settings(max_examples=40, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(trees)
def test_whole_trees_through_scan_and_fix(tree: dict[bytes, bytes]) -> None:
    """Any generated tree scans in every format and fixes idempotently, with safe output."""
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        root = Path(folder)
        write_tree(root, tree)
        for fmt in REPORTERS:
            code, out, _ = cli("scan", "notes", "--format", fmt)
            assert code in (0, 1)
            assert_safe(fmt, out, own_commands=len(out.splitlines()) if fmt == "github"
                        else 0)
            assert_parses(fmt, out)
        _, diff, _ = cli("fix", "notes")
        assert_safe("diff", diff)
        before = snapshot(root)
        cli("fix", "notes", "--write")
        once = snapshot(root)
        assert once.keys() == before.keys()
        cli("fix", "notes", "--write")
        assert snapshot(root) == once, "a second fix --write changed the tree"
        shutil.rmtree(root / "notes")


UNCONSTRUCTIBLE = ["date: 2025-02-30", "x: !!float abc", "x: !!int 0x",
                   "x: !!timestamp 2020-13-01"]


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("value", UNCONSTRUCTIBLE)
def test_front_matter_yaml_cannot_construct_is_a_finding(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         value: str) -> None:
    """YAML that parses but cannot construct is a finding for its note; others still scan."""
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {b"bad.md": f"---\n{value}\n---\n[a](https://a.example/)\n".encode(),
                          b"good.md": b"[b](https://b.example/?utm_source=x)\n"})
    code, out, _ = cli("scan", "notes", "--format", "json")
    assert code == 1
    assert "front-matter" in out and "notes/good.md" in out
