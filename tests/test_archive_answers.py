"""Hostile archive answers: only a snapshot address holding the reported time is taken."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest

from linkaudit.fix.archive import Snapshots, find_snapshots

ENDPOINT = "https://archive.test/wayback/available"


def lookup(url: str, timestamp: str = "20190101000000") -> Snapshots:
    payload = {"archived_snapshots": {"closest": {
        "available": True, "status": "200", "timestamp": timestamp, "url": url}}}

    async def run() -> Snapshots:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
        async with httpx.AsyncClient(transport=transport) as client:
            return await find_snapshots(client, ENDPOINT,
                                        [("k", "https://x.example/a", date(2020, 1, 1))])
    return asyncio.run(run())


@pytest.mark.parametrize(("url", "reason"), [
    ("javascript:alert(1)", "the archive's answer is not a snapshot address"),
    ("https://web.archive.org/web/20190101000000/javascript:alert(1)",
     "the archive's answer is not a snapshot address"),
    ("https://web.archive.org/20190101000000/https://x.example/a",
     "the archive's answer is not a snapshot address"),
    ("https://user@web.archive.org/web/20190101000000/https://x.example/a",
     "the archive's answer is not a snapshot address"),
    ("https://web.archive.org/web/20991231000000/https://x.example/a",
     "the archive's answer holds another snapshot time than it reported"),
])
def test_answers_that_are_not_the_reported_snapshot_are_refused(url: str, reason: str) -> None:
    """A non-snapshot address, credentials or a newer time hidden in the URL give no copy."""
    assert lookup(url) == Snapshots(found={}, missing={"k": reason})


def test_a_plain_snapshot_answer_is_taken_as_https() -> None:
    """The usual answer (http, the reported time) is taken and written with https."""
    found = lookup("http://web.archive.org/web/20190101000000/https://x.example/a").found
    assert found == {"k": "https://web.archive.org/web/20190101000000/https://x.example/a"}
