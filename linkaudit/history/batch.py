"""Check results written a batch at a time: one transaction per batch, not per URL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from linkaudit.models import CheckResult


class Recorder(Protocol):
    """What a batch writes through (the store)."""

    def record_many(self, run_id: int, results: Iterable[CheckResult]) -> None: ...


class CheckBatch:
    """Checks recorded as they arrive, one transaction per ``size`` of them or per
    ``seconds`` (whichever comes first), instead of one per check.

    A crash (kill -9) loses at most the open batch, never the file: each batch commits
    whole or not at all. ``flush`` records what is pending; a run calls it at its end,
    Ctrl-C included, so an interrupted run keeps every finished check.
    """

    def __init__(self, store: Recorder, run_id: int, size: int, seconds: float,
                 clock: Callable[[], float]) -> None:
        self.store, self.run_id, self.size, self.seconds = store, run_id, size, seconds
        self._clock = clock
        self._pending: list[CheckResult] = []
        self._since = clock()

    def add(self, result: CheckResult) -> None:
        self._pending.append(result)
        if len(self._pending) >= self.size or self._clock() - self._since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.store.record_many(self.run_id, self._pending)
            self._pending = []
        self._since = self._clock()
