"""`linkaudit fix` by the conventions people know: --check, --format json, --output,
what was left alone; and the gate's file list."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli_support import clear_environment, run

NOTE = "---\nlang: en\n---\nSee [a][1] and [b][2].\n\n[1]: {one}\n[2]: {two}\n"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one note citing a tracked URL, and no store yet."""
    monkeypatch.chdir(tmp_path)
    clear_environment(monkeypatch)
    (tmp_path / "linkaudit.yaml").write_text("scan:\n  roots: [notes]\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "p-en.md").write_text(
        NOTE.format(one="https://a.example/x?utm_source=chatgpt.com", two="https://b.example/"),
        encoding="utf-8")
    return tmp_path


def test_check_exits_one_with_edits_pending_and_shows_them(tree: Path) -> None:
    """fix --check writes nothing, prints the diff and exits 1; once fixed it exits 0."""
    note = tree / "notes" / "p-en.md"
    before = note.read_bytes()
    code, out, err = run("fix", "--check")
    assert code == 1
    assert "-[1]: https://a.example/x?utm_source=chatgpt.com" in out
    assert "pending (--check)" in err
    assert note.read_bytes() == before
    assert run("fix")[0] == 0  # the plain dry run exits 0 with edits pending
    assert run("fix", "--write")[0] == 0
    code, out, _ = run("fix", "--check")
    assert (code, out) == (0, "")


def test_without_a_store_says_redirects_and_dead_links_wait_for_a_check(tree: Path) -> None:
    """The first fix, before any check: tracking is cleaned, and stderr says why redirects
    and dead links are not rewritten and how to get them (check first, or --online)."""
    code, out, err = run("fix")
    assert code == 0
    assert "+[1]: https://a.example/x\n" in out
    assert "no history yet" in err
    assert "redirects and dead links are left as they are" in err
    assert "--online" in err


def test_an_unreadable_store_is_named_and_tracking_still_fixed(tree: Path) -> None:
    """A damaged store is left as it is and named; the fix still cleans tracking."""
    store = tree / ".linkaudit" / "history.sqlite"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 20)
    code, out, err = run("fix")
    assert code == 0
    assert "+[1]: https://a.example/x\n" in out
    assert "history.sqlite" in err and "left as they are" in err
    assert store.read_bytes() == b"this is not a database" * 20


def test_check_and_write_together_is_a_usage_error(tree: Path) -> None:
    """--check and --write contradict each other: exit 2."""
    assert run("fix", "--check", "--write")[0] == 2


def test_fail_on_is_not_accepted_by_fix(tree: Path) -> None:
    """fix has no --fail-on (its only failing condition is --check): exit 2, not ignored."""
    assert run("fix", "--fail-on", "warning")[0] == 2


def test_format_json_is_the_plan(tree: Path) -> None:
    """--format json lists each edit with file, line, column, old, new and reason."""
    code, out, _ = run("fix", "--format", "json")
    assert code == 0
    plan = json.loads(out)
    assert plan["applied"] is False
    assert plan["edits"] == [{
        "file": "notes/p-en.md", "line": 6, "column": 6,
        "old": "https://a.example/x?utm_source=chatgpt.com", "new": "https://a.example/x",
        "reason": "tracking"}]
    assert plan["summary"] == {"edits": 1, "files": 1, "by_reason": {"tracking": 1},
                               "left_alone": 0}


def test_output_holds_the_plan_and_is_rewritten_when_empty(tree: Path) -> None:
    """--output receives the diff or JSON; with nothing left to fix it is rewritten empty
    (diff) or as an empty plan (JSON)."""
    code, out, _ = run("fix", "--output", "fix.diff")
    assert code == 0 and out == ""
    assert "+[1]: https://a.example/x\n" in (tree / "fix.diff").read_text(encoding="utf-8")
    assert run("fix", "--write", "--format", "json", "--output", "plan.json")[0] == 0
    assert json.loads((tree / "plan.json").read_text(encoding="utf-8"))["applied"] is True
    assert run("fix", "--output", "fix.diff")[0] == 0
    assert (tree / "fix.diff").read_text(encoding="utf-8") == ""
    assert run("fix", "--format", "json", "--output", "plan.json")[0] == 0
    assert json.loads((tree / "plan.json").read_text(encoding="utf-8"))["edits"] == []


def test_files_from_naming_a_missing_file_exits_two(tree: Path) -> None:
    """Every path in --files-from must exist: a typo is a usage error naming it."""
    (tree / "list.txt").write_text("notes/p-en.md\nnotes/typo.md\n", encoding="utf-8")
    code, _, err = run("scan", "--files-from", "list.txt")
    assert code == 2 and "--files-from: no such file: notes/typo.md" in err


def test_summary_names_dead_links_not_confirmed_yet(tree: Path) -> None:
    """A link failing once is left alone, and fix says so and why (stderr and JSON)."""
    (tree / "linkaudit.yaml").write_text(
        "scan:\n  roots: [notes]\nnetwork:\n  allow_private: true\n  retries: 0\n",
        encoding="utf-8")
    (tree / "notes" / "p-en.md").write_text(
        NOTE.format(one="https://site.test/gone", two="https://site.test/ok"), encoding="utf-8")
    web = httpx.MockTransport(lambda request: httpx.Response(
        404 if request.url.path == "/gone" else 200))
    assert run("check", transport=web)[0] == 0
    code, out, err = run("fix", "--format", "json")
    assert code == 0
    assert ("notes/p-en.md:6:6: https://site.test/gone: dead link not confirmed yet; "
            "1 failed check since") in err
    assert "1 link left alone" in err
    (left,) = json.loads(out)["left_alone"]
    assert left["url"] == "https://site.test/gone" and "not confirmed yet" in left["reason"]
