"""History store: schema and migrations, damage and locking, cache, confirmation, changes."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from linkaudit.errors import ExitCode, StoreError
from linkaudit.history import (
    DAY,
    SCHEMA_VERSION,
    Change,
    Confirmation,
    Store,
    confirmation,
    fingerprint,
)
from linkaudit.history.schema import create_v1
from linkaudit.models import CheckResult, Finding, Hop, Severity, Verdict

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "store_fixtures"
A = "https://a.example/page"
B = "https://b.example/gone"


class Clock:
    """A settable clock: tests move time instead of waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def ok(key: str, at: float) -> CheckResult:
    return CheckResult(key=key, url=key, verdict=Verdict.OK, detail="200 OK", status=200,
                       chain=(Hop(key, 200),), checked_at=at)


def dead(key: str, at: float) -> CheckResult:
    return CheckResult(key=key, url=key, verdict=Verdict.DEAD, detail="404 Not Found",
                       reason="404", status=404, chain=(Hop(key, 404),), checked_at=at)


def moved(key: str, at: float, to: str = "https://new.example/") -> CheckResult:
    return CheckResult(key=key, url=key, verdict=Verdict.REDIRECTED, detail=f"301 to {to}",
                       status=200, chain=(Hop(key, 301), Hop(to, 200)), final_url=to,
                       permanent=True, final_verdict=Verdict.OK, checked_at=at)


def finding(kind: str, path: str, url: str, line: int = 3) -> Finding:
    return Finding(kind=kind, severity=Severity.WARNING, path=Path(path), line=line, column=1,
                   message=f"{kind} at line {line}", url=url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".linkaudit" / "history.sqlite"


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[Store]:
    with Store.open(db_path, lock_timeout=1, now=clock) as opened:
        yield opened


def run_with(store: Store, *results: CheckResult) -> int:
    """One finished run that recorded ``results``."""
    run = store.begin_run("check", ["notes"])
    for result in results:
        store.record(run, result)
    store.finish_run(run, exit_code=0, counts={})
    return run


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- creation and schema


def test_created_on_first_use_with_folder_and_current_schema(db_path: Path) -> None:
    """Opening a missing store creates its folder and file at the current schema, in WAL."""
    with Store.open(db_path, lock_timeout=1) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
    assert db_path.is_file()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_v1_fixture_matches_the_code_v1_step(tmp_path: Path) -> None:
    """The frozen v1 fixture has the same tables and columns the code's v1 step creates."""

    def shape(db: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: db.execute(f"PRAGMA table_info({t})").fetchall() for t in tables}

    fixture = sqlite3.connect(":memory:")
    fixture.executescript((FIXTURES / "v1.sql").read_text())
    code = sqlite3.connect(":memory:")
    create_v1(code)
    assert shape(fixture) == shape(code)
    fixture.close()
    code.close()


def test_migration_from_v1_keeps_data_and_builds_current_state(
    db_path: Path, clock: Clock
) -> None:
    """A v1 store opens at the current schema with runs, checks and citations intact."""
    db_path.parent.mkdir()
    with sqlite3.connect(db_path) as db:
        db.executescript((FIXTURES / "v1.sql").read_text())
    db.close()
    clock.now = 90_100.0
    with Store.open(db_path, lock_timeout=1, now=clock) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [(r.run_id, r.ok, r.failing) for r in store.runs()] == [(1, 1, 1), (2, 1, 1)]
        hit = store.cached("https://a.example/", max_age=3600)
        assert hit is not None and hit.checked_at == 90_010.0 and hit.from_cache
        assert store.confirm("https://b.example/x", 2, 2) == Confirmation(
            "failing", 2, 2, 1020.0, 90_020.0)
        (state,) = store.latest_states()
        assert state.key == "https://b.example/x"
        assert [(str(c.path), c.line) for c in state.citations] == [
            ("_posts/en/2024-01-01-b-en.md", 7)]
        assert state.first_seen == 1000.0
        changes = store.changes(2, failures_needed=2, min_days=1)
        assert [c.key for c in changes.new_dead] == ["https://b.example/x"]


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    """A store from a newer linkaudit is refused with both versions named and not modified."""
    db_path.parent.mkdir()
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version = 7")
    db.close()
    before = digest(db_path)
    with pytest.raises(StoreError, match=r"newer linkaudit \(schema 7, this one knows 2\)"):
        Store.open(db_path, lock_timeout=1)
    assert digest(db_path) == before


@pytest.mark.parametrize("content", [
    pytest.param(b"this is not a database at all\n" * 20, id="text"),
    pytest.param(bytes(range(256)) * 8, id="garbage"),
    pytest.param(b"SQLite format 3\x00", id="short-header"),
])
def test_not_a_database_is_refused_untouched(db_path: Path, content: bytes) -> None:
    """Garbage at the store path is a StoreError and the file stays byte for byte."""
    db_path.parent.mkdir()
    db_path.write_bytes(content)
    with pytest.raises(StoreError, match="not a linkaudit history store") as caught:
        Store.open(db_path, lock_timeout=1)
    assert caught.value.exit_code == ExitCode.RUNTIME
    assert db_path.read_bytes() == content
    assert sorted(p.name for p in db_path.parent.iterdir() if "-wal" in p.name) == []


def test_truncated_database_is_refused_untouched(db_path: Path, clock: Clock) -> None:
    """A store cut short is refused (not repaired or replaced) and left as it is."""
    with Store.open(db_path, lock_timeout=1, now=clock) as store:
        run_with(store, *(ok(f"https://e.example/{i}", 1.0 + i) for i in range(300)))
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 2])
    before = digest(db_path)
    with pytest.raises(StoreError, match="truncated"):
        Store.open(db_path, lock_timeout=1)
    with pytest.raises(StoreError, match="truncated"):
        Store.open(db_path, readonly=True)
    assert digest(db_path) == before


def test_damaged_pages_are_a_store_error(db_path: Path, clock: Clock) -> None:
    """Overwritten pages inside a valid file give a StoreError that says it is damaged."""
    with Store.open(db_path, lock_timeout=1, now=clock) as store:
        run_with(store, *(ok(f"https://e.example/{i}", 1.0 + i) for i in range(300)))
    data = bytearray(db_path.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    db_path.write_bytes(bytes(data))
    before = digest(db_path)
    with pytest.raises(StoreError, match="damaged"), Store.open(db_path, lock_timeout=1) as s:
        s.runs()
    assert digest(db_path) == before


def test_store_path_that_is_a_folder_is_refused(db_path: Path) -> None:
    """A folder where the database should be is a StoreError naming it."""
    db_path.mkdir(parents=True)
    with pytest.raises(StoreError, match="is a folder"):
        Store.open(db_path, lock_timeout=1)


def test_store_folder_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    """When the store's folder cannot be created, the error says so."""
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(StoreError, match="cannot create the store's folder"):
        Store.open(tmp_path / "blocker" / "history.sqlite", lock_timeout=1)


def test_lock_file_that_cannot_be_created_is_refused(db_path: Path) -> None:
    """When the lock beside the store cannot be made, the error names the lock file."""
    (db_path.parent / "history.sqlite.lock").mkdir(parents=True)
    with pytest.raises(StoreError, match="cannot create the store's lock file"):
        Store.open(db_path, lock_timeout=1)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_lock_file_on_a_full_disk_is_a_store_error(db_path: Path) -> None:
    """A lock file that cannot be written (a full disk: /dev/full) is a StoreError, exit 3,
    and the lock is free again afterwards."""
    db_path.parent.mkdir(parents=True)
    holder = db_path.parent / "history.sqlite.lock.holder"
    holder.symlink_to("/dev/full")
    with pytest.raises(StoreError, match="cannot write the store's lock file: No space") as caught:
        Store.open(db_path, lock_timeout=1)
    assert caught.value.exit_code == ExitCode.RUNTIME
    holder.unlink()
    with Store.open(db_path, lock_timeout=0):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes wherever it likes")
def test_store_in_a_read_only_folder_can_be_read(db_path: Path, clock: Clock) -> None:
    """A reader opens a store in a read-only folder (and a read-only file) and creates nothing."""
    with Store.open(db_path, lock_timeout=1, now=clock) as store:
        run_with(store, dead(B, clock.now))
    before = sorted(p.name for p in db_path.parent.iterdir())
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with Store.open(db_path, readonly=True) as reader:
            assert [s.key for s in reader.latest_states()] == [B]
            assert len(reader.runs()) == 1
        assert sorted(p.name for p in db_path.parent.iterdir()) == before
    finally:
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_store_is_refused(db_path: Path) -> None:
    """A store file without read permission is a StoreError, not a traceback."""
    with Store.open(db_path, lock_timeout=1):
        pass
    db_path.chmod(0)
    try:
        with pytest.raises(StoreError, match="cannot read"):
            Store.open(db_path, lock_timeout=1)
    finally:
        db_path.chmod(0o644)


def test_readonly_needs_an_existing_store(db_path: Path) -> None:
    """A read-only open of a missing store explains there is no history yet, creating nothing."""
    with pytest.raises(StoreError, match="no history yet"):
        Store.open(db_path, readonly=True)
    assert not db_path.parent.exists()


# ---------------------------------------------------------------- locking and crashes


def test_second_writer_waits_then_fails_with_holder(db_path: Path, clock: Clock) -> None:
    """A second writer waits lock_timeout, then names the holding pid; readers need no lock."""
    with Store.open(db_path, lock_timeout=1, now=clock) as first:
        run_with(first, ok(A, clock.now))
        started = time.monotonic()
        with pytest.raises(StoreError, match=(
            rf"another linkaudit run holds the store \(pid {os.getpid()} since .+\); "
            r"waited 0\.3 s"
        )):
            Store.open(db_path, lock_timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 2
        with Store.open(db_path, readonly=True, now=clock) as reader:
            assert len(reader.runs()) == 1
    with Store.open(db_path, lock_timeout=0.3) as second:
        assert len(second.runs()) == 1


def test_readers_create_no_lock_file_and_do_not_block_a_writer(
    db_path: Path, clock: Clock
) -> None:
    """A read-only open creates no lock file, and a writer works while it is open."""
    with Store.open(db_path, lock_timeout=1, now=clock) as writer:
        run_with(writer, ok(A, clock.now))
    for lock_file in db_path.parent.glob("*.lock*"):
        lock_file.unlink()
    with Store.open(db_path, readonly=True) as reader:
        assert len(reader.runs()) == 1
        assert list(db_path.parent.glob("*.lock*")) == []
        with Store.open(db_path, lock_timeout=0, now=clock) as writer:
            run_with(writer, ok(B, clock.now))
        assert len(reader.runs()) == 2


def test_unfinished_run_is_interrupted_on_close(db_path: Path, clock: Clock) -> None:
    """A run still open when the store closes (Ctrl-C) is kept, marked interrupted."""
    with pytest.raises(KeyboardInterrupt), Store.open(db_path, lock_timeout=1, now=clock) as s:
        run = s.begin_run("check", [])
        s.record(run, ok(A, clock.now))
        s.record(run, dead(B, clock.now))
        raise KeyboardInterrupt
    with Store.open(db_path, readonly=True) as store:
        (summary,) = store.runs()
        assert (summary.status, summary.ok, summary.failing) == ("interrupted", 1, 1)


CRASHING_WRITER = """
import sys
from pathlib import Path
from linkaudit.models import CheckResult, Verdict
from linkaudit.history.store import Store

store = Store.open(Path(sys.argv[1]), lock_timeout=5)
run = store.begin_run("check", ["notes"])
for i in range(1_000_000):
    key = f"https://e.example/{i}"
    store.record(run, CheckResult(key=key, url=key, verdict=Verdict.OK, detail="200 OK",
                                  checked_at=1000.0 + i))
    print(i, flush=True)
"""


def test_killed_run_keeps_completed_checks(db_path: Path) -> None:
    """SIGKILL mid-run leaves a sound file with every printed check, the run interrupted."""
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(db_path)], cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    done = -1
    try:
        for line in child.stdout:
            done = int(line)
            if done >= 50:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert done >= 50
    with Store.open(db_path, lock_timeout=1) as store:
        (summary,) = store.runs()
        assert summary.status == "interrupted"
        assert summary.ok >= done + 1
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


# ---------------------------------------------------------------- cache


def test_cache_reuses_a_young_success(store: Store, clock: Clock) -> None:
    """A success younger than max_age comes back whole, marked from_cache."""
    original = moved(A, clock.now - 100)
    run_with(store, original)
    assert store.cached(A, max_age=3600) == replace(original, from_cache=True)


def test_cache_expires(store: Store, clock: Clock) -> None:
    """A success older than max_age is not reused."""
    run_with(store, ok(A, clock.now - 7200))
    assert store.cached(A, max_age=3600) is None


def test_cache_never_reuses_failures(store: Store, clock: Clock) -> None:
    """A failed latest check is never served from the cache, even after older successes."""
    run_with(store, ok(A, clock.now - 200), dead(A, clock.now - 100))
    redirect_to_404 = replace(moved(B, clock.now - 50), final_verdict=Verdict.DEAD)
    run_with(store, redirect_to_404)
    assert store.cached(A, max_age=3600) is None
    assert store.cached(B, max_age=3600) is None
    assert store.cached("https://never.example/", max_age=3600) is None


def test_latest_returns_any_verdict(store: Store, clock: Clock) -> None:
    """latest() gives the newest stored check, failures and old ones included."""
    run_with(store, ok(A, clock.now - 10 * DAY), dead(A, clock.now - 9 * DAY))
    assert store.latest(A) == replace(dead(A, clock.now - 9 * DAY), from_cache=True)
    assert store.latest(B) is None


def test_cached_results_are_not_recorded_twice(store: Store, clock: Clock) -> None:
    """Recording a result that came from the cache adds no check."""
    run_with(store, ok(A, clock.now - 10))
    hit = store.cached(A, max_age=3600)
    assert hit is not None
    run_with(store, hit)
    assert store.confirm(A, 1, 0) == Confirmation("ok", 0, 1)
    cached_again = store.cached(A, max_age=3600)
    assert cached_again is not None and cached_again.checked_at == clock.now - 10


def test_check_without_time_takes_the_clock(store: Store, clock: Clock) -> None:
    """A result with no checked_at is stamped with the store's clock."""
    run_with(store, ok(A, 0.0))
    hit = store.cached(A, max_age=1)
    assert hit is not None and hit.checked_at == clock.now


# ---------------------------------------------------------------- confirmation


@pytest.mark.parametrize(("failures", "spread_days", "state"), [
    (0, 0, "ok"),
    (1, 0, "failing"),
    (3, 2.9, "failing"),
    (2, 5, "failing"),
    (3, 3, "dead"),
    (4, 10, "dead"),
])
def test_confirmation_rule(failures: int, spread_days: float, state: str) -> None:
    """Dead needs both N failures and a first-to-last spread of at least D days."""
    first = 0.0 if failures else None
    last = spread_days * DAY if failures else None
    assert confirmation(failures, first, last, 3, 3).state == state


def test_confirm_counts_failures_spread_over_days(store: Store, clock: Clock) -> None:
    """Three 404s a day and a half apart are failing; stretched over three days, dead."""
    start = clock.now
    for day in (0, 1.5, 3):
        run_with(store, dead(A, start + day * DAY))
        if day < 3:
            assert store.confirm(A, 3, 3).state == "failing"
    assert store.confirm(A, 3, 3) == Confirmation("dead", 3, 3, start, start + 3 * DAY)
    assert store.confirm(A, 4, 3).state == "failing"


def test_success_resets_confirmation(store: Store, clock: Clock) -> None:
    """Only failures after the latest success count; neutral verdicts neither count nor reset."""
    t = clock.now
    run_with(store, dead(A, t), dead(A, t + DAY), ok(A, t + 2 * DAY))
    assert store.confirm(A, 2, 0) == Confirmation("ok", 0, 2)
    timeout = CheckResult(key=A, url=A, verdict=Verdict.UNREACHABLE, detail="timed out",
                          reason="timeout", checked_at=t + 4 * DAY)
    run_with(store, dead(A, t + 3 * DAY), timeout, dead(A, t + 5 * DAY))
    assert store.confirm(A, 2, 0) == Confirmation("dead", 2, 2, t + 3 * DAY, t + 5 * DAY)


def test_out_of_order_record_keeps_history_right(store: Store, clock: Clock) -> None:
    """A check recorded late (older time) does not become the latest or break the counts."""
    t = clock.now
    run_with(store, dead(A, t))
    run_with(store, ok(A, t - DAY))
    assert store.confirm(A, 1, 0).state == "dead"
    assert store.cached(A, max_age=10 * DAY) is None
    run_with(store, dead(B, t + 2 * DAY), dead(B, t - DAY), ok(B, t), dead(B, t + 3 * DAY))
    assert store.confirm(B, 2, 1) == Confirmation("dead", 2, 2, t + 2 * DAY, t + 3 * DAY)
    c = "https://c.example/"
    run_with(store, dead(c, t))
    late = CheckResult(key=c, url=c, verdict=Verdict.UNREACHABLE, detail="timed out",
                       reason="timeout", checked_at=t - DAY)
    store.record_many(store.begin_run("check", []), [dead(c, t - 2 * DAY), late])
    assert store.confirm(c, 1, 0) == Confirmation("dead", 2, 1, t - 2 * DAY, t)


# ---------------------------------------------------------------- citations and reports


def test_citations_keep_first_seen_and_drop_stale(store: Store, clock: Clock) -> None:
    """Citations are replaced per run; a citation that moved lines keeps its first sighting."""
    first = store.begin_run("check", [])
    store.set_citations(first, [(B, B, "en/a.md", 3), (B, B, "de/a.md", 4), (A, A, "x.md", 1)])
    run_with(store, dead(B, clock.now))
    clock.now += DAY
    second = store.begin_run("check", [])
    store.set_citations(second, [(B, B, Path("en/a.md"), 5)])
    (state,) = store.latest_states()
    assert [(str(c.path), c.line, c.first_seen, c.last_seen) for c in state.citations] == [
        ("en/a.md", 5, clock.now - DAY, clock.now)]
    assert (state.first_seen, state.last_seen) == (clock.now - DAY, clock.now)


def test_findings_are_stored_once_per_fingerprint_the_first_kept(store: Store) -> None:
    """Findings of one fingerprint (kind, note, URL) are stored once, as the first came,
    whatever order the fingerprints sort in; suppressed findings are not stored."""
    run = store.begin_run("check", [])
    findings = [finding(kind, path, url, line)
                for line in (7, 3, 5) for kind, path, url in (
                    ("tracking", "b.md", B), ("duplicate", "a.md", A), ("tracking", "a.md", A))]
    store.record_findings(run, [*findings, replace(finding("drift", "c.md", A),
                                                   suppressed="ignored by config")])
    rows = store._db.execute("SELECT fingerprint, kind, path, line, message FROM findings "
                             "WHERE run_id = ?", (run,)).fetchall()
    assert sorted(tuple(row) for row in rows) == sorted(
        (fingerprint(f), f.kind, str(f.path), 7, f"{f.kind} at line 7") for f in findings[:3])


def test_latest_states_lists_what_needs_attention(store: Store, clock: Clock) -> None:
    """Dead, failing, recovered and redirected keys are listed; healthy ones are not."""
    t = clock.now
    gone, flaky, back, fine, moving = (f"https://{n}.example/" for n in (
        "gone", "flaky", "back", "fine", "moving"))
    run_with(store, dead(gone, t), dead(flaky, t + 3 * DAY), dead(back, t), ok(fine, t),
             moved(moving, t))
    run_with(store, dead(gone, t + 3 * DAY), ok(back, t + 3 * DAY), ok(fine, t + 3 * DAY))
    states = {s.key: s for s in store.latest_states(failures_needed=2, min_days=3)}
    assert {k: s.state for k, s in states.items()} == {
        gone: "dead", flaky: "failing", back: "recovered", moving: "redirected"}
    assert states[gone].confirmation == Confirmation("dead", 2, 2, t, t + 3 * DAY)
    assert (states[gone].status, states[gone].detail) == (404, "404 Not Found")
    assert states[moving].final_url == "https://new.example/"
    recent = store.latest_states(since=t + DAY, failures_needed=2, min_days=3)
    assert [s.key for s in recent] == [flaky, gone]
    assert len(store.latest_states(since=t, failures_needed=2, min_days=3)) == 4


def test_runs_summaries_oldest_first(store: Store, clock: Clock) -> None:
    """Runs list oldest first with their counts, limited to the latest N."""
    for i in range(4):
        run = store.begin_run("check", [])
        clock.now += 1
        store.finish_run(run, exit_code=0, counts={"ok": i, "redirected": 1, "dead": 2,
                                                   "failing": 3, "links": 9})
    summaries = store.runs(limit=2)
    assert [(s.run_id, s.ok, s.redirected, s.failing, s.dead, s.status) for s in summaries] == [
        (3, 2, 1, 3, 2, "finished"), (4, 3, 1, 3, 2, "finished")]
    assert len(store.runs()) == 4
    last = store.last_run()
    assert last is not None and last.run_id == 4
    before = store.last_run(before=2)
    assert before is not None and before.run_id == 1
    assert store.last_run(before=1) is None


def test_finish_run_rejects_unknown_status(store: Store) -> None:
    """Only finished and interrupted close a run."""
    run = store.begin_run("check", [])
    with pytest.raises(ValueError, match="finished or interrupted"):
        store.finish_run(run, exit_code=0, counts={}, status="running")


# ---------------------------------------------------------------- what changed


def test_changes_since_previous_finished_run(store: Store, clock: Clock) -> None:
    """New dead, recovered, new permanent redirects and new findings against the last run."""
    t = clock.now
    gone, back, moving, steady = (f"https://{n}.example/" for n in (
        "gone", "back", "moving", "steady"))
    first = run_with(store, dead(gone, t), dead(back, t), ok(moving, t), moved(steady, t))
    store.record_findings(first, [finding("tracking", "a.md", A)])
    second = store.begin_run("check", [])
    for result in (dead(gone, t + DAY), ok(back, t + DAY), moved(moving, t + DAY),
                   moved(steady, t + DAY)):
        store.record(second, result)
    store.record_findings(second, [
        finding("tracking", "a.md", A, line=9),
        finding("duplicate", "a.md", A),
        replace(finding("drift", "b.md", B), suppressed="ignored by config"),
    ])
    changes = store.changes(second, failures_needed=2, min_days=1)
    assert changes.previous_run == first
    assert changes.new_dead == (Change(gone, gone, "404 Not Found"),)
    assert changes.recovered == (Change(back, back, "200 OK"),)
    assert changes.new_redirects == (Change(moving, moving, "→ https://new.example/"),)
    assert changes.new_findings == (Change("duplicate", A, "a.md:3: duplicate at line 3"),)
    assert changes


def test_first_run_changes_report_everything(store: Store, clock: Clock) -> None:
    """With no previous finished run, every failure and finding is new."""
    run = store.begin_run("check", [])
    store.record(run, dead(B, clock.now))
    store.record_findings(run, [finding("tracking", "a.md", A)])
    changes = store.changes(run, failures_needed=1, min_days=0)
    assert changes.previous_run is None
    assert [c.key for c in changes.new_dead] == [B]
    assert [c.key for c in changes.new_findings] == ["tracking"]


def test_quiet_when_nothing_changed(store: Store, clock: Clock) -> None:
    """A run repeating the previous one's results and findings reports no change."""
    for day in range(2):
        run = run_with(store, dead(B, clock.now + day * DAY), moved(A, clock.now + day * DAY))
        store.record_findings(run, [finding("tracking", "a.md", A, line=day + 1)])
    changes = store.changes(run, failures_needed=5, min_days=0)
    assert not changes
    assert changes.previous_run == run - 1


# ---------------------------------------------------------------- pruning


def _check_times(store: Store, key: str) -> list[float]:
    return [row[0] for row in store._db.execute(
        "SELECT checked_at FROM checks WHERE key = ? ORDER BY checked_at", (key,))]


def test_prune_keeps_the_latest_and_the_newest_older_check_of_each_url(
    store: Store, clock: Clock
) -> None:
    """Old checks go; what the dead rule, the cache and reports read stays the same."""
    t = clock.now
    for day in range(10):  # A fails daily; B is fine, then old
        run_with(store, dead(A, t + day * DAY), *([ok(B, t + day * DAY)] if day < 3 else []))
    before = (store.confirm(A, 3, 3), store.latest(A), store.latest(B), store.latest_states())
    assert store.prune(older_than=t + 6.5 * DAY) == 6 + 2  # A: days 0-5; B: days 0-1
    assert _check_times(store, A) == [t + day * DAY for day in (6, 7, 8, 9)]
    assert _check_times(store, B) == [t + 2 * DAY]  # its latest, though old
    assert (store.confirm(A, 3, 3), store.latest(A), store.latest(B),
            store.latest_states()) == before
    assert store.confirm(A, 3, 3) == Confirmation("dead", 10, 3, t, t + 9 * DAY)
    assert store.prune(older_than=t + 6.5 * DAY) == 0


def test_history_goes_on_after_pruning(store: Store, clock: Clock) -> None:
    """New checks, and a late one, continue the counters the kept check carries."""
    t = clock.now
    for day in range(5):
        run_with(store, dead(A, t + day * DAY))
    store.prune(older_than=t + 4.5 * DAY)
    assert _check_times(store, A) == [t + 4 * DAY]
    run_with(store, dead(A, t + 6 * DAY))
    assert store.confirm(A, 3, 3) == Confirmation("dead", 6, 3, t, t + 6 * DAY)
    run_with(store, dead(A, t + 5 * DAY))  # late: older than the latest
    assert store.confirm(A, 3, 3) == Confirmation("dead", 7, 3, t, t + 6 * DAY)
    assert store.latest_states()[0].first_seen == t  # first check, though pruned
    run_with(store, ok(A, t + 7 * DAY))
    assert store.confirm(A, 1, 0) == Confirmation("ok", 0, 1)


def test_prune_keeps_the_findings_the_next_run_compares_with(
    store: Store, clock: Clock
) -> None:
    """Findings of old runs go, except the newest finished run's; changes still work."""
    runs = []
    for _ in range(3):
        clock.now += DAY
        run = run_with(store, ok(A, clock.now))
        store.record_findings(run, [finding("tracking", "a.md", A)])
        runs.append(run)
    store.prune(older_than=clock.now + DAY)  # every run is older
    kept = [row[0] for row in store._db.execute("SELECT DISTINCT run_id FROM findings")]
    assert kept == [runs[-1]]
    clock.now += DAY
    run = run_with(store, ok(A, clock.now))
    store.record_findings(run, [finding("tracking", "a.md", A), finding("duplicate", "a.md", A)])
    assert [c.key for c in store.changes(run).new_findings] == ["duplicate"]


def test_fingerprint_ignores_line_and_message() -> None:
    """A finding keeps its identity when its line or wording changes, not its URL."""
    base = finding("tracking", "a.md", A)
    assert fingerprint(base) == fingerprint(replace(base, line=40, message="other words"))
    assert fingerprint(base) != fingerprint(replace(base, url=B))
    assert fingerprint(base) != fingerprint(replace(base, kind="duplicate"))


# ---------------------------------------------------------------- partial runs


def _cited(store: Store) -> list[tuple[str, str, int]]:
    return sorted((state.key, str(c.path), c.line)
                  for state in store.latest_states() for c in state.citations)


def test_partial_run_keeps_citations_of_notes_it_did_not_read(
    store: Store, clock: Clock
) -> None:
    """A run over some notes updates theirs and leaves every other note's citations alone."""
    full = store.begin_run("check", [])
    store.set_citations(full, [(B, B, "notes/en/a.md", 3), (B, B, "notes/de/a.md", 4),
                               (B, B, "other/b.md", 9)])
    run_with(store, dead(B, clock.now))
    clock.now += DAY
    partial = store.begin_run("check", ["notes/en/a.md"])
    store.set_citations(partial, [(B, B, "notes/en/a.md", 5)], scope=[Path("notes/en/a.md")])
    assert _cited(store) == [(B, "notes/de/a.md", 4), (B, "notes/en/a.md", 5),
                             (B, "other/b.md", 9)]
    (state,) = store.latest_states()
    kept = {str(c.path): c for c in state.citations}
    assert kept["notes/en/a.md"].last_seen == clock.now
    assert kept["notes/de/a.md"].last_seen == clock.now - DAY


def test_partial_run_over_a_folder_drops_what_its_notes_no_longer_cite(
    store: Store, clock: Clock
) -> None:
    """A folder in scope covers its notes, deleted ones too; notes outside it keep theirs."""
    first = store.begin_run("check", [])
    store.set_citations(first, [(B, B, "notes/en/a.md", 3), (B, B, "notes/en/gone.md", 1),
                                (B, B, "notes/english.md", 2), (B, B, "x.md", 1)])
    run_with(store, dead(B, clock.now))
    partial = store.begin_run("check", ["notes/en"])
    store.set_citations(partial, [(B, B, "notes/en/a.md", 3)], scope=["notes/en/"])
    assert _cited(store) == [(B, "notes/en/a.md", 3), (B, "notes/english.md", 2),
                             (B, "x.md", 1)]
    full = store.begin_run("check", [])
    store.set_citations(full, [(B, B, "x.md", 1)])
    assert _cited(store) == [(B, "x.md", 1)]


# ---------------------------------------------------------------- names that are not UTF-8


def test_undecodable_note_names_round_trip(store: Store, clock: Clock) -> None:
    """A note whose name holds byte 0xff is stored and read back as the same name."""
    name = Path(os.fsdecode(b"notes/caf\xff.md"))
    first = store.begin_run("check", [])
    store.set_citations(first, [(B, B, name, 7), (B, B, "notes/plain.md", 2)])
    store.record(first, dead(B, clock.now))
    store.record_findings(first, [finding("tracking", str(name), A)])
    store.finish_run(first, exit_code=0, counts={})
    (state,) = store.latest_states()
    assert sorted(c.path for c in state.citations) == [name, Path("notes/plain.md")]
    (odd,) = [c.path for c in state.citations if c.line == 7]
    assert os.fsencode(odd) == b"notes/caf\xff.md"
    second = store.begin_run("check", [])
    store.set_citations(second, [(B, B, name, 8)], scope=[name])
    store.record_findings(second, [finding("tracking", str(name), A),
                                   finding("duplicate", str(name), A)])
    assert [(str(c.path), c.line) for c in store.latest_states()[0].citations] == [
        ("notes/plain.md", 2), (str(name), 8)]
    (new,) = store.changes(second).new_findings
    assert new.detail == f"{name}:3: duplicate at line 3"
