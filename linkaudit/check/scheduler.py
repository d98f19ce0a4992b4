"""Per-host scheduling: which URL starts next, when a host may be asked again, and the
global limit on checks in flight.

Hosts take turns (round robin over those that may start now); a host waits out its
interval, or its back-off after 429/503, in a heap without holding a slot; at most
``per-host concurrency`` of a host's URLs and ``concurrency`` URLs in all run at once. A
check that only sleeps (a retry back-off, a host's spacing) lends its global slot to
others meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

from linkaudit.check.hosts import Host, Job, parse_url
from linkaudit.check.retry import retry_after_seconds
from linkaudit.check.verdicts import Response
from linkaudit.config import NetworkConfig
from linkaudit.models import CheckResult

Sleep = Callable[[float], Awaitable[None]]
HOST_BACKOFF_STATUSES = frozenset({429, 503})


class _Slot:
    """A running check's share of the global concurrency. It is lent back while the check
    only sleeps, so a retry back-off or a host's spacing does not idle a slot that
    another host's check could use."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = True

    async def lend(self, sleep: Sleep, seconds: float) -> None:
        self.release()
        await sleep(seconds)
        await self._slots.acquire()  # cancelled before this: not held, release() skips it
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


_CURRENT_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar(
    "linkaudit_check_slot", default=None)


class Scheduler:
    """The hosts of one checker and the order their queued URLs start in."""

    def __init__(self, config: NetworkConfig, *, sleep: Sleep, clock: Callable[[], float],
                 now: Callable[[], float]) -> None:
        self._config = config
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._hosts: dict[str, Host] = {}
        self._ready: deque[Host] = deque()
        self._parked: list[tuple[float, int, Host]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._queued = 0  # jobs waiting in all hosts' queues

    def host(self, name: str) -> Host:
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = Host.configured(self._config, name)
        return host

    async def run(self, items: Iterable[tuple[str, str]],
                  check: Callable[[Job], Awaitable[CheckResult]]) -> AsyncIterator[CheckResult]:
        """``check`` each distinct key once, yielding results as they complete.

        Cancelling the consumer cancels the checks in flight; what was yielded before
        stays with the caller.
        """
        pending = self._enqueue(items)
        done: asyncio.Queue[CheckResult] = asyncio.Queue()
        slots = asyncio.Semaphore(self._config.concurrency)
        running: set[asyncio.Task[None]] = set()

        async def run_one(job: Job, host: Host) -> None:
            slot = _Slot(slots)
            _CURRENT_SLOT.set(slot)  # this task's own context: seen by pause() below it
            try:
                await done.put(await check(job))
            finally:
                slot.release()
                self._finished(host)

        async def dispatch() -> None:
            while True:
                await slots.acquire()
                job = await self._next_job()
                if job is None:
                    slots.release()
                    return
                task = asyncio.create_task(run_one(*job))
                running.add(task)
                task.add_done_callback(running.discard)

        dispatcher = asyncio.create_task(dispatch())
        try:
            for _ in range(pending):
                yield await done.get()
        finally:
            dispatcher.cancel()
            for task in list(running):
                task.cancel()
            await asyncio.gather(dispatcher, *running, return_exceptions=True)

    def _enqueue(self, items: Iterable[tuple[str, str]]) -> int:
        seen: set[str] = set()
        for key, url in items:
            if key in seen:
                continue
            seen.add(key)
            parsed = parse_url(url)
            host = self.host(parsed.host if parsed is not None else "")
            host.queued.append(Job(key, url, parsed))
            self._list(host)
        self._queued += len(seen)
        return len(seen)

    def _list(self, host: Host) -> bool:
        """Put ``host`` in the ready queue if it has work and room; True if it was put."""
        if host.listed or not host.queued or host.in_flight >= host.limit:
            return False
        host.listed = True
        self._ready.append(host)
        return True

    def _finished(self, host: Host) -> None:
        """A check ended: wake the dispatcher only if its host can start another now."""
        host.in_flight -= 1
        if self._list(host):
            self._changed.set()

    async def _next_job(self) -> tuple[Job, Host] | None:
        """The next job and its host, round-robin over hosts that may start now."""
        while True:
            now = self._clock()
            while self._parked and self._parked[0][0] <= now:
                self._ready.append(heapq.heappop(self._parked)[2])
            while self._ready:
                host = self._ready.popleft()
                if host.next_start > now:
                    heapq.heappush(self._parked, (host.next_start, next(self._order), host))
                    continue
                job = host.queued.popleft()
                self._queued -= 1
                host.in_flight += 1
                host.listed = False
                self._list(host)
                return job, host
            if not self._parked and not self._queued:
                return None
            self._changed.clear()
            if self._parked:  # a check ending or the earliest parked host, whichever first
                await _first_of([self._changed.wait(),
                                 self._sleep(max(0.0, self._parked[0][0] - now))])
            else:
                await self._changed.wait()

    async def start_request(self, host: Host) -> None:
        """Wait for the host's spacing (interval or back-off), then claim the start time."""
        while (wait := host.next_start - self._clock()) > 0:
            await self.pause(wait)
        host.next_start = self._clock() + host.interval

    async def pause(self, seconds: float) -> None:
        """Sleep without holding a global slot when running under ``run()``."""
        slot = _CURRENT_SLOT.get()
        if slot is None:
            await self._sleep(seconds)
        else:
            await slot.lend(self._sleep, seconds)

    def back_off(self, host: Host, response: Response | None) -> None:
        """After 429/503 the whole host waits, not only the URL that got it."""
        if response is None or response.status not in HOST_BACKOFF_STATUSES:
            return
        delay = retry_after_seconds(response.headers.get("retry-after"), self.wall())
        delay = float(self._config.backoff) if delay is None else delay
        delay = min(delay, float(self._config.max_retry_after))
        host.next_start = max(host.next_start, self._clock() + delay)

    def wall(self) -> datetime:
        """The wall clock now, as Retry-After dates are read against it."""
        return datetime.fromtimestamp(self._now(), tz=UTC)


async def _first_of(waits: Sequence[Awaitable[object]]) -> None:
    """Wait until the first of ``waits`` finishes, then cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
