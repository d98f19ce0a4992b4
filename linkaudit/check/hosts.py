"""Per-host settings and state: a host's limits, spacing, headers, queue and HEAD record.

A ``network.hosts`` entry applies to its host and every subdomain (the nearest entry
wins, by ``linkaudit.hosts.nearest``). The scheduler keeps one ``Host`` per host name.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from linkaudit.check.head import HeadKnowledge
from linkaudit.config import HostConfig, NetworkConfig
from linkaudit.hosts import nearest


def host_config(hosts: Mapping[str, HostConfig], name: str) -> HostConfig | None:
    """The override for host ``name`` or its nearest configured parent domain."""
    return nearest(hosts, name)


def host_concurrency(config: NetworkConfig, name: str) -> int:
    """Requests allowed in flight to host ``name``: its override, else the default."""
    override = host_config(config.hosts, name)
    if override is not None and override.concurrency is not None:
        return override.concurrency
    return config.per_host_concurrency


@dataclass(frozen=True, slots=True)
class Job:
    """One distinct URL to check, parsed once when queued (None: httpx cannot parse it)."""

    key: str
    url: str
    parsed: httpx.URL | None


def parse_url(url: str) -> httpx.URL | None:
    """The URL as httpx will request it (host in IDNA, lower case); None if it cannot be
    requested (see ``url_problem``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return parsed if unrequestable(parsed) is None else None


def unrequestable(url: httpx.URL) -> str | None:
    """Why a URL httpx parsed still cannot be requested (no host, a host that is no valid
    name, a port out of range), or None. httpx raises for these only later, elsewhere."""
    try:
        host = url.host
    except ValueError as exc:  # idna's error for a malformed "xn--" label
        return f"the host is not a valid name ({exc})"
    if not host:
        return "no host"
    if url.port is not None and not 0 < url.port < 65536:
        return f"port {url.port} out of range"
    return None


def url_problem(url: str) -> str:
    """Why ``parse_url`` gave None for ``url``, for a person."""
    try:
        return unrequestable(httpx.URL(url)) or "not a URL"
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return str(exc)


@dataclass(eq=False)
class Host:
    """One host's queue, limits and what was learnt about its HEAD answers this run.

    ``limit`` is the concurrency the host gets now, for its URLs in flight and for the
    requests sent to it alike: ``ceiling`` (its configured limit) at first, halved when
    the host says to slow down, raised by one after each ``limit`` answers without such a
    request (``linkaudit.check.scheduler``).
    """

    name: str
    ceiling: int
    interval: float
    headers: Mapping[str, str]
    next_start: float = 0.0  # monotonic time before which no request may start
    in_flight: int = 0  # its URLs being checked
    sending: int = 0  # requests to it not yet answered (any URL's, redirect hops included)
    limit: int = 0  # set to ceiling when made
    slowed: int = 0  # times it answered 429, or 503 with Retry-After
    slowed_at: float = float("-inf")  # monotonic time of the last halving of ``limit``
    calm: int = 0  # answers since ``limit`` last changed, none asking to slow down
    queued: deque[Job] = field(default_factory=deque)
    listed: bool = False  # in the ready queue or the parked heap
    head: HeadKnowledge = field(default_factory=HeadKnowledge)
    _waiting: list[asyncio.Future[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.limit = self.limit or self.ceiling

    async def turn(self) -> None:
        """Wait until a request to this host ends or its limit rises (then look again)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        await waiter

    def wake(self) -> None:
        """Let every request waiting for this host look again."""
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    @classmethod
    def configured(cls, config: NetworkConfig, name: str) -> Host:
        """Host ``name`` with its ``network.hosts`` override applied, if any."""
        override = host_config(config.hosts, name)
        interval = float(config.per_host_interval)
        headers: Mapping[str, str] = {}
        if override is not None:
            interval = interval if override.interval is None else float(override.interval)
            headers = override.headers
        return cls(name, host_concurrency(config, name), interval, headers)
