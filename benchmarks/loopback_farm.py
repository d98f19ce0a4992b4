"""A farm of slow web hosts on loopback addresses, and the harness the network benchmarks share.

Run as a script, it serves HTTP/1.1 (keep-alive) on ``--hosts`` addresses 127.0.0.10,
127.0.0.11, … (200 per /24: 127.0.1.10 follows 127.0.0.209) all on one port and, given
``--tls-dir`` (a certificate per address), HTTPS on a second common port; it prints the port(s) on a
line of its own, and answers every request after ``--latency`` seconds according to the
first segment of the path:

    /ok/<id>        200 HTML page              /dead/<id>    404
    /gone/<id>      410                        /moved/<id>   301 to /ok/<id>-moved
    /temp/<id>      302 to /ok/<id>-temp       /root/<id>    301 to / (a soft 404)
    /flaky/<id>     503 the first time, 200 after (a retry is needed)
    /nohead/<id>    405 to HEAD, 200 to GET    /slow/<id>    200 after --slow more seconds
    /hang/<id>      never answers (the client's read timeout decides)
    /               200 home page              anything else 404

Every ``--limited-every``-th host is rate-limited, as small sites behind a shared limiter
are: past ``--limited-in-flight`` requests in flight it answers ``429 Too Many Requests``
with ``Retry-After: 1`` at once, and those answers are counted apart (``throttled``).

It counts every request by (host, method, path; the query is ignored): ``GET
/__farm/stats`` on any host returns those counts and the 429s per host as JSON without
delay and, with
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
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
LINKAUDIT = REPO / ".venv" / "bin" / "linkaudit"
FIRST_HOST = 10  # 127.0.0.10 is the first host of the farm
HOSTS_PER_NET = 200  # 127.0.N.10 to 127.0.N.209
MAX_HOSTS = 1000
HANG_S = 600.0  # a hanging request is dropped after this (the farm's lifetime ends it too)
STATS_PATH = "/__farm/stats"
STARTUP_TIMEOUT = 20.0
BIND_ATTEMPTS = 5
_PAGE = "<!doctype html><html><head><title>{}</title></head><body><p>{}</p></body></html>"
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found",
            405: "Method Not Allowed", 410: "Gone", 429: "Too Many Requests",
            503: "Service Unavailable"}

RequestCounts = Counter[tuple[str, str, str]]  # (host, method, path) -> requests


class BenchError(Exception):
    """Something the person running a benchmark must fix; printed without a traceback."""


# ---------------------------------------------------------------- the server


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    location: str | None = None
    title: str = ""
    retry_after: int | None = None


class _FarmServer:
    """The request handler: one behaviour per path prefix, every request counted."""

    def __init__(self, latency: float, slow: float, limited_every: int = 0,
                 limited_in_flight: int = 4) -> None:
        self.latency = latency
        self.slow = slow
        self.limited_every = limited_every
        self.limited_in_flight = limited_in_flight
        self.counts: RequestCounts = Counter()
        self.seen: Counter[tuple[str, str]] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def limited(self, host: str) -> bool:
        """Whether ``host`` is one of the rate-limited hosts."""
        return self.limited_every > 0 and host_index(host) % self.limited_every == 1

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
        if self.limited(host) and self.in_flight[host] >= self.limited_in_flight:
            self.throttled[host] += 1
            await asyncio.sleep(self.latency)
            return self._head(_Answer(429, retry_after=1), method, b"")
        hangs = parts.path.startswith("/hang/")  # a hung request holds no limiter slot
        self.in_flight[host] += not hangs
        try:
            self.seen[(host, parts.path)] += 1
            await asyncio.sleep(self.latency)
            answer = self._answer(host, method, parts.path)
            if parts.path.startswith("/slow/"):
                await asyncio.sleep(self.slow)
            if hangs:
                await asyncio.sleep(HANG_S)
        finally:
            self.in_flight[host] -= not hangs
        return self._head(answer, method, _PAGE.format(answer.title, "text").encode())

    @staticmethod
    def _head(answer: _Answer, method: str, page: bytes) -> bytes:
        lines = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}",
                 "Content-Type: text/html; charset=utf-8", f"Content-Length: {len(page)}"]
        if answer.location is not None:
            lines.append(f"Location: {answer.location}")
        if answer.retry_after is not None:
            lines.append(f"Retry-After: {answer.retry_after}")
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
        body = json.dumps({"counts": [[*key, n] for key, n in self.counts.items()],
                           "throttled": dict(self.throttled)}).encode()
        if reset:
            self.counts.clear()
            self.seen.clear()
            self.throttled.clear()
        return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _bind(server: _FarmServer, addresses: Sequence[str],
                tls: Callable[[str], ssl.SSLContext] | None = None
                ) -> tuple[list[asyncio.Server], int]:
    """Listen on every address with one common port (a free one, found by trying);
    ``tls`` gives each address its TLS context."""
    for _ in range(BIND_ATTEMPTS):
        first = await asyncio.start_server(server.handle, addresses[0], 0, backlog=1024,
                                           ssl=tls and tls(addresses[0]))
        port = int(first.sockets[0].getsockname()[1])
        listening = [first]
        try:
            for address in addresses[1:]:
                listening.append(await asyncio.start_server(
                    server.handle, address, port, backlog=1024, ssl=tls and tls(address)))
        except OSError:  # the port is taken on another address: try another port
            for each in listening:
                each.close()
            continue
        return listening, port
    raise OSError(f"no port free on all of {len(addresses)} loopback addresses")


async def _serve(args: argparse.Namespace) -> None:
    server = _FarmServer(args.latency, args.slow, args.limited_every, args.limited_in_flight)
    addresses = [host_address(i) for i in range(args.hosts)]
    listening, port = await _bind(server, addresses)
    ports = [port]
    if args.tls_dir:
        folder = Path(args.tls_dir)
        contexts: dict[str, ssl.SSLContext] = {}

        def tls(address: str) -> ssl.SSLContext:
            if address not in contexts:
                contexts[address] = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                contexts[address].load_cert_chain(folder / f"{address}.pem", folder / "key.pem")
            return contexts[address]

        secure, tls_port = await _bind(server, addresses, tls)
        listening += secure
        ports.append(tls_port)
    print(*ports, flush=True)
    lifetime = args.lifetime
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
    net, host = divmod(index, HOSTS_PER_NET)
    return f"127.0.{net}.{FIRST_HOST + host}"


def host_index(address: str) -> int:
    """The inverse of ``host_address``."""
    _, _, net, host = address.split(".")
    return int(net) * HOSTS_PER_NET + int(host) - FIRST_HOST


# ---------------------------------------------------------------- the harness


class Farm:
    """The farm server as a child process: ``with Farm(50) as farm: farm.base(3)``."""

    def __init__(self, hosts: int, latency: float = 0.05, slow: float = 2.0,
                 lifetime: float = 1800.0, *, tls: Path | None = None,
                 limited_every: int = 0, limited_in_flight: int = 4) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise BenchError(f"the farm has 1 to {MAX_HOSTS} hosts")
        self.hosts = hosts
        self.limited_every = limited_every
        self._argv = [sys.executable, str(Path(__file__).resolve()), "--hosts", str(hosts),
                      "--latency", str(latency), "--slow", str(slow),
                      "--lifetime", str(lifetime), "--limited-every", str(limited_every),
                      "--limited-in-flight", str(limited_in_flight)]
        if tls is not None:
            self._argv += ["--tls-dir", str(tls)]
        self._child: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.tls_port = 0
        self.throttled: Counter[str] = Counter()  # 429s per host, as of the last take_counts

    def __enter__(self) -> Farm:
        self._child = subprocess.Popen(self._argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._child.stdout is not None
        ready, _, _ = select.select([self._child.stdout], [], [], STARTUP_TIMEOUT)
        line = self._child.stdout.readline() if ready else b""
        ports = line.split()
        if not ports or not all(port.isdigit() for port in ports):
            self.__exit__(None, None, None)
            raise BenchError(f"the loopback farm did not start: {line!r}")
        self.port = int(ports[0])
        self.tls_port = int(ports[1]) if len(ports) > 1 else 0
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

    def base(self, index: int, *, https: bool = False) -> str:
        if https:
            return f"https://{host_address(index)}:{self.tls_port}"
        return f"http://{host_address(index)}:{self.port}"

    def take_counts(self) -> RequestCounts:
        """Requests seen since the last call (or the start); the count starts afresh.
        The 429s the rate-limited hosts answered in that time go to ``self.throttled``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.base(0)}{STATS_PATH}?reset=1", timeout=30) as response:
            stats = json.loads(response.read())
        self.throttled = Counter(stats["throttled"])
        return Counter({(host, method, path): n for host, method, path, n in stats["counts"]})


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    cpu_s: float  # user + system, the whole process tree
    peak_rss_mb: float  # the whole process tree
    exit_code: int
    system_s: float = 0.0  # the kernel's part of cpu_s (on loopback, it also receives)


# Runs one command in a fresh interpreter (Linux carries a parent's peak RSS over fork and
# exec) and writes its wall time, CPU time (the child and every process it waited for) and
# peak RSS of the whole process tree (sampled from /proc every 20 ms, and the child's own
# peak from wait4, whichever is larger) to argv[1].
LAUNCHER = """\
import json, os, subprocess, sys, time

def descendants(pid):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as listing:
                todo += map(int, listing.read().split())
        except OSError:
            pass
    return found

def tree_kib(pid):
    total = 0
    for member in descendants(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                total += next(int(line.split()[1]) for line in status
                              if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total

started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
sampled = 0
while True:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        break
    sampled = max(sampled, tree_kib(child.pid))
    time.sleep(0.02)
with open(sys.argv[1], "w", encoding="utf-8") as result:
    json.dump({"wall_s": time.perf_counter() - started,
               "cpu_s": usage.ru_utime + usage.ru_stime, "system_s": usage.ru_stime,
               "peak_rss_mb": max(usage.ru_maxrss, sampled) / 1024,
               "exit_code": os.waitstatus_to_exitcode(status)}, result)
"""


def measure(argv: Sequence[str], log: Path, ok_codes: Sequence[int],
            env: dict[str, str] | None = None) -> Run:
    """Wall time, CPU time and peak RSS of the process tree of one command.

    Standard output and error go to ``log``.out/.err. Proxy variables are removed, so
    requests to 127.x are never sent to a proxy, and so are ``LINKAUDIT_*`` variables;
    ``env`` adds variables (``SSL_CERT_FILE``).
    """
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("LINKAUDIT_") and "proxy" not in key.lower()}
    environ.update(env or {})
    errors, result = log.with_suffix(".err"), log.with_suffix(".run.json")
    result.unlink(missing_ok=True)
    with log.with_suffix(".out").open("wb") as out, errors.open("wb") as err:
        # From the output folder: `python -m linkaudit` puts its working folder first on the
        # import path, which must not be a checkout other than the one measured.
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *argv], stdout=out,
                       stderr=err, env=environ, cwd=OUT, check=False)
    detail = errors.read_text(encoding="utf-8", errors="replace")
    if not result.is_file():
        raise BenchError(f"{' '.join(map(str, argv[:3]))} … did not start:\n{detail[-3000:]}")
    run = Run(**json.loads(result.read_text(encoding="utf-8")))
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


def linkaudit_config(path: Path, *, concurrency: int | None, per_host: int | None,
                     store: Path, timeout: float = 10.0, retries: int = 2) -> None:
    """A config for loopback checking (private addresses allowed). With ``concurrency``
    and ``per_host`` None, every network setting is linkaudit's default; otherwise those
    limits, no per-host spacing, ``timeout`` to connect and to read, and ``retries``."""
    lines = ["network:", "  allow_private: true"]
    if concurrency is not None and per_host is not None:
        lines += [f"  concurrency: {concurrency}", f"  per_host_concurrency: {per_host}",
                  "  per_host_interval: 0", f"  connect_timeout: {timeout}",
                  f"  read_timeout: {timeout}", f"  total_timeout: {timeout * 4}",
                  f"  retries: {retries}", "  backoff: 1"]
    lines += ["store:", f"  path: {json.dumps(str(store))}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def url_id(url: str) -> tuple[str, str]:
    """(host, path) of a URL: its identity on the farm, whatever its query."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "", parts.path or "/"


def linkaudit_argv(command: str, tree: Path, config: Path, report: Path, *extra: str
                  ) -> list[str]:
    """``linkaudit COMMAND TREE`` writing a JSON report, nothing on the terminal."""
    return [str(LINKAUDIT), command, str(tree), "--config", str(config), "--format", "json",
            "--output", str(report), "--quiet", *extra]


def profile(argv: Sequence[str], log: Path, top: int = 20,
            env: dict[str, str] | None = None) -> list[str]:
    """Hot spots of one linkaudit command (cProfile), as printable lines: the project's
    functions by cumulative time (which stage the time goes to), then all by own time.

    ``argv`` is a ``linkaudit_argv`` list; it runs as ``python -m cProfile -m linkaudit``.
    """
    stats_file = log.with_suffix(".prof")
    measure([str(LINKAUDIT.with_name("python")), "-m", "cProfile", "-o", str(stats_file),
             "-m", "linkaudit", *argv[1:]], log, (0, 1), env)
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
    parser.add_argument("--tls-dir", help="a certificate per address (<address>.pem) and "
                        "their key (key.pem): also serve HTTPS")
    parser.add_argument("--limited-every", type=int, default=0,
                        help="every Nth host is rate-limited (0: none)")
    parser.add_argument("--limited-in-flight", type=int, default=4,
                        help="requests in flight a rate-limited host serves before 429")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
