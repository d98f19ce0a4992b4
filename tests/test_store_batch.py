"""Batched check writes: one transaction per batch, and a crash loses only the open batch."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from linkaudit.history import Store
from tests.test_store import PROJECT, Clock, ok


def test_batch_commits_per_size_and_on_flush(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """450 checks in batches of 200 take three transactions, and every check is stored."""
    clock = Clock()
    with Store.open(tmp_path / "h.sqlite", lock_timeout=1, now=clock) as store:
        commits: list[int] = []
        record_many = store.record_many
        monkeypatch.setattr(store, "record_many",
                            lambda run, results: (commits.append(len(results)),
                                                  record_many(run, results)))
        run = store.begin_run("check", [])
        batch = store.batch(run, size=200, clock=clock)
        keys = [f"https://e.example/{i}" for i in range(450)]
        for key in keys:
            batch.add(ok(key, clock.now))
        assert commits == [200, 200]
        batch.flush()
        assert commits == [200, 200, 50]
        assert all(store.latest(key) is not None for key in keys)


def test_batch_commits_after_a_second(tmp_path: Path) -> None:
    """A slow trickle of checks is committed once a second has passed, not at the size."""
    clock = Clock()
    with Store.open(tmp_path / "h.sqlite", lock_timeout=1, now=clock) as store:
        run = store.begin_run("check", [])
        batch = store.batch(run, size=1000, seconds=1.0, clock=clock)
        batch.add(ok("https://e.example/1", clock.now))
        clock.now += 0.6
        batch.add(ok("https://e.example/2", clock.now))
        assert store.latest("https://e.example/1") is None
        clock.now += 0.6
        batch.add(ok("https://e.example/3", clock.now))
        assert all(store.latest(f"https://e.example/{i}") is not None for i in (1, 2, 3))


KILLED_IN_A_BATCH = """
import os, signal, sys
from pathlib import Path
from linkaudit.models import CheckResult, Verdict
from linkaudit.history import store as module

db = module.Store.open(Path(sys.argv[1]), lock_timeout=5)
run = db.begin_run("check", ["notes"])
batch = db.batch(run, size=100)
inserted = 0

class DieHalfWay:
    # the store's connection, killing the process once 240 checks are inserted
    def __init__(self, connection):
        self.connection = connection

    def __getattr__(self, name):
        return getattr(self.connection, name)

    def executemany(self, sql, rows):
        global inserted
        if not sql.startswith("INSERT INTO checks"):
            return self.connection.executemany(sql, rows)
        for row in rows:
            cursor = self.connection.execute(sql, row)
            inserted += 1
            if inserted >= 240:  # half-way through the third batch
                os.kill(os.getpid(), signal.SIGKILL)
        return cursor

db._db = DieHalfWay(db._db)
for i in range(1000):
    key = f"https://e.example/{i}"
    batch.add(CheckResult(key=key, url=key, verdict=Verdict.OK, detail="200 OK",
                          checked_at=1000.0 + i))
"""


def test_kill_in_a_batch_loses_only_that_batch(tmp_path: Path) -> None:
    """SIGKILL half-way through writing a batch keeps the committed batches whole, drops
    the open one entirely, and leaves a sound file."""
    db_path = tmp_path / "h.sqlite"
    child = subprocess.run([sys.executable, "-c", KILLED_IN_A_BATCH, str(db_path)],
                           cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)},
                           capture_output=True, text=True, timeout=60, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM checks").fetchone()[0] == 200
        assert db.execute("SELECT count(*) FROM latest").fetchone()[0] == 200
    db.close()
    with Store.open(db_path, lock_timeout=1) as store:
        (summary,) = store.runs()
        assert summary.status == "interrupted"
        assert summary.ok == 200
