"""The library as a Python user calls it: the public names, the run functions, the boundary
between the offline scan and the network."""

from __future__ import annotations

import ast
import dataclasses
import graphlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import linkaudit
from linkaudit.config import Config, NetworkConfig
from linkaudit.models import Verdict

PROJECT = Path(__file__).resolve().parent.parent
HEAVY = ("httpx", "sqlite3", "asyncio", "linkaudit.history.store", "linkaudit.check.client")


def loaded_after(code: str, cwd: Path) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=cwd, env={"PYTHONPATH": str(PROJECT)})
    return done.stdout.split()


def test_offline_scan_never_imports_network_or_store(tmp_path: Path) -> None:
    """`linkaudit scan` (the CLI) and `import linkaudit.run.scan` import neither httpx,
    asyncio nor sqlite3."""
    (tmp_path / "a.md").write_text("[x](https://a.example/?utm_source=x)\n", encoding="utf-8")
    assert loaded_after("import linkaudit.run.scan", tmp_path) == []
    cli = ("from linkaudit.cli import main\n"
           "main(['scan', 'a.md', '--quiet', '--output', 'out.txt'])")
    assert loaded_after(cli, tmp_path) == []
    assert (tmp_path / "out.txt").read_text(encoding="utf-8")


def test_import_linkaudit_is_light(tmp_path: Path) -> None:
    """`import linkaudit` loads none of its stages until a public name is used."""
    code = ("import sys, linkaudit\n"
            "assert [m for m in sys.modules if m.startswith('linkaudit.')] == [], "
            "sorted(sys.modules)")
    assert loaded_after(code, tmp_path) == []


def test_public_names_all_resolve() -> None:
    """Every name in linkaudit.__all__ is importable from the package."""
    for name in linkaudit.__all__:
        assert getattr(linkaudit, name) is not None
    with pytest.raises(AttributeError):
        _ = linkaudit.no_such_name  # type: ignore[attr-defined]


def write_tree(root: Path, url: str) -> Path:
    note = root / "notes" / "p-en.md"
    note.parent.mkdir(parents=True)
    note.write_text(f"---\nlang: en\n---\nSee [a][1].\n\n[1]: {url}\n", encoding="utf-8")
    return note


def site(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/gone":
        return httpx.Response(404)
    return httpx.Response(200, html="<title>fine</title>")


def project_config(root: Path) -> Config:
    """Defaults, with the store in ``root`` and a dead link dead at its first failure."""
    config = linkaudit.load_config(environ={}, search_from=root)
    return dataclasses.replace(
        config, source=root / "linkaudit.yaml",
        dead_after=dataclasses.replace(config.dead_after, failures=1, days=0),
        network=dataclasses.replace(NetworkConfig(), retries=0, per_host_interval=0,
                                    allow_private=True))  # no name lookup for *.test


def test_scan_run_as_a_library_call(tmp_path: Path) -> None:
    """run_scan returns a report whose tracking finding names the clean URL."""
    note = write_tree(tmp_path, "https://a.example/x?utm_source=chatgpt.com")
    report = linkaudit.run_scan(project_config(tmp_path),
                                linkaudit.ScanOptions(paths=(note.parent,)))
    (finding,) = report.findings
    assert finding.kind == "tracking" and finding.clean_url == "https://a.example/x"
    assert "tracking" in linkaudit.render(report, "text")


def test_check_urls_without_notes_or_store(tmp_path: Path) -> None:
    """check_urls judges each URL once, in the order given, and writes no store."""
    results = linkaudit.check_urls(
        ["https://site.test/ok", "https://site.test/gone", "https://site.test/ok"],
        project_config(tmp_path), transport=httpx.MockTransport(site))
    assert [(r.url, r.verdict) for r in results] == [
        ("https://site.test/ok", Verdict.OK), ("https://site.test/gone", Verdict.DEAD)]
    assert not (tmp_path / ".linkaudit").exists()


def test_fix_checks_through_the_library_then_archives(tmp_path: Path) -> None:
    """plan_fix with online=True runs a check run (recorded in the store) and plans the
    archive edit of the link found dead; apply_fix writes it."""
    note = write_tree(tmp_path, "https://site.test/gone")

    def web(request: httpx.Request) -> httpx.Response:
        if request.url.host == "archive.org":
            return httpx.Response(200, json={"archived_snapshots": {"closest": {
                "available": True, "status": "200", "timestamp": "20240101000000",
                "url": "http://web.archive.org/web/20240101000000/https://site.test/gone"}}})
        return site(request)

    config = project_config(tmp_path)
    options = linkaudit.FixOptions(paths=(note.parent,), online=True)
    plan = linkaudit.plan_fix(config, options, transport=httpx.MockTransport(web))
    assert [edit.reason for edit in plan.edits] == ["archive"]
    assert "404" in linkaudit.history_report(config).findings[0].message
    assert (tmp_path / ".linkaudit" / "history.sqlite").exists()
    outcome = linkaudit.apply_fix(plan)
    assert outcome.written == (note,) and outcome.failures == ()
    assert "web.archive.org/web/20240101000000/https://site.test/gone" in note.read_text(
        encoding="utf-8")
    report = linkaudit.history_report(config, linkaudit.ReportOptions())
    assert [f.kind for f in report.findings] == ["dead"]


def _imports(path: Path, module: str) -> set[str]:
    """linkaudit modules ``path`` imports anywhere (functions too), except for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name if name in MODULES else node.module for name in names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("linkaudit") and name != module}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path) for path in (PROJECT / "linkaudit").rglob("*.py")}


def test_no_import_circle() -> None:
    """No module of the package imports, directly or through others, one that imports it."""
    graph = {_module_name(path): _imports(path, _module_name(path))
             for path in (PROJECT / "linkaudit").rglob("*.py")}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")
