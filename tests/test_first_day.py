"""A new user's first day (issue 13), replayed on real git repositories: packaging,
configuration, what is a note, the gate.

Each test builds a fixture repository in tmp_path with a real ``git`` and runs the command
as a user would: in-process through ``linkaudit.cli.main`` from the repository's folder, or
as ``python -m linkaudit`` in a subprocess. Notes cite example.org (never requested)
or a loopback server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from linkaudit.config import NetworkConfig
from linkaudit.config_files import find_config
from linkaudit.report.sarif import INFORMATION_URI
from tests.first_day_support import (
    BROKEN,
    PROJECT,
    TIMEOUT,
    TRACKED,
    citing,
    cli,
    git,
    isolate,
    new_repo,
    note,
    reported_files,
    write,
)
from tests.loopback import LoopbackServer

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
SOURCE_URL = PYPROJECT["project"]["urls"]["Source"]


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


# ---------------------------------------------------------------- 1. packaging


def test_distribution_is_named_apart_from_the_other_project() -> None:
    """The distribution is linkaudit-md, the command linkaudit, the license MIT with its file."""
    project = PYPROJECT["project"]
    assert project["name"] == "linkaudit-md"
    assert project["scripts"] == {"linkaudit": "linkaudit.cli:main"}
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    license_text = (PROJECT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License") and "Permission is hereby granted" in license_text
    (floor,) = PYPROJECT["build-system"]["requires"]
    assert int(re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", floor).group(1)) >= 77  # type: ignore[union-attr]
    assert SOURCE_URL.startswith("https://github.com/linkaudit-md/")


def test_user_agent_and_sarif_point_at_this_project(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """The servers a check visits and code-scanning readers are sent to this project."""
    assert SOURCE_URL in NetworkConfig().user_agent
    assert INFORMATION_URI == SOURCE_URL
    monkeypatch.setenv("LINKAUDIT_NETWORK__ALLOW_PRIVATE", "true")
    repo = new_repo(tmp_path / "blog")
    with LoopbackServer() as server:
        note(repo, "_posts/en/hello-en.md", citing(server.url("/headers")), "en")
        code, out, err = cli(monkeypatch, repo, "check", "--format", "sarif")
        assert code == 0, err
        assert SOURCE_URL in server.headers()["user-agent"]
    (sarif_run,) = json.loads(out)["runs"]
    assert sarif_run["tool"]["driver"]["informationUri"] == SOURCE_URL


def test_built_wheel_declares_name_license_and_urls(tmp_path: Path) -> None:
    """``pip wheel`` of a clean copy gives METADATA with the name, the SPDX license, the URLs."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).write_bytes((PROJECT / name).read_bytes())
    package = subprocess.run(["git", "ls-files", "linkaudit"], cwd=PROJECT, capture_output=True,
                             text=True, check=False, timeout=TIMEOUT).stdout.split()
    if not package:
        pytest.skip("not a git checkout: cannot list the package's files")
    for name in package:
        write(source, name, (PROJECT / name).read_text(encoding="utf-8"))
    try:
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input",
                                "-q", "-w", str(tmp_path / "dist"), str(source)],
                               capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("pip could not build the wheel within 120 s here (offline?)")
    if built.returncode != 0:
        pytest.skip(f"pip cannot build a wheel here (offline?): {built.stderr[-300:]}")
    (wheel,) = (tmp_path / "dist").glob("linkaudit_md-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt"))
        licenses = [n for n in archive.namelist() if n.endswith("/licenses/LICENSE")]
    assert metadata["Name"] == "linkaudit-md"
    assert metadata["License-Expression"] == "MIT"
    assert f"Source, {SOURCE_URL}" in metadata.get_all("Project-URL")
    assert b"linkaudit = linkaudit.cli:main" in entry_points
    assert licenses


def test_make_demo_runs_from_a_fresh_clone_with_only_the_runtime(tmp_path: Path) -> None:
    """The demo installs the package without dev extras and its scan runs in a fresh clone."""
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo: (\S+)\n\t(.+)$", makefile, flags=re.M)
    assert demo is not None
    installer = re.search(rf"^{re.escape(demo.group(1))}:.*\n\t(.+)$", makefile, flags=re.M)
    assert installer is not None and "pip install" in installer.group(1)
    assert "[dev]" not in installer.group(1)
    if not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(PROJECT), str(clone))
    command = demo.group(2).replace("$(BIN)/linkaudit", f"{sys.executable} -m linkaudit")
    done = subprocess.run(["sh", "-c", command.replace("$$", "$")], cwd=clone,
                          env={**os.environ, "PYTHONPATH": str(clone)}, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\d+ notes, \d+ links", done.stdout, flags=re.M)


# ---------------------------------------------------------------- 2. configuration discovery


COMMANDS = (("scan",), ("check", "--offline"), ("report",), ("fix",), ("fix", "--check"))


@pytest.mark.parametrize("site_config", [
    ("config.yaml", "baseURL: https://example.org/\ntitle: A Hugo site\ntheme: ananke\n"),
    ("_config.yml", "title: A Jekyll site\nbaseurl: \"\"\nplugins: [jekyll-feed]\n"),
])
def test_a_sites_own_config_is_never_read_as_linkaudits(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, site_config: tuple[str, str]) -> None:
    """In a Hugo or Jekyll site with no linkaudit config, no command stops on the site's file."""
    site = new_repo(tmp_path / "site")
    write(site, *site_config)
    note(site, "content/posts/hello.md", citing(TRACKED.format("a")))
    git(site, "add", ".")
    git(site, "commit", "-q", "-m", "a site")
    for command in COMMANDS:
        code, _, err = cli(monkeypatch, site / "content", *command)
        assert code in (0, 1), f"{command}: {err}"
        assert "unknown key" not in err
    assert find_config(site / "content") is None


def test_a_config_above_the_repository_root_is_not_found(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A linkaudit.yaml in a folder above the repository (a home folder) is left alone."""
    write(tmp_path, "linkaudit.yaml", "not_a_section: 1\n")
    repo = new_repo(tmp_path / "blog")
    note(repo, "_posts/en/hello-en.md", BROKEN)
    assert find_config(repo / "_posts" / "en") is None
    code, out, err = cli(monkeypatch, repo / "_posts", "scan")
    assert code == 1, err
    assert "undefined-reference" in out


def test_the_repository_roots_config_is_found_from_a_subfolder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from deep inside the repository, the root's linkaudit.yaml sets the scanned roots."""
    repo = new_repo(tmp_path / "blog")
    write(repo, "linkaudit.yaml", "scan:\n  roots: [_posts]\n")
    note(repo, "_posts/en/hello-en.md", BROKEN, "en")
    note(repo, "_posts/de/hello-de.md", BROKEN, "de")
    note(repo, "drafts/idea.md", BROKEN)
    assert find_config(repo / "_posts" / "de") == repo / "linkaudit.yaml"
    found = reported_files(monkeypatch, repo / "_posts" / "de")
    assert {Path(name).resolve().relative_to(repo.resolve()).as_posix() for name in found} == {
        "_posts/en/hello-en.md", "_posts/de/hello-de.md"}
    write(repo, "linkaudit.yaml", "scan:\n  rots: [_posts]\n")
    code, _, err = cli(monkeypatch, repo / "_posts" / "de", "scan")
    assert code == 2
    assert "linkaudit.yaml" in err and "roots" in err


def test_a_tool_linkaudit_table_in_pyproject_configures_the_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``[tool.linkaudit.scan]`` in pyproject.toml is read like a linkaudit.yaml."""
    repo = new_repo(tmp_path / "docs-site")
    write(repo, "pyproject.toml",
          '[project]\nname = "site"\n\n[tool.linkaudit.scan]\nroots = ["notes"]\n')
    note(repo, "notes/a.md", BROKEN)
    note(repo, "other/b.md", BROKEN)
    assert find_config(repo / "notes") == repo / "pyproject.toml"
    assert reported_files(monkeypatch, repo) == {"notes/a.md"}
    write(repo, "pyproject.toml", '[tool.linkaudit.scan]\nroots = ["notes"]\nbogus = 1\n')
    code, _, err = cli(monkeypatch, repo, "scan")
    assert code == 2 and "pyproject.toml" in err and "bogus" in err


# ---------------------------------------------------------------- 3. what is a note


def test_generated_vendored_and_ignored_folders_are_not_notes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Jekyll tree scans its posts only; --include-ignored brings back what git ignores."""
    repo = new_repo(tmp_path / "blog")
    write(repo, "_config.yml", "title: A Jekyll blog\n")
    note(repo, "_posts/en/2026-01-10-hello-en.md", BROKEN, "en")
    generated = ("vendor/bundle/ruby/3.3.0/gems/kramdown-2.5.1/README.md",
                 ".jekyll-cache/Jekyll/Cache/x.md", "_site/about.md",
                 "node_modules/markdown-it/README.md", "public/posts/index.md",
                 "resources/_gen/notes.md")
    for relative in generated:
        note(repo, relative, BROKEN)
    note(repo, "drafts/unfinished.md", BROKEN)
    note(repo, "scratch/private.md", BROKEN)
    write(repo, ".gitignore", "drafts/\n")
    write(repo, ".git/info/exclude", "scratch/\n")
    posts = {"_posts/en/2026-01-10-hello-en.md"}
    assert reported_files(monkeypatch, repo) == posts
    assert reported_files(monkeypatch, repo, ".") == posts
    assert reported_files(monkeypatch, repo, "--include-ignored") == {
        *posts, "drafts/unfinished.md", "scratch/private.md"}
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a blog with its bundle committed")
    git(repo, "checkout", "-q", "-b", "change")
    for relative in generated:
        note(repo, relative, "Changed. " + BROKEN)
    git(repo, "commit", "-q", "-am", "bundle update")
    assert reported_files(monkeypatch, repo, "--changed-since", "main") == set()


def test_ignored_notes_are_the_ones_git_ignores(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """Anchored, nested, negated and escaped patterns leave the notes git itself lists."""
    repo = new_repo(tmp_path / "blog")
    for relative in ("a.md", "drafts/b.md", "sub/drafts/c.md", "sub/keep.md", "sub/x.draft.md",
                     "notes/y.draft.md", "notes/keep.draft.md", "deep/a/b/c.md",
                     "deep/a/skip/d.md", "sp ace/e.md", "build/f.md", "top/g.md",
                     "top/sub/g.md"):
        write(repo, relative, BROKEN)
    write(repo, ".gitignore", "/drafts\n*.draft.md\n!notes/keep.draft.md\nbuild/\n/top/g.md\n")
    write(repo, "deep/a/.gitignore", "skip/\n")
    write(repo, "sub/.gitignore", "!x.draft.md\n")
    write(repo, ".git/info/exclude", "sp\\ ace/\n")
    listed = git(repo, "ls-files", "--others", "--cached", "--exclude-standard").splitlines()
    notes = {name for name in listed if name.endswith(".md")}
    assert {"sub/x.draft.md", "notes/keep.draft.md", "top/sub/g.md"} <= notes
    assert reported_files(monkeypatch, repo) == notes


# ---------------------------------------------------------------- 5. the gate


LANGS = ("en", "de", "fr", "es", "it", "ja", "ko", "zh", "pt")


def _family_of_nine(tmp_path: Path) -> Path:
    """Nine translations of one post, each citing two sources with old tracking parameters."""
    repo = new_repo(tmp_path / "blog")
    write(repo, "linkaudit.yaml", "scan:\n  roots: [_posts]\n")
    for lang in LANGS:
        note(repo, f"_posts/{lang}/2026-01-01-post-{lang}.md",
             citing(TRACKED.format("a"), TRACKED.format("b")), lang)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a post in nine languages")
    git(repo, "checkout", "-q", "-b", "change")
    return repo


def test_the_gate_reports_the_change_and_counts_the_rest(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two links added to one translation: its findings and the drift, the rest a count."""
    repo = _family_of_nine(tmp_path)
    changed = repo / "_posts/en/2026-01-01-post-en.md"
    with changed.open("a", encoding="utf-8") as file:
        file.write("[3]: https://example.org/c\n[4]: https://example.org/d\n")
    git(repo, "commit", "-q", "-am", "two more sources")
    code, out, err = cli(monkeypatch, repo, "scan", "--changed-since", "main",
                         "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert {finding["file"] for finding in report["findings"]} == {
        "_posts/en/2026-01-01-post-en.md"}
    drift = [f for f in report["findings"] if f["kind"] == "translation-drift"]
    assert [f["url"] for f in drift] == ["https://example.org/c", "https://example.org/d"]
    assert report["summary"]["outside_change"] == 2 * (len(LANGS) - 1)
    code, out, _ = cli(monkeypatch, repo, "check", "--offline", "--changed-since", "main",
                       "--format", "github")
    annotated = set(re.findall(r"^::\w+ file=([^,]+),", out, flags=re.M))
    assert annotated == {"_posts/en/2026-01-01-post-en.md"}


def test_the_gates_one_real_error_is_not_buried(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """Checked online, the dead link the change adds is its one error, in the changed note."""
    monkeypatch.setenv("LINKAUDIT_NETWORK__ALLOW_PRIVATE", "true")
    repo = _family_of_nine(tmp_path)
    changed = repo / "_posts/de/2026-01-01-post-de.md"
    with LoopbackServer() as server:
        dead, live = server.url("/status/404"), server.url("/ok")
        with changed.open("a", encoding="utf-8") as file:
            file.write(f"[3]: {dead}\n[4]: {live}\n")
        git(repo, "commit", "-q", "-am", "two more sources in German")
        code, out, err = cli(monkeypatch, repo, "check", "--changed-since", "main",
                             "--confirm-now", "--format", "github")
        assert server.count("/status/404") >= 1 and server.count("/ok") >= 1
    assert code == 1, err
    errors = [line for line in out.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "dead" in errors[0] and dead in errors[0]
    assert set(re.findall(r"^::\w+ file=([^,]+),", out, flags=re.M)) == {
        "_posts/de/2026-01-01-post-de.md"}
    assert "example.org" not in "".join(errors)


def test_files_from_refuses_a_missing_file_and_a_diff_may_delete(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--files-from naming a missing file exits 2; a note deleted in the change is left out."""
    repo = _family_of_nine(tmp_path)
    write(repo, "changed.txt", "_posts/en/2026-01-01-post-en.md\n_posts/xx/typo.md\n")
    code, _, err = cli(monkeypatch, repo, "scan", "--files-from", "changed.txt")
    assert code == 2
    assert "_posts/xx/typo.md" in err
    git(repo, "rm", "-q", "_posts/ja/2026-01-01-post-ja.md")
    note(repo, "_posts/en/2026-01-01-post-en.md", citing(TRACKED.format("a")), "en")
    git(repo, "commit", "-q", "-am", "drop the Japanese version, one source less in English")
    code, out, err = cli(monkeypatch, repo, "scan", "--changed-since", "main", "--format",
                         "json")
    assert code == 0, err
    assert json.loads(out)["summary"]["notes"] == len(LANGS) - 1
    listed = git(repo, "diff", "--name-only", "--diff-filter=d", "main")
    write(repo, "changed.txt", listed)
    code, _, err = cli(monkeypatch, repo, "scan", "--files-from", "changed.txt")
    assert code == 0, err
