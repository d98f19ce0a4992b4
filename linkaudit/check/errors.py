"""The one place that maps httpx's and the system's exceptions to failure reasons.

Every request failure becomes a (reason tag, detail for a person) pair here, whoever made
the request (the checker, the archive lookup). The tags are the vocabulary the retry
rules, the verdicts and the run's "network down" test speak.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import aiohttp
import httpx

from linkaudit.check.guard import PrivateAddressRefused
from linkaudit.models import CheckResult, Verdict

# What a request can raise that says something about the URL or the network, not a bug:
# httpx's failures, and a URL httpx cannot build a request for.
REQUEST_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL)
TIMEOUT_REASONS = frozenset({"connect-timeout", "read-timeout", "timeout"})
# The URL itself cannot be requested: nothing was tried, so nothing can be concluded.
UNUSABLE_URL_REASONS = frozenset({"invalid-url", "scheme"})
# Failures that mean "could not reach the network at all" (see network_unavailable); TLS
# among them: when every URL fails TLS, this machine's TLS setup is what is broken (a
# trust store without roots, an intercepting proxy), not every site on the web.
NO_NETWORK_REASONS = frozenset({"dns", "refused", "connect", "connect-timeout", "tls"})
# Flow-control signals of a non-blocking TLS socket ("no data yet"), not failures: a
# reset during the handshake arrives while one is being handled.
_NOT_A_CAUSE = (ssl.SSLWantReadError, ssl.SSLWantWriteError)

_TIMEOUTS: dict[type[BaseException], tuple[str, str]] = {
    httpx.ConnectTimeout: ("connect-timeout", "connect timed out"),
    httpx.ReadTimeout: ("read-timeout", "read timed out (no data from the server)"),
    httpx.WriteTimeout: ("timeout", "write timed out"),
    httpx.PoolTimeout: ("timeout", "timed out waiting for a free connection"),
}


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """The exception and everything it was raised from or during (httpx-aiohttp keeps the
    aiohttp error on __cause__; other transports leave it on __context__)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)


# (kind, reason, detail) for errors found anywhere in a failure's chain, the first table
# before the second: the OS's, TLS's and the guard's own errors, then the aiohttp errors
# that wrap them (httpx-aiohttp's ``ConnectTimeout`` can stand for any of these).
_BY_CAUSE: tuple[tuple[tuple[type[BaseException], str, str], ...], ...] = (
    ((PrivateAddressRefused, "private-address", "{}"),  # the name changed its answer since
     (socket.gaierror, "dns", "the name does not resolve ({})"),
     (ssl.SSLCertVerificationError, "tls", "TLS certificate rejected: {}"),
     (ssl.SSLError, "tls", "TLS handshake failed: {}"),
     (ConnectionRefusedError, "refused", "connection refused"),
     (ConnectionResetError, "reset", "connection reset by the server")),
    ((aiohttp.ClientConnectorDNSError, "dns", "the name does not resolve ({})"),
     (aiohttp.ClientSSLError, "tls", "TLS failed: {}"),
     (aiohttp.ClientConnectorError, "connect", "could not connect: {}"),
     (aiohttp.ServerDisconnectedError, "protocol",
      "the server closed the connection without answering"),
     (aiohttp.ClientOSError, "reset", "connection lost: {}")),
)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(reason tag, detail for a person) for any exception raised while requesting a URL.

    The causes decide first (``_BY_CAUSE``), then the httpx error itself.
    """
    causes = [cause for cause in _causes(exc) if not isinstance(cause, _NOT_A_CAUSE)]
    for table in _BY_CAUSE:
        for cause in causes:
            for kind, reason, detail in table:
                if isinstance(cause, kind):
                    return reason, detail.format(cause)
    for kind, described in _TIMEOUTS.items():
        if isinstance(exc, kind):
            return described
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol", f"the server broke the HTTP exchange: {exc}"
    if isinstance(exc, httpx.ConnectError):
        return "connect", f"could not connect: {exc}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "reset", f"connection lost: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "scheme", f"unsupported URL scheme: {exc}"
    if isinstance(exc, httpx.InvalidURL):
        return "invalid-url", f"invalid URL: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


def network_unavailable(results: Iterable[CheckResult]) -> bool:
    """True when at least one URL was tried and none got further than DNS, connecting or
    setting up TLS: the machine's network (or its TLS setup) is down, not the links."""
    tried = [r for r in results if r.verdict is not Verdict.SKIPPED and not r.from_cache]
    return bool(tried) and all(
        r.status is None and r.reason in NO_NETWORK_REASONS for r in tried)
