"""The one place an HTTP client is made, and the guard against probing private networks.

Keeping client construction here means a switch of HTTP library (see DESIGN.md on
httpx's pool at high concurrency) touches one module.

The client sends through ``HostPoolTransport``: one small httpx connection pool per
(scheme, host, port) instead of one big pool. httpx's single pool scans all of its
connections on every request (encode/httpx#3215) and, sized below hosts × per-host
limit, keeps closing and reopening connections; small per-host pools sized to the
per-host limit keep every connection alive and each scan short.

The address guard refuses loopback, private, link-local and similar addresses, so an
untrusted note cannot make a CI runner probe its own network. It acts twice: the checker
asks ``check_address`` before a request (a clear "private-address" verdict, nothing sent),
and the connections themselves go through ``GuardedBackend``, which resolves the name
again, vets every address and connects to a vetted address itself. A DNS-rebinding server
that answers "public" to the first lookup and "127.0.0.1" to the next therefore reaches
nothing: the address checked is the address connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import httpcore
import httpx

from linkaudit.config import HostConfig, NetworkConfig

Resolver = Callable[[str], Awaitable[list[str]]]
PoolKey = tuple[bytes, bytes, int | None]  # (scheme, host, port) as httpx sends them
TransportFactory = Callable[[httpx.Limits], httpx.AsyncBaseTransport]
SocketOption = (  # httpcore's SOCKET_OPTION
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int])

# Idle per-host pools kept open at most; past this the least recently used idle ones close.
MAX_IDLE_POOLS = 256


async def system_resolve(host: str) -> list[str]:
    """The host's addresses from the system resolver; raises ``socket.gaierror``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


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


def _default_factory(allow_private: bool) -> TransportFactory:
    """httpx transports sharing one TLS context (loading CA certificates once) that connect
    through ``GuardedBackend`` unless private addresses are allowed."""
    context: list[ssl.SSLContext] = []

    def make(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        if not context:
            context.append(httpx.create_ssl_context())
        transport = httpx.AsyncHTTPTransport(verify=context[0], limits=limits)
        if not allow_private:
            # httpx 0.28 takes no network backend (encode/httpx#3749): its httpcore pool is
            # replaced by the same pool with the guarded backend (tests/test_check_loopback).
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=context[0], max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry, network_backend=GuardedBackend())
        return transport

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
        self._factory = factory or _default_factory(config.allow_private)
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
    try:
        await vetted_addresses(host, resolve)
    except OSError as exc:  # socket.gaierror, or the resolver's own failure
        return AddressProblem("dns", f"the name {host} does not resolve ({exc})")
    except PrivateAddressRefused as exc:
        return AddressProblem("private-address", str(exc))
    return None


class PrivateAddressRefused(httpcore.ConnectError):
    """A connection the guard refused: the host is, or resolves to, a private address."""


async def vetted_addresses(host: str, resolve: Resolver = system_resolve) -> list[str]:
    """The addresses of ``host`` when none is private; raises ``PrivateAddressRefused``,
    or ``socket.gaierror`` when the name does not resolve."""
    bare = host.strip("[]")
    try:
        addresses = [ipaddress.ip_address(bare)]
    except ValueError:
        try:
            resolved = await resolve(bare)
        except UnicodeError as exc:
            raise socket.gaierror(socket.EAI_NONAME, str(exc)) from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
    for address in addresses:
        label = _forbidden(address)
        if label is not None:
            raise PrivateAddressRefused(
                f"{host} is a {label} address ({address}): not requested")
    return [str(address) for address in addresses]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses ``vetted_addresses`` gave.

    It resolves the name itself at connect time and connects to the vetted address, so no
    later lookup can swap in a private one. TLS still verifies the certificate against the
    host name (httpcore passes it to ``start_tls``, not this address).
    """

    def __init__(self, resolve: Resolver = system_resolve,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._resolve = resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await vetted_addresses(host, self._resolve)
        except OSError as exc:  # a gaierror: the checker reads it as "dns"
            raise httpcore.ConnectError(str(exc)) from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used for link checks")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
