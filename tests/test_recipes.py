"""The recipes of docs/ci.md, run as written against a fixture blog in a real git repository.

Each recipe is taken from docs/ci.md by its ``<!-- recipe: NAME -->`` marker. Shell steps
run the way their host runs them: GitHub's ``shell: bash`` as ``bash --noprofile --norc
-eo pipefail``, GitLab's script lines as one ``bash -e`` script, cron's line with ``sh``,
systemd's ``ExecStart`` without a shell, and pre-commit's hook entry with the staged file
names. ``linkaudit`` on their PATH runs this tree; the notes cite a loopback server only
(``LINKAUDIT_NETWORK__ALLOW_PRIVATE=true``), so nothing leaves the machine. Install steps
are not run: they are checked to name the distribution of pyproject.toml.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from linkaudit.config import load_config
from tests.loopback import LoopbackServer

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
RECIPES = (PROJECT / "docs" / "ci.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
DISTRIBUTION = PYPROJECT["project"]["name"]
TIMEOUT = 120  # seconds for one recipe step; each takes about a second
SERVER_ROOT = "/srv/blog"  # where the cron and systemd recipes expect the blog
# What GitHub would put in the workflow's ${{ … }} expressions for a pull request into main.
GITHUB_CONTEXT = {"github.base_ref": "main", "github.run_id": "1234", "github.run_attempt": "1"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def recipe(name: str) -> str:
    """The code block that follows ``<!-- recipe: name -->`` in docs/ci.md."""
    found = re.findall(rf"<!-- recipe: {re.escape(name)} -->\n```[\w-]*\n(.*?)```", RECIPES,
                       flags=re.S)
    assert len(found) == 1, f"docs/ci.md has {len(found)} recipes named {name}"
    return str(found[0])


@dataclass
class Blog:
    """A clone of a blog repository (``origin/main`` exists), on branch ``change``."""

    path: Path
    env: dict[str, str]
    server: LoopbackServer

    def note(self, relative: str, body: str, *, commit: bool = True) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        lang = path.parent.name
        path.write_text(f"---\ntitle: A note\nlang: {lang}\n---\n{body}", encoding="utf-8")
        if commit:
            self.git("add", relative)
            self.git("commit", "-q", "-m", f"add {relative}")
        return path

    def git(self, *args: str) -> None:
        subprocess.run(["git", *args], cwd=self.path, env=self.env, check=True,
                       capture_output=True, timeout=TIMEOUT)


def _citing(url: str, label: str = "1") -> str:
    return f"The article ([a source][{label}]) says so.\n\n[{label}]: {url}\n"


def _environment(home: Path, bin_dir: Path) -> dict[str, str]:
    """A clean environment: this tree's linkaudit first on PATH, no proxy, no user config."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home), "LANG": "C.UTF-8", "PYTHONPATH": str(PROJECT),
        "LINKAUDIT_NETWORK__ALLOW_PRIVATE": "true",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test", "GIT_COMMITTER_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_EMAIL": "test@example.org",
    }


def _linkaudit_command(path: Path) -> None:
    """An executable ``linkaudit`` that runs this tree with the test's interpreter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m linkaudit \"$@\"\n",
                    encoding="utf-8")
    path.chmod(0o755)


def _minimal_config() -> str:
    """The README's minimal linkaudit.yaml, as a new user would copy it."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n( *# linkaudit\.yaml\n.*?)```", readme, flags=re.S)
    return textwrap.dedent(block)


def test_readme_minimal_config_is_valid(tmp_path: Path) -> None:
    """The README's minimal linkaudit.yaml loads and names the folder of posts."""
    path = tmp_path / "linkaudit.yaml"
    path.write_text(_minimal_config(), encoding="utf-8")
    assert load_config(path, environ={}).scan.roots == ("_posts",)


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[Blog]:
    """Two translations citing the loopback server, pushed to an upstream and cloned."""
    bin_dir = tmp_path / "bin"
    _linkaudit_command(bin_dir / "linkaudit")
    env = _environment(tmp_path, bin_dir)
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    with LoopbackServer() as server:
        seed = Blog(upstream, env, server)
        seed.git("init", "-q", "-b", "main")
        (upstream / "linkaudit.yaml").write_text(_minimal_config(), encoding="utf-8")
        (upstream / ".gitignore").write_text(".linkaudit/\n.venv/\n", encoding="utf-8")
        seed.note("_posts/en/2026-01-10-hello-en.md",
                  _citing(server.url("/ok") + "?utm_source=chatgpt.com"), commit=False)
        seed.note("_posts/de/2026-01-10-hello-de.md", _citing(server.url("/ok")), commit=False)
        seed.git("add", ".")
        seed.git("commit", "-q", "-m", "a blog")
        clone = tmp_path / "blog"
        subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], env=env, check=True,
                       capture_output=True, timeout=TIMEOUT)
        blog = Blog(clone, env, server)
        blog.git("checkout", "-q", "-b", "change")
        yield blog


def _bash(script: str, blog: Blog, *options: str, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", *options, "-c", script],
                          cwd=cwd or blog.path, env={**blog.env, **(env or {})},
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _assert_installs_distribution(command: str) -> None:
    assert re.fullmatch(rf"pipx? install {re.escape(DISTRIBUTION)}", command.strip()), command


# ---------------------------------------------------------------- GitHub Actions


def _workflow(name: str) -> tuple[dict[Any, Any], list[dict[str, Any]]]:
    workflow = yaml.safe_load(recipe(name))
    (job,) = workflow["jobs"].values()
    return workflow, job["steps"]


def _uses(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    (step,) = [step for step in steps if str(step.get("uses", "")).startswith(action + "@")]
    return step


def _expand(text: str) -> str:
    return EXPRESSION.sub(lambda match: GITHUB_CONTEXT[match.group(1)], text)


def _run_github_steps(steps: list[dict[str, Any]], blog: Blog, summary: Path
                      ) -> list[subprocess.CompletedProcess[str]]:
    """Every ``run`` step but the install, as the runner runs ``shell: bash`` steps."""
    done = []
    for step in steps:
        if "run" not in step:
            continue
        if "install" in step["run"]:
            _assert_installs_distribution(step["run"])
            continue
        assert step.get("shell") == "bash", "a multi-line step names its shell"
        assert "${{" not in step["run"], "expressions go through env, not into the script"
        env = {name: _expand(str(value)) for name, value in step.get("env", {}).items()}
        env["GITHUB_STEP_SUMMARY"] = str(summary)
        done.append(_bash(step["run"], blog, "-eo", "pipefail", env=env))
    return done


def _assert_cache_round_trip(steps: list[dict[str, Any]]) -> None:
    """Restore by prefix, save under a key new in every run and attempt, same folder."""
    restore = _uses(steps, "actions/cache/restore")
    save = _uses(steps, "actions/cache/save")
    assert restore["with"]["path"] == save["with"]["path"] == ".linkaudit"
    key = restore["with"]["key"]
    assert key == save["with"]["key"]
    assert "github.run_id" in key and "github.run_attempt" in key
    assert key.startswith(restore["with"]["restore-keys"])
    assert "!cancelled()" in save["if"], "the store is saved when the gate fails too"
    assert steps.index(restore) < steps.index(save)


def test_github_gate_workflow_grants_the_upload_and_saves_the_cache() -> None:
    """The gate workflow may upload SARIF, reads no more than it needs, and saves the store."""
    workflow, steps = _workflow("github-gate")
    assert workflow["permissions"]["security-events"] == "write"
    assert workflow["permissions"]["contents"] == "read"
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    _assert_cache_round_trip(steps)
    upload = _uses(steps, "github/codeql-action/upload-sarif")
    assert "!cancelled()" in upload["if"]
    (gate,) = [step for step in steps if "--format sarif" in step.get("run", "")]
    assert f"--output {upload['with']['sarif_file']}" in gate["run"]
    assert steps.index(gate) < steps.index(upload)


def test_github_nightly_workflow_feeds_the_cache() -> None:
    """The scheduled workflow restores and saves the store the gate restores."""
    workflow, steps = _workflow("github-nightly")
    assert "schedule" in workflow[True]
    assert workflow["permissions"] == {"contents": "read"}
    _assert_cache_round_trip(steps)
    gate_steps = _workflow("github-gate")[1]
    assert (_uses(steps, "actions/cache/save")["with"]["key"]
            == _uses(gate_steps, "actions/cache/restore")["with"]["key"])


def test_github_gate_fails_on_a_new_dead_link_and_still_writes_its_reports(
        blog: Blog, tmp_path: Path) -> None:
    """A change citing a dead page fails the step with 1, after the summary and SARIF."""
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/status/404")))
    summary = tmp_path / "summary.md"
    steps = _workflow("github-gate")[1]
    (gate,) = _run_github_steps(steps, blog, summary)
    assert gate.returncode == 1, gate.stderr
    assert "::error file=_posts/en/2026-02-01-new-en.md,line=" in gate.stdout
    assert "**Result:** failed" in summary.read_text(encoding="utf-8")
    sarif = json.loads((blog.path / "linkaudit.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert [result["ruleId"] for result in sarif["runs"][0]["results"]] == ["dead"]
    assert (blog.path / ".linkaudit" / "history.sqlite").is_file()


def test_github_gate_passes_a_clean_change(blog: Blog, tmp_path: Path) -> None:
    """A change citing a live page passes, with a summary and an empty SARIF run."""
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/ok")))
    summary = tmp_path / "summary.md"
    steps = _workflow("github-gate")[1]
    (gate,) = _run_github_steps(steps, blog, summary)
    assert gate.returncode == 0, gate.stderr
    assert "::error" not in gate.stdout
    assert "passed" in summary.read_text(encoding="utf-8")
    sarif = json.loads((blog.path / "linkaudit.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"] == []


def test_github_nightly_reports_changes_once_and_keeps_the_html_report(
        blog: Blog, tmp_path: Path) -> None:
    """The first night summarises what it found; a night without change adds nothing."""
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/status/404")))
    steps = _workflow("github-nightly")[1]
    first, second = tmp_path / "first.md", tmp_path / "second.md"
    (night,) = _run_github_steps(steps, blog, first)
    assert night.returncode == 0, night.stderr  # one failure is not yet "dead"
    assert "failing" in first.read_text(encoding="utf-8")
    assert (blog.path / "linkaudit.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
    (night,) = _run_github_steps(steps, blog, second)
    assert night.returncode == 0, night.stderr
    assert second.read_text(encoding="utf-8") == ""


# ---------------------------------------------------------------- GitLab CI


def test_gitlab_job_fails_with_its_junit_report_kept(blog: Blog) -> None:
    """The merge-request job exits 1 on a new dead link and leaves the JUnit file it uploads."""
    job = yaml.safe_load(recipe("gitlab"))["linkaudit"]
    assert job["artifacts"]["when"] == "always"
    assert job["cache"]["when"] == "always" and job["cache"]["paths"] == [".linkaudit/"]
    junit = job["artifacts"]["reports"]["junit"]
    install, *script = job["script"]
    _assert_installs_distribution(install)
    assert any(f"--output {junit}" in line for line in script)
    blog.note("_posts/de/2026-02-01-new-de.md", _citing(blog.server.url("/status/410")))
    done = _bash("\n".join(script), blog, "-e",
                 env={"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"})
    assert done.returncode == 1, done.stderr
    suite = ElementTree.parse(blog.path / junit).getroot()
    assert [failure.get("type") for failure in suite.iter("failure")] == ["dead"]


# ---------------------------------------------------------------- pre-commit


def _staged_markdown(blog: Blog) -> list[str]:
    """What pre-commit passes a ``types: [markdown]`` hook: the staged Markdown files."""
    listed = subprocess.run(["git", "diff", "--cached", "--name-only", "--diff-filter=ACMR"],
                            cwd=blog.path, env=blog.env, capture_output=True, text=True,
                            check=True, timeout=TIMEOUT).stdout.split()
    return [name for name in listed if name.endswith((".md", ".markdown"))]


def test_pre_commit_recipe_runs_the_shipped_hook_on_staged_notes(blog: Blog) -> None:
    """The recipe names this repository's hook; it fails a staged note with a broken reference."""
    (repo,) = yaml.safe_load(recipe("pre-commit"))["repos"]
    assert repo["repo"] == PYPROJECT["project"]["urls"]["Source"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", repo["rev"])
    shipped = {hook["id"]: hook for hook in
               yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    (wanted,) = repo["hooks"]
    entry = shlex.split(shipped[wanted["id"]]["entry"])
    good = blog.note("_posts/en/2026-02-01-good-en.md", _citing(blog.server.url("/ok")),
                     commit=False)
    blog.git("add", str(good.relative_to(blog.path)))
    passed = subprocess.run([*entry, *_staged_markdown(blog)], cwd=blog.path, env=blog.env,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    bad = blog.note("_posts/en/2026-02-02-bad-en.md", "A [broken][nowhere] reference.\n",
                    commit=False)
    blog.git("add", str(bad.relative_to(blog.path)))
    failed = subprocess.run([*entry, *_staged_markdown(blog)], cwd=blog.path, env=blog.env,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert failed.returncode == 1
    assert "undefined-reference" in failed.stdout


# ---------------------------------------------------------------- cron and systemd


def _server_install(blog: Blog) -> None:
    """linkaudit installed in the blog's own .venv, as the server recipes expect."""
    _linkaudit_command(blog.path / ".venv" / "bin" / "linkaudit")


def test_cron_line_mails_the_first_findings_and_is_quiet_after(blog: Blog) -> None:
    """The crontab command prints what changed on its first night and nothing the next."""
    fields = recipe("cron").split(maxsplit=5)
    command = fields[5].replace(SERVER_ROOT, str(blog.path))
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/status/404")))
    _server_install(blog)
    first = subprocess.run(["sh", "-c", command], env=blog.env, capture_output=True,
                           text=True, timeout=TIMEOUT, check=False)
    assert first.returncode == 0, first.stderr
    assert "failing" in first.stdout
    second = subprocess.run(["sh", "-c", command], env=blog.env, capture_output=True,
                            text=True, timeout=TIMEOUT, check=False)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")


def test_systemd_service_writes_its_report_file(blog: Blog) -> None:
    """ExecStart, run in WorkingDirectory, exits with a success status and writes --output."""
    units = configparser.ConfigParser(interpolation=None)
    units.optionxform = str  # type: ignore[assignment]
    units.read_string(recipe("systemd-service"))
    service = units["Service"]
    argv = shlex.split(service["ExecStart"].replace(SERVER_ROOT, str(blog.path)))
    output = Path(argv[argv.index("--output") + 1])
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/status/404")))
    _server_install(blog)
    done = subprocess.run(argv, cwd=service["WorkingDirectory"].replace(SERVER_ROOT,
                                                                       str(blog.path)),
                          env=blog.env, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert done.returncode in {0, *map(int, service["SuccessExitStatus"].split())}, done.stderr
    assert output.is_relative_to(blog.path / ".linkaudit")
    assert "failing" in output.read_text(encoding="utf-8")


def _systemd_argv(blog: Blog, output_format: str) -> tuple[list[str], Path, Path]:
    """ExecStart with its paths on the fixture and its format swapped; argv, cwd and output."""
    units = configparser.ConfigParser(interpolation=None)
    units.optionxform = str  # type: ignore[assignment]
    units.read_string(recipe("systemd-service"))
    service = units["Service"]
    command = service["ExecStart"].replace(SERVER_ROOT, str(blog.path))
    command = command.replace("--format markdown", f"--format {output_format}")
    command = command.replace("changes.md", f"changes.{output_format}")
    argv = shlex.split(command)
    cwd = Path(service["WorkingDirectory"].replace(SERVER_ROOT, str(blog.path)))
    return argv, cwd, Path(argv[argv.index("--output") + 1])


def _empty_document(output_format: str, text: str) -> bool:
    """Whether ``text`` is a valid document of that format with nothing in it."""
    if output_format == "json":
        report = json.loads(text)
        return bool(report["findings"] == [] and report["results"] == [])
    if output_format == "sarif":
        return bool(json.loads(text)["runs"][0]["results"] == [])
    return "failing" not in text and "404" not in text


@pytest.mark.parametrize("output_format", ["markdown", "json", "sarif"])
def test_systemd_night_without_change_rewrites_the_report_empty(
        blog: Blog, output_format: str) -> None:
    """A second night with nothing new prints nothing and leaves an empty, valid --output."""
    argv, cwd, output = _systemd_argv(blog, output_format)
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(blog.server.url("/status/404")))
    _server_install(blog)
    first = subprocess.run(argv, cwd=cwd, env=blog.env, capture_output=True, text=True,
                           timeout=TIMEOUT, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert not _empty_document(output_format, output.read_text(encoding="utf-8"))
    second = subprocess.run(argv, cwd=cwd, env=blog.env, capture_output=True, text=True,
                            timeout=TIMEOUT, check=False)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
    assert _empty_document(output_format, output.read_text(encoding="utf-8"))


def test_gitlab_job_run_from_a_subfolder_finds_the_blogs_config(blog: Blog) -> None:
    """From a folder below the top, the job still reads linkaudit.yaml and its store."""
    script = yaml.safe_load(recipe("gitlab"))["linkaudit"]["script"][1:]
    blog.note("_posts/de/2026-02-01-new-de.md", _citing(blog.server.url("/status/410")))
    subfolder = blog.path / "_posts" / "de"
    done = _bash("\n".join(script), blog, "-e", cwd=subfolder,
                 env={"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"})
    assert done.returncode == 1, done.stderr
    suite = ElementTree.parse(subfolder / "linkaudit.xml").getroot()
    assert [failure.get("type") for failure in suite.iter("failure")] == ["dead"]
    assert (blog.path / ".linkaudit" / "history.sqlite").is_file()
    assert not (subfolder / ".linkaudit").exists()


def test_github_gate_reports_only_the_change(blog: Blog, tmp_path: Path) -> None:
    """Editing one translation annotates nothing in its untouched sibling and no vendored gem."""
    blog.note("_posts/de/2026-01-10-hello-de.md",
              "Ein neuer Satz.\n\n" + _citing(blog.server.url("/ok")))
    gem_readme = blog.path / "vendor/bundle/ruby/3.3.0/gems/kramdown-2.5.1/README.md"
    gem_readme.parent.mkdir(parents=True)
    gem_readme.write_text("A [broken][nowhere] reference.\n", encoding="utf-8")
    blog.git("add", "-f", "vendor")
    blog.git("commit", "-q", "-m", "vendor the bundle")
    summary = tmp_path / "summary.md"
    (gate,) = _run_github_steps(_workflow("github-gate")[1], blog, summary)
    assert gate.returncode == 0, gate.stderr
    assert "::" not in gate.stdout, "the untouched English note's old tracking is no annotation"
    written = summary.read_text(encoding="utf-8")
    assert "1 finding already in notes outside the change" in written
    assert "vendor" not in gate.stdout + written
    sarif = json.loads((blog.path / "linkaudit.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"] == []


def test_pre_commit_fix_hook_fails_while_cleanup_is_pending(blog: Blog) -> None:
    """The shipped fix hook exits 1 showing the diff for a staged tracking link, 0 once clean."""
    (repo,) = yaml.safe_load(recipe("pre-commit-fix"))["repos"]
    assert repo["repo"] == PYPROJECT["project"]["urls"]["Source"]
    shipped = {hook["id"]: hook for hook in
               yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert {hook["id"] for hook in repo["hooks"]} <= set(shipped)
    hook = shipped["linkaudit-fix"]
    assert hook["types"] == ["markdown"] and hook["pass_filenames"] is True
    entry = shlex.split(hook["entry"])
    url = blog.server.url("/ok")
    path = blog.note("_posts/en/2026-02-01-new-en.md", _citing(url + "?utm_source=chatgpt.com"),
                     commit=False)
    blog.git("add", str(path.relative_to(blog.path)))
    before = path.read_bytes()
    pending = subprocess.run([*entry, *_staged_markdown(blog)], cwd=blog.path, env=blog.env,
                             capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert pending.returncode == 1, pending.stderr
    assert f"+[1]: {url}\n" in pending.stdout
    assert path.read_bytes() == before, "the hook writes nothing"
    blog.note("_posts/en/2026-02-01-new-en.md", _citing(url), commit=False)
    blog.git("add", str(path.relative_to(blog.path)))
    clean = subprocess.run([*entry, *_staged_markdown(blog)], cwd=blog.path, env=blog.env,
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr


def test_pre_commit_hooks_skip_a_committed_vendor_bundle(blog: Blog) -> None:
    """A staged gem README under vendor/ is filtered out by each hook's exclude, as by a scan."""
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    gem = blog.path / "vendor/bundle/ruby/3.3.0/gems/kramdown-2.5.1/README.md"
    gem.parent.mkdir(parents=True)
    gem.write_text("A [broken][nowhere] reference.\n", encoding="utf-8")
    blog.git("add", "-f", "vendor")
    staged = _staged_markdown(blog)
    assert staged == ["vendor/bundle/ruby/3.3.0/gems/kramdown-2.5.1/README.md"]
    for hook in hooks:
        passed = [name for name in staged if not re.search(hook["exclude"], name)]
        assert passed == [], hook["id"]
        assert re.search(hook["exclude"], "_posts/en/2026-01-10-hello-en.md") is None
