"""A new user's first day on the command line: config discovery in a real site, and
`linkaudit init`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from linkaudit.config import load_config
from tests.cli_support import clear_environment, run


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hugo-like site in a git repository, with its own config.yaml and one post."""
    monkeypatch.chdir(tmp_path)
    clear_environment(monkeypatch)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "config.yaml").write_text("baseURL: https://example.org/\ntitle: Blog\n",
                                          encoding="utf-8")
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "post.md").write_text(
        "A [source](https://a.example/x?utm_source=chatgpt.com).\n", encoding="utf-8")
    return tmp_path


def test_site_config_yaml_is_not_linkaudits(site: Path) -> None:
    """In a Hugo site, `linkaudit scan` ignores the site's config.yaml and runs (exit 0)."""
    code, out, err = run("scan")
    assert code == 0, err
    assert "1 note" in out and "tracking" in out


def test_linkaudit_yaml_in_a_parent_folder_is_used(site: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a subfolder, the repository's linkaudit.yaml applies."""
    (site / "linkaudit.yaml").write_text("report:\n  fail_on: warning\n", encoding="utf-8")
    monkeypatch.chdir(site / "content")
    assert run("scan")[0] == 1


def test_init_writes_a_valid_minimal_config(site: Path) -> None:
    """`linkaudit init` writes linkaudit.yaml (notes folder guessed), says to git-ignore
    .linkaudit/, and the next command uses the file."""
    code, out, _ = run("init")
    assert code == 0
    assert "wrote linkaudit.yaml (notes in content)" in out
    assert "\n  .linkaudit/\n" in out
    config = load_config(environ={}, search_from=site)
    assert config.source == (site / "linkaudit.yaml").resolve()
    assert config.scan.roots == ("content",)
    assert "# " in (site / "linkaudit.yaml").read_text(encoding="utf-8")  # commented
    assert run("scan")[0] == 0


def test_init_never_overwrites(site: Path) -> None:
    """A second init refuses (exit 2) and leaves the user's file as it is."""
    (site / ".linkaudit.yaml").write_text("report:\n  fail_on: info\n", encoding="utf-8")
    code, _, err = run("init")
    assert code == 2 and ".linkaudit.yaml already exists; not overwritten" in err
    assert not (site / "linkaudit.yaml").exists()
    assert (site / ".linkaudit.yaml").read_text(encoding="utf-8") == "report:\n  fail_on: info\n"


def test_init_sees_an_existing_ignore_line(site: Path) -> None:
    """When .gitignore already holds .linkaudit/, init says so instead of asking."""
    (site / ".gitignore").write_text("public/\n.linkaudit/\n", encoding="utf-8")
    code, out, _ = run("init")
    assert code == 0 and ".linkaudit/ is already git-ignored" in out
