"""Per-host scheduling: which URL starts next, when a host may be asked again, how many of
its URLs may be in flight, and the global limit on checks in flight.

Hosts take turns (round robin over those that may start now); a host waits out its
interval, or its back-off after 429/503, in a heap without holding a slot; at most the
host's current limit of its URLs and ``concurrency`` URLs in all run at once. A check
that only sleeps (a retry back-off, a host's spacing) lends its global slot to others
meanwhile.

A host that says to slow down (429, or 503 with Retry-After) gets nothing more until its
Retry-After has passed, queued URLs and retries of other URLs included: the host's
"not before" time is checked right before each request is sent. Its limit is then
halved, once per round of requests (an answer to a request sent before the last halving
does not halve again), and raised by one after each ``limit`` calm answers, up to the
configured per-host concurrency: additive increase, multiplicative decrease.
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

from linkaudit.check.fetch import Attempt
from linkaudit.check.hosts import Host, Job, parse_url
from linkaudit.check.retry import capped_retry_after
from linkaudit.check.verdicts import Response
from linkaudit.collector import fewer_collections
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
                # The job first, then a slot: waiting for a host to be ready while holding
                # a slot would starve a check that lent its slot and wants it back.
                job = await self._next_job()
                if job is None:
                    return
                await slots.acquire()
                task = asyncio.create_task(run_one(*job))
                running.add(task)
                task.add_done_callback(running.discard)

        with fewer_collections():
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
                if host.in_flight >= host.limit:  # its limit was lowered since it was listed
                    host.listed = False
                    continue
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

    async def send(self, host: Host, request: Callable[[], Awaitable[Attempt]]) -> Attempt:
        """Make one ``request`` to ``host`` once it may be sent, and learn from its answer.

        Right before sending, the host's "not before" time (interval, back-off) must have
        passed and fewer than its current limit of requests be in flight to it; the start
        time is then claimed at once, so nothing else slips in between.
        """
        while True:
            if (wait := host.next_start - self._clock()) > 0:
                await self.pause(wait)
            elif host.sending >= host.limit:
                await host.turn()
            else:
                break
        host.sending += 1
        sent_at = self._clock()
        host.next_start = sent_at + host.interval
        try:
            attempt = await request()
            self.answered(host, attempt.response, sent_at)
        finally:
            host.sending -= 1
            host.wake()
        return attempt

    async def pause(self, seconds: float) -> None:
        """Sleep without holding a global slot when running under ``run()``."""
        slot = _CURRENT_SLOT.get()
        if slot is None:
            await self._sleep(seconds)
        else:
            await slot.lend(self._sleep, seconds)

    def answered(self, host: Host, response: Response | None, sent_at: float) -> None:
        """What an answer to a request sent at ``sent_at`` (monotonic) tells of its host.

        After 429/503 the whole host waits, not only the URL that got it; one that says to
        slow down also gets fewer requests in flight, and calm answers win them back.
        """
        if response is None:
            return
        if response.status not in HOST_BACKOFF_STATUSES:
            self._calm(host)
            return
        retry_after = response.headers.get("retry-after")
        delay = capped_retry_after(retry_after, self.wall(), self._config)
        delay = float(self._config.backoff) if delay is None else delay
        now = self._clock()
        host.next_start = max(host.next_start, now + delay)
        if response.status == 429 or retry_after is not None:
            host.slowed += 1
            host.calm = 0
            if sent_at > host.slowed_at:  # sent at the current limit: it was too many
                host.limit = max(1, host.limit // 2)
                host.slowed_at = now

    def _calm(self, host: Host) -> None:
        """One more answer without a request to slow down: after ``limit`` of them, one
        more of the host's URLs may be in flight (up to its configured ceiling)."""
        if host.limit >= host.ceiling:
            return
        host.calm += 1
        if host.calm >= host.limit:
            host.limit += 1
            host.calm = 0
            host.wake()
            if self._list(host):
                self._changed.set()

    @property
    def slowed_down(self) -> dict[str, int]:
        """How often each host told this run to slow down (hosts that never did left out)."""
        return {host.name: host.slowed for host in self._hosts.values() if host.slowed}

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
