"""A farm of slow web hosts on loopback addresses, and the harness the network benchmarks share.

Run as a script, it serves HTTP/1.1 (keep-alive) on ``--hosts`` addresses 127.0.0.10,
127.0.0.11, … all on one port, prints that port on a line of its own, and answers every
request after ``--latency`` seconds according to the first segment of the path:

    /ok/<id>        200 HTML page              /dead/<id>    404
    /gone/<id>      410                        /moved/<id>   301 to /ok/<id>-moved
    /temp/<id>      302 to /ok/<id>-temp       /root/<id>    301 to / (a soft 404)
    /flaky/<id>     503 the first time, 200 after (a retry is needed)
    /nohead/<id>    405 to HEAD, 200 to GET    /slow/<id>    200 after --slow more seconds
    /               200 home page              anything else 404

It counts every request by (host, method, path; the query is ignored): ``GET
/__farm/stats`` on any host returns those counts as JSON without delay and, with
``?reset=1``, starts a fresh count (and a fresh "first time" for /flaky/). It stops by
itself when its standard input closes (the benchmark ended, however it ended) or after
``--lifetime`` seconds. One asyncio process serves thousands of requests per second, so
it stays far from being the bottleneck of a 50 ms-latency benchmark.

The harness part (``Farm``, ``measure``, ``write_note``, ``linkaudit_config``) is what
bench_check.py and bench_nightly.py both need around it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import select
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
LINKAUDIT = REPO / ".venv" / "bin" / "linkaudit"
FIRST_HOST = 10  # 127.0.0.10 is the first host of the farm
STATS_PATH = "/__farm/stats"
STARTUP_TIMEOUT = 20.0
BIND_ATTEMPTS = 5
_PAGE = "<!doctype html><html><head><title>{}</title></head><body><p>{}</p></body></html>"
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found",
            405: "Method Not Allowed", 410: "Gone", 503: "Service Unavailable"}

RequestCounts = Counter[tuple[str, str, str]]  # (host, method, path) -> requests


class BenchError(Exception):
    """Something the person running a benchmark must fix; printed without a traceback."""


# ---------------------------------------------------------------- the server


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    location: str | None = None
    title: str = ""


class _FarmServer:
    """The request handler: one behaviour per path prefix, every request counted."""

    def __init__(self, latency: float, slow: float) -> None:
        self.latency = latency
        self.slow = slow
        self.counts: RequestCounts = Counter()
        self.seen: Counter[tuple[str, str]] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = str(writer.get_extra_info("sockname")[0])
        try:
            while request := await reader.readline():
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                method, target, version = request.decode("latin-1").split()
                writer.write(await self.respond(host, method, target))
                await writer.drain()
                if version == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, ValueError):
            pass  # a client that hangs up or sends garbage only ends its own connection
        finally:
            writer.close()

    async def respond(self, host: str, method: str, target: str) -> bytes:
        parts = urllib.parse.urlsplit(target)
        if parts.path == STATS_PATH:
            return self._stats(reset="reset=1" in parts.query)
        self.counts[(host, method, parts.path)] += 1
        self.seen[(host, parts.path)] += 1
        await asyncio.sleep(self.latency)
        answer = self._answer(host, method, parts.path)
        if parts.path.startswith("/slow/"):
            await asyncio.sleep(self.slow)
        page = _PAGE.format(answer.title, "text").encode()
        lines = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}",
                 "Content-Type: text/html; charset=utf-8", f"Content-Length: {len(page)}"]
        if answer.location is not None:
            lines.append(f"Location: {answer.location}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if method == "HEAD" else head + page

    def _answer(self, host: str, method: str, path: str) -> _Answer:
        kind, _, name = path.strip("/").partition("/")
        if path == "/":
            return _Answer(200, title="Home")
        if kind in ("ok", "slow") or (kind == "nohead" and method != "HEAD"):
            return _Answer(200, title=f"Article {name}")
        if kind == "nohead":
            return _Answer(405)
        if kind == "flaky":
            first = self.seen[(host, path)] == 1
            return _Answer(503, title="Busy") if first else _Answer(200, title=f"Article {name}")
        redirects = {"moved": (301, f"/ok/{name}-moved"), "temp": (302, f"/ok/{name}-temp"),
                     "root": (301, "/")}
        if kind in redirects:
            status, location = redirects[kind]
            return _Answer(status, location=location)
        if kind == "gone":
            return _Answer(410, title="Gone")
        return _Answer(404, title="Not Found")

    def _stats(self, reset: bool) -> bytes:
        body = json.dumps([[*key, n] for key, n in self.counts.items()]).encode()
        if reset:
            self.counts.clear()
            self.seen.clear()
        return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _bind(server: _FarmServer, addresses: Sequence[str]) -> tuple[list[asyncio.Server], int]:
    """Listen on every address with one common port (a free one, found by trying)."""
    for _ in range(BIND_ATTEMPTS):
        first = await asyncio.start_server(server.handle, addresses[0], 0, backlog=1024)
        port = int(first.sockets[0].getsockname()[1])
        listening = [first]
        try:
            for address in addresses[1:]:
                listening.append(await asyncio.start_server(server.handle, address, port,
                                                            backlog=1024))
        except OSError:  # the port is taken on another address: try another port
            for each in listening:
                each.close()
            continue
        return listening, port
    raise OSError(f"no port free on all of {len(addresses)} loopback addresses")


async def _serve(hosts: int, latency: float, slow: float, lifetime: float) -> None:
    server = _FarmServer(latency, slow)
    listening, port = await _bind(server, [host_address(i) for i in range(hosts)])
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        async with asyncio.timeout(lifetime):
            await stdin.read()  # returns at end of file: the benchmark is gone
    except TimeoutError:
        pass
    for each in listening:
        each.close()


def host_address(index: int) -> str:
    """The address of the farm's host number ``index`` (0-based)."""
    return f"127.0.0.{FIRST_HOST + index}"


# ---------------------------------------------------------------- the harness


class Farm:
    """The farm server as a child process: ``with Farm(50) as farm: farm.base(3)``."""

    def __init__(self, hosts: int, latency: float = 0.05, slow: float = 2.0,
                 lifetime: float = 1800.0) -> None:
        if not 1 <= hosts <= 240:
            raise BenchError("the farm has 1 to 240 hosts (127.0.0.10 to 127.0.0.249)")
        self.hosts = hosts
        self._argv = [sys.executable, str(Path(__file__).resolve()), "--hosts", str(hosts),
                      "--latency", str(latency), "--slow", str(slow),
                      "--lifetime", str(lifetime)]
        self._child: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> Farm:
        self._child = subprocess.Popen(self._argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._child.stdout is not None
        ready, _, _ = select.select([self._child.stdout], [], [], STARTUP_TIMEOUT)
        line = self._child.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.__exit__(None, None, None)
            raise BenchError(f"the loopback farm did not start: {line!r}")
        self.port = int(line)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        child = self._child
        if child is None:
            return
        assert child.stdin is not None
        child.stdin.close()  # the farm stops when its standard input closes
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        self._child = None

    def base(self, index: int) -> str:
        return f"http://{host_address(index)}:{self.port}"

    def take_counts(self) -> RequestCounts:
        """Requests seen since the last call (or the start); the count starts afresh."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.base(0)}{STATS_PATH}?reset=1", timeout=30) as response:
            rows = json.loads(response.read())
        return Counter({(host, method, path): n for host, method, path, n in rows})


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    cpu_s: float  # user + system
    peak_rss_mb: float
    exit_code: int


def measure(argv: Sequence[str], log: Path, ok_codes: Sequence[int]) -> Run:
    """Wall time, CPU time and peak RSS (``os.wait4``, that child alone) of one command.

    Standard output and error go to ``log``.out/.err. Proxy variables are removed, so
    requests to 127.x are never sent to a proxy, and so are ``LINKAUDIT_*`` variables.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("LINKAUDIT_") and "proxy" not in key.lower()}
    errors = log.with_suffix(".err")
    with log.with_suffix(".out").open("wb") as out, errors.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    run = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
              os.waitstatus_to_exitcode(status))
    detail = errors.read_text(encoding="utf-8", errors="replace")
    if run.exit_code not in ok_codes or "Traceback" in detail:
        raise BenchError(f"{' '.join(map(str, argv[:3]))} … exited {run.exit_code}:\n"
                         f"{detail.strip()[-3000:]}")
    return run


def write_note(path: Path, title: str, lang: str, urls: Sequence[str]) -> None:
    """A Jekyll post citing ``urls`` as numbered reference definitions."""
    uses = " ".join(f"See [source {n}][{n}]." for n in range(1, len(urls) + 1))
    definitions = "".join(f'[{n}]: {url} "Source {n} of {title}"\n'
                          for n, url in enumerate(urls, start=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {title}\nlang: {lang}\nlayout: post\n---\n\n"
                    f"{uses}\n\n{definitions}", encoding="utf-8")


def linkaudit_config(path: Path, *, concurrency: int, per_host: int, store: Path) -> None:
    """A config for loopback checking: private addresses allowed, no per-host spacing."""
    path.write_text(
        "network:\n"
        "  allow_private: true\n"
        f"  concurrency: {concurrency}\n"
        f"  per_host_concurrency: {per_host}\n"
        "  per_host_interval: 0\n"
        "  connect_timeout: 5\n"
        "  read_timeout: 10\n"
        "  total_timeout: 30\n"
        "  retries: 2\n"
        "  backoff: 1\n"
        "store:\n"
        f"  path: {json.dumps(str(store))}\n", encoding="utf-8")


def url_id(url: str) -> tuple[str, str]:
    """(host, path) of a URL: its identity on the farm, whatever its query."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "", parts.path or "/"


def linkaudit_argv(command: str, tree: Path, config: Path, report: Path, *extra: str
                  ) -> list[str]:
    """``linkaudit COMMAND TREE`` writing a JSON report, nothing on the terminal."""
    return [str(LINKAUDIT), command, str(tree), "--config", str(config), "--format", "json",
            "--output", str(report), "--quiet", *extra]


def profile(argv: Sequence[str], log: Path, top: int = 20) -> list[str]:
    """Hot spots of one linkaudit command (cProfile), as printable lines: the project's
    functions by cumulative time (which stage the time goes to), then all by own time.

    ``argv`` is a ``linkaudit_argv`` list; it runs as ``python -m cProfile -m linkaudit``.
    """
    stats_file = log.with_suffix(".prof")
    measure([str(LINKAUDIT.with_name("python")), "-m", "cProfile", "-o", str(stats_file),
             "-m", "linkaudit", *argv[1:]], log, (0, 1))
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    ours = [item for item in stats.items() if item[0][0].startswith(str(REPO / "linkaudit"))]
    lines = ["  own s  cumul. s      calls  function"]
    for title, items, column in (("linkaudit, by cumulative time", ours, 3),
                                 ("everything, by own time", stats.items(), 2)):
        lines.append(f"-- {title}")
        for (filename, line, name), (_, calls, own, cumulative, _) in sorted(
                items, key=lambda item: item[1][column], reverse=True)[:top]:
            where = filename.replace(str(REPO) + "/", "")
            lines.append(f"{own:7.2f} {cumulative:9.2f} {calls:>10}  {where}:{line}:{name}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve the loopback farm until stdin closes")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--slow", type=float, default=2.0, help="extra seconds for /slow/")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="stop after this")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.hosts, args.latency, args.slow, args.lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
