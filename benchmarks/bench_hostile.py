"""Hostile input, one class at a time: worst-case time and peak memory per case (issue 11).

Each case builds a small tree under ``benchmarks/out/hostile/<case>/`` and runs, in a fresh
interpreter, either the library scan (``linkaudit.run.scan.scan_tree``, what ``linkaudit
scan`` runs, one process) or one ``linkaudit`` command in-process; the child reports its
wall time and peak resident memory. Classes:

- scan: nested brackets, huge notes, long lines, many links, files that are not notes
  (FIFO, symlinks out of the tree, over the size limit), and catastrophic regular
  expressions in ``ignore``, ``scan.family_pattern`` and ``scan.exclude``;
- names and outputs: notes whose names hold undecodable bytes, control and bidi characters
  and workflow commands, rendered in every format to ``--output``, and the ``fix`` diff;
- network: ``check`` against the hostile loopback server of ``tests/hostile_server.py``
  (stacked gzip, endless and dripping bodies, hostile titles beside a slow page, odd
  Locations) and against non-global addresses (refused before any request).

A class is a function returning its cases, listed in ``main``. Prints a Markdown table (the
worst case per class last) and writes ``benchmarks/out/bench_hostile.json``. POSIX only
(FIFOs, symlinks); peak memory is VmHWM from /proc where there is one.

    .venv/bin/python benchmarks/bench_hostile.py               # every case, 3 runs each
    .venv/bin/python benchmarks/bench_hostile.py --quick       # 1 run each, a 64 MiB bomb
    .venv/bin/python benchmarks/bench_hostile.py --only network   # one class (or case)
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
from typing import Any
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.hostile_server import HostileServer, gzip_bomb  # noqa: E402

OUT = BENCH / "out"
TREES = OUT / "hostile"
KB = 1000
TIMEOUT_S = 600

# The child's peak RSS is VmHWM, which exec resets (ru_maxrss carries the parent's peak
# over fork and exec).
PEAK = """\
import json, resource, sys, time
from pathlib import Path

def peak_kib():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""
# The library scan of one tree.
CHILD_SCAN = PEAK + """\
from linkaudit.config import load_config
from linkaudit.run.scan import scan_tree
tree, overrides = Path(sys.argv[1]), json.loads(sys.argv[2])
config = load_config(None, overrides={"scan.workers": 1, **overrides}, environ={},
                     search_from=tree)
before = peak_kib()
start = time.perf_counter()
outcome = scan_tree([tree / "notes"], config)
seconds = time.perf_counter() - start
kinds = ", ".join(sorted({f.kind for f in outcome.findings}))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kib() / 1024, "start_mb": before / 1024,
                  "outcome": f"{outcome.link_count:,} links; {kinds}"}))
"""
# One command of the command line, in-process.
CHILD_CLI = PEAK + """\
import io
from linkaudit.cli.main import main
argv = json.loads(sys.argv[1])
before = peak_kib()
out, err = io.StringIO(), io.StringIO()
start = time.perf_counter()
code = main(argv, stdout=out, stderr=err)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_kib() / 1024, "start_mb": before / 1024,
                  "outcome": f"exit {code}"}))
"""


@dataclass(frozen=True)
class Case:
    klass: str
    name: str
    build: Callable[[Path], None]  # writes notes under the folder given
    overrides: dict[str, Any] = field(default_factory=dict)  # scan: config overrides
    argv: tuple[str, ...] | None = None  # a command instead of the library scan
    config: dict[str, Any] | None = None  # the command's config file


@dataclass
class Result:
    klass: str
    case: str
    note_kb: float
    runs: int
    seconds: float  # median
    peak_mb: float  # largest over the runs
    over_start_mb: float
    outcome: str  # scan: links and finding kinds; a command: its exit codes


# ---------------------------------------------------------------- scan

def note(text: str, name: str = "a.md") -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")
    return build


def many(count: int, text: str, stem: str = "note-{index:05d}-en") -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        for index in range(count):
            (folder / f"{stem.format(index=index)}.md").write_text(text, encoding="utf-8")
    return build


def special_files(folder: Path) -> None:
    """A FIFO named like a note, symlinks to secrets and devices, and one ordinary note."""
    os.mkfifo(folder / "pipe.md")
    (folder / "environ.md").symlink_to("/proc/self/environ")
    (folder / "zero.md").symlink_to("/dev/zero")
    (folder / "random.md").symlink_to("/dev/urandom")
    (folder / "ok.md").write_text("https://a.example/\n", encoding="utf-8")


def deep_folders(folder: Path) -> None:
    """A note 40 folders down, for exclude globs with many ``**``."""
    deep = folder.joinpath(*["a"] * 40)
    deep.mkdir(parents=True)
    (deep / "x.md").write_text("https://a.example/\n", encoding="utf-8")


def scan_cases() -> list[Case]:
    nested = 540 * KB // 6
    return [
        Case("scan: nested brackets", "![ x90,000 then ](u) x90,000 (540 KB)",
             note("![" * nested + "](u)" * nested), {}),
        Case("scan: nested brackets", "![ x270,000, never closed (540 KB)",
             note("![" * (270 * KB)), {}),
        Case("scan: nested brackets", "[a]( x135,000: destinations too deep (540 KB)",
             note("[a](" * (135 * KB)), {}),
        Case("scan: nested brackets", "[] x270,000 (540 KB)", note("[]" * (270 * KB)), {}),
        Case("scan: huge note", "600 KB of text and one URL",
             note("lorem ipsum " * (50 * KB) + "https://a.example/x\n"), {}),
        Case("scan: huge note", "one 600 KB URL of ASCII",
             note("see https://a.example/" + "a" * (600 * KB) + "\n"), {}),
        Case("scan: huge note", "one 600 KB URL of accented letters",
             note("see https://a.example/" + "é" * (300 * KB) + "\n"), {}),
        Case("scan: huge note", "5 MB note over scan.max_note_size",
             note("x" * (5000 * KB)), {}),
        Case("scan: long lines", "one 1 MB line of '<'", note("<" * (1000 * KB)), {}),
        Case("scan: long lines", "one 1 MB line of '\\r'", note("a\r" * (500 * KB)), {}),
        Case("scan: long lines", "1 MB of '> ' blockquote markers", note("> " * (500 * KB)), {}),
        Case("scan: many links", "1 MB of inline links (one URL)",
             note("[a](https://a.example/x) " * (40 * KB)), {}),
        Case("scan: many links", "1 MB of distinct bare URLs",
             note("".join(f"https://a{i}.example/p?utm_source=x\n" for i in range(28 * KB))),
             {}),
        Case("scan: many links", "2,000 notes of 50 links each",
             many(2000, "".join(f"[{i}](https://h{i}.example/)\n" for i in range(50))), {}),
        Case("scan: special files", "FIFO, symlinks to /proc/self/environ, /dev/zero, /dev/urandom",
             special_files, {}),
        Case("scan: catastrophic regex", "ignore (a+)+$ against 10,000 findings' URLs",
             note("".join(f"https://h.example/{'a' * 40}{i}!?utm_source=x\n"
                          for i in range(10 * KB))),
             {"ignore": None}),
        Case("scan: catastrophic regex", "family_pattern ^(a|a)*$ on 2,000 names of 40 a's",
             many(2000, "x\n", stem="a" * 40 + "{index}"),
             {"scan.family_pattern": "^(?P<family>a|a)*$"}),
        Case("scan: catastrophic regex", "exclude '**/' x20 + 'y.md' over a 40-folder path",
             deep_folders, {"scan.exclude": ["**/" * 20 + "y.md"]}),
    ]


# ---------------------------------------------------------------- names and outputs

HOSTILE_NAMES = [b"caf\xe9", b"a\n::error::b", b"esc\x1b[2J", b"bidi\xe2\x80\xaegnp",
                 b"cr\r##[error]x", b"\x9b31m\xff", b"nul\x01tab\t", b"sep\xe2\x80\xa8x"]
HOSTILE_LINKS = ("[a](https://example.com/\x1b[31m?utm_source=x)\n"
                 "[b](https://example.org/a\u202eb?fbclid=1)\n"
                 "[c]: https://example.net/%0A::error::x?utm_medium=y\n\n[c]\n")


def hostile_names(count: int) -> Callable[[Path], None]:
    """``count`` notes under hostile names, each with three tracked, hostile URLs."""
    def build(folder: Path) -> None:
        for index in range(count):
            name = HOSTILE_NAMES[index % len(HOSTILE_NAMES)] + b"-%05d.md" % index
            with open(os.path.join(os.fsencode(folder), name), "wb") as note:
                note.write(HOSTILE_LINKS.encode())
    return build


def name_cases() -> list[Case]:
    formats = ("text", "json", "markdown", "junit", "sarif", "github", "html")
    cases = [Case("names and outputs", f"2,000 hostile names, scan --format {fmt} --output",
                  hostile_names(2000),
                  argv=("scan", "notes", "--format", fmt, "--output", f"report.{fmt}"),
                  config={})
             for fmt in formats]
    cases.append(Case("names and outputs", "2,000 hostile names, fix dry-run diff",
                      hostile_names(2000), argv=("fix", "notes"), config={}))
    return cases


# ---------------------------------------------------------------- network

NOT_GLOBAL = ["http://10.1.2.3/", "http://100.64.0.1/", "http://169.254.169.254/",
              "http://[fec0::1]/", "http://[::ffff:169.254.169.254]/",
              "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
              "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "http://[::169.254.169.254]/"]
ODD_LOCATIONS = ["javascript:alert(1)", "mailto:a@b.c", "data:text/html,x", "http://[::1",
                 "http://", "//", "http://[::1]:99999/"]


def network(**settings: object) -> dict[str, Any]:
    """A config reaching the loopback server with quick settings, changed by ``settings``."""
    return {"network": {"allow_private": True, "connect_timeout": 2, "read_timeout": 2,
                        "total_timeout": 10, "retries": 0, "backoff": 0,
                        "per_host_interval": 0, **settings}}


def citing(urls: Callable[[], list[str]]) -> Callable[[Path], None]:
    """A note citing the URLs (worked out when the server is up)."""
    def build(folder: Path) -> None:
        body = "".join(f"[{n}]({url})\n\n" for n, url in enumerate(urls()))
        (folder / "n.md").write_text(body, encoding="utf-8")
    return build


def network_cases(server: HostileServer, bomb_mib: int) -> list[Case]:
    check = ("check", "--no-cache", "--format", "json")
    return [
        Case("network", f"stacked gzip: {bomb_mib} MiB decoded from a few KB",
             citing(lambda: [server.url(f"/gzip-bomb?mib={bomb_mib}")]), argv=check,
             config=network()),
        Case("network", "endless chunked body", citing(lambda: [server.url("/huge")]),
             argv=check, config=network()),
        Case("network", "body dripping a byte every 0.1 s (total_timeout 2 s)",
             citing(lambda: [server.url("/drip?every=0.1")]), argv=check,
             config=network(total_timeout=2)),
        Case("network", "3 unclosed 4 MiB titles beside a slow page",
             citing(lambda: [*(server.url(f"/title-bomb?kib=4096&n={n}") for n in range(3)),
                             server.url("/slow?delay=0.2")]), argv=check,
             config=network(concurrency=8, per_host_concurrency=8)),
        Case("network", "7 odd Location values",
             citing(lambda: [server.url(f"/redirect?code=301&to={quote(loc, safe='')}")
                             for loc in ODD_LOCATIONS]), argv=check, config=network()),
        Case("network", "9 non-global addresses (allow_private false)",
             citing(lambda: NOT_GLOBAL), argv=check, config=network(allow_private=False)),
    ]


# ---------------------------------------------------------------- running


def _config_text(case: Case) -> str:
    if case.config is not None:
        return json.dumps(case.config)  # JSON is YAML
    if "ignore" in case.overrides:  # a list of rules is written in the config file
        return ("ignore:\n  - pattern: '(a+)+$'\n"
                "    reason: catastrophic on a backtracking engine\n")
    return "# linkaudit defaults (no config.yaml of a parent folder is used)\n"


def run_case(case: Case, repeat: int) -> Result:
    tree = TREES / "".join(c if c.isalnum() else "-" for c in case.name)[:60]
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "notes").mkdir(parents=True)
    case.build(tree / "notes")
    (tree / "config.yaml").write_text(_config_text(case), encoding="utf-8")
    size = sum(p.stat().st_size for p in (tree / "notes").rglob("*")
               if p.is_file() and not p.is_symlink())
    if case.argv is None:
        overrides = {k: v for k, v in case.overrides.items() if k != "ignore"}
        child = [CHILD_SCAN, str(tree), json.dumps(overrides)]
    else:
        child = [CHILD_CLI, json.dumps([case.argv[0], "--config", "config.yaml",
                                        *case.argv[1:]])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAUDIT_")}
    env["PYTHONPATH"] = str(REPO)
    figures = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", *child], capture_output=True, text=True,
                              timeout=TIMEOUT_S, env=env, cwd=tree, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench_hostile: {case.name}: {done.stderr.strip()[-2000:]}")
        figures.append(json.loads(done.stdout))
    return Result(case.klass, case.name, round(size / KB, 1), repeat,
                  round(statistics.median(f["seconds"] for f in figures), 3),
                  round(max(f["peak_mb"] for f in figures), 1),
                  round(max(f["peak_mb"] - f["start_mb"] for f in figures), 1),
                  "; ".join(sorted({f["outcome"] for f in figures})))


def table(results: Sequence[Result]) -> str:
    lines = ["| class | case | notes KB | runs | s (median) | peak RSS MB | over start MB"
             " | outcome |", "| --- " * 8 + "|"]
    lines += [f"| {r.klass} | {r.case} | {r.note_kb:,.0f} | {r.runs} | {r.seconds:.3f} | "
              f"{r.peak_mb:.1f} | {r.over_start_mb:.1f} | {r.outcome} |" for r in results]
    lines += ["", "| class | cases | slowest case (s) | largest peak RSS (MB) |",
              "| --- " * 4 + "|"]
    for klass in dict.fromkeys(r.klass for r in results):
        mine = [r for r in results if r.klass == klass]
        slow = max(mine, key=lambda r: r.seconds)
        big = max(mine, key=lambda r: r.peak_mb)
        lines.append(f"| {klass} | {len(mine)} | {slow.case} ({slow.seconds:.3f}) | "
                     f"{big.case} ({big.peak_mb:.1f}) |")
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
    if not hasattr(os, "mkfifo"):
        print("bench_hostile: needs a POSIX system (FIFOs, symlinks)", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    gzip_bomb(bomb_mib)  # built before the clock runs (the server would build it on demand)
    results = []
    with HostileServer(lifetime=TIMEOUT_S * 10) as server:
        for case in [*scan_cases(), *name_cases(), *network_cases(server, bomb_mib)]:
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
