"""Shipped integrations: the pre-commit hook and the CI examples in docs/ci.md."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linkaudit.cli.main import build_parser, main

PROJECT = Path(__file__).resolve().parent.parent


def test_pre_commit_hook_runs_on_staged_files(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's entry, given file names as pre-commit passes them, fails on an error."""
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [hook for hook in hooks if hook["id"] == "linkaudit"]
    assert hook["id"] == "linkaudit" and hook["pass_filenames"] is True
    assert hook["types"] == ["markdown"]
    program, *arguments = shlex.split(hook["entry"])
    assert program == "linkaudit"
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.md"
    good.write_text("A [link](https://example.org/a?utm_source=x).\n", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("A [broken][nowhere] reference.\n", encoding="utf-8")
    quiet = io.StringIO()
    assert main([*arguments, str(good)], stdout=quiet, stderr=quiet) == 0
    assert main([*arguments, str(good), str(bad)], stdout=quiet, stderr=quiet) == 1


def test_ci_examples_are_valid_yaml_and_use_real_flags() -> None:
    """Every YAML example in docs/ci.md parses, and every linkaudit flag it uses exists."""
    text = (PROJECT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        assert yaml.safe_load(block)
    help_text = io.StringIO()
    for command in ("scan", "check", "fix"):
        with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
    for flag in set(re.findall(r"linkaudit \w+[^\n]*", text)):
        for option in re.findall(r"(--[a-z-]+)", flag):
            assert option in help_text.getvalue(), f"docs/ci.md uses unknown flag {option}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_units_verify(tmp_path: Path) -> None:
    """The service and timer in docs/ci.md pass `systemd-analyze verify` (paths moved to tmp)."""
    recipes = (PROJECT / "docs" / "ci.md").read_text(encoding="utf-8")
    service, timer = re.findall(r"```ini\n(.*?)```", recipes, flags=re.S)
    blog = tmp_path / "blog"
    (blog / ".venv" / "bin").mkdir(parents=True)
    (blog / ".venv" / "bin" / "linkaudit").symlink_to(shutil.which("linkaudit") or sys.executable)
    (tmp_path / "linkaudit.service").write_text(service.replace("/srv/blog", str(blog)),
                                                encoding="utf-8")
    (tmp_path / "linkaudit.timer").write_text(timer, encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", "linkaudit.service",
                           "linkaudit.timer"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_crontab_line_runs_a_real_command() -> None:
    """The crontab line in docs/ci.md has five time fields and calls a real check option."""
    recipes = (PROJECT / "docs" / "ci.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"```crontab\n(.*?)\n```", recipes, flags=re.S)
    fields = line.split()
    assert all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5])
    command = line.split("&&", 1)[1].split()
    assert command[:2] == [".venv/bin/linkaudit", "check"]
    assert build_parser().parse_args(command[1:]).changes_only is True
