"""The one place an HTTP client is made, and the transport it sends through.

Keeping client construction here means a switch of HTTP library (see DESIGN.md on
httpx's pool at high concurrency) touches one module.

The client sends through ``HostPoolTransport``: one small httpx connection pool per
(scheme, host, port) instead of one big pool. httpx's single pool scans all of its
connections on every request (encode/httpx#3215) and, sized below hosts × per-host
limit, keeps closing and reopening connections; small per-host pools sized to the
per-host limit keep every connection alive and each scan short.

Connections go through the private-address guard (``linkaudit.check.guard``) unless
private addresses are allowed.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpcore
import httpx

from linkaudit.check.fetch import remember_response
from linkaudit.check.guard import GuardedBackend
from linkaudit.check.hosts import host_concurrency
from linkaudit.config import NetworkConfig

PoolKey = tuple[bytes, bytes, int | None]  # (scheme, host, port) as httpx sends them
TransportFactory = Callable[[httpx.Limits], httpx.AsyncBaseTransport]

# Idle per-host pools kept open at most; past this the least recently used idle ones close.
MAX_IDLE_POOLS = 256


def make_client(
    config: NetworkConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An httpx client that never follows redirects itself (the checker records each hop)
    and never keeps cookies itself (each URL's check has its own jar).

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
        event_hooks={"response": [remember_response]},
        # The client keeps no cookie: each URL's check has a jar of its own (fetch).
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )


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
