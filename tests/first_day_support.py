"""Test support for the first-day replays (issue 13): fixture repositories built with a
real ``git``, and the command run from one of their folders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import clear_environment, run

PROJECT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds for one subprocess; each takes about a second
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test", "GIT_COMMITTER_NAME": "Test",
           "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_EMAIL": "test@example.org"}
BROKEN = "A [broken][nowhere] reference.\n"
TRACKED = "https://example.org/{}?utm_source=chatgpt.com"


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No LINKAUDIT_* variable and no git configuration of the person running the tests."""
    clear_environment(monkeypatch)
    monkeypatch.setenv("HOME", str(home))
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True, timeout=TIMEOUT).stdout


def new_repo(path: Path, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    return path


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def note(root: Path, relative: str, body: str, lang: str | None = None) -> Path:
    lang_line = f"lang: {lang}\n" if lang else ""
    return write(root, relative, f"---\ntitle: A note\n{lang_line}---\n{body}")


def citing(*urls: str) -> str:
    cited = " and ".join(f"[source {n}][{n}]" for n, _ in enumerate(urls, 1))
    definitions = "".join(f"[{n}]: {url}\n" for n, url in enumerate(urls, 1))
    return f"See {cited}.\n\n{definitions}"


def cli(monkeypatch: pytest.MonkeyPatch, cwd: Path, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command run from ``cwd``."""
    monkeypatch.chdir(cwd)
    return run(*argv)


def reported_files(monkeypatch: pytest.MonkeyPatch, cwd: Path, *argv: str) -> set[str]:
    code, out, err = cli(monkeypatch, cwd, "scan", "--format", "json", *argv)
    assert code in (0, 1), err
    return {finding["file"] for finding in json.loads(out)["findings"]}
