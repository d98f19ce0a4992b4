"""The one place an HTTP client is made, and the guard against probing private networks.

Keeping client construction here means a switch of HTTP library (see DESIGN.md on
httpx's pool at high concurrency) touches one module.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from linkaudit.config import NetworkConfig

Resolver = Callable[[str], Awaitable[list[str]]]


def make_client(
    config: NetworkConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An httpx client that never follows redirects itself (the checker records each hop)."""
    timeout = httpx.Timeout(
        connect=float(config.connect_timeout),
        read=float(config.read_timeout),
        write=float(config.read_timeout),
        pool=float(config.total_timeout),
    )
    limits = httpx.Limits(
        max_connections=config.concurrency,
        max_keepalive_connections=config.concurrency,
    )
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=timeout,
        limits=limits,
        headers={"User-Agent": config.user_agent},
        http2=False,
        transport=transport,
    )


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
