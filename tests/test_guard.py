"""Tests for linkaudit.check.guard: which addresses are never requested, however written."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx
import pytest
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.check.guard import (
    GuardedResolver,
    PrivateAddressRefused,
    guarded_socket,
    refusal,
    vetted_addresses,
)
from linkaudit.config import NetworkConfig
from linkaudit.models import CheckResult, Verdict

REFUSED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "100.127.255.254", "198.18.0.1", "240.0.0.1", "255.255.255.255",
    "224.0.0.1", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "feff::1", "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.64.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "::8.8.8.8",
    "2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:6440:1::1",
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::6440:1", "64:ff9b:1::808:808",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:7f00:1::1",  # Teredo, server 127.0.0.1
]
ALLOWED = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.128.0.1", "100.63.255.255",
    "2606:4700:4700::1111", "2a00:1450:4001:82b::200e",
    "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808",
]


@pytest.mark.parametrize("text", REFUSED)
def test_not_globally_routable_addresses_are_refused(text: str) -> None:
    """Loopback, private, shared, site-local and the rest, also inside IPv6 forms, refused."""
    assert refusal(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize("text", ALLOWED)
def test_globally_routable_addresses_pass(text: str) -> None:
    """Public addresses, and IPv6 forms embedding a public IPv4 address, may be requested."""
    assert refusal(ipaddress.ip_address(text)) is None


def test_refusal_names_the_embedded_address() -> None:
    """An embedded address is named with its form, so the verdict says what was refused."""
    assert refusal(ipaddress.ip_address("64:ff9b::7f00:1")) == "loopback (NAT64 127.0.0.1)"


@pytest.mark.parametrize("answer", [["8.8.8.8", "100.64.0.9"], ["2002:7f00:1::1"],
                                    ["fec0::1%eth0"]])
def test_a_name_with_any_refused_address_is_refused(answer: list[str]) -> None:
    """A name is refused when any address it resolves to is refused, zone ids included."""
    async def resolve(host: str) -> list[str]:
        return answer

    with pytest.raises(PrivateAddressRefused):
        asyncio.run(vetted_addresses("example.com", resolve))


def test_literal_hosts_are_vetted_without_a_lookup() -> None:
    """A bracketed IPv6 literal is vetted as written, never resolved."""
    async def resolve(host: str) -> list[str]:
        raise AssertionError("no lookup for a literal")

    with pytest.raises(PrivateAddressRefused, match="6to4"):
        asyncio.run(vetted_addresses("[2002:a9fe:a9fe::1]", resolve))


class _Answering(AbstractResolver):
    """aiohttp's resolver interface answering ``answer`` for every name."""

    def __init__(self, answer: list[str]) -> None:
        self.answer = answer

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=family, proto=0,
                              flags=0) for a in self.answer]

    async def close(self) -> None:
        return None


def _addr_info(address: str) -> AddrInfoType:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 443)


@pytest.mark.parametrize("answer", ["::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "100.64.0.1",
                                    "fec0::1", "2002:a00:1::1"])
def test_the_connection_refuses_embedded_forms_at_connect_time(answer: str) -> None:
    """The connection's own lookup and the address about to be dialled are vetted with the
    same rules: the resolver refuses the name and the socket factory makes no socket."""
    with pytest.raises(PrivateAddressRefused):
        asyncio.run(GuardedResolver(_Answering([answer])).resolve("rebound.test", 443))
    with pytest.raises(PrivateAddressRefused):
        guarded_socket(_addr_info(answer))


def test_the_connection_lookup_refuses_a_name_with_any_private_address() -> None:
    """A name whose lookup mixes public and private addresses is refused whole; a public
    answer passes unchanged, and a socket is made for a public address."""
    mixed = GuardedResolver(_Answering(["93.184.216.34", "10.0.0.7"]))
    public = GuardedResolver(_Answering(["93.184.216.34", "2606:2800:220:1::1"]))
    with pytest.raises(PrivateAddressRefused, match=r"10\.0\.0\.7"):
        asyncio.run(mixed.resolve("mixed.test", 443))
    answered = asyncio.run(public.resolve("two.test", 443))
    assert [r["host"] for r in answered] == ["93.184.216.34", "2606:2800:220:1::1"]
    with guarded_socket(_addr_info("93.184.216.34")) as made:
        assert made.family == socket.AF_INET


@pytest.mark.parametrize("location", ["http://100.64.0.1/", "http://[64:ff9b::a9fe:a9fe]/",
                                      "http://[2002:7f00:1::1]/", "http://[fec0::1]/",
                                      "http://[::ffff:10.0.0.1]/"])
def test_a_redirect_to_a_hidden_private_address_is_refused(location: str) -> None:
    """Each hop passes the guard, whatever form the redirect target's address takes."""
    config = NetworkConfig(allow_private=False, retries=0)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": location})

    async def public(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> CheckResult:
        async with make_client(config, transport=httpx.MockTransport(handler)) as client:
            return await Checker(client, config, resolve=public).check("k", "https://a.test/")

    result = asyncio.run(main())
    assert (result.verdict, result.reason) == (Verdict.SKIPPED, "private-address")
    assert seen == ["https://a.test/"]
