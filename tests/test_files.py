"""Which files are notes: include and exclude globs, generated folders, and git's ignore rules."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from linkaudit.cli.main import main
from linkaudit.config import ScanConfig
from linkaudit.scan import iter_note_paths

CONFIG = ScanConfig()
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def write(path: Path, content: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` with an empty global config beside it (no user's excludes)."""
    config = folder.parent / "gitconfig"
    config.touch()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=folder, env=env, check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def found(root: Path, config: ScanConfig = CONFIG, base: Path | None = None) -> list[str]:
    return sorted(p.relative_to(base or root).as_posix() for p in iter_note_paths([root], config))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with ignore rules at three levels and notes each rule decides."""
    repo = tmp_path / "site"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo / ".gitignore", "drafts/\n*.tmp.md\n!keep.tmp.md\n/top-only.md\n")
    write(repo / ".git" / "info" / "exclude", "private.md\n")
    write(repo / "_posts" / ".gitignore", "!again.tmp.md\nlocal.md\n")
    for name in ("a.md", "drafts/d.md", "x.tmp.md", "keep.tmp.md", "top-only.md",
                 "_posts/top-only.md", "_posts/again.tmp.md", "_posts/local.md",
                 "_posts/en/local.md", "_posts/en/b.md", "private.md", "_posts/private.md"):
        write(repo / name)
    return repo


@needs_git
def test_git_ignored_files_are_not_notes(repository: Path) -> None:
    """The notes found are exactly those git does not ignore (git ls-files as the oracle)."""
    listed = git(repository, "ls-files", "--cached", "--others", "--exclude-standard")
    expected = sorted(line for line in listed.splitlines() if line.endswith(".md"))
    assert found(repository) == expected
    assert "drafts/d.md" not in expected and "_posts/again.tmp.md" in expected


@needs_git
def test_include_ignored_scans_everything(repository: Path) -> None:
    """With scan.gitignore off, ignored notes are scanned too."""
    assert len(found(repository, replace(CONFIG, gitignore=False))) == 12


@needs_git
def test_rules_above_a_scanned_subfolder_apply(repository: Path) -> None:
    """Scanning a subfolder still applies the repository's .gitignore and info/exclude."""
    assert found(repository / "_posts", base=repository) == [
        "_posts/again.tmp.md", "_posts/en/b.md", "_posts/top-only.md"]


@needs_git
def test_an_ignored_folder_named_explicitly_is_scanned(repository: Path) -> None:
    """A folder git ignores is scanned when the user names it."""
    assert found(repository / "drafts", base=repository) == ["drafts/d.md"]


def test_ignore_files_outside_a_repository_are_not_read(tmp_path: Path) -> None:
    """Without a git repository, a .gitignore is just a file (git would not read it either)."""
    write(tmp_path / ".gitignore", "*.md\n")
    write(tmp_path / "a.md")
    assert found(tmp_path) == ["a.md"]


@pytest.mark.parametrize("folder", [
    "_site", "vendor/bundle/ruby/3.2.0/gems/jekyll-4.3.0", ".jekyll-cache", "public",
    "resources/_gen", "node_modules/pkg", "themes/ananke/exampleSite/content/post"])
def test_generated_and_vendored_folders_are_excluded(tmp_path: Path, folder: str) -> None:
    """Jekyll's and Hugo's output and vendored folders are not scanned by default."""
    write(tmp_path / folder / "README.md")
    write(tmp_path / "_posts" / "a.md")
    assert found(tmp_path) == ["_posts/a.md"]


@needs_git
def test_include_ignored_flag(repository: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--include-ignored on the command line scans what git ignores."""
    monkeypatch.chdir(repository)
    for name in [name for name in os.environ if name.startswith("LINKAUDIT_")]:
        monkeypatch.delenv(name)
    counts = []
    for extra in ([], ["--include-ignored"]):
        out = io.StringIO()
        assert main(["scan", ".", *extra], stdout=out, stderr=io.StringIO()) == 0
        counts.append(out.getvalue().splitlines()[-1].split()[0])
    assert counts == ["5", "12"]
