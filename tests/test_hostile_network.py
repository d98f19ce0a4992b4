"""`check` and `fix` against a hostile loopback server: every network class of issue 11
is refused or bounded (tests/hostile_server.py).

Cases that must reach the server allow private addresses; the address-guard cases do
not, and cite a global address that a router transport sends to the server instead, so
the guard judges every redirect while nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from tests.cli_support import clear_environment, run
from tests.hostile_server import HostileServer

pytestmark = pytest.mark.slow

GLOBAL = "93.184.216.34"  # a global address the router never lets the client reach
SECRET = "Bearer s3cret-token"


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture(scope="module")
def other_port() -> Iterator[HostileServer]:
    """A second server on the same host, another port: another origin."""
    with HostileServer() as running:
        yield running


class LoopbackRouter(httpx.AsyncBaseTransport):
    """Sends every request to the hostile server, whatever its URL says (https too, in
    plain HTTP), and records the URLs the client asked for."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.requested: list[str] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        request.url = request.url.copy_with(scheme="http", host=self.server.host,
                                            port=self.server.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def write_tree(root: Path, urls: list[str], network: dict[str, Any] | None = None,
               **sections: Any) -> None:
    """A note citing ``urls`` and a config with quick, private-friendly network settings."""
    (root / "notes").mkdir(exist_ok=True)
    body = "".join(f"[{n}]({url})\n\n" for n, url in enumerate(urls))
    (root / "notes" / "n.md").write_text(f"# n\n\n{body}", encoding="utf-8")
    settings = {"allow_private": True, "connect_timeout": 1, "read_timeout": 1,
                "total_timeout": 4, "retries": 0, "backoff": 0, "per_host_interval": 0,
                **(network or {})}
    config = {"network": settings, "dead_after": {"failures": 1, "days": 0}, **sections}
    (root / "linkaudit.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clear_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(command: str, *argv: str, transport: httpx.AsyncBaseTransport | None = None
        ) -> tuple[int, str, str]:
    """One command on the tree, with its config named (no discovery needed)."""
    code, out, err = run(command, "--config", "linkaudit.yaml", *argv, transport=transport)
    assert 0 <= code <= 3 and "Traceback" not in err, err
    return code, out, err


def check(transport: httpx.AsyncBaseTransport | None = None) -> dict[str, dict[str, Any]]:
    """Each cited URL's result from `check --format json`."""
    _, out, _ = cli("check", "--no-cache", "--format", "json", transport=transport)
    results = json.loads(out)["results"]
    return {result["url"]: result for result in results}


# ---------------------------------------------------------------- the address guard

NOT_GLOBAL = [
    "http://10.1.2.3/", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:1/", "http://0.0.0.0/", "http://[::1]/", "http://[fec0::1]/",
    "http://[fd00::1]/", "http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
    "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo, client 10.0.0.1
    "http://[::169.254.169.254]/",
]


@pytest.mark.parametrize("target", NOT_GLOBAL)
def test_redirect_to_a_non_global_address_is_refused(tree: Path, server: HostileServer,
                                                     target: str) -> None:
    """A redirect to any address that is not globally routable is refused; nothing is
    requested there."""
    cited = f"http://{GLOBAL}/redirect?to={quote(target, safe='')}"
    write_tree(tree, [cited], {"allow_private": False})
    router = LoopbackRouter(server)
    result = check(router)[cited]
    assert result["reason"] == "private-address", result
    assert router.requested == [cited]


@pytest.mark.parametrize("target", NOT_GLOBAL)
def test_a_cited_non_global_address_is_refused(tree: Path, server: HostileServer,
                                               target: str) -> None:
    """A cited URL on a non-global address is refused before any request."""
    write_tree(tree, [target], {"allow_private": False})
    router = LoopbackRouter(server)
    assert check(router)[target]["reason"] == "private-address"
    assert router.requested == []


# ---------------------------------------------------------------- headers and origins


def test_host_headers_reach_their_own_origin(tree: Path, server: HostileServer) -> None:
    """Control: the configured Authorization header is sent to the cited URL's origin."""
    write_tree(tree, [server.url("/headers")],
               {"hosts": {server.host: {"headers": {"Authorization": SECRET}}}})
    check()
    assert server.headers("/headers").get("authorization") == SECRET


def test_host_headers_not_sent_to_another_port(tree: Path, server: HostileServer,
                                               other_port: HostileServer) -> None:
    """After a redirect to another port of the same host, the headers stay behind."""
    cited = server.url(f"/redirect?to={quote(other_port.url('/headers'), safe='')}")
    write_tree(tree, [cited], {"hosts": {server.host: {"headers": {"Authorization": SECRET}}}})
    result = check()[cited]
    assert result["chain"][-1]["url"] == other_port.url("/headers")
    assert "authorization" not in other_port.headers("/headers")


def test_host_headers_not_sent_after_a_downgrade(tree: Path, server: HostileServer) -> None:
    """After https redirects to http on the same host and port, the headers stay behind."""
    target = f"http://{GLOBAL}/headers"
    cited = f"https://{GLOBAL}/redirect?to={quote(target, safe='')}"
    write_tree(tree, [cited], {"allow_private": False,
                               "hosts": {GLOBAL: {"headers": {"Authorization": SECRET}}}})
    router = LoopbackRouter(server)
    check(router)
    assert router.requested == [cited, target]
    assert "authorization" not in server.headers("/headers")
    assert server.headers("/redirect").get("authorization") == SECRET


# ---------------------------------------------------------------- odd Location values

ODD_LOCATIONS = ["javascript:alert(document.domain)", "mailto:someone@example.com",
                 "data:text/html,<script>alert(1)</script>", "http://[::1", "http://", "//",
                 "http://[::1]:99999/"]


@pytest.mark.parametrize("location", ODD_LOCATIONS)
def test_odd_locations_are_verdicts_and_never_written(tree: Path, server: HostileServer,
                                                      location: str) -> None:
    """A Location that is not a web address is a verdict; fix --write never writes it."""
    cited = server.url(f"/redirect?code=301&to={quote(location, safe='')}")
    write_tree(tree, [cited, server.url("/ok")])
    note = tree / "notes" / "n.md"
    original = note.read_bytes()
    result = check()[cited]
    assert result["verdict"] in ("unreachable", "dead", "skipped"), result
    assert result["reason"] != "error", result  # a verdict, not a caught internal error
    cli("fix", "--write")
    assert note.read_bytes() == original


# ---------------------------------------------------------------- bodies


def test_stacked_gzip_is_read_only_up_to_the_cap(tree: Path, server: HostileServer) -> None:
    """A body gzip-compressed twice is capped on decoded bytes: a title past the cap is
    never read, so the page is ok, not a soft 404."""
    cited = server.url("/gzip-bomb?mib=1")
    write_tree(tree, [cited])
    result = check()[cited]
    assert (result["verdict"], result["status"]) == ("ok", 200), result


def test_an_endless_body_is_cut_short(tree: Path, server: HostileServer) -> None:
    """An endless chunked body ends the read at the cap: the server sends a few MB."""
    cited = server.url("/huge")
    write_tree(tree, [cited])
    assert check()[cited]["verdict"] == "ok"
    assert server.bytes_sent("/huge") < 64 << 20


def test_a_dripping_body_ends_at_the_deadline(tree: Path, server: HostileServer) -> None:
    """A body that comes one byte at a time never outlives the URL's total deadline."""
    cited = server.url("/drip?every=0.1")
    write_tree(tree, [cited, server.url("/ok")], {"total_timeout": 1})
    result = check()[cited]
    assert result["reason"] == "timeout", result
    assert server.bytes_sent("/drip") < 100  # a second's worth, not the 64 KiB cap


def test_a_hostile_title_gets_a_verdict(tree: Path, server: HostileServer) -> None:
    """Megabytes of an unclosed, nested <title> still give the page a plain verdict."""
    cited = server.url("/title-bomb?kib=64")
    write_tree(tree, [cited, server.url("/ok")])
    results = check()
    assert results[cited]["verdict"] == "ok"
    assert results[server.url("/ok")]["verdict"] == "ok"


def test_hostile_titles_do_not_push_others_past_their_deadline(tree: Path,
                                                              server: HostileServer) -> None:
    """Pages with hostile titles cost so little that a slow page beside them still
    answers within its own deadline (quadratic title parsing used seconds per page)."""
    bombs = [server.url(f"/title-bomb?kib=4096&n={n}") for n in range(3)]
    slow = server.url("/slow?delay=0.2")
    write_tree(tree, [*bombs, slow], {"total_timeout": 3, "concurrency": 8,
                                      "per_host_concurrency": 8})
    results = check()
    assert results[slow]["verdict"] == "ok", results[slow]


# ---------------------------------------------------------------- archive answers


@pytest.mark.parametrize("answer", ["javascript", "other"])
def test_archive_answers_for_other_urls_are_not_written(tree: Path, server: HostileServer,
                                                        answer: str) -> None:
    """An archive answer that is a javascript: URL or another URL's snapshot is refused."""
    dead = server.url("/gone")
    write_tree(tree, [dead], archive={"endpoint": server.url(f"/wayback/{answer}")})
    cli("check", "--confirm-now")
    cli("fix", "--write")
    text = (tree / "notes" / "n.md").read_text(encoding="utf-8")
    assert f"(<{dead}>)" in text or f"({dead})" in text
    assert "javascript:" not in text and "evil.example" not in text


def test_archive_snapshot_of_the_same_url_is_written(tree: Path,
                                                     server: HostileServer) -> None:
    """Control: a snapshot of the very URL on the archive host replaces the dead link."""
    dead = server.url("/gone")
    write_tree(tree, [dead], archive={"endpoint": server.url("/wayback/ok")})
    cli("check", "--confirm-now")
    cli("fix", "--write")
    text = (tree / "notes" / "n.md").read_text(encoding="utf-8")
    assert f"https://web.archive.org/web/20200101000000/{dead}" in text
