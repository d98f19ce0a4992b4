"""Politeness under 429: a host that says "slow down" gets nothing before its Retry-After,
then fewer requests at once, won back one at a time; the run reports how often."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import httpx

import linkaudit
from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.check.scheduler import Scheduler
from linkaudit.check.verdicts import Response
from linkaudit.config import Duration, NetworkConfig
from linkaudit.models import CheckResult, Verdict
from tests.loopback import FakeTime
from tests.test_api import project_config, write_tree

CONFIG = NetworkConfig(allow_private=True, concurrency=8, per_host_concurrency=8,
                       per_host_interval=Duration(0), retries=3, backoff=Duration(0.01),
                       connect_timeout=Duration(2), read_timeout=Duration(2),
                       total_timeout=Duration(100))
RETRY_AFTER = 2.0


class _RateLimited:
    """An HTTP/1.1 server in the test's own event loop, reading the test's fake clock: it
    answers ``429 Retry-After: 2`` to every request arriving before ``open_at`` (the first
    arrival + 2 s), 200 after, and records each arrival: (fake time, requests it was
    already serving, 200s answered before it)."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.open_at: float | None = None
        self.serving = 0
        self.answered_ok = 0
        self.throttled = 0
        self.arrivals: list[tuple[float, int, int]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                now = self.time.clock()
                self.arrivals.append((now, self.serving, self.answered_ok))
                self.open_at = now + RETRY_AFTER if self.open_at is None else self.open_at
                self.serving += 1
                await asyncio.sleep(0.01)  # a little latency: concurrent requests overlap
                if now < self.open_at:
                    self.throttled += 1
                    head = f"HTTP/1.1 429 Too Many\r\nRetry-After: {RETRY_AFTER:g}\r\n"
                else:
                    self.answered_ok += 1
                    head = "HTTP/1.1 200 OK\r\n"
                self.serving -= 1
                writer.write(f"{head}Content-Length: 0\r\n\r\n".encode())
                await writer.drain()
        finally:
            writer.close()


def _check_rate_limited(server: _RateLimited, urls: int) -> tuple[list[CheckResult],
                                                                  dict[str, int]]:
    async def main() -> tuple[list[CheckResult], dict[str, int]]:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            async with make_client(CONFIG) as client:
                checker = Checker(client, CONFIG, sleep=server.time.sleep,
                                  clock=server.time.clock)
                results = await checker.check_all(
                    [(str(i), f"http://127.0.0.1:{port}/p{i}") for i in range(urls)])
                return results, checker.slowed_down
        finally:
            listener.close()
            await listener.wait_closed()

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_nothing_reaches_a_throttled_host_before_its_retry_after() -> None:
    """Eight concurrent requests get 429 Retry-After: 2; no request, queued URL or retry,
    arrives before those 2 s have passed on the checker's clock, and every URL ends ok."""
    server = _RateLimited(FakeTime())
    results, slowed = _check_rate_limited(server, urls=16)
    assert {r.verdict for r in results} == {Verdict.OK} and len(results) == 16
    first = server.arrivals[0][0]
    burst = [t for t, _, _ in server.arrivals if t < first + RETRY_AFTER]
    assert len(burst) == server.throttled == CONFIG.per_host_concurrency
    assert all(t == first for t in burst)  # all sent before the first 429 was read
    assert slowed == {"127.0.0.1": server.throttled}


def test_a_throttled_host_gets_half_the_requests_then_wins_them_back() -> None:
    """After the 429s the host's limit is halved (8 to 4) once, not once per 429: until
    four calm answers came back, at most four requests are in flight to it."""
    server = _RateLimited(FakeTime())
    _check_rate_limited(server, urls=24)
    after = [(serving, calm) for t, serving, calm in server.arrivals
             if t >= server.arrivals[0][0] + RETRY_AFTER]
    assert max(serving for serving, calm in after if calm < 4) + 1 == 4
    assert max(serving for serving, _ in after) + 1 <= CONFIG.per_host_concurrency


def test_the_limit_halves_once_per_round_and_grows_back_to_its_ceiling() -> None:
    """Multiplicative decrease (one halving for answers to requests sent before it),
    additive increase (one more after ``limit`` calm answers), never past the ceiling."""
    fake = FakeTime()
    scheduler = Scheduler(CONFIG, sleep=fake.sleep, clock=fake.clock, now=lambda: 0.0)
    host = scheduler.host("a.test")  # ceiling: CONFIG.per_host_concurrency, 8
    throttled = Response(429, {"retry-after": "1"})
    sent = fake.clock()
    fake.now += 0.1
    for _ in range(3):
        scheduler.answered(host, throttled, sent)
    assert (host.limit, host.slowed) == (4, 3)
    assert host.next_start == fake.clock() + 1
    limits = []
    for _ in range(40):
        scheduler.answered(host, Response(200, {}), fake.clock())
        limits.append(host.limit)
    assert limits[:4] == [4, 4, 4, 5] and limits[-1] == 8
    scheduler.answered(host, Response(503, {}), fake.clock())  # no Retry-After: a page
    assert (host.limit, host.slowed) == (8, 3)
    assert scheduler.slowed_down == {"a.test": 3}


def test_the_run_reports_how_often_each_host_said_slow_down(tmp_path: Path) -> None:
    """A check run's report carries the count per host, and the JSON summary shows it."""
    note = write_tree(tmp_path, "https://busy.test/page")
    answers = iter([429, 200])

    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"retry-after": "0"})

    config = project_config(tmp_path)
    config = dataclasses.replace(config, network=dataclasses.replace(config.network,
                                                                     retries=1))
    outcome = linkaudit.run_check(config, linkaudit.CheckOptions(paths=(note.parent,)),
                                  transport=httpx.MockTransport(busy))
    assert outcome.report.slowed_down == (("busy.test", 1),)
    summary = json.loads(linkaudit.render(outcome.report, "json"))["summary"]
    assert summary["slowed_down"] == {"busy.test": 1}
