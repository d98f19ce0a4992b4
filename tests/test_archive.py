"""Wayback availability lookups against a fake archive."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from linkaudit.fix.archive import Snapshots, find_snapshots, note_date, snapshot_requests
from linkaudit.models import CleanedLink, Link, LinkKind, Note, Span

ENDPOINT = "https://archive.test/wayback/available"
NOTE_DAY = date(2020, 6, 1)


def answer(timestamp: str = "20190101000000", *, status: str = "200",
           available: bool = True, url: str = "https://x.com/a") -> dict[str, object]:
    return {"archived_snapshots": {"closest": {
        "available": available, "status": status, "timestamp": timestamp,
        "url": f"http://web.archive.org/web/{timestamp}/{url}"}}}


def lookup(handler: Callable[[httpx.Request], httpx.Response],
           requests: list[tuple[str, str, date | None]]) -> Snapshots:
    async def run() -> Snapshots:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await find_snapshots(client, ENDPOINT, requests)
    return asyncio.run(run())


def test_accepted_snapshot_is_https_and_asked_for_the_note_date() -> None:
    """A working snapshot older than the note is returned as an https snapshot URL."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=answer())

    result = lookup(handler, [("k", "https://x.com/a?b=1&c=2", NOTE_DAY)])
    assert result.found == {"k": "https://web.archive.org/web/20190101000000/https://x.com/a"}
    assert result.missing == {}
    assert dict(seen[0].params) == {"url": "https://x.com/a?b=1&c=2", "timestamp": "20200601"}


@pytest.mark.parametrize(("payload", "reason"), [
    (answer("20210101000000"), "only snapshots newer than the note"),
    (answer(status="404"), "no working snapshot"),
    (answer(available=False), "no snapshot"),
    ({"archived_snapshots": {}}, "no snapshot"),
    ([], "no snapshot"),
])
def test_unusable_snapshots_are_refused_with_a_reason(payload: object, reason: str) -> None:
    """Newer, failed, unavailable or absent snapshots give no URL and say why."""
    result = lookup(lambda request: httpx.Response(200, json=payload),
                    [("k", "https://x.com/a", NOTE_DAY)])
    assert result == Snapshots(found={}, missing={"k": reason})


def test_newer_snapshot_is_fine_when_the_note_has_no_date() -> None:
    """Without a note date any working snapshot is accepted and no timestamp is sent."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=answer("20240101000000"))

    assert list(lookup(handler, [("k", "https://x.com/a", None)]).found) == ["k"]
    assert "timestamp" not in seen[0].params


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("timeout", "archive unreachable: timed out"),
    ("refused", "archive unreachable: ConnectError"),
    ("503", "archive unreachable: HTTP 503"),
    ("html", "archive unreachable: answer is not JSON"),
])
def test_archive_failures_are_values(behaviour: str, reason: str) -> None:
    """Timeouts, refused connections, errors and non-JSON answers become a reason."""
    def handler(request: httpx.Request) -> httpx.Response:
        if behaviour == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if behaviour == "refused":
            raise httpx.ConnectError("refused", request=request)
        if behaviour == "503":
            return httpx.Response(503)
        return httpx.Response(200, text="<html>busy</html>")

    assert lookup(handler, [("k", "https://x.com/a", NOTE_DAY)]).missing == {"k": reason}


def test_lookups_run_a_few_at_a_time() -> None:
    """No more than the concurrency limit of lookups are in flight at once."""
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=answer())

    async def run() -> Snapshots:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await find_snapshots(
                client, ENDPOINT, [(str(i), f"https://x.com/{i}", None) for i in range(12)],
                concurrency=3)

    assert len(asyncio.run(run()).found) == 12
    assert 1 <= peak <= 3


# ------------------------------------------------------------------ a real loopback server


@pytest.fixture
def fake_archive() -> Iterator[str]:
    """A tiny availability API on 127.0.0.1: archived copies exist only for /kept pages."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            url = query["url"][0]
            body = answer(url=url) if "/kept" in url else {"archived_snapshots": {}}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/wayback/available"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_lookups_against_a_loopback_archive(fake_archive: str) -> None:
    """Over real HTTP, archived pages get snapshot URLs and others a reason."""
    async def run() -> Snapshots:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            return await find_snapshots(client, fake_archive, [
                ("a", "https://x.com/kept", NOTE_DAY), ("b", "https://x.com/lost", NOTE_DAY)])

    result = asyncio.run(run())
    assert result.found == {"a": "https://web.archive.org/web/20190101000000/https://x.com/kept"}
    assert result.missing == {"b": "no snapshot"}


# ------------------------------------------------------------------ requests from notes


def dead_link_note(path: str, url: str, metadata: dict[str, object] | None = None) -> Note:
    text = f"[1]: {url}\n"
    link = Link(LinkKind.DEFINITION, url, Span(5, 5 + len(url)), 1, 6, label="1")
    return Note(Path(path), text, "en", "f", metadata=metadata or {}, links=(link,))


def cleaned(note: Note) -> list[CleanedLink]:
    link = note.links[0]
    clean_url = link.url.replace("?utm_source=x", "")
    key = clean_url.partition("#")[0]
    return [CleanedLink(link, clean_url, ("utm_source",), key, clean_url, key, ())]


def test_one_request_per_dead_key_with_the_earliest_note_date() -> None:
    """A URL cited by several notes is looked up once, cleaned, at the earliest date."""
    notes = [
        dead_link_note("_posts/de/2021-03-04-x-de.md", "https://x.com/a?utm_source=x#s"),
        dead_link_note("_posts/en/undated.md", "https://x.com/a"),
        dead_link_note("_posts/en/x-en.md", "https://x.com/a", {"date": datetime(2020, 1, 2)}),
        dead_link_note("_posts/en/alive.md", "https://x.com/alive"),
    ]
    requests = snapshot_requests([(n, cleaned(n)) for n in notes], {"https://x.com/a"})
    assert requests == [("https://x.com/a", "https://x.com/a", date(2020, 1, 2))]


@pytest.mark.parametrize(("path", "metadata", "expected"), [
    ("_posts/en/2025-10-22-cto-en.md", {}, date(2025, 10, 22)),
    ("x.md", {"date": "2024-02-03 10:00:00 +0800"}, date(2024, 2, 3)),
    ("x.md", {"date": date(2023, 1, 1)}, date(2023, 1, 1)),
    ("2025-13-40-bad.md", {}, None),
    ("notes.md", {"date": "yesterday"}, None),
])
def test_note_date_from_front_matter_or_file_name(
    path: str, metadata: dict[str, object], expected: date | None
) -> None:
    """The note date comes from front matter, else the file name, else is unknown."""
    assert note_date(dead_link_note(path, "https://x.com/", metadata)) == expected
