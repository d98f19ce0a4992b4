"""A gate run reports the change: findings in the changed notes and the cross-translation
findings the change caused; what untouched translations already had is only counted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from linkaudit.run import gate
from tests.cli_support import clear_environment, run

SOURCES = {
    "old": "https://old.example/a?utm_source=chatgpt.com",  # tracked, in every translation
    "y": "https://y.example/",  # in en and de only: drift from before the change
}


def note(lang: str, *sources: str) -> str:
    body = " ".join(f"[s{i}][{i}]" for i in range(len(sources)))
    definitions = "".join(f"[{i}]: {url}\n" for i, url in enumerate(sources))
    return f"---\nlang: {lang}\n---\n{body}\n\n{definitions}"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root,
                   check=True, capture_output=True)


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed family of three translations with old tracking and old drift."""
    monkeypatch.chdir(tmp_path)
    clear_environment(monkeypatch)
    (tmp_path / "linkaudit.yaml").write_text("scan:\n  roots: [_posts]\n", encoding="utf-8")
    for lang, sources in (("en", ("old", "y")), ("de", ("old", "y")), ("ja", ("old",))):
        path = tmp_path / "_posts" / lang / f"2025-01-01-post-{lang}.md"
        path.parent.mkdir(parents=True)
        path.write_text(note(lang, *(SOURCES[s] for s in sources)), encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "posts")
    return tmp_path


def edit_en(root: Path, *sources: str) -> None:
    (root / "_posts" / "en" / "2025-01-01-post-en.md").write_text(note("en", *sources),
                                                                  encoding="utf-8")


def findings(out: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(out)["findings"]
    return data


def test_gate_shows_the_change_and_counts_the_rest(family: Path) -> None:
    """A source added in en only: its drift and en's own tracking are listed; de's and ja's
    old tracking and the old drift are a count in the summary."""
    edit_en(family, SOURCES["old"], SOURCES["y"], "https://new.example/")
    code, out, _ = run("scan", "--changed-since", "HEAD", "--format", "json")
    assert code == 0
    shown = sorted((f["kind"], f["file"].split("/")[1], f["url"]) for f in findings(out))
    assert shown == [("tracking", "en", SOURCES["old"]),
                     ("translation-drift", "en", "https://new.example/")]
    assert json.loads(out)["summary"]["outside_change"] == 3  # de, ja tracking; old drift
    _, text, _ = run("scan", "--changed-since", "HEAD")
    assert "3 findings already in notes outside the change, not listed" in text


def test_github_annotations_only_for_the_change(family: Path) -> None:
    """No workflow annotation points at an untouched translation."""
    edit_en(family, SOURCES["old"], SOURCES["y"], "https://new.example/")
    _, out, _ = run("scan", "--changed-since", "HEAD", "--format", "github",
                    "--fail-on", "warning")
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert len(annotations) == 2
    assert all("file=_posts/en/" in line for line in annotations)


def test_source_dropped_from_one_translation_is_the_changes(family: Path) -> None:
    """Dropping a source from en makes drift that lands on de: caused by the change, listed."""
    edit_en(family, SOURCES["old"])
    _, out, _ = run("scan", "--changed-since", "HEAD", "--format", "json")
    drift = [f for f in findings(out) if f["kind"] == "translation-drift"]
    assert [(f["file"].split("/")[1], f["url"]) for f in drift] == [("de", SOURCES["y"])]
    assert "missing from en, ja" in drift[0]["message"]


def test_no_change_no_findings(family: Path) -> None:
    """Touching a note without changing its sources lists only its own findings."""
    path = family / "_posts" / "en" / "2025-01-01-post-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nMore text.\n", encoding="utf-8")
    _, out, _ = run("scan", "--changed-since", "HEAD", "--format", "json")
    assert [(f["kind"], f["file"].split("/")[1]) for f in findings(out)] == [("tracking", "en")]


def test_files_from_lists_family_drift_without_a_base(family: Path) -> None:
    """--files-from has no base revision: the family's cross-translation findings are all
    listed; the untouched notes' own findings are still only counted."""
    (family / "list.txt").write_text("_posts/ja/2025-01-01-post-ja.md\n", encoding="utf-8")
    _, out, _ = run("scan", "--files-from", "list.txt", "--format", "json")
    shown = sorted((f["kind"], f["file"].split("/")[1]) for f in findings(out))
    assert shown == [("tracking", "ja"), ("translation-drift", "de")]
    assert json.loads(out)["summary"]["outside_change"] == 2


def test_full_scan_has_no_outside_count(family: Path) -> None:
    """Outside a gate nothing is left out and the summary has no outside_change."""
    _, out, _ = run("scan", "--format", "json")
    assert "outside_change" not in json.loads(out)["summary"]
    assert len(findings(out)) == 4


def test_texts_at_reads_every_changed_note_in_one_batch(tmp_path: Path) -> None:
    """Base texts come back byte for byte (CRLF kept), for odd names too; a note new in
    the change, or a folder at the base, has no base text."""
    (tmp_path / "a b.md").write_bytes(b"caf\xc3\xa9\r\nline\r\n")
    (tmp_path / "x.md").mkdir()
    (tmp_path / "x.md" / "inner.md").write_text("in a folder\n", encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    (tmp_path / "new.md").write_text("new\n", encoding="utf-8")
    paths = [tmp_path / "a b.md", tmp_path / "new.md", tmp_path / "x.md"]
    texts = gate.texts_at("HEAD", paths, tmp_path)
    assert texts == {str(tmp_path / "a b.md"): "café\r\nline\r\n",
                     str(tmp_path / "new.md"): None, str(tmp_path / "x.md"): None}
