"""The command line end to end: exit codes, formats, checks, history, gate and fix."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from linkaudit.cli.args import partial_run
from linkaudit.cli.main import main
from tests.cassette import CassetteTransport
from tests.loopback import LoopbackServer

PROJECT = Path(__file__).resolve().parent.parent
CASSETTES = PROJECT / "cassettes"

NOTE = """---
lang: {lang}
title: Example
---

Text citing a source ([Docs][1]) and another ([Blog][2]).

```
[9]: https://in-a-fence.example/?utm_source=x
```

[1]: {one} "Docs"
[2]: {two} "Blog"
"""


def run(*argv: str, transport: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, transport=transport)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a config (private addresses allowed) and no notes yet."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("LINKAUDIT_"):
            monkeypatch.delenv(name)
    (tmp_path / "linkaudit.yaml").write_text(
        "network:\n  allow_private: true\n  retries: 1\n  backoff: 0\n  total_timeout: 3\n"
        "  read_timeout: 1\n  connect_timeout: 1\n  per_host_interval: 0\n"
        "scan:\n  roots: [notes]\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    return tmp_path


def write_note(root: Path, name: str, lang: str, one: str, two: str) -> Path:
    path = root / "notes" / lang / f"{name}-{lang}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NOTE.format(lang=lang, one=one, two=two), encoding="utf-8")
    return path


def findings(out: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(out)["findings"]
    return data


# ---------------------------------------------------------------- scan


def test_scan_clean_tree_exits_zero(tree: Path) -> None:
    """A tree without problems exits 0 and says so."""
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    code, out, _ = run("scan")
    assert code == 0
    assert "1 notes" in out or "1 note" in out


def test_scan_findings_and_fail_on(tree: Path) -> None:
    """Tracking parameters are warnings: exit 0 by default, 1 with --fail-on warning."""
    write_note(tree, "p", "en", "https://a.example/x?utm_source=chatgpt.com",
               "https://b.example/y")
    assert run("scan")[0] == 0
    code, out, _ = run("scan", "--fail-on", "warning", "--format", "json")
    assert code == 1
    (finding,) = [f for f in findings(out) if f["kind"] == "tracking"]
    assert finding["clean_url"] == "https://a.example/x"
    assert finding["removed_params"] == ["utm_source"]
    assert not any("in-a-fence" in (f["url"] or "") for f in findings(out))


def test_scan_error_finding_exits_one(tree: Path) -> None:
    """An undefined reference is an error: exit 1."""
    path = write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    path.write_text(path.read_text(encoding="utf-8") + "\nSee [this][missing].\n",
                    encoding="utf-8")
    code, out, _ = run("scan", "--format", "json")
    assert code == 1
    assert [f["kind"] for f in findings(out)] == ["undefined-reference"]


def test_json_links_fields(tree: Path) -> None:
    """The JSON report lists every link with file, position, kind, family and language."""
    write_note(tree, "p", "de", "https://a.example/x?utm_source=a", "https://b.example/y")
    _, out, _ = run("scan", "--format", "json")
    first = json.loads(out)["links"][0]
    assert first["kind"] == "definition" and first["label"] == "1"
    assert first["family"] == "p" and first["lang"] == "de"
    assert first["clean_url"] == "https://a.example/x"
    assert first["line"] == 12 and first["column"] == 6


def test_unreadable_and_broken_notes_do_not_stop_the_scan(tree: Path) -> None:
    """Non-UTF-8 files and broken front matter are findings; other notes are still read."""
    write_note(tree, "good", "en", "https://a.example/x", "https://b.example/y")
    (tree / "notes" / "latin1.md").write_bytes(b"caf\xe9 https://c.example/\n")
    (tree / "notes" / "broken.md").write_text("---\ntitle: [unclosed\n---\nText\n",
                                              encoding="utf-8")
    code, out, _ = run("scan", "--format", "json")
    kinds = sorted(f["kind"] for f in findings(out))
    assert code == 1
    assert kinds == ["encoding", "front-matter"]
    assert json.loads(out)["summary"]["notes"] >= 2


def test_config_error_exit_two(tree: Path) -> None:
    """An unknown config key exits 2 with a message naming it and a suggestion."""
    (tree / "linkaudit.yaml").write_text("network:\n  concurency: 3\n", encoding="utf-8")
    code, out, err = run("scan")
    assert code == 2 and out == ""
    assert "network.concurency: unknown key (did you mean 'concurrency'?)" in err


def test_missing_path_exit_two(tree: Path) -> None:
    """A path that does not exist is a usage error."""
    code, _, err = run("scan", "nope/")
    assert code == 2 and "no such file or folder: nope" in err


def test_bad_flag_exit_two(tree: Path) -> None:
    """An unknown format is a usage error from the argument parser."""
    assert run("scan", "--format", "yaml")[0] == 2


def test_output_file(tree: Path) -> None:
    """--output writes the report to a file and nothing to stdout."""
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    code, out, _ = run("scan", "--format", "sarif", "--output", "report.sarif")
    assert code == 0 and out == ""
    assert json.loads((tree / "report.sarif").read_text(encoding="utf-8"))["version"] == "2.1.0"


def test_output_unwritable_exit_three(tree: Path) -> None:
    """A report that cannot be written is a runtime failure, not a traceback."""
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    code, _, err = run("scan", "--output", str(tree / "no" / "such" / "dir" / "r.txt"))
    assert code == 3 and "cannot write" in err


def test_python_dash_m_runs(tree: Path) -> None:
    """`python -m linkaudit` is the same program."""
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    done = subprocess.run([sys.executable, "-m", "linkaudit", "scan", "--format", "json"],
                          capture_output=True, text=True, check=False, cwd=tree)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["notes"] == 1


# ---------------------------------------------------------------- check


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


def test_check_against_loopback(tree: Path, server: LoopbackServer) -> None:
    """Dead links fail the run after being seen dead (with --confirm-now) and each URL is
    requested once even when several translations cite it."""
    for lang in ("en", "de", "ja"):
        write_note(tree, "p", lang, server.url("/ok?utm_source=chatgpt.com"),
                   server.url("/status/404"))
    code, out, err = run("check", "--format", "json", "--confirm-now")
    assert code == 1, err
    data = json.loads(out)
    verdicts = {r["url"]: r["verdict"] for r in data["results"]}
    assert verdicts == {server.url("/ok"): "ok", server.url("/status/404"): "dead"}
    (dead,) = [f for f in data["findings"] if f["kind"] == "dead"]
    assert len(dead["related"]) == 2  # cited by the two other translations
    assert server.count("/ok", "GET") == 1
    assert server.count("/status/404") == 1  # one GET: no HEAD for a page


def test_first_failure_is_failing_not_dead(tree: Path, server: LoopbackServer) -> None:
    """Without --confirm-now a first failure is failing, a warning, in the findings, the
    verdicts and the counts alike, and the message says when it will be called dead."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/status/410"))
    code, out, _ = run("check", "--format", "json")
    assert code == 0
    (failing,) = [f for f in findings(out) if f["kind"] == "failing"]
    assert failing["message"].startswith("410 Gone; 1 failed check since ")
    assert failing["message"].endswith("; called dead after 3 failed checks spanning 3 days, "
                                       "or now with --confirm-now")
    document = json.loads(out)
    assert {r["verdict"] for r in document["results"]} == {"ok", "failing"}
    assert (document["summary"]["by_verdict"]["failing"],
            document["summary"]["by_verdict"]["dead"]) == (1, 0)
    code, out, _ = run("check")
    assert "0 errors, 1 warning" in out and "1 failing" in out and " dead," not in out
    assert "1 link failed but is not called dead yet" in out and "--confirm-now" in out


def test_cache_reuses_successes(tree: Path, server: LoopbackServer) -> None:
    """A second run within cache.max_age requests nothing that succeeded; --no-cache does."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/chain/301/ok"))
    assert run("check")[0] == 0
    assert run("check")[0] == 0
    assert server.count("/ok", "GET") == 2  # once directly, once as the redirect target
    run("check", "--no-cache")
    assert server.count("/ok", "GET") == 4


def test_report_reads_the_store(tree: Path, server: LoopbackServer) -> None:
    """`report` shows what the store knows without making requests."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    run("check")
    before = server.count("/status/404")
    code, out, _ = run("report", "--format", "json")
    assert server.count("/status/404") == before
    kinds = [f["kind"] for f in findings(out)]
    assert kinds == ["failing"]
    assert len(json.loads(out)["history"]) == 1
    assert code == 0


def test_report_without_store_is_runtime_error(tree: Path) -> None:
    """`report` before any check says there is no history yet (exit 3)."""
    code, _, err = run("report")
    assert code == 3 and "no history yet" in err


def test_changes_only_quiet_when_nothing_changed(tree: Path, server: LoopbackServer) -> None:
    """--changes-only prints the change once, then nothing while nothing changes."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/chain/301/ok"))
    code, out, _ = run("check", "--changes-only")
    assert "update to" in out
    code, out, _ = run("check", "--changes-only")
    assert (code, out) == (0, "")


def test_check_prunes_history_older_than_store_keep(
    tree: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a check, older checks go; each URL keeps its newest older check, so the dead
    rule still counts every failure."""
    write_note(tree, "p", "en", server.url("/status/404"), server.url("/ok"))
    monkeypatch.setenv("LINKAUDIT_STORE__KEEP", "0.000001s")  # earlier runs are all older
    for _ in range(3):
        code, out, _ = run("check", "--no-cache", "--format", "json")
        assert code == 0  # a 404 within minutes is "failing", a warning
    with sqlite3.connect(tree / ".linkaudit" / "history.sqlite") as db:
        rows = dict(db.execute("SELECT url, count(*) FROM checks GROUP BY url").fetchall())
    assert rows == {server.url("/status/404"): 2, server.url("/ok"): 2}
    (failing,) = [f for f in findings(out) if f["kind"] == "failing"]
    assert "; 3 failed checks since " in failing["message"]  # never "3 of 3" yet failing
    assert "called dead once the failures span 3 days" in failing["message"]


def test_network_unavailable_exit_three(tree: Path) -> None:
    """When nothing connects at all, the run says so, exits 3 and calls nothing dead."""
    write_note(tree, "p", "en", "http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
    code, out, err = run("check")
    assert code == 3
    assert "network unavailable" in err and out == ""


def test_a_failed_run_names_the_stale_output_file(tree: Path) -> None:
    """Exit 3 leaves --output as it was and says so: a CI step publishing it must not take
    the last run's report for this one's. A run that wrote it says nothing of the kind."""
    report = tree / "report.json"
    report.write_text('{"earlier": true}\n', encoding="utf-8")
    os.utime(report, (time.time() - 60, time.time() - 60))
    write_note(tree, "p", "en", "http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
    code, _, err = run("check", "--format", "json", "--output", str(report))
    assert code == 3
    assert f"{report} was not written: it still holds an earlier run's output" in err
    assert report.read_text(encoding="utf-8") == '{"earlier": true}\n'
    code, _, err = run("scan", "--format", "json", "--output", str(report))
    assert code in (0, 1) and "was not written" not in err


@pytest.mark.parametrize("writes", [True, False])
def test_exit_three_tells_a_stale_output_within_the_same_second(
        tree: Path, monkeypatch: pytest.MonkeyPatch, writes: bool) -> None:
    """Whether the output was written is told by the file itself (replaced or rewritten),
    not by comparing times a coarse clock could blur: a run that wrote it and then ended
    with exit 3 (an interrupted check) is not told stale."""
    cli_main = sys.modules["linkaudit.cli.main"]  # the package's ``main`` hides the module
    report = tree / "report.json"
    report.write_text("{}\n", encoding="utf-8")

    def ends_in_failure(*_args: object) -> int:
        if writes:
            report.write_text('{"interrupted": true}\n', encoding="utf-8")
        return 3

    monkeypatch.setattr(cli_main, "_run", ends_in_failure)
    err = io.StringIO()
    assert main(["check", "--output", str(report)], stdout=io.StringIO(), stderr=err) == 3
    assert ("was not written" in err.getvalue()) is not writes


def test_cassette_replay_whole_cli(tree: Path) -> None:
    """The whole CLI replays recorded exchanges: a dead link and an ok one, no network."""
    write_note(tree, "p", "en", "http://ok.test/ok", "http://ok.test/status/404")
    transport = CassetteTransport(CASSETTES / "not-found.yaml", "replay")
    ok = CassetteTransport(CASSETTES / "ok.yaml", "replay")

    class Both(CassetteTransport):
        async def handle_async_request(self, request: Any) -> Any:
            target = ok if request.url.path == "/ok" else transport
            return await target.handle_async_request(request)

    code, out, _ = run("check", "--format", "json", "--confirm-now",
                       transport=Both(CASSETTES / "ok.yaml", "replay"))
    verdicts = sorted((r["url"], r["verdict"]) for r in json.loads(out)["results"])
    assert verdicts == [("http://ok.test/ok", "ok"), ("http://ok.test/status/404", "dead")]
    assert code == 1


def test_cassette_timeout_is_unreachable(tree: Path) -> None:
    """A recorded timeout replays as an unreachable link, a warning."""
    write_note(tree, "p", "en", "http://ok.test/hang", "http://ok.test/hang")
    code, out, _ = run("check", "--format", "json",
                       transport=CassetteTransport(CASSETTES / "timeout.yaml", "replay"))
    (result,) = json.loads(out)["results"]
    assert result["verdict"] == "unreachable"
    assert code == 0


# ---------------------------------------------------------------- gate


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_changed_since_limits_to_changed_families(tree: Path) -> None:
    """--changed-since scans the changed note and its translations, nothing else."""
    git(tree, "init", "-q")
    git(tree, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty",
        "-m", "start")
    write_note(tree, "other", "en", "https://a.example/?utm_source=x", "https://b.example/")
    git(tree, "add", ".")
    git(tree, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "notes")
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    write_note(tree, "p", "de", "https://a.example/x", "https://b.example/y")
    code, out, _ = run("scan", "--changed-since", "HEAD", "--format", "json")
    assert code == 0
    files = {link["file"] for link in json.loads(out)["links"]}
    assert files == {"notes/en/p-en.md", "notes/de/p-de.md"}


def test_changed_since_outside_git_exit_two(tree: Path) -> None:
    """--changed-since outside a git repository is a usage error."""
    code, _, err = run("scan", "--changed-since", "HEAD")
    assert code == 2 and "not inside a git repository" in err


def test_files_from(tree: Path) -> None:
    """--files-from takes the listed notes (and their families)."""
    write_note(tree, "p", "en", "https://a.example/x", "https://b.example/y")
    write_note(tree, "q", "en", "https://c.example/x", "https://d.example/y")
    (tree / "list.txt").write_text("notes/en/q-en.md\n", encoding="utf-8")
    _, out, _ = run("scan", "--files-from", "list.txt", "--format", "json")
    assert {link["file"] for link in json.loads(out)["links"]} == {"notes/en/q-en.md"}


def test_inline_suppression(tree: Path) -> None:
    """A linkaudit-ignore-next-line comment suppresses the finding with a reason."""
    path = write_note(tree, "p", "en", "https://a.example/x?utm_source=x", "https://b.example/")
    text = path.read_text(encoding="utf-8").replace(
        "[1]:", "<!-- linkaudit-ignore-next-line -->\n[1]:")
    path.write_text(text, encoding="utf-8")
    code, out, _ = run("scan", "--format", "json", "--fail-on", "warning")
    (finding,) = findings(out)
    assert finding["suppressed"]
    assert code == 0


# ---------------------------------------------------------------- fix


def test_fix_dry_run_then_write(tree: Path) -> None:
    """fix shows a diff without writing; --write applies it; a second run changes nothing."""
    path = write_note(tree, "p", "en", "https://a.example/x?utm_source=chatgpt.com",
                      "https://a.example/x")
    original = path.read_bytes()
    code, out, err = run("fix")
    assert code == 0 and path.read_bytes() == original
    assert "-[1]: https://a.example/x?utm_source=chatgpt.com" in out
    code, out, err = run("fix", "--write")
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    assert "utm_source=chatgpt.com" not in text
    assert "[9]: https://in-a-fence.example/?utm_source=x" in text  # code is never touched
    assert "[2]: https://a.example/x" not in text  # duplicate merged into [1]
    assert "([Blog][1])" in text
    second = path.read_bytes()
    assert run("fix", "--write")[0] == 0
    assert path.read_bytes() == second


def test_gate_checks_only_new_urls_and_fails_on_new_dead(tree: Path,
                                                         server: LoopbackServer) -> None:
    """In a gate run only URLs new in the change are requested; a new dead one fails."""
    path = write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    git(tree, "init", "-q")
    git(tree, "add", ".")
    git(tree, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "notes")
    path.write_text(path.read_text(encoding="utf-8")
                    + f"\nAnd [new]({server.url('/status/410')}).\n", encoding="utf-8")
    code, out, _ = run("check", "--changed-since", "HEAD", "--format", "json")
    assert code == 1
    assert [r["url"] for r in json.loads(out)["results"]] == [server.url("/status/410")]
    assert server.count("/status/404") == 0 and server.count("/ok") == 0
    assert [f["kind"] for f in findings(out)] == ["dead"]


def fake_web(request: httpx.Request) -> httpx.Response:
    """A tiny web for fix: a dead page, a moved one, and a Wayback availability API."""
    if request.url.host == "archive.test":
        snapshot = "http://web.archive.org/web/20240101000000/https://site.test/gone"
        return httpx.Response(200, json={"archived_snapshots": {"closest": {
            "available": True, "url": snapshot, "timestamp": "20240101000000",
            "status": "200"}}})
    if request.url.path == "/gone":
        return httpx.Response(404)
    if request.url.path == "/moved":
        return httpx.Response(301, headers={"Location": "https://site.test/new"})
    return httpx.Response(200, html="<title>fine</title>")


def test_fix_updates_redirects_and_archives_dead_links(tree: Path) -> None:
    """fix --online rewrites a permanent redirect to its target and a dead link to a snapshot,
    in every translation citing them."""
    config = tree / "linkaudit.yaml"
    config.write_text(config.read_text(encoding="utf-8")
                      + "dead_after:\n  failures: 1\n  days: 0\n"
                      + "archive:\n  endpoint: https://archive.test/wayback/available\n",
                      encoding="utf-8")
    paths = [write_note(tree, "2024-05-01-p", lang, "https://site.test/gone",
                        "https://site.test/moved?utm_source=chatgpt.com") for lang in ("en", "de")]
    code, _, err = run("fix", "--online", "--write", transport=httpx.MockTransport(fake_web))
    assert code == 0, err
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "[1]: https://web.archive.org/web/20240101000000/https://site.test/gone " in text
        assert "[2]: https://site.test/new " in text


def test_offline_uses_stored_verdicts_only(tree: Path, server: LoopbackServer) -> None:
    """--offline makes no request: stored verdicts are reported, unseen URLs listed unchecked."""
    path = write_note(tree, "p", "en", server.url("/ok"), server.url("/chain/301/ok"))
    run("check")
    seen = server.count("/ok") + server.count("/chain/301/ok")
    path.write_text(path.read_text(encoding="utf-8")
                    + f"\nAnd [new]({server.url('/status/404')}).\n", encoding="utf-8")
    code, out, _ = run("check", "--offline", "--format", "json")
    assert server.count("/ok") + server.count("/chain/301/ok") == seen
    assert server.count("/status/404") == 0
    kinds = sorted(f["kind"] for f in findings(out))
    assert kinds == ["redirected", "unchecked"]
    assert code == 0


def test_fix_disk_full_keeps_original_and_exits_three(tree: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails (disk full) leaves the note intact and the run exits 3."""
    import errno
    import os

    path = write_note(tree, "p", "en", "https://a.example/x?utm_source=chatgpt.com",
                      "https://b.example/y")
    original = path.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    code, _, err = run("fix", "--write")
    assert code == 3
    assert "No space left on device" in err
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


def test_report_since_last_run_and_bad_date(tree: Path, server: LoopbackServer) -> None:
    """report --since last-run limits to the last run; a malformed date is a usage error."""
    write_note(tree, "p", "en", server.url("/ok"), server.url("/status/404"))
    run("check")
    code, out, _ = run("report", "--since", "last-run", "--format", "json")
    assert code == 0 and [f["kind"] for f in findings(out)] == ["failing"]
    code, _, err = run("report", "--since", "yesterday")
    assert code == 2 and "expected YYYY-MM-DD or last-run" in err


def test_changed_since_unknown_ref_exit_two(tree: Path) -> None:
    """An unknown git revision is a usage error naming it."""
    git(tree, "init", "-q")
    code, _, err = run("scan", "--changed-since", "no-such-ref")
    assert code == 2 and "unknown git revision 'no-such-ref'" in err


@pytest.mark.parametrize(("arguments", "partial"), [
    (["check"], False),
    (["check", "--format", "json", "--no-cache"], False),
    (["check", "--changed-since", "origin/main"], True),
    (["check", "--files-from=-"], True),
    (["check", "--config", "c.yaml", "_posts/en"], True),
    (["fix", "--check", "notes"], True),
    (["check", "--no-such-flag", "--format"], False),  # unreadable: counted as full
])
def test_partial_run_read_back_from_the_recorded_command_line(arguments: list[str],
                                                               partial: bool) -> None:
    """A run is partial when its command line named a gate, a file list or paths."""
    assert partial_run(arguments) is partial
