"""A hostile HTTP server on a loopback address, for the network classes of issue 11.

    with HostileServer() as server:       # 127.0.0.1, a port the OS chooses
        server.url("/redirect?to=http://10.0.0.1/")
        server.headers("/headers")        # the last request headers seen there

It stops by itself after ``lifetime`` seconds (``LIFETIME`` unless told) even if nobody
closes it, and every slow answer gives up at close. Paths (any other answers 404; HEAD
on a path whose body is the point answers 405, so that the client reads the body with a
GET):

    /ok, /headers           200 page; the request headers are kept
    /redirect?to=<v>&code=<c>
                            redirect (302 by default) with ``Location: <v>`` as given
                            (private addresses, javascript:, mailto:, malformed values)
    /gzip-bomb?mib=<n>      HTML compressed twice (``Content-Encoding: gzip, gzip``): a
                            few KB on the wire, n MiB of spaces decoded, then a title
                            saying "Page not found" that only an unbounded reader sees
    /huge                   an endless chunked HTML body (until the client stops reading
                            or the server closes); ``bytes_sent`` counts it
    /drip?every=<s>         a 200 whose body comes one byte every s seconds, forever
    /slow?delay=<s>         a plain 200 page after s seconds
    /title-bomb?kib=<n>     an unclosed ``<title>`` of n KiB of nested tags
    /wayback/<a>            an availability-API answer: ``javascript`` (a javascript: URL),
                            ``other`` (a snapshot of another URL), ``ok`` (a snapshot of
                            the URL asked for)
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import urllib.parse
import zlib

from tests.loopback import LoopbackServer, _Handler

LIFETIME = 120.0  # seconds; the server shuts itself down after this
HUGE_LIMIT = 1 << 30  # /huge stops after 1 GiB even if the client keeps reading
_BODY_PATHS = frozenset({"/gzip-bomb", "/huge", "/drip", "/title-bomb"})
_PAGE = b"<!doctype html><html><head><title>Fine</title></head><body>ok</body></html>"


@functools.cache
def gzip_bomb(mib: int) -> bytes:
    """n MiB of spaces, then a not-found title, gzip-compressed twice (built once per n,
    a MiB at a time)."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    layer = [inner.compress(b"<!doctype html><html><head>")]
    spaces = b" " * (1 << 20)
    for _ in range(mib):
        layer.append(inner.compress(spaces))
    layer.append(inner.compress(b"<title>Page not found</title></head></html>"))
    layer.append(inner.flush())
    return outer.compress(b"".join(layer)) + outer.flush()


def title_bomb(kib: int) -> bytes:
    """An unclosed title of nested tags, ``kib`` KiB long."""
    unit = b"<b><i a='<title>'>x"
    return b"<!doctype html><html><head><title>" + unit * ((kib << 10) // len(unit))


class HostileServer(LoopbackServer):
    """The loopback server's plumbing (threads, counters, close) with hostile paths, and a
    lifetime after which it closes itself."""

    def __init__(self, host: str = "127.0.0.1", lifetime: float = LIFETIME) -> None:
        super().__init__(host)
        self._httpd.RequestHandlerClass = _HostileHandler
        # A client hanging up mid-body is the point here, not an error worth a traceback.
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._close_once = threading.Lock()

    def __enter__(self) -> HostileServer:
        super().__enter__()
        self._timer.start()
        return self

    def close(self) -> None:
        """Stop serving (once, whoever asks first: the test or the lifetime timer)."""
        if not self._close_once.acquire(blocking=False):
            return
        self._timer.cancel()
        super().close()


class _HostileHandler(_Handler):
    """The loopback handler's plumbing; these paths instead of its scenarios."""

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        owner._record(self.command, parts.path, self.path,
                      {k.lower(): v for k, v in self.headers.items()})
        if self.command == "HEAD" and parts.path in _BODY_PATHS:
            self._send(405, b"")  # the body is the point: make the client GET it
            return
        handlers = {
            "/ok": lambda: self._send(200, _PAGE),
            "/headers": lambda: self._send(200, _PAGE),
            "/redirect": lambda: self._send(int(query.get("code", "302")), b"",
                                             {"Location": query.get("to", "")}),
            "/gzip-bomb": lambda: self._send(200, gzip_bomb(int(query.get("mib", "1"))),
                                              {"Content-Encoding": "gzip, gzip"}),
            "/huge": self._endless,
            "/slow": lambda: self._slow(float(query.get("delay", "0.2"))),
            "/drip": lambda: self._drip(float(query.get("every", "0.2"))),
            "/title-bomb": lambda: self._send(200, title_bomb(int(query.get("kib", "1024")))),
        }
        if parts.path.startswith("/wayback/"):
            self._wayback(parts.path.removeprefix("/wayback/"), query.get("url", ""))
            return
        handlers.get(parts.path, lambda: self._send(404, b"<title>Not Found</title>"))()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    def _slow(self, delay: float) -> None:
        self.server.owner.closing.wait(delay)
        self._send(200, _PAGE)

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        owner = self.server.owner
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        sent = 0
        try:
            while sent < HUGE_LIMIT and not owner.closing.is_set():
                self.wfile.write(framed)
                sent += len(chunk)
                owner._add_sent("/huge", len(chunk))
        except OSError:
            pass
        self.close_connection = True

    def _drip(self, every: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        if self.command == "HEAD":
            return
        owner = self.server.owner
        try:
            while not owner.closing.wait(every):
                self.wfile.write(b" ")
                self.wfile.flush()
                owner._add_sent("/drip", 1)
        except OSError:
            pass
        self.close_connection = True

    def _wayback(self, answer: str, url: str) -> None:
        snapshots = {
            "javascript": "javascript:alert(document.cookie)//",
            "other": "https://web.archive.org/web/20200101000000/https://evil.example/",
            "ok": f"https://web.archive.org/web/20200101000000/{url}",
        }
        closest = {"available": True, "status": "200", "timestamp": "20200101000000",
                   "url": snapshots[answer]}
        body = json.dumps({"url": url, "archived_snapshots": {"closest": closest}}).encode()
        self._send(200, body, content_type="application/json")
