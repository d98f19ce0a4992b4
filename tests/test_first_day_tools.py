"""A new user's first day (issue 13), replayed on real git repositories: fix, the store
lock, init.

Each test builds a fixture repository in tmp_path with a real ``git`` and runs the command
as a user would: in-process through ``linkaudit.cli.main`` from the repository's folder, or
as ``python -m linkaudit`` in a subprocess where two runs must overlap. Notes cite
example.org (never requested) or a loopback server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from linkaudit.config_files import find_config
from tests.first_day_support import (
    PROJECT,
    TIMEOUT,
    TRACKED,
    citing,
    cli,
    isolate,
    new_repo,
    note,
    write,
)
from tests.loopback import LoopbackServer


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


# ---------------------------------------------------------------- 6. fix


def test_fix_follows_the_check_convention(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    """Dry run 0, --check 1 with the edits shown, --write, then --check 0; --fail-on refused."""
    repo = new_repo(tmp_path / "blog")
    path = note(repo, "_posts/en/hello-en.md", citing(TRACKED.format("a")), "en")
    before = path.read_bytes()
    code, out, err = cli(monkeypatch, repo, "fix")
    assert code == 0, err
    assert "+[1]: https://example.org/a\n" in out
    code, out, err = cli(monkeypatch, repo, "fix", "--check")
    assert code == 1, err
    assert "+[1]: https://example.org/a\n" in out and "pending" in err
    assert path.read_bytes() == before
    code, _, _ = cli(monkeypatch, repo, "fix", "--fail-on", "error")
    assert code == 2 and "unrecognized arguments: --fail-on" in capsys.readouterr().err
    code, _, err = cli(monkeypatch, repo, "fix", "--write")
    assert code == 0, err
    assert path.read_text(encoding="utf-8").endswith("[1]: https://example.org/a\n")
    code, out, err = cli(monkeypatch, repo, "fix", "--check")
    assert (code, out) == (0, ""), err


def test_fix_json_plan_names_edits_and_what_was_left_alone(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The JSON plan lists each edit and, with the reason, the failing link it left alone."""
    monkeypatch.setenv("LINKAUDIT_NETWORK__ALLOW_PRIVATE", "true")
    repo = new_repo(tmp_path / "blog")
    with LoopbackServer() as server:
        tracked, failing = server.url("/ok?utm_source=chatgpt.com"), server.url("/status/404")
        path = note(repo, "_posts/en/hello-en.md", citing(tracked, failing), "en")
        before = path.read_bytes()
        code, _, err = cli(monkeypatch, repo, "check", "--fail-on", "never", "--quiet")
        assert code == 0, err
    code, out, err = cli(monkeypatch, repo, "fix", "--format", "json", "--output", "plan.json")
    assert code == 0, err
    assert out == ""
    plan = json.loads((repo / "plan.json").read_text(encoding="utf-8"))
    (edit,) = plan["edits"]
    assert edit == {"file": "_posts/en/hello-en.md", "line": 7, "column": 6,
                    "old": tracked, "new": server.url("/ok"), "reason": "tracking"}
    (alone,) = plan["left_alone"]
    assert (alone["url"], alone["line"], alone["kind"]) == (failing, 8, "not-confirmed-dead")
    assert "not confirmed" in alone["reason"]
    assert "1 link left alone" in err and f"{failing}: dead link not confirmed yet" in err
    assert path.read_bytes() == before


def test_fix_online_is_the_network_option(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    """Offline, fix knows no redirect on a fresh clone; ``--online`` checks first and finds it."""
    monkeypatch.setenv("LINKAUDIT_NETWORK__ALLOW_PRIVATE", "true")
    repo = new_repo(tmp_path / "blog")
    with LoopbackServer() as server:
        moved = server.url("/chain/301/ok")
        note(repo, "_posts/en/hello-en.md", citing(moved), "en")
        code, out, err = cli(monkeypatch, repo, "fix", "--check")
        assert (code, out) == (0, ""), err
        assert server.count("/chain/301/ok") == 0
        code, out, err = cli(monkeypatch, repo, "fix", "--online", "--check")
    assert code == 1, err
    assert f"-[1]: {moved}\n+[1]: {server.url('/ok')}\n" in out
    assert "1 redirect" in err


# ---------------------------------------------------------------- 7. the store lock


def _linkaudit(*argv: str) -> list[str]:
    return [sys.executable, "-m", "linkaudit", *argv]


def test_a_second_check_waits_then_names_the_holder_while_report_reads(
        tmp_path: Path) -> None:
    """Two checks at once: the second exits 3 naming the first; report reads meanwhile."""
    repo = new_repo(tmp_path / "blog")
    write(repo, "linkaudit.yaml", "scan:\n  roots: [_posts]\nstore:\n  lock_timeout: 0.5\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LINKAUDIT_")},
           "PYTHONPATH": str(PROJECT), "LINKAUDIT_NETWORK__ALLOW_PRIVATE": "true"}
    with LoopbackServer() as server:
        note(repo, "_posts/en/hello-en.md", citing(server.url("/ok")), "en")
        first = subprocess.run(_linkaudit("check", "--quiet"), cwd=repo,
                               env=env, capture_output=True, text=True, timeout=TIMEOUT,
                               check=False)
        assert first.returncode == 0, first.stderr
        note(repo, "_posts/de/hello-de.md", citing(server.url("/slow?delay=8")), "de")
        holder = subprocess.Popen(_linkaudit("check", "--quiet"), cwd=repo,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            deadline = time.monotonic() + 30
            while server.count("/slow") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.count("/slow") == 1, "the first check never reached the network"
            second = subprocess.run(_linkaudit("check"), cwd=repo, env=env,
                                    capture_output=True, text=True, timeout=TIMEOUT,
                                    check=False)
            reader = subprocess.run(_linkaudit("report", "--format", "json"),
                                    cwd=repo, env=env, capture_output=True, text=True,
                                    timeout=TIMEOUT, check=False)
            assert holder.poll() is None, "the first check was still running"
        finally:
            holder_out, holder_err = holder.communicate(timeout=TIMEOUT)
    assert second.returncode == 3, second.stderr
    assert f"pid {holder.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert reader.returncode == 0, reader.stderr
    report: dict[str, Any] = json.loads(reader.stdout)
    assert report["history"], "the first run is in the store"
    assert holder.returncode == 0, holder_out + holder_err


def test_the_setup_says_to_git_ignore_the_store(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """``linkaudit init`` and the README both tell a new user to git-ignore .linkaudit/."""
    repo = new_repo(tmp_path / "blog")
    note(repo, "_posts/en/hello-en.md", "Hello.\n", "en")
    code, out, err = cli(monkeypatch, repo, "init")
    assert code == 0, err
    assert ".linkaudit/" in out and ".gitignore" in out
    assert (repo / "linkaudit.yaml").is_file()
    assert find_config(repo / "_posts") == repo / "linkaudit.yaml"
    code, _, err = cli(monkeypatch, repo, "scan")
    assert code == 0, err
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert 'echo ".linkaudit/" >> .gitignore' in readme
    assert re.search(r"`\.linkaudit/` \(git-ignore\s+it\)",
                     (PROJECT / "docs" / "ci.md").read_text(encoding="utf-8"))


def test_init_never_shadows_a_configuration_discovery_finds(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With ``[tool.linkaudit]`` in pyproject.toml, or a config higher up, init writes nothing."""
    repo = new_repo(tmp_path / "blog")
    write(repo, "pyproject.toml", '[tool.linkaudit.scan]\nroots = ["_posts"]\n')
    code, _, err = cli(monkeypatch, repo, "init")
    assert code == 2 and "pyproject.toml already configures linkaudit" in err
    assert not (repo / "linkaudit.yaml").exists()
    (repo / "pyproject.toml").unlink()
    write(repo, ".linkaudit.yaml", "scan:\n  roots: [_posts]\n")
    (repo / "_posts").mkdir()
    code, _, err = cli(monkeypatch, repo / "_posts", "init")
    assert code == 2 and ".linkaudit.yaml already configures linkaudit" in err
    assert not (repo / "_posts" / "linkaudit.yaml").exists()


def test_init_reads_the_repositorys_ignore_rules(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """In a subfolder, a .linkaudit/ line in the root's .gitignore counts as git-ignored."""
    repo = new_repo(tmp_path / "monorepo")
    write(repo, ".gitignore", "node_modules/\n.linkaudit\n")
    note(repo, "site/_posts/en/hello-en.md", "Hello.\n", "en")
    code, out, err = cli(monkeypatch, repo / "site", "init")
    assert code == 0, err
    assert out == "wrote linkaudit.yaml (notes in _posts)\n.linkaudit/ is already git-ignored\n"
