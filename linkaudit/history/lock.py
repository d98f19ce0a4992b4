"""The run lock: one writer at a time, through an exclusive lock on a file beside the store.

The lock file holds the holder's pid and start time, so a second run can say who it waited
for. It is never deleted (deleting lock files races); the kernel drops the lock when its
holder dies, so a crash never leaves the store locked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from linkaudit.errors import StoreError
from linkaudit.history.failures import os_failure

_LOCK_POLL = 0.05


def _format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="seconds")


class RunLock:
    """An exclusive ``flock`` on a file beside the database, holding "pid started_at"."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, path: Path, timeout: float, now: Callable[[], float]) -> RunLock:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise os_failure(path, "create the store's lock file", exc) from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise os_failure(path, "lock the history store", exc) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = cls._holder(fd)
                os.close(fd)
                raise StoreError(f"another linkaudit run holds the store{holder}; waited "
                                 f"{timeout:g} s (store lock {path})")
            time.sleep(min(_LOCK_POLL, remaining))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {now()}\n".encode(), 0)
        except OSError as exc:  # a full disk, a lock file on a device, ...
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise os_failure(path, "write the store's lock file", exc) from None
        return cls(fd)

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid, since = os.pread(fd, 100, 0).decode().split()
            return f" (pid {int(pid)} since {_format_time(float(since))})"
        except (OSError, ValueError):
            return ""

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
