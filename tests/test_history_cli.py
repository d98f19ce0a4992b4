"""The history store through the command line: partial check runs keep what they did not read."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tests.test_cli import PROJECT, findings, run, tree, write_note

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
    """A note whose name holds byte 0xff goes through check and report with its name intact:
    exact in JSON, a readable escape in text."""
    path = write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    odd = path.with_name(os.fsdecode(b"caf\xff-en.md"))
    path.rename(odd)
    assert run("check")[0] == 0
    code, out, _ = run("report")
    assert code == 0
    assert "notes/en/caf\\xff-en.md:" in out
    code, out, _ = run("report", "--format", "json")
    assert code == 0
    assert {os.fsencode(finding["file"]) for finding in findings(out)} \
        == {os.fsencode(odd.relative_to(tree))}


HOLDER = """
import sys
from pathlib import Path
from linkaudit.history.store import Store

with Store.open(Path(sys.argv[1]), lock_timeout=5):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_run_waits_then_exits_three_while_readers_go_on(
    tree: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the store, `check` waits lock_timeout and exits 3 naming
    it; `report` reads meanwhile."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    assert run("check")[0] == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tree / ".linkaudit" / "history.sqlite")],
        cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        monkeypatch.setenv("LINKAUDIT_STORE__LOCK_TIMEOUT", "0.3s")
        started = time.monotonic()
        code, _, err = run("check")
        assert code == 3
        assert time.monotonic() - started >= 0.3
        assert f"another linkaudit run holds the store (pid {holder.pid} since " in err
        assert "waited 0.3 s" in err
        assert run("report")[0] == 0
    finally:
        holder.communicate("", timeout=10)
    assert run("check")[0] == 0
