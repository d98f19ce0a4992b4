"""--output is always rewritten: with nothing to report it holds the format's empty but
valid document, never last night's file."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.cli_support import clear_environment, run

WEB = httpx.MockTransport(lambda request: httpx.Response(
    301, headers={"Location": "https://site.test/new"}) if request.url.path == "/old"
    else httpx.Response(200))


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose one note cites a permanently moved page (a change on the first run)."""
    monkeypatch.chdir(tmp_path)
    clear_environment(monkeypatch)
    (tmp_path / "linkaudit.yaml").write_text(
        "scan:\n  roots: [notes]\nnetwork:\n  allow_private: true\n  retries: 0\n",
        encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "p.md").write_text("See [a](https://site.test/old).\n",
                                             encoding="utf-8")
    return tmp_path


def empty_document_is_valid(fmt: str, text: str) -> None:
    if fmt in ("text", "markdown", "github"):
        assert text == ""
    elif fmt == "json":
        assert json.loads(text)["findings"] == []
    elif fmt == "sarif":
        (sarif_run,) = json.loads(text)["runs"]
        assert sarif_run["results"] == []
    elif fmt == "junit":
        assert ET.fromstring(text).tag in ("testsuites", "testsuite")
        assert "<failure" not in text
    else:
        assert text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "github",
                                 "html"])
def test_changes_only_with_nothing_changed_rewrites_output(tree: Path, fmt: str) -> None:
    """The first --changes-only run reports the redirect; the second, with nothing changed,
    replaces the file with an empty but valid document and exits 0."""
    output = tree / f"changes.{fmt}"
    code, out, _ = run("check", "--changes-only", "--format", fmt, "--output", output.name,
                       transport=WEB)
    assert out == ""
    assert "site.test/new" in output.read_text(encoding="utf-8")
    output.write_text("last night's report\n", encoding="utf-8")
    code, out, _ = run("check", "--changes-only", "--format", fmt, "--output", output.name,
                       transport=WEB)
    assert (code, out) == (0, "")
    text = output.read_text(encoding="utf-8")
    assert "last night" not in text and "site.test/new" not in text
    empty_document_is_valid(fmt, text)


def test_changes_only_json_on_stdout_is_an_empty_document(tree: Path) -> None:
    """On standard output too, nothing changed in JSON is a valid document with no findings."""
    run("check", "--changes-only", transport=WEB)
    code, out, _ = run("check", "--changes-only", "--format", "json", transport=WEB)
    assert code == 0
    empty_document_is_valid("json", out)


def test_run_records_the_command_line_given(tree: Path) -> None:
    """The store records the arguments main() was given (the run's scope), not sys.argv."""
    run("check", "notes", "--format", "json", transport=WEB)
    with sqlite3.connect(tree / ".linkaudit" / "history.sqlite") as db:
        (arguments,) = db.execute("SELECT arguments FROM runs").fetchone()
    assert json.loads(arguments) == ["check", "notes", "--format", "json"]
