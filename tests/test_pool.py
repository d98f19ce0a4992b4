"""The bounded connection pool: idle keep-alive connections never push the open ones past
``max_open``; the idle one unused for longest is closed first (linkaudit.check.pool)."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from linkaudit.check.client import make_client
from linkaudit.check.pool import BoundedConnector
from linkaudit.config import NetworkConfig
from tests.loopback import LoopbackServer


async def _ask_in_turn(urls: list[str], max_open: int) -> list[int]:
    connector = BoundedConnector(max_open=max_open, limit=10)
    async with aiohttp.ClientSession(connector=connector) as session:
        open_after_each = []
        for url in urls:
            async with session.get(url) as response:
                await response.read()
            open_after_each.append(connector.open_connections())
    return open_after_each


def test_idle_connections_beyond_the_bound_are_closed() -> None:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer()) for _ in range(4)]
        urls = [server.url("/ok") for server in servers]
        bounded = asyncio.run(_ask_in_turn(urls, max_open=2))
        unbounded = asyncio.run(_ask_in_turn(urls, max_open=100))
    assert bounded == [1, 2, 2, 2]  # one idle connection per host, never more than 2
    assert unbounded == [1, 2, 3, 4]  # aiohttp alone keeps every host's idle connection


def test_a_connection_reused_again_and_again_stays_open() -> None:
    """Releases outnumber the bound long before the connections do: none is closed."""
    with LoopbackServer() as server:
        open_after_each = asyncio.run(_ask_in_turn([server.url("/ok")] * 6, max_open=2))
        assert open_after_each == [1] * 6
        assert server.accepted == 1


def test_the_connection_unused_for_longest_goes_first() -> None:
    with LoopbackServer() as first, LoopbackServer() as second, LoopbackServer() as third:
        async def go() -> set[int]:
            connector = BoundedConnector(max_open=2, limit=10)
            async with aiohttp.ClientSession(connector=connector) as session:
                for url in (first.url("/ok"), second.url("/ok"), first.url("/ok"),
                            third.url("/ok")):
                    async with session.get(url) as response:
                        await response.read()
                return {key.port for key in connector._conns}
        kept = asyncio.run(go())
    assert kept == {first.port, third.port}  # second was idle longest


def test_max_open_must_be_positive() -> None:
    async def make() -> None:
        BoundedConnector(max_open=0)
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(make())


def test_hosts_asked_in_turn_keep_their_connection_at_low_concurrency() -> None:
    """One request in flight over three hosts taken round robin: each host's connection
    is kept for its next turn (the pool keeps at least MIN_OPEN), not closed and opened
    again (a TLS handshake per request on the real web)."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer()) for _ in range(3)]

        async def go() -> None:
            config = NetworkConfig(concurrency=1, allow_private=True)
            async with make_client(config) as client:
                for _ in range(3):
                    for server in servers:
                        (await client.get(server.url("/ok"))).raise_for_status()
        asyncio.run(go())
        assert [server.accepted for server in servers] == [1, 1, 1]
