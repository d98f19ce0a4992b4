"""The one place an HTTP client is made, and the guard against probing private networks.

Keeping client construction here means a switch of HTTP library (see DESIGN.md on
httpx's pool at high concurrency) touches one module.

The client sends through ``HostPoolTransport``: one small httpx connection pool per
(scheme, host, port) instead of one big pool. httpx's single pool scans all of its
connections on every request (encode/httpx#3215) and, sized below hosts × per-host
limit, keeps closing and reopening connections; small per-host pools sized to the
per-host limit keep every connection alive and each scan short.

The address guard resolves a host before the request and refuses loopback, private,
link-local and similar addresses, so an untrusted note cannot make a CI runner probe its
own network. It has a time-of-check/time-of-use gap: httpx resolves the name again when
it connects, and a DNS-rebinding server could answer differently the second time. Closing
that gap needs connecting to the checked address itself; the guard stops the ordinary
case (a link to ``localhost``, ``10.0.0.1`` or a name pointing there).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from linkaudit.config import HostConfig, NetworkConfig

Resolver = Callable[[str], Awaitable[list[str]]]
PoolKey = tuple[bytes, bytes, int | None]  # (scheme, host, port) as httpx sends them
TransportFactory = Callable[[httpx.Limits], httpx.AsyncBaseTransport]

# Idle per-host pools kept open at most; past this the least recently used idle ones close.
MAX_IDLE_POOLS = 256


def make_client(
    config: NetworkConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An httpx client that never follows redirects itself (the checker records each hop).

    ``transport`` (a MockTransport, a cassette) is used as is; without it the client
    sends through a ``HostPoolTransport`` sized by the configured per-host limits.
    """
    timeout = httpx.Timeout(
        connect=float(config.connect_timeout),
        read=float(config.read_timeout),
        write=float(config.read_timeout),
        pool=float(config.total_timeout),
    )
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=timeout,
        headers={"User-Agent": config.user_agent},
        transport=transport if transport is not None else HostPoolTransport(config),
    )


def host_config(hosts: Mapping[str, HostConfig], name: str) -> HostConfig | None:
    """The override for host ``name`` or its nearest configured parent domain."""
    labels = name.split(".")
    for start in range(len(labels)):
        found = hosts.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None


def host_concurrency(config: NetworkConfig, name: str) -> int:
    """Requests allowed in flight to host ``name``: its override, else the default."""
    override = host_config(config.hosts, name)
    if override is not None and override.concurrency is not None:
        return override.concurrency
    return config.per_host_concurrency


@dataclass(eq=False)
class _Pool:
    """One host's transport and how many of its responses are still open."""

    transport: httpx.AsyncBaseTransport
    in_flight: int = 0

    def release(self) -> None:
        self.in_flight -= 1


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that marks its pool idle again once closed (streamed bodies
    outlive ``handle_async_request``, so the request is in flight until then)."""

    def __init__(self, inner: httpx.AsyncByteStream, pool: _Pool) -> None:
        self._inner = inner
        self._pool: _Pool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._pool is not None:
                self._pool.release()
                self._pool = None


def _default_factory() -> TransportFactory:
    """Plain httpx transports sharing one TLS context (loading CA certificates once)."""
    context: list[ssl.SSLContext] = []

    def make(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        if not context:
            context.append(httpx.create_ssl_context())
        return httpx.AsyncHTTPTransport(verify=context[0], limits=limits)

    return make


class HostPoolTransport(httpx.AsyncBaseTransport):
    """Dispatches each request to a small connection pool of its own (scheme, host, port).

    A host's pool holds at most that host's concurrency (``network.hosts`` override, else
    ``per_host_concurrency``) connections, all kept alive. Pools are made on first use.
    At most ``max_idle`` idle pools stay open: making one more closes the least recently
    used pools that have no request or unread response in flight (a counter per pool);
    a busy pool is never closed, so the count may pass ``max_idle`` by the busy ones.
    ``aclose`` closes them all.
    """

    def __init__(
        self,
        config: NetworkConfig,
        *,
        factory: TransportFactory | None = None,
        max_idle: int = MAX_IDLE_POOLS,
    ) -> None:
        self._config = config
        self._factory = factory or _default_factory()
        self._max_idle = max_idle
        self._pools: OrderedDict[PoolKey, _Pool] = OrderedDict()

    @property
    def pool_count(self) -> int:
        """Pools open now (for tests and diagnostics)."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            limit = host_concurrency(self._config, url.host)
            limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
            pool = self._pools[key] = _Pool(self._factory(limits))
        else:
            self._pools.move_to_end(key)
        pool.in_flight += 1  # before evicting: the pool about to be used is never idle
        evicted = self._pop_idle()
        try:
            if evicted:
                await _close_all(evicted)
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # an async transport's body
        response.stream = _ReleasingStream(stream, pool)
        return response

    def _pop_idle(self) -> list[_Pool]:
        """Take out least recently used idle pools while more than ``max_idle`` are open."""
        excess = len(self._pools) - self._max_idle
        if excess <= 0:
            return []
        idle = [key for key, pool in self._pools.items() if pool.in_flight == 0][:excess]
        return [self._pools.pop(key) for key in idle]

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        await _close_all(pools)


async def _close_all(pools: list[_Pool]) -> None:
    await asyncio.gather(*(pool.transport.aclose() for pool in pools))


@dataclass(frozen=True, slots=True)
class AddressProblem:
    """Why a host is not requested: ``reason`` is "private-address" or "dns"."""

    reason: str
    detail: str


async def system_resolve(host: str) -> list[str]:
    """The host's addresses from the system resolver; raises ``socket.gaierror``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for label, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return label
    return None


async def check_address(
    host: str, allow_private: bool, *, resolve: Resolver = system_resolve
) -> AddressProblem | None:
    """None when ``host`` may be requested; otherwise why not (a private address, or no DNS)."""
    if allow_private:
        return None
    bare = host.strip("[]")
    try:
        addresses = [ipaddress.ip_address(bare)]
    except ValueError:
        try:
            resolved = await resolve(bare)
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            return AddressProblem("dns", f"the name {host} does not resolve ({exc})")
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
    for address in addresses:
        label = _forbidden(address)
        if label is not None:
            return AddressProblem(
                "private-address", f"{host} is a {label} address ({address}): not requested"
            )
    return None
