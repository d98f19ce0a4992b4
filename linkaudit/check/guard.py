"""The private-address guard: an untrusted note must not make a run probe its own network.

It refuses every address that is not globally routable (``ipaddress``'s ``is_global``,
plus ranges its tables miss), and IPv6 addresses embedding such an IPv4 address
(IPv4-mapped, 6to4, NAT64, Teredo). It acts twice: the checker asks ``check_address``
before each hop, redirects included (a clear "private-address" verdict, nothing sent),
and the connections themselves are vetted at connect time by aiohttp's connector
(``linkaudit.check.client``): ``GuardedResolver`` refuses a name when any address its
own lookup returns is private, and ``guarded_socket`` (the connector's socket factory)
refuses every address about to be dialled, IP literals included, which skip the
resolver. A DNS-rebinding server that answers "public" to the first lookup and
"127.0.0.1" to the next therefore reaches nothing: the address checked is the address
connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Resolver = Callable[[str], Awaitable[list[str]]]


async def system_resolve(host: str) -> list[str]:
    """The host's addresses from the system resolver; raises ``socket.gaierror``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class AddressProblem:
    """Why a host is not requested: ``reason`` is "private-address" or "dns"."""

    reason: str
    detail: str


# Not globally routable, or leading to another network, although the running Python's
# ``is_global`` may say otherwise: shared address space (carrier NAT; cloud metadata
# services live there), deprecated site-local IPv6, IPv4-compatible IPv6 (deprecated),
# local-use NAT64.
_NOT_GLOBAL = (
    ("shared address space", ipaddress.ip_network("100.64.0.0/10")),
    ("site-local", ipaddress.ip_network("fec0::/10")),
    ("IPv4-compatible", ipaddress.ip_network("::/96")),
    ("local-use NAT64", ipaddress.ip_network("64:ff9b:1::/48")),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Forms that are the embedded IPv4 address itself, spelt in IPv6 (the others are tunnels
# with IPv6 addresses of their own, checked as such too).
_TRANSLATED = frozenset({"IPv4-mapped", "NAT64"})


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[tuple[str, ipaddress.IPv4Address], ...]:
    """The IPv4 addresses an IPv6 address leads to, each with its form's name:
    IPv4-mapped, 6to4, NAT64 (well-known prefix) and Teredo (server and client)."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    if address.teredo is not None:
        found.extend(("Teredo", inner) for inner in address.teredo)
    return tuple(found)


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` is never requested (what kind of address it is), or None when it is
    globally routable, and so is every IPv4 address it embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        for form, inner in embedded_ipv4(address):
            label = refusal(inner)
            if label is not None:
                return f"{label} ({form} {inner})"
            if form in _TRANSLATED:  # the packets go to ``inner`` itself: it decides
                return None
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
    for label, network in _NOT_GLOBAL:
        if address.version == network.version and address in network:
            return label
    return None if address.is_global else "not globally routable"


async def check_address(
    host: str, allow_private: bool, *, resolve: Resolver = system_resolve
) -> AddressProblem | None:
    """None when ``host`` may be requested; otherwise why not (a private address, or no DNS)."""
    if allow_private:
        return None
    try:
        await vetted_addresses(host, resolve)
    except PrivateAddressRefused as exc:  # an OSError too: caught first
        return AddressProblem("private-address", str(exc))
    except OSError as exc:  # socket.gaierror, or the resolver's own failure
        return AddressProblem("dns", f"the name {host} does not resolve ({exc})")
    return None


class PrivateAddressRefused(OSError):
    """A connection the guard refused: the host is, or resolves to, a private address."""


def _refused(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             label: str) -> PrivateAddressRefused:
    return PrivateAddressRefused(f"{host} is a {label} address ({address}): not requested")


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
        label = refusal(address)
        if label is not None:
            raise _refused(host, address, label)
    return [str(address) for address in addresses]


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name when any address it resolves to is private (the
    connection's own lookup, so a name rebound since the checker's lookup is caught)."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)

        async def answered(_: str) -> list[str]:
            return [result["host"] for result in results]

        await vetted_addresses(host, answered)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """The socket for one address aiohttp is about to dial; raises ``PrivateAddressRefused``
    when that address is not globally routable (aiohttp's connector ``socket_factory``)."""
    family, kind, proto, _, sockaddr = addr_info
    address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    label = refusal(address)
    if label is not None:
        raise _refused(str(address), address, label)
    return socket.socket(family, kind, proto)
