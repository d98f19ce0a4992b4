"""The record/replay transport: roundtrips with errors and timeouts, and committed cassettes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import yaml

from linkaudit.check.errors import describe_error
from linkaudit.models import CheckResult
from tests.cassette import CassetteMiss, CassetteTransport
from tests.loopback import LoopbackServer
from tests.record_cassettes import CASSETTES, PLACEHOLDER, SCENARIOS, checker_for, record


def replay(path: Path, url: str) -> CheckResult:
    """Check ``url`` answered only from the cassette at ``path``."""
    client, checker = checker_for(CassetteTransport(path, "replay"))

    async def main() -> CheckResult:
        async with client:
            return await checker.check(url, url)

    return asyncio.run(main())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["redirect-chain", "timeout", "reset", "flaky-503"])
def test_record_then_replay_gives_the_same_result(tmp_path: Path, name: str) -> None:
    """A recorded check, replayed, yields the same verdict, reason, chain and attempts."""
    with LoopbackServer() as server:
        recorded = asyncio.run(record(name, server, tmp_path))
    replayed = replay(tmp_path / f"{name}.yaml", f"http://{PLACEHOLDER}{SCENARIOS[name].path}")
    assert (replayed.verdict, replayed.reason, replayed.attempts) == (
        recorded.verdict, recorded.reason, recorded.attempts)
    assert [h.status for h in replayed.chain] == [h.status for h in recorded.chain]
    text = (tmp_path / f"{name}.yaml").read_text(encoding="utf-8")
    assert "127.0.0.1" not in text


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_committed_cassettes_replay_to_their_scenario(name: str) -> None:
    """Each cassette in cassettes/ replays to the verdict its scenario promises."""
    scenario = SCENARIOS[name]
    result = replay(CASSETTES / f"{name}.yaml", f"http://{PLACEHOLDER}{scenario.path}")
    assert (result.verdict, result.reason) == (scenario.verdict, scenario.reason)


def test_recorded_errors_come_back_with_their_cause(tmp_path: Path) -> None:
    """A recorded ConnectError caused by a refusal replays as a refusal, not a bare error."""
    path = tmp_path / "refused.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "interactions": [{
        "request": {"method": "GET", "url": "http://ok.test/"},
        "error": {"type": "ConnectError", "message": "refused",
                  "cause": "ConnectionRefusedError"}}]}), encoding="utf-8")

    async def main() -> None:
        async with httpx.AsyncClient(transport=CassetteTransport(path, "replay")) as client:
            await client.get("http://ok.test/")

    with pytest.raises(httpx.ConnectError) as caught:
        asyncio.run(main())
    assert describe_error(caught.value)[0] == "refused"


def test_repeats_replay_in_recorded_order_then_miss(tmp_path: Path) -> None:
    """Repeated requests get recorded answers in order; one more is a clear CassetteMiss."""
    path = tmp_path / "repeat.yaml"
    answers = [{"request": {"method": "GET", "url": "http://ok.test/a"},
                "response": {"status": status, "headers": [], "body": ""}}
               for status in (503, 200)]
    path.write_text(yaml.safe_dump({"version": 1, "interactions": answers}), encoding="utf-8")

    async def main() -> list[int]:
        async with httpx.AsyncClient(transport=CassetteTransport(path, "replay")) as client:
            statuses = [(await client.get("http://ok.test/a")).status_code for _ in range(2)]
            with pytest.raises(CassetteMiss, match="no recorded answer for GET"):
                await client.get("http://ok.test/a")
            return statuses

    assert asyncio.run(main()) == [503, 200]


def test_a_broken_cassette_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not a cassette is refused with a message naming it."""
    path = tmp_path / "bad.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml: not a version 1 cassette"):
        CassetteTransport(path, "replay")
