"""The behaviour suite: a realistic mix of URLs over several loopback hosts, every verdict
asserted, and the requests the servers saw per distinct URL kept within budget.

The mix (213 URLs on 6 hosts): 168 ordinary articles (79%), and 45 URLs of every
behaviour the checker must tell apart: dead 404/410, soft 404s by title (11 languages),
by main heading, by a page served where a PDF was named, and by redirect (to the site
root, to a /404 path), an article about 404 errors (ok), permanent and temporary
redirects and chains, a cookie wall, a flaky 503, a 429 with Retry-After, HEAD refused
and HEAD lying, a bot challenge, files (PDF, PNG, ZIP, asked with HEAD), a slow page, a
hanging one and a TLS failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.config import Duration, NetworkConfig
from linkaudit.models import CheckResult, Verdict
from tests.loopback import SOFT_TITLES, FakeTime, LoopbackServer

pytestmark = pytest.mark.slow

HOSTS = [f"127.0.0.{31 + i}" for i in range(6)]
ARTICLES_PER_HOST = 28
BUDGET = 1.10  # requests per distinct URL, redirect hops and retries included
CONFIG = NetworkConfig(allow_private=True, connect_timeout=Duration(0.5),
                       read_timeout=Duration(0.3), total_timeout=Duration(10),
                       backoff=Duration(0.01), per_host_interval=Duration(0))

DEAD, OK, REDIRECTED = Verdict.DEAD, Verdict.OK, Verdict.REDIRECTED
# (path, verdict, reason); "https:" in front: the same path asked over TLS.
BEHAVIOURS: list[tuple[str, Verdict, str]] = [
    *[(f"/status/404?n={n}", DEAD, "404") for n in range(6)],
    *[(f"/status/410?n={n}", DEAD, "410") for n in range(2)],
    *[(f"/soft/{lang}", DEAD, "soft-404") for lang in sorted(SOFT_TITLES)],
    ("/soft-heading", DEAD, "soft-404"),
    ("/soft-file/report.pdf", DEAD, "soft-404"),
    *[(f"/to-root?n={n}", DEAD, "soft-404") for n in range(2)],
    ("/to-404-page", DEAD, "soft-404"),
    ("/article-404", OK, "200"),
    ("/chain/301/page/m1", REDIRECTED, "permanent"),
    ("/chain/308/page/m2", REDIRECTED, "permanent"),
    ("/chain/301/page/m3", REDIRECTED, "permanent"),
    ("/chain/302/page/t1", REDIRECTED, "temporary"),
    ("/chain/307/page/t2", REDIRECTED, "temporary"),
    ("/chain/301,308/page/c1", REDIRECTED, "permanent"),
    ("/chain/301,302/page/c2", REDIRECTED, "temporary"),
    ("/cookie-wall?n=1", OK, "200"),
    ("/flaky?fail=1&n=503", OK, "200"),
    ("/flaky?fail=1&status=429&retry_after=1&n=429", OK, "200"),
    ("/page/refuses-head?head=405", OK, "200"),
    ("/status/404?head=200&n=lying", DEAD, "404"),
    ("/challenge", Verdict.BLOCKED, "bot-challenge"),
    ("/files/paper.pdf", OK, "200"),
    ("/files/figure.png", OK, "200"),
    ("/files/data.zip", OK, "200"),
    ("/files/scan.pdf?head=405", OK, "200"),
    ("/slow?delay=0.2", OK, "200"),
    ("/hang", Verdict.UNREACHABLE, "read-timeout"),
    ("https:/page/tls", Verdict.UNREACHABLE, "tls"),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[list[LoopbackServer]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(LoopbackServer(host)) for host in HOSTS]


def _url(server: LoopbackServer, path: str) -> str:
    if path.startswith("https:"):
        return f"https://{server.host}:{server.port}{path.removeprefix('https:')}"
    return server.url(path)


def _suite(servers: list[LoopbackServer]) -> dict[str, tuple[Verdict, str]]:
    """Every URL of the suite and the verdict and reason it must get."""
    expected = {
        server.url(f"/page/h{h}-{i}"): (OK, "200")
        for h, server in enumerate(servers) for i in range(ARTICLES_PER_HOST)}
    for number, (path, verdict, reason) in enumerate(BEHAVIOURS):
        expected[_url(servers[number % len(servers)], path)] = (verdict, reason)
    return expected


def _check(urls: list[str]) -> dict[str, CheckResult]:
    fake = FakeTime()

    async def main() -> list[CheckResult]:
        async with make_client(CONFIG) as client:
            checker = Checker(client, CONFIG, sleep=fake.sleep, clock=fake.clock)
            return await checker.check_all([(u, u) for u in urls])

    return {r.key: r for r in asyncio.run(asyncio.wait_for(main(), timeout=60))}


@pytest.fixture(scope="module")
def outcome(servers: list[LoopbackServer]) -> tuple[dict[str, tuple[Verdict, str]],
                                                    dict[str, CheckResult]]:
    expected = _suite(servers)
    return expected, _check(list(expected))


def test_every_verdict_of_the_suite_is_right(
        outcome: tuple[dict[str, tuple[Verdict, str]], dict[str, CheckResult]]) -> None:
    """Each URL gets its verdict and reason: every soft 404 caught, no article called dead."""
    expected, results = outcome
    got = {url: (results[url].verdict, results[url].reason) for url in expected}
    assert {u: v for u, v in got.items() if v != expected[u]} == {}
    assert len(expected) == 6 * ARTICLES_PER_HOST + len(BEHAVIOURS)


def test_the_suite_stays_within_the_request_budget(
        servers: list[LoopbackServer],
        outcome: tuple[dict[str, tuple[Verdict, str]], dict[str, CheckResult]]) -> None:
    """The servers saw at most 1.10 requests per distinct URL, hops and retries included."""
    expected, _ = outcome
    requests = sum(server.total() for server in servers)
    assert requests / len(expected) <= BUDGET, (requests, len(expected))


def test_files_are_asked_with_head_and_pages_with_get(
        servers: list[LoopbackServer],
        outcome: tuple[dict[str, tuple[Verdict, str]], dict[str, CheckResult]]) -> None:
    """A PDF, image or archive costs one HEAD and no body; a page one GET and no HEAD."""
    files = [(servers[n % len(servers)], path) for n, (path, _, _) in enumerate(BEHAVIOURS)
             if path.startswith("/files/") and "head=" not in path]
    assert [(s.count(p, "HEAD"), s.count(p, "GET")) for s, p in files] == [(1, 0)] * 3
    assert sum(s.count(f"/page/h{h}-0", "HEAD") for h, s in enumerate(servers)) == 0
    assert sum(s.count(f"/page/h{h}-0", "GET") for h, s in enumerate(servers)) == 6
