"""A connection pool whose open connections are bounded, idle ones included.

aiohttp's ``limit`` counts connections in use only: idle keep-alive connections pile up
beside them, one set per host, until their keep-alive runs out. A check run asks hundreds
of hosts a few URLs each, round robin, so most hosts hold a few idle connections that
are reused rarely, each with its TLS state and buffers: about 1,000 connections and
100 MB at 256 in flight over 250 hosts (issue 12). Here, once more than ``max_open``
connections are open, the idle one unused for longest is closed first: memory follows
the number of requests allowed in flight, not the number of hosts.

It overrides ``TCPConnector._release`` and reads ``_conns`` and ``_acquired`` (aiohttp
3.12–3.14); ``tests/test_pool.py`` pins the behaviour, so an aiohttp that changes them
fails a test rather than growing silently.
"""

from __future__ import annotations

from typing import Any

import aiohttp


class BoundedConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` keeping at most ``max_open`` connections open (in use + idle)."""

    def __init__(self, *, max_open: int, **kwargs: Any) -> None:
        if max_open < 1:  # before the connector exists: nothing is left unclosed
            raise ValueError(f"max_open must be at least 1, not {max_open}")
        super().__init__(**kwargs)
        self._max_open = max_open
        # At least as many as the idle connections: a release keeps at most one more, and
        # nothing else adds one (aiohttp's reuse and keep-alive expiry only take away).
        self._idle_at_most = 0

    def open_connections(self) -> int:
        """Connections open now: in use, and idle in the pool (over every host's idle list,
        at C speed)."""
        return len(self._acquired) + sum(map(len, self._conns.values()))

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        self._idle_at_most += 1
        if len(self._acquired) + self._idle_at_most <= self._max_open:
            return  # within the bound for sure: no count over every host at each release
        excess = self.open_connections() - self._max_open
        while excess > 0 and self._conns:
            self._close_longest_idle()
            excess -= 1
        self._idle_at_most = self.open_connections() - len(self._acquired)

    def _close_longest_idle(self) -> None:
        # Each host's idle connections are in release order: its first is its oldest.
        key = min((k for k, idle in self._conns.items() if idle),
                  key=lambda k: self._conns[k][0][1], default=None)
        if key is None:
            self._conns.clear()
            return
        idle = self._conns[key]
        protocol, _released_at = idle.popleft()
        if not idle:
            del self._conns[key]
        protocol.close()
