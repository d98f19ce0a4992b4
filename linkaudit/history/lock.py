"""The run lock: one writer at a time, through a lock file beside the store (``filelock``).

``filelock`` takes the operating system's lock (``flock`` on POSIX, ``msvcrt`` locking on
Windows), which the system drops when its holder dies, so a crash never leaves the store
locked. The holder's pid and start time go to a second file, ``<lock>.holder``, so a run
that gave up waiting can say whom it waited for (a waiter may rewrite the lock file
itself, so it cannot hold them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from linkaudit.errors import StoreError
from linkaudit.history.failures import os_failure

_LOCK_POLL = 0.05


class RunLock:
    """An exclusive lock on a file beside the database; ``<lock>.holder`` says who holds it."""

    def __init__(self, lock: FileLock) -> None:
        self._lock = lock

    @classmethod
    def acquire(cls, path: Path, timeout: float, now: Callable[[], float]) -> RunLock:
        """Wait up to ``timeout`` s for the lock; a StoreError when it stays held or fails."""
        holder = _holder_path(path)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=timeout, poll_interval=_LOCK_POLL)
        except Timeout:
            raise StoreError(f"another linkaudit run holds the store{_holder(holder)}; waited "
                             f"{timeout:g} s (store lock {path})") from None
        except OSError as exc:  # a read-only folder, a folder in its place, a full disk
            raise os_failure(path, "create the store's lock file", exc) from None
        try:
            holder.write_bytes(f"{os.getpid()} {now()}\n".encode())
        except OSError as exc:  # a full disk, a read-only file, ...
            lock.release()
            raise os_failure(holder, "write the store's lock file", exc) from None
        return cls(lock)

    def release(self) -> None:
        self._lock.release()


def _holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder")


def _holder(path: Path) -> str:
    """`` (pid N since <time>)`` from the holder file; empty when it cannot be read."""
    try:
        pid, since = path.read_bytes()[:100].decode().split()
        started = datetime.fromtimestamp(float(since)).isoformat(sep=" ", timespec="seconds")
        return f" (pid {int(pid)} since {started})"
    except (OSError, ValueError, OverflowError):
        return ""
