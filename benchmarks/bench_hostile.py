"""Hostile input, one class at a time: worst-case time and peak memory per case (issue 11).

Each case builds a small tree under ``benchmarks/out/hostile/<case>/`` and runs one
``linkaudit`` command in-process in a fresh interpreter, which reports the command's wall
time, its peak resident memory and its exit code. Classes:

- names and outputs: trees of notes whose names hold undecodable bytes, control and bidi
  characters and workflow commands, rendered in every format to ``--output``, and the
  ``fix`` dry-run diff;
- network: ``check`` against the hostile loopback server of ``tests/hostile_server.py``
  (stacked gzip, endless and dripping bodies, hostile titles beside a slow page, odd
  Locations) and against non-global addresses (refused before any request).

A class is a function returning its cases, listed in ``main``. Prints a Markdown
table (every case, then the worst per class) and writes ``benchmarks/out/bench_hostile.json``.

    .venv/bin/python benchmarks/bench_hostile.py            # every case, 3 runs each
    .venv/bin/python benchmarks/bench_hostile.py --quick    # 1 run each, a smaller bomb

Linux only (peak memory is read from /proc/self/status).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.hostile_server import HostileServer, gzip_bomb  # noqa: E402

OUT = BENCH / "out"
TREES = OUT / "hostile"
TIMEOUT_S = 600

# Runs in the child: one command, in-process, timed, with the peak RSS of the process
# (VmHWM: ru_maxrss would keep the launcher's own peak across fork and exec).
CHILD = """\
import io, json, re, sys, time
from pathlib import Path
from linkaudit.cli.main import main

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024

argv = json.loads(sys.argv[1])
before = peak_mb()
out, err = io.StringIO(), io.StringIO()
start = time.perf_counter()
code = main(argv, stdout=out, stderr=err)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "start_mb": before,
                  "code": code, "stderr": err.getvalue()[-300:]}))
"""


@dataclass(frozen=True)
class Case:
    klass: str
    name: str
    build: Callable[[Path], None]  # writes the tree (notes/ and linkaudit.yaml) under it
    argv: tuple[str, ...]


@dataclass
class Result:
    klass: str
    case: str
    runs: int
    seconds: float  # median
    peak_mb: float  # largest over the runs
    over_start_mb: float
    exit_codes: list[int] = field(default_factory=list)


# ---------------------------------------------------------------- names and outputs

HOSTILE_NAMES = [b"caf\xe9", b"a\n::error::b", b"esc\x1b[2J", b"bidi\xe2\x80\xaegnp",
                 b"cr\r##[error]x", b"\x9b31m\xff", b"nul\x01tab\t", b"sep\xe2\x80\xa8x"]
HOSTILE_LINKS = ("[a](https://example.com/\x1b[31m?utm_source=x)\n"
                 "[b](https://example.org/a\u202eb?fbclid=1)\n"
                 "[c]: https://example.net/%0A::error::x?utm_medium=y\n\n[c]\n")


def hostile_names(count: int) -> Callable[[Path], None]:
    """``count`` notes under hostile names, each with three tracked, hostile URLs."""
    def build(root: Path) -> None:
        notes = os.path.join(os.fsencode(root), b"notes")
        os.makedirs(notes, exist_ok=True)
        for index in range(count):
            name = HOSTILE_NAMES[index % len(HOSTILE_NAMES)] + b"-%05d.md" % index
            with open(os.path.join(notes, name), "wb") as note:
                note.write(HOSTILE_LINKS.encode())
        write_config(root, {})
    return build


def name_cases() -> list[Case]:
    formats = ("text", "json", "markdown", "junit", "sarif", "github", "html")
    cases = [Case("names and outputs", f"2,000 hostile names, scan --format {fmt} --output",
                  hostile_names(2000),
                  ("scan", "notes", "--format", fmt, "--output", f"report.{fmt}"))
             for fmt in formats]
    cases.append(Case("names and outputs", "2,000 hostile names, fix dry-run diff",
                      hostile_names(2000), ("fix", "notes")))
    return cases


# ---------------------------------------------------------------- network

NOT_GLOBAL = ["http://10.1.2.3/", "http://100.64.0.1/", "http://169.254.169.254/",
              "http://[fec0::1]/", "http://[::ffff:169.254.169.254]/",
              "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
              "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "http://[::169.254.169.254]/"]
ODD_LOCATIONS = ["javascript:alert(1)", "mailto:a@b.c", "data:text/html,x", "http://[::1",
                 "http://", "//", "http://[::1]:99999/"]


def write_config(root: Path, network: dict[str, object]) -> None:
    settings = {"allow_private": True, "connect_timeout": 2, "read_timeout": 2,
                "total_timeout": 10, "retries": 0, "backoff": 0, "per_host_interval": 0,
                **network}
    (root / "linkaudit.yaml").write_text(json.dumps({"network": settings}), encoding="utf-8")


def citing(urls: Callable[[], list[str]], network: dict[str, object] | None = None
           ) -> Callable[[Path], None]:
    """A note citing the URLs (worked out when the server is up)."""
    def build(root: Path) -> None:
        (root / "notes").mkdir(parents=True, exist_ok=True)
        body = "".join(f"[{n}]({url})\n\n" for n, url in enumerate(urls()))
        (root / "notes" / "n.md").write_text(body, encoding="utf-8")
        write_config(root, network or {})
    return build


def network_cases(server: HostileServer, bomb_mib: int) -> list[Case]:
    check = ("check", "--no-cache", "--format", "json")
    return [
        Case("network", f"stacked gzip: {bomb_mib} MiB decoded from a few KB",
             citing(lambda: [server.url(f"/gzip-bomb?mib={bomb_mib}")]), check),
        Case("network", "endless chunked body",
             citing(lambda: [server.url("/huge")]), check),
        Case("network", "body dripping a byte every 0.1 s (total_timeout 2 s)",
             citing(lambda: [server.url("/drip?every=0.1")], {"total_timeout": 2}), check),
        Case("network", "3 unclosed 4 MiB titles beside a slow page",
             citing(lambda: [*(server.url(f"/title-bomb?kib=4096&n={n}") for n in range(3)),
                             server.url("/slow?delay=0.2")],
                    {"concurrency": 8, "per_host_concurrency": 8}), check),
        Case("network", "7 odd Location values",
             citing(lambda: [server.url(f"/redirect?code=301&to={quote(loc, safe='')}")
                             for loc in ODD_LOCATIONS]), check),
        Case("network", "9 non-global addresses (allow_private false)",
             citing(lambda: NOT_GLOBAL, {"allow_private": False}), check),
    ]


# ---------------------------------------------------------------- running


def run_case(case: Case, repeat: int) -> Result:
    tree = TREES / "".join(c if c.isalnum() else "-" for c in case.name)[:60]
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    case.build(tree)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAUDIT_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [case.argv[0], "--config", "linkaudit.yaml", *case.argv[1:]]
    figures = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                              cwd=tree, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench_hostile: {case.name}: {done.stderr.strip()[-2000:]}")
        figures.append(json.loads(done.stdout))
    return Result(case.klass, case.name, repeat,
                  round(statistics.median(f["seconds"] for f in figures), 3),
                  round(max(f["peak_mb"] for f in figures), 1),
                  round(max(f["peak_mb"] - f["start_mb"] for f in figures), 1),
                  [f["code"] for f in figures])


def table(results: Sequence[Result]) -> str:
    lines = ["| class | case | runs | s (median) | peak RSS MB | over start MB | exit |",
             "| --- " * 7 + "|"]
    lines += [f"| {r.klass} | {r.case} | {r.runs} | {r.seconds:.3f} | {r.peak_mb:.1f} | "
              f"{r.over_start_mb:.1f} | {','.join(map(str, sorted(set(r.exit_codes))))} |"
              for r in results]
    classes = dict.fromkeys(r.klass for r in results)
    lines += ["", "| class | cases | worst s (case) | worst peak RSS MB (case) |",
              "| --- " * 4 + "|"]
    for klass in classes:
        mine = [r for r in results if r.klass == klass]
        slow = max(mine, key=lambda r: r.seconds)
        big = max(mine, key=lambda r: r.peak_mb)
        lines.append(f"| {klass} | {len(mine)} | {slow.seconds:.3f} ({slow.case}) | "
                     f"{big.peak_mb:.1f} ({big.case}) |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median kept)")
    parser.add_argument("--quick", action="store_true", help="one run per case, 64 MiB bomb")
    parser.add_argument("--only", help="run the cases whose class or name contains this text")
    parser.add_argument("--bomb-mib", type=int, default=1024,
                        help="MiB the stacked-gzip body decodes to (default 1024)")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)
    bomb_mib = 64 if args.quick else args.bomb_mib
    OUT.mkdir(exist_ok=True)
    results = []
    gzip_bomb(bomb_mib)  # built before the clock runs (the server would build it on demand)
    with HostileServer(lifetime=TIMEOUT_S * 10) as server:
        for case in [*name_cases(), *network_cases(server, bomb_mib)]:
            if args.only and args.only not in f"{case.klass}: {case.name}":
                continue
            results.append(run_case(case, repeat))
            print(f"{case.klass}: {case.name}: {results[-1].seconds:.3f} s, "
                  f"{results[-1].peak_mb:.1f} MB", file=sys.stderr, flush=True)
    print(table(results))
    (OUT / "bench_hostile.json").write_text(
        json.dumps({"cpus": os.cpu_count(), "results": [asdict(r) for r in results]},
                   indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
