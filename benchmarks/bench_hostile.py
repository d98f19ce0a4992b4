"""Hostile notes and settings, one scan class at a time: worst-case time and peak memory.

Each case builds a small tree under ``benchmarks/out/hostile/<case>/`` and runs the library
scan (``linkaudit.run.scan.scan_tree``, what ``linkaudit scan`` runs, one process) in a fresh
interpreter, which reports the scan's wall time, its peak resident memory and what it
found. Classes (issue 11): nested brackets, huge notes, long lines, many links, files that
are not notes (FIFO, symlinks out of the tree, over the size limit), and catastrophic
regular expressions in ``ignore``, ``scan.family_pattern`` and ``scan.exclude``. Prints a
Markdown table (the worst case per class last) and writes ``benchmarks/out/bench_hostile.json``.

    .venv/bin/python benchmarks/bench_hostile.py            # every case, 3 runs each
    .venv/bin/python benchmarks/bench_hostile.py --quick    # 1 run each
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
TREES = OUT / "hostile"
KB = 1000
TIMEOUT_S = 300

# Runs in the child: the scan of one tree, timed, with the peak RSS of the process. The peak
# is VmHWM, which exec resets (ru_maxrss carries the parent's peak over fork and exec).
CHILD = """\
import json, resource, sys, time
from pathlib import Path
from linkaudit.config import load_config
from linkaudit.run.scan import scan_tree

def peak_kib():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

tree, overrides = Path(sys.argv[1]), json.loads(sys.argv[2])
config = load_config(None, overrides={"scan.workers": 1, **overrides}, environ={},
                     search_from=tree)
before = peak_kib()
start = time.perf_counter()
outcome = scan_tree([tree / "notes"], config)
seconds = time.perf_counter() - start
peak = peak_kib()
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "start_mb": before / 1024,
                  "notes": outcome.notes_scanned, "links": outcome.link_count,
                  "kinds": sorted({f.kind for f in outcome.findings})}))
"""


@dataclass(frozen=True)
class Case:
    scan_class: str
    name: str
    build: Callable[[Path], None]  # writes notes under the folder given
    overrides: dict[str, Any]


@dataclass
class Result:
    scan_class: str
    case: str
    note_kb: float
    runs: int
    seconds: float  # median
    peak_mb: float  # largest over the runs
    over_start_mb: float
    links: int
    kinds: str


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


def cases() -> list[Case]:
    nested = 540 * KB // 6
    return [
        Case("nested brackets", "![ x90,000 then ](u) x90,000 (540 KB)",
             note("![" * nested + "](u)" * nested), {}),
        Case("nested brackets", "![ x270,000, never closed (540 KB)",
             note("![" * (270 * KB)), {}),
        Case("nested brackets", "[a]( x135,000: destinations too deep (540 KB)",
             note("[a](" * (135 * KB)), {}),
        Case("nested brackets", "[] x270,000 (540 KB)", note("[]" * (270 * KB)), {}),
        Case("huge note", "600 KB of text and one URL",
             note("lorem ipsum " * (50 * KB) + "https://a.example/x\n"), {}),
        Case("huge note", "one 600 KB URL of ASCII",
             note("see https://a.example/" + "a" * (600 * KB) + "\n"), {}),
        Case("huge note", "one 600 KB URL of accented letters",
             note("see https://a.example/" + "é" * (300 * KB) + "\n"), {}),
        Case("huge note", "5 MB note over scan.max_note_size",
             note("x" * (5000 * KB)), {}),
        Case("long lines", "one 1 MB line of '<'", note("<" * (1000 * KB)), {}),
        Case("long lines", "one 1 MB line of '\\r'", note("a\r" * (500 * KB)), {}),
        Case("long lines", "1 MB of '> ' blockquote markers", note("> " * (500 * KB)), {}),
        Case("many links", "1 MB of inline links (one URL)",
             note("[a](https://a.example/x) " * (40 * KB)), {}),
        Case("many links", "1 MB of distinct bare URLs",
             note("".join(f"https://a{i}.example/p?utm_source=x\n" for i in range(28 * KB))),
             {}),
        Case("many links", "2,000 notes of 50 links each",
             many(2000, "".join(f"[{i}](https://h{i}.example/)\n" for i in range(50))), {}),
        Case("special files", "FIFO, symlinks to /proc/self/environ, /dev/zero, /dev/urandom",
             special_files, {}),
        Case("catastrophic regex", "ignore (a+)+$ against 10,000 findings' URLs",
             note("".join(f"https://h.example/{'a' * 40}{i}!?utm_source=x\n"
                          for i in range(10 * KB))),
             {"ignore": None}),
        Case("catastrophic regex", "family_pattern ^(a|a)*$ on 2,000 names of 40 a's",
             many(2000, "x\n", stem="a" * 40 + "{index}"),
             {"scan.family_pattern": "^(?P<family>a|a)*$"}),
        Case("catastrophic regex", "exclude '**/' x20 + 'y.md' over a 40-folder path",
             deep_folders, {"scan.exclude": ["**/" * 20 + "y.md"]}),
    ]


def run_case(case: Case, repeat: int) -> Result:
    tree = TREES / "".join(c if c.isalnum() else "-" for c in case.name)[:60]
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "notes").mkdir(parents=True)
    case.build(tree / "notes")
    overrides = dict(case.overrides)
    config = "# linkaudit defaults (no config.yaml of a parent folder is used)\n"
    if "ignore" in overrides:  # a list of rules is written in the config file
        overrides.pop("ignore")
        config = ("ignore:\n  - pattern: '(a+)+$'\n"
                  "    reason: catastrophic on a backtracking engine\n")
    (tree / "config.yaml").write_text(config, encoding="utf-8")
    size = sum(p.stat().st_size for p in (tree / "notes").rglob("*")
               if p.is_file() and not p.is_symlink())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env = {k: v for k, v in env.items() if not k.startswith("LINKAUDIT_")}
    figures = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(tree), json.dumps(overrides)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                              cwd=tree, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench_hostile: {case.name}: {done.stderr.strip()[-2000:]}")
        figures.append(json.loads(done.stdout))
    return Result(case.scan_class, case.name, round(size / KB, 1), repeat,
                  round(statistics.median(f["seconds"] for f in figures), 3),
                  round(max(f["peak_mb"] for f in figures), 1),
                  round(max(f["peak_mb"] - f["start_mb"] for f in figures), 1),
                  figures[0]["links"], ", ".join(figures[0]["kinds"]))


def table(results: Sequence[Result]) -> str:
    lines = ["| class | case | note KB | runs | scan s (median) | peak RSS MB | over start MB"
             " | links | finding kinds |", "| --- " * 9 + "|"]
    for r in results:
        lines.append(f"| {r.scan_class} | {r.case} | {r.note_kb:,.0f} | {r.runs} | "
                     f"{r.seconds:.3f} | {r.peak_mb:.1f} | {r.over_start_mb:.1f} | "
                     f"{r.links:,} | {r.kinds} |")
    worst: dict[str, Result] = {}
    for r in results:
        if r.scan_class not in worst or r.seconds > worst[r.scan_class].seconds:
            worst[r.scan_class] = r
    lines += ["", "| class | slowest case | scan s | largest peak RSS in the class MB |",
              "| --- " * 4 + "|"]
    lines += [f"| {c} | {r.case} | {r.seconds:.3f} | "
              f"{max(x.peak_mb for x in results if x.scan_class == c):.1f} |"
              for c, r in worst.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median kept)")
    parser.add_argument("--quick", action="store_true", help="one run per case")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)
    if not hasattr(os, "mkfifo"):
        print("bench_hostile: needs a POSIX system (FIFOs, symlinks)", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    results = []
    for case in cases():
        if args.only and args.only not in case.name:
            continue
        results.append(run_case(case, repeat))
        print(f"{case.scan_class}: {case.name}: {results[-1].seconds:.3f} s, "
              f"{results[-1].peak_mb:.1f} MB", file=sys.stderr, flush=True)
    print(table(results))
    (OUT / "bench_hostile.json").write_text(
        json.dumps({"cpus": os.cpu_count(), "results": [asdict(r) for r in results]},
                   indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
