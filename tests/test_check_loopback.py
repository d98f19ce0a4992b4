"""The checker against a real HTTP server on 127.0.0.1: every server scenario end to end."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.check.errors import describe_error, network_unavailable
from linkaudit.check.fetch import fetch, read_body
from linkaudit.config import Duration, HostConfig, NetworkConfig
from linkaudit.models import CheckResult, Verdict
from tests.loopback import HUGE_SIZE, FakeTime, LoopbackServer, gzip_bomb

pytestmark = pytest.mark.slow

CONFIG = NetworkConfig(allow_private=True, connect_timeout=Duration(0.5),
                       read_timeout=Duration(0.3), total_timeout=Duration(5),
                       backoff=Duration(0.01), per_host_interval=Duration(0))


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


def check(urls: list[str], config: NetworkConfig = CONFIG) -> dict[str, CheckResult]:
    """Check ``urls`` (key = URL) with a real client and a fake clock."""
    fake = FakeTime()

    async def main() -> list[CheckResult]:
        async with make_client(config) as client:
            checker = Checker(client, config, sleep=fake.sleep, clock=fake.clock)
            return await checker.check_all([(u, u) for u in urls])

    return {r.key: r for r in asyncio.run(main())}


def check_one(url: str, config: NetworkConfig = CONFIG) -> CheckResult:
    return check([url], config)[url]


@pytest.mark.parametrize(("path", "verdict", "reason", "statuses"), [
    ("/ok", Verdict.OK, "200", [200]),
    ("/status/404", Verdict.DEAD, "404", [404]),
    ("/status/410", Verdict.DEAD, "410", [410]),
    ("/status/999", Verdict.BLOCKED, "999", [999]),
    ("/status/451", Verdict.UNREACHABLE, "451", [451]),
    ("/chain/301,308/ok", Verdict.REDIRECTED, "permanent", [301, 308, 200]),
    ("/chain/302/ok", Verdict.REDIRECTED, "temporary", [302, 200]),
    ("/chain/307,301/ok", Verdict.REDIRECTED, "temporary", [307, 301, 200]),
    ("/loop/a", Verdict.UNREACHABLE, "loop", [302, 302]),
    ("/to-root", Verdict.DEAD, "soft-404", [301, 200]),
    ("/to-dead", Verdict.DEAD, "404", [301, 404]),
    ("/no-location", Verdict.UNREACHABLE, "no-location", [302]),
    ("/challenge", Verdict.BLOCKED, "bot-challenge", [403]),
    ("/soft-404?head=405", Verdict.DEAD, "soft-404", [200]),
    ("/slow?delay=0.05", Verdict.OK, "200", [200]),
])
def test_scenario_verdicts(server: LoopbackServer, path: str, verdict: Verdict, reason: str,
                           statuses: list[int]) -> None:
    """Each server scenario gets its verdict, reason and recorded chain of statuses."""
    result = check_one(server.url(path))
    assert (result.verdict, result.reason) == (verdict, reason)
    assert [hop.status for hop in result.chain] == statuses


def test_redirect_to_a_dead_page_keeps_its_final_verdict(server: LoopbackServer) -> None:
    """A redirect ending in 404 records the final URL and its dead verdict."""
    result = check_one(server.url("/to-dead"))
    assert result.final_url == server.url("/status/404")
    assert result.final_verdict is Verdict.DEAD


@pytest.mark.parametrize("head", [405, 404])
def test_head_refused_then_get_succeeds(head: int) -> None:
    """A file's HEAD 405 or 404 followed by GET 200 is ok, one request of each method."""
    with LoopbackServer() as fresh:
        result = check_one(fresh.url(f"/files/paper.pdf?head={head}"))
        assert (result.verdict, result.status) == (Verdict.OK, 200)
        assert (fresh.count("/files/paper.pdf", "HEAD"),
                fresh.count("/files/paper.pdf", "GET")) == (1, 1)


def test_each_url_is_requested_once() -> None:
    """A batch of healthy URLs costs exactly one request each."""
    with LoopbackServer() as fresh:
        urls = [fresh.url(f"/ok?i={i}") for i in range(5)] + [fresh.url("/status/410")]
        results = check(urls)
        assert len(results) == 6
        assert fresh.count("/ok") == 5
        assert fresh.count("/status/410") == 1


def test_attempts_count_every_hop(server: LoopbackServer) -> None:
    """A two-redirect chain made three requests: attempts says 3, the detail no retries."""
    result = check_one(server.url("/chain/301,308/ok"))
    assert result.attempts == 3 and "attempts" not in result.detail


def test_flaky_503_is_retried_until_ok() -> None:
    """503 twice then 200 is ok after three attempts, each a GET."""
    with LoopbackServer() as fresh:
        result = check_one(fresh.url("/flaky?fail=2&status=503"))
        assert (result.verdict, result.attempts) == (Verdict.OK, 3)
        assert (fresh.count("/flaky", "HEAD"), fresh.count("/flaky", "GET")) == (0, 3)


def test_429_retry_after_is_waited_on_the_injected_clock(server: LoopbackServer) -> None:
    """A 429 with Retry-After: 1 is retried after a 1 s (fake) wait and ends ok."""
    fake = FakeTime()
    url = server.url("/flaky?fail=1&status=429&retry_after=1")

    async def main() -> CheckResult:
        async with make_client(CONFIG) as client:
            checker = Checker(client, CONFIG, sleep=fake.sleep, clock=fake.clock)
            return await checker.check(url, url)

    result = asyncio.run(main())
    assert (result.verdict, result.attempts) == (Verdict.OK, 2)
    assert 1.0 in fake.sleeps


def test_connection_reset_is_unreachable_after_retries(server: LoopbackServer) -> None:
    """An abrupt RST is unreachable/reset, tried with GET up to the retry budget."""
    before = server.count("/reset")
    result = check_one(server.url("/reset"))
    assert (result.verdict, result.reason, result.attempts) == (Verdict.UNREACHABLE, "reset", 3)
    assert server.count("/reset") - before == 3


def test_a_hanging_server_costs_bounded_time(server: LoopbackServer) -> None:
    """A server that accepts and never answers is a read timeout within the time budget."""
    config = dataclasses.replace(CONFIG, retries=0)
    started = time.monotonic()
    result = check_one(server.url("/hang"), config)
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "read-timeout")
    assert time.monotonic() - started < 2


def test_total_deadline_caps_a_slow_url(server: LoopbackServer) -> None:
    """A slow answer beyond the per-URL deadline is unreachable with reason timeout."""
    config = dataclasses.replace(CONFIG, read_timeout=Duration(5), total_timeout=Duration(0.3))
    result = check_one(server.url("/slow?delay=2"), config)
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "timeout")


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream"])
def test_a_50_mb_body_is_never_downloaded(content_type: str) -> None:
    """GET of a 50 MB body reads at most the cap and closes: the server sends a sliver."""
    with LoopbackServer() as fresh:
        result = check_one(fresh.url(f"/huge?head=405&type={content_type}"))
        assert result.verdict is Verdict.OK
        assert fresh.count("/huge", "GET") == 1
        sent = fresh.bytes_sent("/huge")
    assert sent < HUGE_SIZE // 10


@pytest.mark.parametrize("layers", [1, 2])
def test_a_gzip_bomb_is_read_only_up_to_the_cap(server: LoopbackServer, layers: int) -> None:
    """Bytes on the wire that decode to 256 MiB (gzip, or gzip twice): the read stops at
    the cap of decoded bytes, and the URL is an ordinary ok."""
    url = server.url(f"/bomb?mb=256&layers={layers}&head=405")  # so the check GETs too
    gzip_bomb(256, layers)  # built once, before the server's read timeout starts

    async def body() -> bytes:
        async with make_client(CONFIG) as client:
            attempt = await fetch(client, "GET", httpx.URL(url), {}, CONFIG.body_cap,
                                  httpx.Cookies())
        assert attempt.response is not None
        return attempt.response.body

    read = asyncio.run(body())
    assert len(read) == CONFIG.body_cap and read.startswith(b"<p><p>")
    assert check_one(url).verdict is Verdict.OK


def test_a_hostile_title_is_an_ordinary_page(server: LoopbackServer) -> None:
    """64 KB of unclosed ``<title>`` tags: read to the cap, no title, verdict ok."""
    result = check_one(server.url("/title?kb=64&head=405"))
    assert (result.verdict, result.reason) == (Verdict.OK, "200")


def test_mailto_location_stops_with_a_clear_reason(server: LoopbackServer) -> None:
    """A redirect to mailto: is unreachable/redirect-scheme, not a crash."""
    result = check_one(server.url("/to-mailto"))
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "redirect-scheme")


@pytest.mark.parametrize("other_host", ["127.0.0.2", "127.0.0.1"])
def test_host_headers_stay_on_their_origin_across_a_redirect(server: LoopbackServer,
                                                             other_host: str) -> None:
    """A header configured for 127.0.0.1 is not sent after a redirect to 127.0.0.2, nor
    to another port of 127.0.0.1."""
    with LoopbackServer(other_host) as other:
        config = dataclasses.replace(CONFIG, hosts={"127.0.0.1": HostConfig(
            headers={"Authorization": "Bearer secret"})})
        result = check_one(server.url(f"/redirect?to={other.url('/headers')}"), config)
        assert result.verdict is Verdict.REDIRECTED
        assert server.headers("/redirect")["authorization"] == "Bearer secret"
        assert "authorization" not in other.headers("/headers")


def test_a_reset_during_the_tls_handshake_is_a_reset() -> None:
    """A server that resets the connection after the ClientHello: reason reset, not tls."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(10)

        def reset_one() -> None:  # the GET's connection
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                connection.recv(4096)
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
                connection.close()

        resetter = threading.Thread(target=reset_one, daemon=True)
        resetter.start()
        port = listener.getsockname()[1]
        result = check_one(f"https://127.0.0.1:{port}/",
                           dataclasses.replace(CONFIG, retries=0))
        resetter.join(10)
    assert (result.verdict, result.reason) == (Verdict.UNREACHABLE, "reset")


def test_every_url_failing_tls_reads_as_network_down(server: LoopbackServer) -> None:
    """https to a server that does not speak TLS fails at TLS; a run where every URL does
    is this machine's TLS setup failing, told apart like a network that is down."""
    urls = [f"https://127.0.0.1:{server.port}/ok", f"https://127.0.0.1:{server.port}/"]

    async def main() -> list[CheckResult]:
        config = dataclasses.replace(CONFIG, retries=0)
        async with make_client(config) as client:
            return await Checker(client, config).check_all([(u, u) for u in urls])

    results = asyncio.run(main())
    assert {(r.verdict, r.reason) for r in results} == {(Verdict.UNREACHABLE, "tls")}
    assert network_unavailable(results)
    assert not network_unavailable([*results, check_one(server.url("/ok"))])


def test_a_cookie_wall_redirecting_to_itself_is_ok(server: LoopbackServer) -> None:
    """Set a cookie and redirect to the same page: with the cookie the page answers, ok."""
    result = check_one(server.url("/cookie-wall"))
    assert (result.verdict, result.status) == (Verdict.OK, 200)
    assert server.headers("/cookie-wall").get("cookie") == "consent=yes"


def test_private_address_is_refused_by_default() -> None:
    """Without allow_private, localhost is skipped and the server sees no request."""
    with LoopbackServer() as fresh:
        url = f"http://localhost:{fresh.port}/ok"
        result = check_one(url, dataclasses.replace(CONFIG, allow_private=False))
        assert (result.verdict, result.reason) == (Verdict.SKIPPED, "private-address")
        assert fresh.count("/ok") == 0


def test_refused_connections_everywhere_mean_network_down() -> None:
    """A closed port is unreachable/refused, and a run of only that is network down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check_one(f"http://127.0.0.1:{port}/")
    assert (result.verdict, result.reason, result.attempts) == (
        Verdict.UNREACHABLE, "refused", 2)
    assert network_unavailable([result])


def test_cancel_returns_promptly_with_finished_results(server: LoopbackServer) -> None:
    """Cancelling mid-run ends a hanging request at once and keeps the finished result."""
    got: list[CheckResult] = []
    config = dataclasses.replace(CONFIG, read_timeout=Duration(10), total_timeout=Duration(20))

    async def main() -> float:
        async with make_client(config) as client:
            checker = Checker(client, config)

            async def consume() -> None:
                async for result in checker.results([("hang", server.url("/hang")),
                                                     ("ok", server.url("/ok"))]):
                    got.append(result)

            task = asyncio.create_task(consume())
            while not got:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - started

    assert asyncio.run(main()) < 1
    assert [r.key for r in got] == ["ok"]


class _KeepAliveServer:
    """A minimal HTTP/1.1 keep-alive server in the test's own event loop that counts the
    connections it accepts; each path answers its status (``/405`` refuses HEAD only;
    ``.pdf`` paths are PDF files)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while line := await reader.readline():
                method, target, _ = line.decode("latin-1").split()
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                self.requests.append((method, target))
                writer.write(self._answer(method, target))
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    def _answer(method: str, target: str) -> bytes:
        status = int(target.strip("/").split("?")[0].removesuffix(".pdf") or 200)
        kind, body = ("text/html", b"<title>page</title>") if "pdf" not in target else (
            "application/pdf", b"%PDF" + b"x" * 2000)
        if method == "HEAD" and status == 405:
            body = b""
        elif status == 405:
            status = 200
        head = (f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        return head if method == "HEAD" else head + body


def test_one_host_is_served_over_one_kept_alive_connection() -> None:
    """GETs of pages, HEADs of files, GET fallbacks and short non-HTML bodies all leave
    the connection reusable."""
    server = _KeepAliveServer()
    config = dataclasses.replace(CONFIG, per_host_concurrency=1)

    async def main() -> list[CheckResult]:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        paths = ["/200?a", "/200?b", "/404", "/404.pdf", "/405.pdf", "/200.pdf", "/200?c"]
        try:
            async with make_client(config) as client:
                checker = Checker(client, config, sleep=FakeTime().sleep)
                return await checker.check_all(
                    [(p, f"http://127.0.0.1:{port}{p}") for p in paths])
        finally:
            listener.close()
            await listener.wait_closed()

    results = asyncio.run(asyncio.wait_for(main(), timeout=10))
    assert {r.key: r.verdict for r in results} == {
        "/200?a": Verdict.OK, "/200?b": Verdict.OK, "/404": Verdict.DEAD,
        "/404.pdf": Verdict.DEAD, "/405.pdf": Verdict.OK, "/200.pdf": Verdict.OK,
        "/200?c": Verdict.OK}
    # GET for pages; HEAD+GET for the first file 404 and for /405.pdf, then GET only
    assert len(server.requests) == 9
    assert server.connections == 1



def test_a_compressed_page_is_decoded_once_and_sends_no_cookie_back() -> None:
    """A gzip body is decoded once (by httpx, not also by the wire), so its title is read;
    a cookie one answer set is not sent with the next request by the wire."""
    page = gzip.compress(b"<html><title>Page not found</title></html>")
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            lines = []
            while (line := await reader.readline()) not in (b"\r\n", b""):
                lines.append(line.lower())
            seen.append(b"".join(lines))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                         b"Content-Encoding: gzip\r\nSet-Cookie: id=1; Path=/\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(page), page))
            await writer.drain()
        writer.close()

    async def main() -> list[httpx.Response]:
        listener = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            async with make_client(CONFIG) as client:
                # a name, not an address: aiohttp's jar would keep no cookie of an address
                first = await client.get(f"http://localhost:{port}/a")
                client.cookies.clear()  # the client's own jar is not the wire's
                return [first, await client.get(f"http://localhost:{port}/b")]
        finally:
            listener.close()
            await listener.wait_closed()

    first, _ = asyncio.run(asyncio.wait_for(main(), timeout=10))
    assert b"Page not found" in first.content
    assert b"cookie:" not in seen[1]


# ---------------------------------------------------------------- DNS rebinding


def test_a_name_rebound_to_loopback_after_the_check_reaches_nothing(
    server: LoopbackServer,
) -> None:
    """The checker's lookup says public; the connection's own lookup of ``localhost`` says
    127.0.0.1 (as a rebinding DNS server would answer the second time). The connection is
    refused and the server sees no request."""
    config = dataclasses.replace(CONFIG, allow_private=False, retries=0)

    async def public(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> CheckResult:
        async with make_client(config) as client:
            checker = Checker(client, config, resolve=public)
            (result,) = await checker.check_all([(url, url)])
            return result

    url = f"http://localhost:{server.port}/ok"
    before = server.count("/ok")
    result = asyncio.run(main())
    assert (result.verdict, result.reason) == (Verdict.SKIPPED, "private-address")
    assert "loopback" in result.detail
    assert server.count("/ok") == before


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]"])
def test_the_connection_refuses_a_private_address_literal(server: LoopbackServer,
                                                          host: str) -> None:
    """Past the checker's own guard, the client itself refuses to dial a private address
    written as a literal (which no resolver sees): private-address, nothing sent."""
    config = dataclasses.replace(CONFIG, allow_private=False)

    async def main() -> httpx.HTTPError:
        async with make_client(config) as client:
            with pytest.raises(httpx.HTTPError) as failed:
                await client.get(f"http://{host}:{server.port}/ok")
            return failed.value

    before = server.count("/ok")
    reason, detail = describe_error(asyncio.run(main()))
    assert (reason, "loopback" in detail) == ("private-address", True)
    assert server.count("/ok") == before


@pytest.mark.parametrize(("length", "chunks_read"), [(10**6, 2), (None, 4), (8000, 4)])
def test_a_long_page_is_read_only_to_its_main_heading(length: int | None,
                                                      chunks_read: int) -> None:
    """Past the first </h1> a page declared longer than the cap is read no further; a page
    within the cap, or of unknown length, is read on (to its end here), so its connection
    can be kept."""
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for number, chunk in enumerate(
                [b"<title>Home</title>", b"<h1>Welcome</h1>", b"x" * 1000, b"y" * 1000]):
            pulled.append(number)
            yield chunk

    headers = {"content-type": "text/html"}
    if length is not None:
        headers["content-length"] = str(length)
    request = httpx.Request("GET", "http://127.0.0.1/")
    response = httpx.Response(200, headers=headers, stream=_Stream(chunks()), request=request)
    body = asyncio.run(read_body(response, 65536))
    assert len(pulled) == chunks_read
    assert body.startswith(b"<title>Home</title><h1>Welcome</h1>")


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk
