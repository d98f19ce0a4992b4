"""How the command line fails: internal errors, numbers that are not finite, and an
--output that cannot be written never leave a traceback, a wrong exit code or half a file."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from linkaudit.cli import offline
from tests.cli_support import clear_environment, run


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with one note and no configuration."""
    monkeypatch.chdir(tmp_path)
    clear_environment(monkeypatch)
    (tmp_path / "note.md").write_text("A [link](https://a.example/x).\n", encoding="utf-8")
    return tmp_path


def explode(*_args: object, **_kwargs: object) -> object:
    raise ValueError("something\nunexpected\x1b[31m")


def test_internal_error_is_one_line_and_exit_three(tree: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug anywhere ends the run with exit 3 and one clean line on stderr, no traceback."""
    monkeypatch.setattr(offline, "run_scan", explode)
    code, out, err = run("scan", "note.md")
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err
    assert "internal error (ValueError: something unexpected" in err
    assert "--debug" in err


def test_debug_shows_the_traceback(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--debug prints the traceback before the one-line message; still exit 3."""
    monkeypatch.setattr(offline, "run_scan", explode)
    code, _, err = run("scan", "note.md", "--debug")
    assert code == 3
    assert "Traceback (most recent call last)" in err and "internal error" in err


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+400", "1" + "0" * 400])
def test_config_numbers_must_be_finite(tree: Path, value: str) -> None:
    """NaN and infinity in a config number are a config error naming the key (exit 2)."""
    (tree / "linkaudit.yaml").write_text(f"network:\n  total_timeout: {value}\n",
                                         encoding="utf-8")
    code, _, err = run("scan", "note.md", "--config", "linkaudit.yaml")
    assert code == 2
    assert "network.total_timeout: expected a finite number" in err


def test_environment_number_must_be_finite(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment override is held to the same rule."""
    monkeypatch.setenv("LINKAUDIT_CACHE__MAX_AGE", ".nan")
    code, _, err = run("scan", "note.md")
    assert code == 2 and "cache.max_age: expected a finite number" in err


def test_unbuildable_yaml_value_is_a_config_error(tree: Path) -> None:
    """A value YAML parses but cannot build (a 30 February) is exit 2, not a crash."""
    (tree / "linkaudit.yaml").write_text("scan:\n  lang_key: !!timestamp 2025-02-30\n",
                                         encoding="utf-8")
    code, _, err = run("scan", "note.md", "--config", "linkaudit.yaml")
    assert code == 2 and "invalid YAML value" in err


@pytest.mark.parametrize("fmt", ["json", "text", "markdown", "junit", "sarif", "github", "html"])
def test_output_disk_full_keeps_the_old_report(tree: Path, fmt: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while writing --output (every format streams to it): exit 3, a clear
    message, the previous report whole and no temporary file left behind."""
    assert run("scan", "note.md", "--format", fmt, "--output", "report")[0] == 0
    before = (tree / "report").read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    (tree / "note.md").write_text("Another [link](https://b.example/y).\n", encoding="utf-8")
    code, out, err = run("scan", "note.md", "--format", fmt, "--output", "report")
    assert code == 3 and out == ""
    assert "cannot write report: No space left on device" in err
    assert (tree / "report").read_bytes() == before
    assert sorted(p.name for p in tree.iterdir()) == ["note.md", "report"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("fmt", ["json", "html"])
def test_output_to_a_pipe_writes_through_it(tree: Path, fmt: str) -> None:
    """--output naming a pipe (as /dev/stdout or a shell's >(...) do) writes the report into
    it and leaves the pipe a pipe: it is never swapped for a regular file."""
    pipe = tree / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []

    def read() -> None:
        with open(pipe, "rb") as source:
            received.append(source.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code, out, err = run("scan", "note.md", "--format", fmt, "--output", "pipe")
    reader.join(timeout=10)
    assert code == 0 and out == "", err
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert received and b"note.md" in received[0]
    assert sorted(p.name for p in tree.iterdir()) == ["note.md", "pipe"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_output_to_a_full_device_is_a_clear_error(tree: Path) -> None:
    """A device that refuses the bytes (/dev/full) is exit 3 with the reason; the device
    stays a device (run as root, a swap would have replaced it with a regular file)."""
    code, _, err = run("scan", "note.md", "--format", "json", "--output", "/dev/full")
    assert code == 3
    assert "cannot write /dev/full: No space left on device" in err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_output_keeps_permissions_of_the_file_it_replaces(tree: Path) -> None:
    """Rewriting an existing report keeps its permission bits."""
    report = tree / "report.txt"
    report.write_text("old\n", encoding="utf-8")
    report.chmod(0o640)
    assert run("scan", "note.md", "--output", "report.txt")[0] == 0
    assert report.stat().st_mode & 0o777 == 0o640
    assert "old" not in report.read_text(encoding="utf-8")


def test_output_survives_a_file_name_that_is_not_utf8(tree: Path) -> None:
    """A note whose name is not UTF-8 is written to --output as a \\udcXX escape, not a crash."""
    try:
        (tree / os.fsdecode(b"caf\xe9.md")).write_text("[x](https://a.example/?utm_source=x)\n",
                                                       encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    code, _, err = run("scan", ".", "--format", "json", "--output", "report.json")
    assert code == 0, err
    names = {f["file"] for f in json.loads((tree / "report.json").read_text(encoding="utf-8"))
             ["findings"]}
    assert os.fsdecode(b"caf\xe9.md") in names


def test_messages_escape_control_characters(tree: Path) -> None:
    """A hostile name in an error message reaches stderr escaped: no ESC, no new line that
    could start a workflow command."""
    (tree / "list.txt").write_text("x\x1b[31m.md\n", encoding="utf-8")
    code, _, err = run("scan", "--files-from", "list.txt")
    assert code == 2
    assert "\x1b" not in err and "x\\x1b[31m.md" in err
    code, _, err = run("scan", "no\n::error::such.md")
    assert code == 2 and err.count("\n") == 1 and "\n::" not in err
