"""A new user's first day on the command line: config discovery in a real site, and
`linkaudit init`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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
