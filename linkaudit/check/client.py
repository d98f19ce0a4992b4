"""The one place an HTTP client is made, and the wire it sends through.

Keeping client construction here means a switch of HTTP library touches one module.

The client is httpx's (its API is what the checker speaks); the wire under it is
aiohttp's connection pool and C parser, through ``httpx-aiohttp``: about half the CPU per
request of httpx's own pools at a few hundred requests in flight (DESIGN.md, Known
pitfalls; benchmarks/README.md). One connector serves every host: at most
``concurrency`` connections in use at once, no per-host limit of its own (the checker's
scheduler keeps each host to its limit), kept alive between requests, one shared TLS
context (CA certificates loaded once; ``SSL_CERT_FILE`` honoured) verifying each
certificate against the host name, and DNS answers cached. aiohttp does not decompress
(httpx-aiohttp asks it not to: httpx does, so the body cap counts decoded bytes), keeps
no cookies (nothing a site sets for one URL is sent with another) and does not retry on
its own (the checker's retry policy decides).

Connections are vetted at connect time by the private-address guard
(``linkaudit.check.guard``) unless private addresses are allowed.
"""

from __future__ import annotations

import asyncio.sslproto
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from linkaudit.check.guard import GuardedResolver, guarded_socket
from linkaudit.check.pool import BoundedConnector
from linkaudit.config import NetworkConfig

# Seconds an idle connection stays open for the next request to its host.
KEEPALIVE_SECONDS = 15.0
# asyncio gives each TLS connection a read buffer of ``SSLProtocol.max_size`` (256 KiB),
# zero-filled, so resident at once: 70 MB more at 256 in flight over 100 hosts
# (benchmarks/README.md). One TLS record's worth is all a link check reads at a time.
TLS_READ_BUFFER = 16 * 1024
# Connections kept open (in use + idle) per request allowed in flight. At 1, hosts taken
# round robin rarely find an idle connection: a third more CPU in TLS handshakes on
# bench_check. At 2, bench_check at 256 in flight closed 700 idle connections to stay
# under the bound (hosts still holding URLs get many in flight near the run's end) and
# opened 1,260 in all; at 4 it closes 0-31 and opens 1,018-1,082 (each ~1.5 ms of CPU),
# peak RSS unchanged; idle connections still do not grow with the hosts.
OPEN_PER_SLOT = 4
# ... and never fewer than this many: at a low ``concurrency`` (128 by default) hosts taken
# round robin outnumber the connections kept, and each request paid a TLS handshake (a
# third of the default setting's CPU on bench_check).
MIN_OPEN = 512
# Header sets ``CheckClient.prepare`` keeps (one per method, host and port, and extra
# headers); all are dropped when there are more, so a run over many hosts stays bounded.
MAX_HEADER_SETS = 4096
_NO_BODY = httpx.ByteStream(b"")


def make_client(
    config: NetworkConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> CheckClient:
    """An httpx client that never follows redirects itself (the checker records each hop)
    and never keeps cookies itself (each URL's check has its own jar).

    ``transport`` (a MockTransport, a cassette) is used as is; without it the client
    sends through aiohttp (``WireTransport``).
    """
    timeout = httpx.Timeout(
        connect=float(config.connect_timeout),
        read=float(config.read_timeout),
        write=float(config.read_timeout),
        pool=float(config.total_timeout),
    )
    client = CheckClient(
        follow_redirects=False,
        timeout=timeout,
        headers={"User-Agent": config.user_agent},
        transport=transport if transport is not None else WireTransport(config),
    )
    # The client keeps no cookie: each URL's check has a jar of its own (fetch), so nothing
    # a site sets for one URL is sent with another. httpx offers each response to the
    # client's jar through urllib adaptors even when its policy refuses every cookie (about
    # 15 µs a response); a jar that does not look is set in its place.
    client._cookies = _KeptNone()
    return client


class CheckClient(httpx.AsyncClient):
    """httpx's client, plus the checker's cheap path for one request: ``prepare`` and
    ``exchange``.

    ``send`` runs each request through httpx's auth, redirect and hook layers, and builds
    the request a redirect names even when it is not followed (a URL parsed and joined, a
    request built, per redirect); ``build_request`` merges and re-validates the same
    headers for every request to a host. The checker follows no redirect, keeps cookies
    per URL and has no hooks, so ``exchange`` hands the request to the transport as
    ``send`` finally does (the transport httpx picks for the URL, mounts and proxies
    included: ``_transport_for_url``, pinned to httpx 0.28 by the check tests), and
    ``prepare`` copies the headers ``build_request`` made for the first request with the
    same method, host and port, and extra headers (the client's own headers, cookies and
    base URL never change after ``make_client``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._headers_for: dict[tuple[str, bytes, tuple[tuple[str, str], ...]],
                                httpx.Headers] = {}

    def prepare(self, method: str, url: httpx.URL, headers: Mapping[str, str]
                ) -> httpx.Request:
        """What ``build_request(method, url, headers=headers)`` returns, built cheaply."""
        key = (method, url.netloc, tuple(headers.items()))
        made = self._headers_for.get(key)
        if made is None:
            if len(self._headers_for) >= MAX_HEADER_SETS:
                self._headers_for.clear()
            made = self.build_request(method, url, headers=headers).headers
            self._headers_for[key] = made
        request = httpx.Request(method, url, headers=made, stream=_NO_BODY,
                                extensions={"timeout": self.timeout.as_dict()})
        request.read()  # no body: ``request.content`` is b"", as build_request leaves it
        return request

    async def exchange(self, request: httpx.Request) -> httpx.Response:
        """The response to ``request`` from the client's transport, its body unread: what
        ``send(request, stream=True)`` gives when no redirect is followed and no hook is
        set (credentials in the URL are sent as ``send`` sends them)."""
        url = request.url
        if url.userinfo:
            next(httpx.BasicAuth(url.username, url.password).sync_auth_flow(request))
        response = await self._transport_for_url(url).handle_async_request(request)
        response.request = request
        return response


class _KeptNone(httpx.Cookies):
    """A client jar that keeps nothing a response sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class WireTransport(AiohttpTransport):
    """httpx-aiohttp's transport on a session made here (see the module's docstring).

    The session is made on the first request, inside the running event loop, as aiohttp
    requires. An aiohttp error httpx-aiohttp leaves unmapped (a malformed response)
    becomes an httpx ``RemoteProtocolError``, so every failure is an ``httpx.HTTPError``
    with the aiohttp error as its cause (``linkaudit.check.errors`` reads it).
    """

    def __init__(self, config: NetworkConfig) -> None:
        # Process-wide (asyncio has no per-connection setting); only ever made smaller.
        protocol = asyncio.sslproto.SSLProtocol
        protocol.max_size = min(protocol.max_size, TLS_READ_BUFFER)
        ssl_context = httpx.create_ssl_context()
        guarded = not config.allow_private

        def session() -> aiohttp.ClientSession:
            connector = BoundedConnector(
                max_open=max(OPEN_PER_SLOT * config.concurrency, MIN_OPEN), ssl=ssl_context,
                limit=config.concurrency, limit_per_host=0,
                keepalive_timeout=KEEPALIVE_SECONDS, use_dns_cache=True,
                resolver=GuardedResolver() if guarded else None,
                socket_factory=guarded_socket if guarded else None)
            made = aiohttp.ClientSession(connector=connector,
                                         cookie_jar=aiohttp.DummyCookieJar())
            # aiohttp sends an idempotent request again, unseen, after a reset or hang-up;
            # the checker's own retries (counted, spaced, polite) decide that instead.
            made._retry_connection = False
            return made

        super().__init__(verify=ssl_context, client=session)
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx-aiohttp's request, with its per-request work cut to what this client uses:
        the headers handed over as a list, one ``ClientTimeout`` per timeout setting, no
        proxy arguments (the session has none), errors mapped only when one is raised."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        body = _body(request)  # first: it may drop a header that aiohttp frames itself
        try:
            response = await self.client.request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=body, allow_redirects=False, auto_decompress=False,
                compress=False, timeout=self._timeout(request),
                server_hostname=request.extensions.get("sni_hostname"))
        except Exception as exc:
            raise _mapped(exc, request)  # noqa: B904 - the cause is set as httpx-aiohttp sets it
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(response.status, headers=response.raw_headers,
                              stream=_WireStream(response), request=request,
                              extensions=extensions)

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        asked = request.extensions.get("timeout", {})
        key = (asked.get("connect"), asked.get("read"), asked.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2])
        return timeout


class _WireStream(AiohttpResponseStream):
    """httpx-aiohttp's response stream, its errors mapped only when one is raised (its
    context manager costs two generator frames per response)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._aiohttp_response.content.iter_chunked(self.CHUNK_SIZE):
                yield chunk
        except Exception as exc:
            with map_aiohttp_exceptions():
                raise exc

    async def aclose(self) -> None:
        try:
            await self._aiohttp_response.__aexit__(None, None, None)
        except Exception as exc:
            with map_aiohttp_exceptions():
                raise exc


def _body(request: httpx.Request) -> bytes | httpx.AsyncByteStream | None:
    """What aiohttp sends as the request's body (None: none)."""
    try:
        return request.content or None
    except httpx.RequestNotRead:
        request.headers.pop("transfer-encoding", None)  # aiohttp frames the body itself
        return request.stream  # type: ignore[return-value]


def _mapped(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx error for an aiohttp one, as httpx-aiohttp maps it; an aiohttp error it
    leaves unmapped (a malformed response) becomes ``RemoteProtocolError``."""
    try:
        with map_aiohttp_exceptions():
            raise exc
    except aiohttp.ClientError as unmapped:
        error = httpx.RemoteProtocolError(str(unmapped), request=request)
        error.__cause__ = unmapped
        return error
    except Exception as mapped:  # the httpx error (its cause: exc), or exc itself
        return mapped
