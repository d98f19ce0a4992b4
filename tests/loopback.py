"""A real HTTP server on a loopback address, with one behaviour per path, for tests.

    with LoopbackServer() as server:            # or LoopbackServer("127.0.0.2")
        server.url("/ok")                       # http://127.0.0.1:<port>/ok
        server.count("/flaky")                  # requests seen on that path (any method)

Scenarios (``?head=<code>`` on any path makes HEAD answer that code with no body):

    /ok                     200 HTML page
    /files/<name>.<ext>     200 file: a PDF, PNG or ZIP by its extension (a few KB)
    /page/<name>            200 HTML article titled "Article <name>"
    /soft/<lang>            200 whose title says "not found" in that language (SOFT_TITLES)
    /soft-file/<name>       200 HTML "404 Not Found" page, to HEAD and GET alike, where a
                            file was named (a missing PDF served as a page)
    /soft-heading           200 titled "Example" whose main heading says "Page not found"
    /article-404            200 article about 404 errors (title and text mention them)
    /to-404-page            302 to /404.html, a 200 page on a not-found path
    /                       200 home page
    /status/<code>          that status (404, 410, 500, 999...)
    /chain/<c1>,<c2>/<rest> redirect with c1 to /chain/<c2>/<rest>, ... then to /<rest>
    /loop/a, /loop/b        302 to each other
    /to-root                301 to /
    /to-dead                301 to /status/404
    /to-mailto              302 to mailto:someone@example.com
    /no-location            302 without a Location header
    /redirect?to=<url>      302 to any URL (another LoopbackServer, for cross-host tests)
    /slow?delay=<s>         200 after the delay
    /flaky?fail=<n>&status=<code>&retry_after=<v>
                            the first n requests to that path and query answer code
                            (default 2 x 503; Retry-After when given), then 200
    /reset                  closes the connection abruptly (RST) after reading the request
    /hang                   accepts, reads the request, never answers (released at close)
    /huge?type=<mime>       200 with a 50 MB body sent in chunks; bytes_sent() counts them
    /challenge              403 with cf-mitigated: challenge and a "Just a moment..." page
    /soft-404               200 whose title says "Page not found"
    /headers                200; the request headers are kept (see ``headers()``)
    /cookie-wall            302 to itself (query kept) setting a consent cookie; 200 once
                            it is sent
    /bomb?mb=<n>&layers=<k> 200 HTML whose body is gzip applied k times (default 2) over
                            n MiB of "<p>" (default 1024): a few KB on the wire
    /title?kb=<n>           200 with n KB (default 512) of ``<title>`` and nothing else,
                            which a backtracking title regex needs seconds for
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import socket
import struct
import threading
import urllib.parse
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

HUGE_SIZE = 50 * 1024 * 1024
HANG_LIMIT = 30.0  # a hanging handler gives up on its own after this, even without close()


class LoopbackServer:
    """A threaded HTTP/1.1 server on ``host`` (any 127.x.y.z) and an ephemeral port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._targets: Counter[str] = Counter()
        self._sent: Counter[str] = Counter()
        self._headers: dict[str, dict[str, str]] = {}
        self._connections: set[socket.socket] = set()
        self.accepted = 0  # connections accepted so far (a client reusing one adds none)
        self.closing = threading.Event()
        self._httpd = _Server((host, 0), _Handler, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release every handler, hanging ones included."""
        self.closing.set()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str, method: str | None = None) -> int:
        """Requests received on ``path`` (query ignored), for one method or all."""
        with self._lock:
            return sum(n for (m, p), n in self._counts.items()
                       if p == path and method in (None, m))

    def bytes_sent(self, path: str) -> int:
        """Body bytes the server managed to write on ``path``."""
        with self._lock:
            return self._sent[path]

    def total(self) -> int:
        """Requests received on every path, all methods."""
        with self._lock:
            return sum(self._counts.values())

    def headers(self, path: str = "/headers") -> dict[str, str]:
        """The last request headers received on ``path``, names lower-cased."""
        with self._lock:
            return dict(self._headers.get(path, {}))

    def _record(self, method: str, path: str, target: str, headers: dict[str, str]) -> int:
        """Count a request; return how many requests this exact path and query has had."""
        with self._lock:
            self._counts[(method, path)] += 1
            self._targets[target] += 1
            self._headers[path] = headers
            return self._targets[target]

    def _add_sent(self, path: str, size: int) -> None:
        with self._lock:
            self._sent[path] += size

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(connection)
                self.accepted += 1
            else:
                self._connections.discard(connection)


class FakeTime:
    """A monotonic clock that moves only when the checker sleeps: retries never wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler],
                 owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(address, handler)


# Titles of "not found" pages served with 200, by language.
SOFT_TITLES = {
    "en": "Page not found – Example", "de": "Seite nicht gefunden | Beispiel",
    "fr": "Erreur 404 : page introuvable", "es": "Página no encontrada",
    "it": "Pagina non trovata", "pt": "Página não encontrada", "nl": "Pagina niet gevonden",
    "ja": "ページが見つかりません｜例", "zh": "页面不存在", "ko": "페이지를 찾을 수 없습니다",
    "ru": "Страница не найдена",
}
_FILE_TYPES = {"pdf": "application/pdf", "png": "image/png", "zip": "application/zip"}
_PAGE = b"<!doctype html><html><head><title>%s</title></head><body>%s</body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read counters, not logs."""

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    # ------------------------------------------------------------------ scenarios

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = dict(urllib.parse.parse_qsl(parts.query))
        seen = owner._record(self.command, path, self.path,
                             {k.lower(): v for k, v in self.headers.items()})
        if self.command == "HEAD" and "head" in query:
            self._reply(int(query["head"]))
            return
        segments = path.strip("/").split("/")
        if path in ("/", "/ok", "/headers"):
            self._reply(200, title="Fine" if path != "/" else "Home")
        elif segments[0] == "files" and len(segments) == 2:
            kind = _FILE_TYPES.get(path.rsplit(".", 1)[-1], "application/octet-stream")
            self._send(200, b"\0" * 4096, {}, kind)
        elif segments[0] == "page" and len(segments) == 2:
            self._reply(200, title=f"Article {segments[1]}")
        elif segments[0] == "soft" and segments[-1] in SOFT_TITLES:
            self._reply(200, title=SOFT_TITLES[segments[-1]])
        elif segments[0] == "soft-file":
            self._reply(200, title="404 Not Found")
        elif path == "/soft-heading":
            self._reply(200, title="Example", text="<h1>Page not found</h1><p>Sorry.</p>")
        elif path == "/article-404":
            self._reply(200, title="How to fix a 404 error", text=(
                "<h1>How to fix a 404 error</h1><p>A 404 Not Found answer means the page "
                "was not found. Page not found pages should say so.</p>"))
        elif path == "/to-404-page":
            self._reply(302, location="/404.html")
        elif path == "/404.html":
            self._reply(200, title="Oops")
        elif segments[0] == "status" and len(segments) == 2:
            self._reply(int(segments[1]))
        elif segments[0] == "chain" and len(segments) >= 3:
            codes = segments[1].split(",")
            rest = "/".join(segments[2:])
            target = f"/chain/{','.join(codes[1:])}/{rest}" if len(codes) > 1 else f"/{rest}"
            self._reply(int(codes[0]), location=target)
        elif segments[0] == "loop":
            self._reply(302, location="/loop/b" if path == "/loop/a" else "/loop/a")
        elif path == "/to-root":
            self._reply(301, location="/")
        elif path == "/to-dead":
            self._reply(301, location="/status/404")
        elif path == "/to-mailto":
            self._reply(302, location="mailto:someone@example.com")
        elif path == "/no-location":
            self._reply(302)
        elif path == "/redirect":
            self._reply(302, location=query["to"])
        elif path == "/slow":
            owner.closing.wait(float(query.get("delay", "1")))
            self._reply(200)
        elif path == "/flaky":
            if seen <= int(query.get("fail", "2")):
                extra = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
                self._reply(int(query.get("status", "503")), headers=extra)
            else:
                self._reply(200)
        elif path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif path == "/hang":
            owner.closing.wait(HANG_LIMIT)
            self.close_connection = True
        elif path == "/huge":
            self._huge(query.get("type", "text/html"))
        elif path == "/challenge":
            self._reply(403, title="Just a moment...", headers={"cf-mitigated": "challenge"})
        elif path == "/soft-404":
            self._reply(200, title="Page not found")
        elif path == "/cookie-wall":
            if "consent=yes" in self.headers.get("Cookie", ""):
                self._reply(200, title="The article")
            else:
                self._reply(302, location=self.path,
                            headers={"Set-Cookie": "consent=yes; Path=/; HttpOnly"})
        elif path == "/bomb":
            layers = int(query.get("layers", "2"))
            body = gzip_bomb(int(query.get("mb", "1024")), layers)
            self._send(200, body, {"Content-Encoding": ", ".join(["gzip"] * layers)})
        elif path == "/title":
            self._send(200, b"<title>" * (int(query.get("kb", "512")) * 1024 // 7), {})
        else:
            self._reply(404, title="Not Found")

    def _reply(self, status: int, *, title: str | None = None, location: str | None = None,
               headers: dict[str, str] | None = None, text: str = "text") -> None:
        reason = self.responses.get(status, ("Status",))[0]
        body = _PAGE % ((title or f"{status} {reason}").encode(), text.encode())
        extra = {"Location": location} if location is not None else {}
        self._send(status, body, {**extra, **(headers or {})}, "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, headers: dict[str, str],
              content_type: str = "text/html") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _huge(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(HUGE_SIZE))
        self.end_headers()
        if self.command == "HEAD":
            return
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
        sent = 0
        try:
            while sent < HUGE_SIZE and not self.server.owner.closing.is_set():
                piece = chunk[: HUGE_SIZE - sent]
                self.wfile.write(piece)
                sent += len(piece)
                self.server.owner._add_sent("/huge", len(piece))
        except OSError:
            self.close_connection = True


@functools.cache
def gzip_bomb(mebibytes: int, layers: int) -> bytes:
    """gzip applied ``layers`` times over ``mebibytes`` MiB of repeated ``<p>``, built
    without compressing them all: one MiB is deflated once and its full-flush block
    repeated (each block stands alone), then wrapped with a valid header and trailer."""
    mib = b"<p>" * ((1 << 20) // 3) + b"<"
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = squeeze.compress(mib) + squeeze.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(mib, crc)
    body = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + block * mebibytes + end
            + struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF))
    for _ in range(layers - 1):
        body = gzip.compress(body, 9)
    return body
