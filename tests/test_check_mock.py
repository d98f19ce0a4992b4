"""The checker on httpx.MockTransport: methods, redirects, verdicts, scheduling, guards."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import ssl
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.check.errors import describe_error, network_unavailable
from linkaudit.check.guard import PrivateAddressRefused, check_address
from linkaudit.config import Duration, HostConfig, NetworkConfig
from linkaudit.models import CheckResult, Hop, Verdict
from tests.loopback import FakeTime

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
BASE = NetworkConfig(allow_private=True, retries=2, backoff=Duration(1),
                     per_host_interval=Duration(0), total_timeout=Duration(30))
PUBLIC_IP = "93.184.216.34"


class Run:
    """One checker run on a mock transport, keeping every request and its clock time."""

    def __init__(self, handler: Handler, config: NetworkConfig = BASE,
                 resolve: Callable[[str], Awaitable[list[str]]] | None = None) -> None:
        self.handler = handler
        self.config = config
        self.time = FakeTime()
        self.requests: list[tuple[float, httpx.Request]] = []
        self.resolve = resolve or _resolve_public

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((self.time.now, request))
        response = self.handler(request)
        return response if isinstance(response, httpx.Response) else await response

    def checker(self, client: httpx.AsyncClient) -> Checker:
        return Checker(client, self.config, sleep=self.time.sleep, clock=self.time.clock,
                       now=lambda: 1_800_000_000.0, resolve=self.resolve, rand=lambda: 0.5)

    def check(self, *urls: str) -> dict[str, CheckResult]:
        async def main() -> list[CheckResult]:
            async with make_client(self.config,
                                   transport=httpx.MockTransport(self._handle)) as client:
                return await self.checker(client).check_all([(u, u) for u in urls])

        return {r.key: r for r in asyncio.run(main())}

    def one(self, url: str) -> CheckResult:
        return self.check(url)[url]

    @property
    def seen(self) -> list[tuple[str, str]]:
        return [(r.method, str(r.url)) for _, r in self.requests]


async def _resolve_public(host: str) -> list[str]:
    return [PUBLIC_IP]


def _routes(table: dict[tuple[str, str], tuple[int, dict[str, str], str]]) -> Handler:
    """A handler answering (method, path) from ``table``; "*" matches any method."""
    def handle(request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        status, headers, body = table.get(key) or table.get(("*", request.url.path)) or (
            404, {}, "")
        kind = "application/pdf" if request.url.path.endswith(".pdf") else "text/html"
        return httpx.Response(status, headers={"content-type": kind, **headers}, text=body)
    return handle


def _raise(exc: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise exc
    return handle


# ------------------------------------------------------------------ methods


@pytest.mark.parametrize("head_status", [405, 403, 404, 501, 500, 503])
def test_get_follows_a_refused_head(head_status: int) -> None:
    """A HEAD answered 405/403/404/501/5xx is asked again with GET, whose answer counts."""
    run = Run(_routes({("HEAD", "/a.pdf"): (head_status, {}, ""),
                       ("GET", "/a.pdf"): (200, {}, "")}))
    result = run.one("https://a.test/a.pdf")
    assert result.verdict is Verdict.OK
    assert [m for m, _ in run.seen] == ["HEAD", "GET"]


def test_get_follows_a_head_that_breaks_the_connection() -> None:
    """A HEAD that ends in a protocol error is asked again with GET."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(200)

    run = Run(handle)
    assert run.one("https://a.test/a.pdf").verdict is Verdict.OK
    assert [m for m, _ in run.seen] == ["HEAD", "GET"]


def test_a_good_head_is_the_only_request() -> None:
    """HEAD 200 is enough for a file that is not a page: no GET, one request for the URL."""
    run = Run(_routes({("HEAD", "/a.pdf"): (200, {}, "")}))
    result = run.one("https://a.test/a.pdf")
    assert (result.verdict, result.status, result.attempts) == (Verdict.OK, 200, 1)
    assert len(run.requests) == 1


def test_duplicate_keys_are_checked_once() -> None:
    """The same key twice in the input gives one request and one result."""
    run = Run(_routes({("*", "/a"): (200, {}, "")}))

    async def main() -> list[CheckResult]:
        transport = httpx.MockTransport(run._handle)
        async with make_client(BASE, transport=transport) as client:
            items = [("k", "https://a.test/a"), ("k", "https://a.test/a")]
            return await run.checker(client).check_all(items)

    assert len(asyncio.run(main())) == 1
    assert len(run.requests) == 1


# ------------------------------------------------------------------ what a host's HEAD teaches

ONE_AT_A_TIME = dataclasses.replace(BASE, concurrency=1, per_host_concurrency=1)


def _methods_by_path(run: Run) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for _, r in run.requests]


def test_a_host_refusing_head_with_405_gets_get_directly_afterwards() -> None:
    """After a HEAD 405 a host's later URLs are asked with GET only, one request each."""
    run = Run(_routes({("HEAD", "/1.pdf"): (405, {}, ""), ("GET", "/1.pdf"): (200, {}, ""),
                       ("*", "/2.pdf"): (200, {}, ""), ("*", "/3.pdf"): (404, {}, "")}),
              ONE_AT_A_TIME)
    results = run.check("https://a.test/1.pdf", "https://a.test/2.pdf", "https://a.test/3.pdf")
    assert [results[f"https://a.test/{i}.pdf"].verdict for i in (1, 2, 3)] == [
        Verdict.OK, Verdict.OK, Verdict.DEAD]
    assert _methods_by_path(run) == [("HEAD", "/1.pdf"), ("GET", "/1.pdf"), ("GET", "/2.pdf"),
                                     ("GET", "/3.pdf")]


def test_head_501_also_switches_the_host_to_get() -> None:
    """HEAD 501 (not implemented) teaches the same as 405."""
    run = Run(_routes({("HEAD", "/1.pdf"): (501, {}, ""), ("GET", "/1.pdf"): (200, {}, ""),
                       ("*", "/2.pdf"): (200, {}, "")}), ONE_AT_A_TIME)
    run.check("https://a.test/1.pdf", "https://a.test/2.pdf")
    assert _methods_by_path(run)[-1] == ("GET", "/2.pdf")


def test_a_confirmed_head_404_is_trusted_for_the_hosts_later_urls() -> None:
    """The first dead link gets its GET; once GET agreed, later HEAD 404s are final."""
    run = Run(_routes({}), ONE_AT_A_TIME)  # every path 404 to both methods
    results = run.check(*(f"https://a.test/d{i}.pdf" for i in range(3)))
    assert {(r.verdict, r.reason) for r in results.values()} == {(Verdict.DEAD, "404")}
    assert _methods_by_path(run) == [("HEAD", "/d0.pdf"), ("GET", "/d0.pdf"), ("HEAD", "/d1.pdf"),
                                     ("HEAD", "/d2.pdf")]


def test_trust_is_per_host_so_another_hosts_first_dead_link_gets_get() -> None:
    """A host trusted for HEAD 404 says nothing about another host's HEAD."""
    run = Run(_routes({}), ONE_AT_A_TIME)
    run.check("https://a.test/d0.pdf", "https://a.test/d1.pdf", "https://b.test/d0.pdf")
    seen = [(r.method, r.url.host) for _, r in run.requests]
    assert seen.count(("GET", "a.test")) == 1
    assert seen.count(("GET", "b.test")) == 1


def test_a_host_whose_head_lies_keeps_getting_gets() -> None:
    """HEAD 404 contradicted by GET 200 means every later HEAD 404 of that host is re-asked."""
    run = Run(_routes({("HEAD", "/p0.pdf"): (404, {}, ""), ("GET", "/p0.pdf"): (200, {}, ""),
                       ("HEAD", "/p1.pdf"): (404, {}, ""), ("GET", "/p1.pdf"): (404, {}, ""),
                       ("HEAD", "/p2.pdf"): (404, {}, ""), ("GET", "/p2.pdf"): (200, {}, "")}),
              ONE_AT_A_TIME)
    results = run.check("https://a.test/p0.pdf", "https://a.test/p1.pdf", "https://a.test/p2.pdf")
    assert [results[f"https://a.test/p{i}.pdf"].verdict for i in range(3)] == [
        Verdict.OK, Verdict.DEAD, Verdict.OK]
    assert [m for m, _ in _methods_by_path(run)] == ["HEAD", "GET"] * 3


def test_a_later_disagreement_withdraws_the_trust() -> None:
    """A trusted host whose HEAD 403 then meets GET 200 gets GETs for its HEAD 404s again."""
    run = Run(_routes({("HEAD", "/x.pdf"): (403, {}, ""), ("GET", "/x.pdf"): (200, {}, ""),
                       ("GET", "/late.pdf"): (200, {}, "")}), ONE_AT_A_TIME)
    results = run.check("https://a.test/d0.pdf", "https://a.test/x.pdf", "https://a.test/late.pdf")
    assert results["https://a.test/late.pdf"].verdict is Verdict.OK
    assert _methods_by_path(run)[-2:] == [("HEAD", "/late.pdf"), ("GET", "/late.pdf")]


def test_a_transient_head_5xx_is_not_taken_for_a_lie() -> None:
    """HEAD 503 then GET 200 neither counts as agreement nor as disagreement."""
    run = Run(_routes({("HEAD", "/busy.pdf"): (503, {}, ""), ("GET", "/busy.pdf"): (200, {}, "")}),
              ONE_AT_A_TIME)
    run.check("https://a.test/busy.pdf", "https://a.test/d0.pdf", "https://a.test/d1.pdf")
    assert _methods_by_path(run)[2:] == [("HEAD", "/d0.pdf"), ("GET", "/d0.pdf"),
                                         ("HEAD", "/d1.pdf")]


@pytest.mark.parametrize(("get_status", "gets", "verdict"), [(404, 1, Verdict.DEAD),
                                                             (200, 3, Verdict.OK)])
def test_concurrent_head_404s_wait_for_the_hosts_first_confirmation(
        get_status: int, gets: int, verdict: Verdict) -> None:
    """HEAD 404s arriving while the host's first GET check runs wait for its answer:
    trusted when it agreed, each asked with GET when it did not."""
    async def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        await asyncio.sleep(0.01)  # the confirming GET is still running when the others arrive
        return httpx.Response(get_status)

    run = Run(handle, dataclasses.replace(BASE, per_host_concurrency=3))
    results = run.check(*(f"https://a.test/d{i}.pdf" for i in range(3)))
    assert {r.verdict for r in results.values()} == {verdict}
    assert [m for m, _ in run.seen].count("GET") == gets


# ------------------------------------------------------------------ redirects


def test_redirect_chain_is_recorded_hop_by_hop_with_relative_locations() -> None:
    """Each hop's URL and status are kept; relative Locations resolve against the hop."""
    run = Run(_routes({
        ("*", "/old"): (301, {"location": "/mid"}, ""),
        ("*", "/mid"): (308, {"location": "https://b.test/new"}, ""),
        ("*", "/new"): (200, {}, ""),
    }))
    result = run.one("https://a.test/old")
    assert result.verdict is Verdict.REDIRECTED
    assert result.permanent is True
    assert result.final_url == "https://b.test/new"
    assert result.final_verdict is Verdict.OK
    assert result.chain == (Hop("https://a.test/old", 301), Hop("https://a.test/mid", 308),
                            Hop("https://b.test/new", 200))


def test_one_temporary_hop_makes_the_redirect_temporary() -> None:
    """A chain with a 302 among 301s is temporary."""
    run = Run(_routes({("*", "/a"): (301, {"location": "/b"}, ""),
                       ("*", "/b"): (302, {"location": "/c"}, ""),
                       ("*", "/c"): (200, {}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.permanent, result.reason) == (
        Verdict.REDIRECTED, False, "temporary")


def test_redirect_to_a_dead_page_is_dead_with_the_final_verdict() -> None:
    """A chain that ends in 404 is dead, and says where it ended."""
    run = Run(_routes({("*", "/a"): (301, {"location": "/gone"}, ""),
                       ("*", "/gone"): (404, {}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.final_verdict, result.reason) == (
        Verdict.DEAD, Verdict.DEAD, "404")
    assert result.final_url == "https://a.test/gone"


def test_redirect_loop_is_detected() -> None:
    """A Location leading back to a URL already in the chain stops with reason loop."""
    run = Run(_routes({("*", "/a"): (302, {"location": "/b"}, ""),
                       ("*", "/b"): (302, {"location": "https://a.test/a"}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "loop")
    assert len(run.requests) == 2


def test_too_many_redirects_stop_at_the_configured_limit() -> None:
    """More hops than max_redirects end the chain without further requests."""
    def handle(request: httpx.Request) -> httpx.Response:
        step = int(request.url.path.strip("/") or 0)
        return httpx.Response(301, headers={"location": f"/{step + 1}"})

    run = Run(handle, dataclasses.replace(BASE, max_redirects=3))
    result = run.one("https://a.test/0")
    assert result.reason == "too-many-redirects"
    assert len(run.requests) == 4


@pytest.mark.parametrize("location", ["mailto:someone@example.com", "javascript:alert(1)",
                                      "ftp://files.example.com/a"])
def test_non_http_location_stops_with_a_clear_reason(location: str) -> None:
    """A redirect to mailto:, javascript: or ftp: is not followed and says why."""
    run = Run(_routes({("*", "/a"): (302, {"location": location}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "redirect-scheme")
    assert "not a web" in result.detail


def test_redirect_without_location_is_reported() -> None:
    """A 3xx with no Location header ends the chain with reason no-location."""
    run = Run(_routes({("*", "/a"): (302, {}, "")}))
    assert run.one("https://a.test/a").reason == "no-location"


def test_host_headers_never_follow_a_redirect_to_another_host() -> None:
    """Headers configured for a.test reach a.test only, not the host it redirects to."""
    config = dataclasses.replace(BASE, hosts={"a.test": HostConfig(
        headers={"Authorization": "Bearer secret"})})
    run = Run(_routes({("*", "/a"): (301, {"location": "https://b.test/b"}, ""),
                       ("*", "/b"): (200, {}, "")}), config)
    assert run.one("https://a.test/a").verdict is Verdict.REDIRECTED
    sent = {r.url.host: r.headers.get("authorization") for _, r in run.requests}
    assert sent == {"a.test": "Bearer secret", "b.test": None}


def test_host_config_applies_to_subdomains() -> None:
    """An override for example.test also covers www.example.test."""
    config = dataclasses.replace(BASE, hosts={"example.test": HostConfig(
        headers={"X-Token": "t"})})
    run = Run(_routes({("*", "/a"): (200, {}, "")}), config)
    run.one("https://www.example.test/a")
    assert run.requests[0][1].headers["x-token"] == "t"


# ------------------------------------------------------------------ verdicts


@pytest.mark.parametrize(("status", "verdict"), [
    (200, Verdict.OK), (204, Verdict.OK), (404, Verdict.DEAD), (410, Verdict.DEAD),
    (401, Verdict.BLOCKED), (403, Verdict.BLOCKED), (429, Verdict.BLOCKED),
    (999, Verdict.BLOCKED), (400, Verdict.UNREACHABLE), (451, Verdict.UNREACHABLE),
    (500, Verdict.UNREACHABLE), (503, Verdict.UNREACHABLE),
])
def test_status_verdicts(status: int, verdict: Verdict) -> None:
    """Each status class maps to its verdict; blocked is never dead."""
    run = Run(_routes({("*", "/a"): (status, {}, "")}), dataclasses.replace(BASE, retries=0))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.status, result.reason) == (verdict, status, str(status))


def test_redirect_to_site_root_is_a_soft_404() -> None:
    """A deep URL redirected to the home page is dead with reason soft-404."""
    run = Run(_routes({("*", "/article/1"): (301, {"location": "/"}, ""),
                       ("*", "/"): (200, {}, "")}))
    result = run.one("https://a.test/article/1")
    assert (result.verdict, result.reason) == (Verdict.DEAD, "soft-404")
    assert result.final_verdict is Verdict.OK


def test_root_to_root_redirect_is_not_a_soft_404() -> None:
    """Redirecting a site root to another root (http to https) is an ordinary redirect."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return httpx.Response(301, headers={"location": "https://a.test/"})
        return httpx.Response(200)

    run = Run(handle)
    assert run.one("http://a.test/").verdict is Verdict.REDIRECTED


@pytest.mark.parametrize("target", ["/404", "/errors/not-found", "/error/404.html",
                                    "/pagenotfound"])
def test_redirect_to_a_not_found_path_is_a_soft_404(target: str) -> None:
    """A redirect whose final path says not-found is dead with reason soft-404."""
    run = Run(_routes({("*", "/a"): (302, {"location": target}, ""),
                       ("*", target): (200, {}, "")}))
    assert run.one("https://a.test/a").reason == "soft-404"


@pytest.mark.parametrize(("title", "verdict"), [
    ("Page not found – Example", Verdict.DEAD),
    ("Error 404", Verdict.DEAD),
    ("404 Not Found", Verdict.DEAD),
    ("Not Found", Verdict.DEAD),
    ("How we found 4040 bugs", Verdict.OK),
    ("Notfound: a band", Verdict.OK),
])
def test_page_title_soft_404_rule_is_conservative(title: str, verdict: Verdict) -> None:
    """A 200 page (read by GET) whose title says 404 or page not found is dead, others ok."""
    page = f"<html><head><title>{title}</title></head></html>"
    run = Run(_routes({("HEAD", "/a"): (405, {}, ""), ("GET", "/a"): (200, {}, page)}))
    assert run.one("https://a.test/a").verdict is verdict


@pytest.mark.parametrize(("status", "headers", "body"), [
    (403, {"cf-mitigated": "challenge"}, ""),
    (503, {}, "<title>Just a moment...</title>"),
    (200, {"cf-mitigated": "challenge"}, ""),
])
def test_bot_challenges_are_blocked_not_dead(status: int, headers: dict[str, str],
                                             body: str) -> None:
    """A Cloudflare challenge (header or page) is blocked with reason bot-challenge."""
    run = Run(_routes({("*", "/a"): (status, headers, body)}),
              dataclasses.replace(BASE, retries=0))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.reason) == (Verdict.BLOCKED, "bot-challenge")


def test_body_beyond_the_cap_is_not_read() -> None:
    """A title past body_cap is not seen, so the page stays ok."""
    page = "<html>" + " " * 5000 + "<title>Page not found</title>"
    config = dataclasses.replace(BASE, body_cap=1000)
    run = Run(_routes({("HEAD", "/a"): (405, {}, ""), ("GET", "/a"): (200, {}, page)}), config)
    assert run.one("https://a.test/a").verdict is Verdict.OK


# ------------------------------------------------------------------ skips and guards


def test_excluded_and_non_http_urls_are_skipped_without_a_request() -> None:
    """An exclude regex match and a mailto: or ftp: URL are skipped, nothing is sent."""
    config = dataclasses.replace(BASE, exclude=(r"^https://intranet\.",))
    run = Run(_routes({}), config)
    results = run.check("https://intranet.test/x", "mailto:a@b.test", "ftp://f.test/x")
    assert {(r.verdict, r.reason) for r in results.values()} == {
        (Verdict.SKIPPED, "excluded"), (Verdict.SKIPPED, "scheme")}
    assert run.requests == []


@pytest.mark.parametrize("url", ["http://localhost:8000/admin", "http://127.0.0.1/",
                                 "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/",
                                 "http://0.0.0.0/"])
def test_private_addresses_are_refused_without_a_request(url: str) -> None:
    """Loopback, private, link-local and unspecified hosts are skipped unless allowed."""
    run = Run(_routes({}), dataclasses.replace(BASE, allow_private=False),
              resolve=None if "localhost" not in url else _system_resolve)
    result = run.one(url)
    assert (result.verdict, result.reason) == (Verdict.SKIPPED, "private-address")
    assert run.requests == []


async def _system_resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    return [str(info[4][0]) for info in infos]


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    """A public-looking name whose DNS answer is private is refused too."""
    async def resolve(host: str) -> list[str]:
        return ["192.168.1.10"]

    run = Run(_routes({}), dataclasses.replace(BASE, allow_private=False), resolve=resolve)
    assert run.one("https://sneaky.test/").reason == "private-address"


def test_a_redirect_to_a_private_address_is_refused() -> None:
    """Each hop passes the guard: a public page redirecting to 127.0.0.1 stops there."""
    run = Run(_routes({("*", "/a"): (302, {"location": "http://127.0.0.1/admin"}, "")}),
              dataclasses.replace(BASE, allow_private=False))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.reason) == (Verdict.SKIPPED, "private-address")
    assert [u for _, u in run.seen] == ["https://a.test/a"]


def test_a_name_that_does_not_resolve_is_dead_without_a_request() -> None:
    """The guard's DNS failure is a dead verdict with reason dns."""
    async def resolve(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    run = Run(_routes({}), dataclasses.replace(BASE, allow_private=False), resolve=resolve)
    result = run.one("https://gone.test/")
    assert (result.verdict, result.reason) == (Verdict.DEAD, "dns")
    assert run.requests == []


def test_allow_private_skips_resolution() -> None:
    """With allow_private the guard says yes without resolving anything."""
    async def resolve(host: str) -> list[str]:
        raise AssertionError("must not resolve")

    assert asyncio.run(check_address("localhost", True, resolve=resolve)) is None


# ------------------------------------------------------------------ errors to values


def _chained(outer: Exception, inner: BaseException) -> Exception:
    """``outer`` raised while handling ``inner`` (as httpcore leaves it, on __context__)."""
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize(("exc", "reason"), [
    (_chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")), "dns"),
    (_chained(httpx.ConnectError("x"), _chained(OSError("all failed"),
                                                ConnectionRefusedError(111, "refused"))),
     "refused"),
    (_chained(httpx.ConnectError("x"), ssl.SSLCertVerificationError(1, "bad cert")), "tls"),
    (_chained(httpx.ConnectError("x"), ssl.SSLError(1, "handshake")), "tls"),
    (_chained(httpx.ReadError("x"), ConnectionResetError(104, "reset")), "reset"),
    (_chained(httpx.ConnectError("x"), _chained(ssl.SSLWantReadError(2, "want read"),
                                                ConnectionResetError(104, "reset"))), "reset"),
    (_chained(httpx.ConnectError("x"), _chained(ConnectionResetError(104, "reset"),
                                                ssl.SSLWantReadError(2, "want read"))), "reset"),
    (httpx.RemoteProtocolError("Server disconnected"), "protocol"),
    (httpx.ConnectTimeout("x"), "connect-timeout"),
    (httpx.ReadTimeout("x"), "read-timeout"),
    (httpx.ConnectError("no route"), "connect"),
    (ValueError("odd"), "error"),
])
def test_describe_error_reads_the_whole_exception_chain(exc: Exception, reason: str) -> None:
    """DNS, refused, TLS and reset causes are found on __context__ as well as __cause__."""
    assert describe_error(exc)[0] == reason


_KEY = ConnectionKey("a.test", 443, True, True, None, None, None)


def _via_aiohttp(error: BaseException, mapped: type[httpx.HTTPError] = httpx.ConnectTimeout,
                 ) -> httpx.HTTPError:
    """``error`` as httpx-aiohttp hands it on: an httpx error raised from it."""
    try:
        try:
            raise error
        except Exception as exc:
            raise mapped(str(exc)) from exc
    except httpx.HTTPError as outer:
        return outer


def _from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(("error", "reason"), [
    (_from(aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "Name or service not known")),
           socket.gaierror(-2, "Name or service not known")), "dns"),
    (_from(aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")),
           ConnectionRefusedError(111, "refused")), "refused"),
    (aiohttp.ClientConnectorError(_KEY, OSError(113, "No route to host")), "connect"),
    (_from(aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError(1, "x")),
           ssl.SSLCertVerificationError(1, "bad cert")), "tls"),
    (aiohttp.ServerDisconnectedError(), "protocol"),
    (_from(aiohttp.ClientOSError(104, "reset"), ConnectionResetError(104, "reset")), "reset"),
    (_from(aiohttp.ClientConnectorError(_KEY, OSError("x")),
           PrivateAddressRefused("a.test is a loopback address (127.0.0.1)")),
     "private-address"),
    (_from(aiohttp.ClientConnectorDNSError(_KEY, OSError("x")),
           PrivateAddressRefused("a.test is a private address (10.0.0.7)")), "private-address"),
    (aiohttp.ConnectionTimeoutError("Connection timeout"), "connect-timeout"),
])
def test_describe_error_reads_the_aiohttp_error_behind_a_connect_timeout(
        error: BaseException, reason: str) -> None:
    """httpx-aiohttp reports these all as ConnectTimeout: the aiohttp cause decides."""
    assert describe_error(_via_aiohttp(error))[0] == reason


def test_a_read_timeout_through_aiohttp_stays_a_read_timeout() -> None:
    """aiohttp's socket read timeout, mapped to httpx.ReadTimeout, is read-timeout."""
    error = _via_aiohttp(aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
                         httpx.ReadTimeout)
    assert describe_error(error)[0] == "read-timeout"


def test_a_dns_failure_from_the_client_is_dead_and_not_retried() -> None:
    """A ConnectError caused by gaierror is dead/dns after exactly one request."""
    def handle(request: httpx.Request) -> httpx.Response:
        raise _chained(httpx.ConnectError("dns", request=request),
                       socket.gaierror(-2, "Name or service not known"))

    run = Run(handle)
    result = run.one("https://gone.test/")
    assert (result.verdict, result.reason, result.attempts) == (Verdict.DEAD, "dns", 1)
    assert len(run.requests) == 1


def test_a_failing_url_does_not_stop_the_others() -> None:
    """An unexpected error on one URL is a value; the next URL is still checked."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "bad.test":
            raise RuntimeError("transport bug")
        return httpx.Response(200)

    results = Run(handle).check("https://bad.test/", "https://good.test/")
    assert results["https://bad.test/"].reason == "error"
    assert results["https://good.test/"].verdict is Verdict.OK


# ------------------------------------------------------------------ retries and back-off


def test_transient_503_is_retried_with_backoff_sleeps() -> None:
    """503 then 200 gives ok after two attempts, sleeping between them (fake clock)."""
    answers = iter([503, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers))

    run = Run(handle)
    result = run.one("https://a.test/a")
    assert (result.verdict, result.attempts) == (Verdict.OK, 2)
    assert [m for m, _ in run.seen] == ["GET", "GET"]
    assert run.time.now - 1000.0 >= 0.75


def test_retries_exhausted_report_attempts() -> None:
    """A server failing every time is unreachable after retries + 1 attempts."""
    run = Run(_routes({("*", "/a"): (502, {}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.attempts) == (Verdict.UNREACHABLE, 3)
    assert "3 attempts" in result.detail


@pytest.mark.parametrize("status", [429, 503])
def test_429_or_503_backs_off_the_whole_host(status: int) -> None:
    """After 429/503 with Retry-After, no request to that host starts before it expires."""
    config = dataclasses.replace(BASE, retries=0, per_host_concurrency=1)
    run = Run(_routes({("*", "/a"): (status, {"retry-after": "30"}, ""),
                       ("*", "/b"): (200, {}, "")}), config)
    results = run.check("https://a.test/a", "https://a.test/b")
    assert results["https://a.test/b"].verdict is Verdict.OK
    last_a = max(t for t, r in run.requests if r.url.path == "/a")
    first_b = min(t for t, r in run.requests if r.url.path == "/b")
    assert first_b - last_a >= 30


def test_per_host_interval_spaces_request_starts() -> None:
    """Requests to one host start at least per_host_interval apart (injected clock)."""
    config = dataclasses.replace(BASE, per_host_interval=Duration(2), per_host_concurrency=4)
    run = Run(_routes({("*", f"/{i}"): (200, {}, "") for i in range(4)}), config)
    run.check(*(f"https://a.test/{i}" for i in range(4)))
    starts = sorted(t for t, _ in run.requests)
    assert all(later - earlier >= 2 for earlier, later in itertools.pairwise(starts))


def test_host_interval_override_wins() -> None:
    """config.hosts[host].interval replaces the default spacing for that host."""
    config = dataclasses.replace(BASE, per_host_interval=Duration(0), per_host_concurrency=4,
                                 hosts={"slow.test": HostConfig(interval=Duration(5))})
    run = Run(_routes({("*", f"/{i}"): (200, {}, "") for i in range(3)}), config)
    run.check(*(f"https://slow.test/{i}" for i in range(3)))
    starts = sorted(t for t, _ in run.requests)
    assert starts[-1] - starts[0] >= 10


def test_hosts_interleave_and_limits_hold() -> None:
    """With one slot per host, work alternates between hosts and never overlaps on one."""
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    total = [0, 0]

    async def handle(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        total[0] += 1
        peak[host] = max(peak.get(host, 0), in_flight[host])
        total[1] = max(total[1], total[0])
        await asyncio.sleep(0.001)
        in_flight[host] -= 1
        total[0] -= 1
        return httpx.Response(200)

    config = dataclasses.replace(BASE, concurrency=2, per_host_concurrency=1)
    run = Run(handle, config)
    urls = [f"https://{h}.test/{i}" for h in ("a", "b", "c") for i in range(4)]
    results = run.check(*urls)
    assert len(results) == 12
    assert max(peak.values()) == 1
    assert total[1] <= 2
    hosts = [r.url.host for _, r in run.requests]
    assert hosts[:3] != ["a.test"] * 3


def test_a_check_waiting_to_retry_lends_its_global_slot() -> None:
    """With one global slot, another host's URL runs while the first sleeps before a retry."""
    answers = iter([502, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers) if request.url.host == "a.test" else 200)

    run = Run(handle, dataclasses.replace(BASE, concurrency=1))
    results = run.check("https://a.test/x", "https://b.test/y")
    assert results["https://a.test/x"].attempts == 2
    assert [(m, u.split("/")[2]) for m, u in run.seen] == [
        ("GET", "a.test"), ("GET", "b.test"), ("GET", "a.test")]


# ------------------------------------------------------------------ network down, deadline


def _result(verdict: Verdict, reason: str, status: int | None = None) -> CheckResult:
    return CheckResult(key="k", url="https://x.test/", verdict=verdict, detail="",
                       reason=reason, status=status)


@pytest.mark.parametrize(("results", "down"), [
    ([_result(Verdict.DEAD, "dns"), _result(Verdict.UNREACHABLE, "refused")], True),
    ([_result(Verdict.UNREACHABLE, "connect-timeout")], True),
    ([_result(Verdict.DEAD, "dns"), _result(Verdict.OK, "200", 200)], False),
    ([_result(Verdict.DEAD, "dns"), _result(Verdict.UNREACHABLE, "read-timeout")], False),
    ([_result(Verdict.SKIPPED, "private-address")], False),
    ([], False),
    ([_result(Verdict.UNREACHABLE, "tls"), _result(Verdict.UNREACHABLE, "tls")], True),
    ([_result(Verdict.UNREACHABLE, "tls"), _result(Verdict.DEAD, "dns")], True),
    ([_result(Verdict.UNREACHABLE, "tls"), _result(Verdict.OK, "200", 200)], False),
])
def test_network_unavailable_only_when_nothing_got_past_connecting(
        results: list[CheckResult], down: bool) -> None:
    """Network down means every tried URL failed at DNS, connect or TLS, and one was tried."""
    assert network_unavailable(results) is down


def test_every_connect_failing_is_detected_as_network_down() -> None:
    """A run where every request is refused is flagged, with no result claiming a status."""
    def handle(request: httpx.Request) -> httpx.Response:
        raise _chained(httpx.ConnectError("x", request=request),
                       ConnectionRefusedError(111, "refused"))

    results = Run(handle).check("https://a.test/", "https://b.test/")
    assert network_unavailable(results.values())


def test_a_server_that_never_answers_costs_one_deadline() -> None:
    """The total deadline ends a hanging URL as unreachable/timeout; others finish."""
    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hang.test":
            await asyncio.Event().wait()
        return httpx.Response(200)

    config = dataclasses.replace(BASE, total_timeout=Duration(0.2))
    results = Run(handle, config).check("https://hang.test/", "https://ok.test/")
    hung = results["https://hang.test/"]
    assert (hung.verdict, hung.reason) == (Verdict.UNREACHABLE, "timeout")
    assert "deadline" in hung.detail
    assert results["https://ok.test/"].verdict is Verdict.OK


def test_cancellation_keeps_results_already_yielded() -> None:
    """Cancelling the consumer stops in-flight requests and keeps what already arrived."""
    cancelled: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hang.test":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(str(request.url))
                raise
        return httpx.Response(200)

    run = Run(handle)
    got: list[CheckResult] = []

    async def consume(client: httpx.AsyncClient) -> None:
        async for result in run.checker(client).results(
                [("h", "https://hang.test/"), ("o", "https://ok.test/")]):
            got.append(result)

    async def main() -> None:
        async with make_client(BASE, transport=httpx.MockTransport(run._handle)) as client:
            task = asyncio.create_task(consume(client))
            while not got:
                await asyncio.sleep(0.001)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(main(), timeout=5))
    assert [r.key for r in got] == ["o"]
    assert cancelled == ["https://hang.test/"]


@pytest.mark.parametrize(("chain", "with_header"), [
    (["https://a.test/1", "https://a.test:8443/2", "https://a.test/3"], [True, False, True]),
    (["https://a.test/1", "http://a.test/2", "https://a.test/3"], [True, False, False]),
    (["http://a.test/1", "https://a.test/2"], [True, False]),
    (["https://a.test:443/1", "https://a.test/2"], [True, True]),
])
def test_host_headers_belong_to_the_cited_origin(chain: list[str],
                                                 with_header: list[bool]) -> None:
    """Configured headers go only to the cited URL's (scheme, host, port), and never again
    once the chain went from https down to http."""
    config = dataclasses.replace(BASE, hosts={"a.test": HostConfig(
        headers={"Authorization": "Bearer secret"})})
    hops = {httpx.URL(url).path: nxt for url, nxt in zip(chain, [*chain[1:], None], strict=True)}

    def handler(request: httpx.Request) -> httpx.Response:
        target = hops[request.url.path]
        if target is None:
            return httpx.Response(200)
        return httpx.Response(302, headers={"location": target})

    run = Run(handler, config)
    run.one(chain[0])
    sent = [r.headers.get("authorization") == "Bearer secret" for _, r in run.requests
            if r.method == "GET"]
    assert sent == with_header


@pytest.mark.parametrize(("location", "reason"), [
    ("mailto:someone@example.com", "redirect-scheme"),
    ("javascript:alert(1)", "redirect-scheme"),
    ("JavaScript:alert(1)", "redirect-scheme"),
    ("data:text/html,<b>x</b>", "redirect-scheme"),
    ("file:///etc/passwd", "redirect-scheme"),
    ("tel:+123", "redirect-scheme"),
    ("http://[::1", "bad-location"),
    ("http://a.test:99999/", "bad-location"),
    ("http:///no-host", "bad-location"),
    ("http://a.test\x00/", "bad-location"),
])
def test_odd_redirect_targets_are_verdicts(location: str, reason: str) -> None:
    """A Location that is no web address ends that URL's chain with a reason, no exception."""
    run = Run(_routes({("*", "/a"): (302, {"location": location}, "")}))
    result = run.one("https://a.test/a")
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, reason)


# ------------------------------------------------------------------ cookies


def _cookie_wall(request: httpx.Request) -> httpx.Response:
    """/wall sets a session cookie and redirects to itself; with the cookie it is a page.
    /other and b.test answer 200; /to-b redirects to b.test after setting a cookie."""
    if request.url.host == "b.test" or request.url.path == "/other":
        return httpx.Response(200)
    if request.url.path == "/to-b":
        return httpx.Response(302, headers={"set-cookie": "s=1; Path=/",
                                            "location": "https://b.test/"})
    if "s=1" in request.headers.get("cookie", ""):
        return httpx.Response(200, headers={"content-type": "text/html"},
                              text="<title>News</title>")
    return httpx.Response(302, headers={"set-cookie": "s=1; Path=/", "location": "/wall"})


def test_a_cookie_set_then_redirect_to_itself_is_ok() -> None:
    """A consent or session wall (set a cookie, redirect to the same URL) is the page: ok."""
    run = Run(_cookie_wall)
    result = run.one("https://a.test/wall")
    assert (result.verdict, result.reason, result.status) == (Verdict.OK, "200", 200)
    assert [hop.status for hop in result.chain] == [302, 200]


def test_the_same_cookie_again_is_a_loop() -> None:
    """A server that keeps redirecting to itself whatever cookie it got is still a loop."""
    run = Run(lambda request: httpx.Response(
        302, headers={"set-cookie": "s=1; Path=/", "location": "/wall"}))
    assert run.one("https://a.test/wall").reason == "loop"


def test_cookies_stay_with_one_url_and_one_site() -> None:
    """A cookie set while checking one URL goes neither with another URL's check nor to
    another site the chain leads to."""
    run = Run(_cookie_wall, ONE_AT_A_TIME)
    run.check("https://a.test/wall", "https://a.test/other", "https://a.test/to-b")
    sent = {(r.url.host, r.url.path): r.headers.get("cookie") for _, r in run.requests}
    assert sent[("a.test", "/other")] is None
    assert sent[("b.test", "/")] is None


@pytest.mark.parametrize(("url", "detail"), [
    ("http://xn--/", "the host is not a valid name"),
    ("http://a.test:99999/", "port 99999 out of range"),
    ("http://a.test:0/", "port 0 out of range"),
    ("http:///path", "no host"),
    ("http://[::1/", "Invalid IPv6 URL"),
])
def test_urls_that_cannot_be_requested_are_skipped_and_others_still_checked(
        url: str, detail: str) -> None:
    """A cited URL no request can go to is skipped with the reason, and the run goes on."""
    run = Run(_routes({("*", "/ok"): (200, {}, "")}))
    results = run.check(url, "https://a.test/ok")
    assert (results[url].verdict, results[url].reason) == (Verdict.SKIPPED, "invalid-url")
    assert detail in results[url].detail
    assert results["https://a.test/ok"].verdict is Verdict.OK


@pytest.mark.parametrize(("path", "head"), [
    ("/paper.PDF", True), ("/img/fig.webp", True), ("/data.tar.gz", True),
    ("/post", False), ("/post.html", False), ("/index.php", False), ("/a.pdf/", False),
    ("/dir.pdf/page", False),
])
def test_only_files_named_by_their_extension_are_asked_with_head(path: str,
                                                                 head: bool) -> None:
    """A PDF, an image or an archive is asked with HEAD; a page (any other path) with GET."""
    run = Run(_routes({("*", path): (200, {"content-type": "application/octet-stream"}, "")}))
    assert run.one(f"https://a.test{path}").verdict is Verdict.OK
    assert [m for m, _ in run.seen] == (["HEAD"] if head else ["GET"])


def test_a_page_served_where_a_file_was_named_is_read() -> None:
    """A HEAD 200 answered with HTML for a .pdf is asked again with GET, which reads it."""
    page = "<title>404 Not Found</title>"
    run = Run(_routes({("*", "/gone.pdf"): (200, {"content-type": "text/html"}, page)}))
    result = run.one("https://a.test/gone.pdf")
    assert (result.verdict, result.reason) == (Verdict.DEAD, "soft-404")
    assert [m for m, _ in run.seen] == ["HEAD", "GET"]


@pytest.mark.parametrize(("target_headers", "target_requests"), [
    ({}, 1), ({"set-cookie": "s=1; Path=/"}, 3)])
def test_chains_to_the_same_target_share_its_answer(target_headers: dict[str, str],
                                                    target_requests: int) -> None:
    """Three dead links redirecting to the site root ask the root once (at once or one
    after another), each still a soft 404; a root that sets a cookie is asked by each."""
    run = Run(_routes({("GET", "/"): (200, target_headers, "<title>Home</title>"),
                       **{("GET", f"/old/{i}"): (301, {"location": "/"}, "") for i in range(3)}}),
              dataclasses.replace(BASE, per_host_concurrency=2))
    results = run.check(*(f"https://a.test/old/{i}" for i in range(3)))
    assert {(r.verdict, r.reason) for r in results.values()} == {(Verdict.DEAD, "soft-404")}
    assert [u for _, u in run.seen].count("https://a.test/") == target_requests
