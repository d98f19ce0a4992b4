"""The private-address guard: an untrusted note must not make a run probe its own network.

It refuses loopback, private, link-local and similar addresses, and acts twice: the
checker asks ``check_address`` before a request (a clear "private-address" verdict,
nothing sent), and the connections themselves go through ``GuardedBackend``, which
resolves the name again, vets every address and connects to a vetted address itself. A
DNS-rebinding server that answers "public" to the first lookup and "127.0.0.1" to the
next therefore reaches nothing: the address checked is the address connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore

Resolver = Callable[[str], Awaitable[list[str]]]
SocketOption = (  # httpcore's SOCKET_OPTION
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int])


async def system_resolve(host: str) -> list[str]:
    """The host's addresses from the system resolver; raises ``socket.gaierror``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


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
