"""Regenerate cassettes/*.yaml against the loopback server: ``python -m tests.record_cassettes``.

Each scenario checks one URL through a recording transport; the server's host:port is
written as ``ok.test`` so the files do not change from one recording to the next.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import NamedTuple

import httpx

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.config import Duration, NetworkConfig
from linkaudit.models import CheckResult, Verdict
from tests.cassette import CassetteTransport
from tests.loopback import FakeTime, LoopbackServer

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
PLACEHOLDER = "ok.test"


class Scenario(NamedTuple):
    path: str
    verdict: Verdict
    reason: str


SCENARIOS = {
    "ok": Scenario("/ok", Verdict.OK, "200"),
    "not-found": Scenario("/status/404", Verdict.DEAD, "404"),
    "redirect-chain": Scenario("/chain/301,302/ok", Verdict.REDIRECTED, "temporary"),
    "timeout": Scenario("/hang", Verdict.UNREACHABLE, "read-timeout"),
    "reset": Scenario("/reset", Verdict.UNREACHABLE, "reset"),
    "flaky-503": Scenario("/flaky?fail=2&status=503", Verdict.OK, "200"),
    "retry-after-429": Scenario("/flaky?fail=1&status=429&retry_after=1", Verdict.OK, "200"),
}

# Small timeouts so recording the hanging scenario takes a fraction of a second per attempt.
CONFIG = NetworkConfig(allow_private=True, read_timeout=Duration(0.3),
                       connect_timeout=Duration(0.3), total_timeout=Duration(5),
                       per_host_interval=Duration(0), backoff=Duration(0.01))


def checker_for(transport: httpx.AsyncBaseTransport, config: NetworkConfig = CONFIG
                ) -> tuple[httpx.AsyncClient, Checker]:
    """A client on ``transport`` and a checker on a fake clock: retries happen at once."""
    client = make_client(config, transport=transport)
    time = FakeTime()
    return client, Checker(client, config, sleep=time.sleep, clock=time.clock,
                           rand=lambda: 0.5)


async def record(name: str, server: LoopbackServer, directory: Path = CASSETTES
                 ) -> CheckResult:
    """Check the scenario's URL on ``server``, writing ``<directory>/<name>.yaml``."""
    netloc = f"{server.host}:{server.port}"
    transport = CassetteTransport(directory / f"{name}.yaml", "record",
                                  inner=httpx.AsyncHTTPTransport(),
                                  hosts={netloc: PLACEHOLDER})
    client, checker = checker_for(transport)
    async with client:
        result = await checker.check(name, server.url(SCENARIOS[name].path))
    return dataclasses.replace(result, url=result.url.replace(netloc, PLACEHOLDER))


def main() -> None:
    for name, scenario in SCENARIOS.items():
        with LoopbackServer() as server:
            result = asyncio.run(record(name, server))
        mark = "ok" if (result.verdict, result.reason) == scenario[1:] else "UNEXPECTED"
        print(f"{name}: {result.verdict} {result.reason} ({mark})")


if __name__ == "__main__":
    main()
