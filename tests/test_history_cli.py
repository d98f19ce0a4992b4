"""The history store through the command line: partial check runs keep what they did not read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tests.test_cli import findings, run, tree, write_note

__all__ = ["tree"]  # the project-folder fixture, shared with test_cli


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.mark.parametrize("selection", [
    pytest.param(["notes/en/p-en.md"], id="path"),
    pytest.param(["--files-from", "changed.txt"], id="files-from"),
])
def test_partial_check_keeps_citations_of_unread_notes(
    tree: Path, server: LoopbackServer, selection: list[str]
) -> None:
    """After a check over one note, `report` still places the other note's URLs in it."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    write_note(tree, "q", "de", server.url("/ok"), server.url("/status/410"))
    (tree / "changed.txt").write_text("notes/en/p-en.md\n", encoding="utf-8")
    assert run("check")[0] == 0
    assert run("check", *selection)[0] in (0, 1)  # a gate run confirms its new links now
    code, out, _ = run("report", "--format", "json")
    placed = {f["url"]: f["file"] for f in findings(out)}
    assert placed == {server.url("/status/404"): "notes/en/p-en.md",
                      server.url("/status/410"): "notes/de/q-de.md"}
    assert code == 0


def test_check_and_report_with_an_undecodable_note_name(
    tree: Path, server: LoopbackServer
) -> None:
    """A note whose name holds byte 0xff goes through check and report with its name intact."""
    path = write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    odd = path.with_name(os.fsdecode(b"caf\xff-en.md"))
    path.rename(odd)
    assert run("check")[0] == 0
    code, out, _ = run("report")
    assert code == 0
    assert str(odd.relative_to(tree)) in out
