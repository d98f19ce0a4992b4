"""Pre-publish gate at scale: ``linkaudit scan --changed-since`` against a full scan.

The requirement: a gate run over a change of 5 notes in a tree of 10,000 notes must not
read the rest of the tree beyond what family lookup needs (file names only). This script
builds ``benchmarks/out/gate-tree-<copies>/`` from the sample corpus copied ``--copies``
times (as ``bench_scan.py`` does: one translation family per copy; synthetic notes when
the corpus is missing), makes it a git repository with one commit, then adds a tracked
citation to one note in each of 5 different families. It times, as subprocesses run
from inside the tree (median of ``--repeat``, peak RSS of the process tree):

- ``full``: ``linkaudit scan TREE``
- ``changed-since``: ``linkaudit scan TREE --changed-since HEAD``
- ``files-from``: ``linkaudit scan TREE --files-from LIST`` (the 5 changed paths)

and checks that each gate run scanned exactly the 5 families (the JSON report's
``summary.notes``). When ``strace`` is installed, one more run of each mode under it
counts the ``.md`` files actually opened, by linkaudit and by the git it calls, and the
folders listed. Prints a Markdown table and writes ``benchmarks/out/bench_gate.json``.

    .venv/bin/python benchmarks/bench_gate.py              # 55 copies: 10,120 notes
    .venv/bin/python benchmarks/bench_gate.py --quick      # a smoke run of a few seconds
    .venv/bin/python benchmarks/bench_gate.py --profile    # plus the gate's hot spots
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import bench_scan
from bench_scan import CORPUS, OUT, PROJECT_BIN, REPO, SLUG_AND_LANG, BenchError, Run

CHANGED_NOTES = 5
TREE_DONE = "linkaudit-bench-complete"  # inside .git/: neither git nor linkaudit sees it
GIT = ("git", "-c", "user.email=b@b", "-c", "user.name=b", "-c", "core.autocrlf=false")
MODES = ("full", "changed-since", "files-from")
# strace -f output: "PID syscall(args) = result", possibly split by "<unfinished ...>".
STRACE_CALL = re.compile(r'^(?P<pid>\d+) +(?P<call>openat|execve)\((?P<args>.*)$')
STRACE_PATH = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Opened:
    """What one run opened, counted from an strace log."""

    md_by_linkaudit: int
    md_by_git: int
    folders_listed_by_linkaudit: int


@dataclass(frozen=True)
class Row:
    """The median of repeated runs of one mode."""

    mode: str
    notes_scanned: int
    notes_expected: int
    runs: int
    wall_s: float
    over_full: float
    peak_rss_mb: float
    opened: Opened | None


# ---------------------------------------------------------------- the tree


def git(tree: Path, *args: str) -> str:
    """Run git in ``tree`` (no shell); a failure is a BenchError with git's message."""
    try:
        done = subprocess.run([*GIT, *args], cwd=tree, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise BenchError("git is not installed; the gate benchmark needs it") from None
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} in {tree} failed:\n{done.stderr.strip()}")
    return done.stdout


def build_repository(copies: int) -> tuple[Path, int]:
    """``benchmarks/out/gate-tree-<copies>``, one commit, clean (reused when complete)."""
    tree = OUT / f"gate-tree-{copies}"
    done = tree / ".git" / TREE_DONE
    if done.is_file():
        git(tree, "checkout", "--quiet", "--", ".")
        git(tree, "clean", "--quiet", "--force")
        return tree, int(done.read_text(encoding="utf-8"))
    shutil.rmtree(tree, ignore_errors=True)
    sources = bench_scan.source_notes()
    # Written a minute "ago": a file as new as the git index is racily clean, and git
    # would then read every such file on each `git diff`, which is not the gate's cost.
    written = time.time() - 60
    for copy in range(1, copies + 1):
        for relative, data in sources:
            target = tree / bench_scan.copy_name(relative, copy)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.utime(target, (written, written))
    git(tree, "init", "--quiet")
    git(tree, "add", "--all")
    git(tree, "commit", "--quiet", "--no-verify", "--message", "notes")
    count = copies * len(sources)
    done.write_text(str(count), encoding="utf-8")
    return tree, count


def families(tree: Path) -> dict[str, list[Path]]:
    """Notes by family key, the key built like linkaudit's default ``family_pattern``."""
    by_family: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(tree.rglob("*.md")):
        if ".git" in path.relative_to(tree).parts:
            continue
        match = SLUG_AND_LANG.match(path.stem)
        by_family[match["slug"] if match else path.stem].append(path)
    return by_family


def change_notes(tree: Path) -> tuple[list[Path], int]:
    """Add a tracked citation to one note in each of 5 families spread over the tree.

    Returns the changed notes and how many notes their families hold together.
    """
    by_family = families(tree)
    keys = sorted(by_family)
    if len(keys) < CHANGED_NOTES:
        raise BenchError(f"{tree} holds only {len(keys)} families; {CHANGED_NOTES} needed")
    step = len(keys) // CHANGED_NOTES
    chosen = [keys[index * step] for index in range(CHANGED_NOTES)]
    changed = []
    for number, key in enumerate(chosen, 1):
        note = by_family[key][0]
        with note.open("a", encoding="utf-8", newline="") as text:
            text.write(f"\nGate benchmark: see [the new source][gate-{number}].\n\n"
                       f"[gate-{number}]: https://gate.example/bench-{number}"
                       f"?utm_source=chatgpt.com \"Gate bench {number}\"\n")
        changed.append(note)
    return changed, sum(len(by_family[key]) for key in chosen)


# ---------------------------------------------------------------- the runs


def linkaudit_argv(mode: str, tree: Path, config: Path, listing: Path, report: Path
                   ) -> list[str]:
    argv = [str(PROJECT_BIN / "linkaudit"), "scan", str(tree), "--config", str(config),
            "--format", "json", "--output", str(report), "--quiet"]
    if mode == "changed-since":
        argv += ["--changed-since", "HEAD"]
    elif mode == "files-from":
        argv += ["--files-from", str(listing)]
    return argv


def measure(argv: Sequence[str], cwd: Path, report: Path) -> Run:
    """One child run in ``cwd`` (the gate asks git from there), through bench_scan's launcher
    (a fresh interpreter, so this script's own peak RSS is not carried into the figure)."""
    return bench_scan.measure(argv, stdout=OUT / "bench-gate-run.stdout", output=report,
                              cwd=cwd)


def notes_scanned(report: Path) -> int:
    return int(json.loads(report.read_text(encoding="utf-8"))["summary"]["notes"])


def count_opened(log: Path, tree: Path) -> Opened:
    """``.md`` files opened under ``tree`` by git and by linkaudit, and folders it listed."""
    git_pids: set[str] = set()
    md: dict[bool, set[str]] = {True: set(), False: set()}
    folders: set[str] = set()
    prefix = str(tree.resolve()) + "/"
    calls = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = STRACE_CALL.match(line)
        path = STRACE_PATH.search(match["args"]) if match else None
        if match is None or path is None:
            continue
        if match["call"] == "execve":
            if Path(path[1]).name == "git":
                git_pids.add(match["pid"])
        else:
            calls.append((match["pid"], path[1], match["args"]))
    for pid, name, args in calls:
        absolute = name if name.startswith("/") else prefix + name
        if not absolute.startswith(prefix) or "/.git/" in absolute or "ENOENT" in args:
            continue
        if "O_DIRECTORY" in args:
            if pid not in git_pids:
                folders.add(absolute)
        elif absolute.endswith(".md"):
            md[pid in git_pids].add(absolute)
    return Opened(len(md[False]), len(md[True]), len(folders))


def traced(argv: Sequence[str], tree: Path, report: Path) -> Opened:
    """One run from ``tree`` under ``strace -f`` (untimed), counted by ``count_opened``."""
    log = OUT / "bench_gate.strace"
    measure(["strace", "-f", "-qq", "-e", "trace=openat,execve", "-o", str(log), *argv],
            tree, report)
    return count_opened(log, tree)


def profile(argv: Sequence[str], cwd: Path, report: Path, top: int = 15) -> list[str]:
    """The gate run's hot spots by cumulative time (cProfile), as printable lines."""
    stats_file = OUT / "gate.prof"
    measure([str(PROJECT_BIN / "python"), "-m", "cProfile", "-o", str(stats_file),
             "-m", "linkaudit", *argv[1:]], cwd, report)
    stats = pstats.Stats(str(stats_file))
    entries = sorted(stats.stats.items(),  # type: ignore[attr-defined]  # not in the stubs
                     key=lambda item: item[1][3], reverse=True)
    lines = ["cumulative, own time, calls, function"]
    for (filename, line, name), (_, calls, own, cumulative, _) in entries:
        if "linkaudit/" not in filename or len(lines) > top:
            continue
        where = filename.replace(str(REPO) + "/", "")
        lines.append(f"{cumulative:7.3f} s {own:7.3f} s {calls:>8} {where}:{line}:{name}")
    return lines


# ---------------------------------------------------------------- the benchmark


def table(rows: Sequence[Row]) -> str:
    head = ("| mode | notes scanned | expected | .md opened (linkaudit / git) "
            "| folders listed by linkaudit | wall s (median) | ÷ full | peak RSS MB |")
    lines = [head, "|" + " --- |" * 8]
    for r in rows:
        opened = (f"{r.opened.md_by_linkaudit:,} / {r.opened.md_by_git:,}" if r.opened
                  else "n/a")
        folders = f"{r.opened.folders_listed_by_linkaudit:,}" if r.opened else "n/a"
        lines.append(f"| {r.mode} | {r.notes_scanned:,} | {r.notes_expected:,} | {opened} "
                     f"| {folders} | {r.wall_s:.3f} | {r.over_full:.3f} | {r.peak_rss_mb:.1f} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=55,
                        help="corpus copies in the tree (default 55: 10,120 notes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (median kept)")
    parser.add_argument("--quick", action="store_true", help="2 copies, 1 run (smoke run)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the --changed-since run with cProfile")
    parser.add_argument("--no-strace", action="store_true",
                        help="do not count opened files even when strace is installed")
    args = parser.parse_args(argv)
    if args.quick:
        args.copies, args.repeat = 2, 1
    if args.copies < 1 or args.repeat < 1:
        parser.error("--copies and --repeat must be at least 1")
    return args


def run_modes(args: argparse.Namespace, tree: Path, total: int, changed: Sequence[Path],
              expected: int) -> tuple[list[Row], list[str]]:
    """Every mode ``--repeat`` times, interleaved so none gets a warmer cache."""
    config = OUT / "bench-gate-config.yaml"  # built-in defaults, whatever config.yaml says
    config.write_text("# linkaudit defaults\n", encoding="utf-8")
    listing = OUT / "bench-gate-files.txt"
    listing.write_text("".join(f"{path}\n" for path in changed), encoding="utf-8")
    report = OUT / "bench-gate-report.json"
    argvs = {mode: linkaudit_argv(mode, tree, config, listing, report) for mode in MODES}
    runs: dict[str, list[Run]] = defaultdict(list)
    scanned: dict[str, int] = {}
    for _ in range(args.repeat):
        for mode in MODES:
            runs[mode].append(measure(argvs[mode], tree, report))
            scanned[mode] = notes_scanned(report)
    use_strace = not args.no_strace and shutil.which("strace") is not None
    full_wall = statistics.median(run.wall_s for run in runs["full"])
    rows = []
    for mode in MODES:
        wall = statistics.median(run.wall_s for run in runs[mode])
        rows.append(Row(
            mode, scanned[mode], total if mode == "full" else expected, len(runs[mode]),
            round(wall, 3), round(wall / full_wall, 3),
            round(statistics.median(run.peak_rss_mb for run in runs[mode]), 1),
            traced(argvs[mode], tree, report) if use_strace else None))
    hot_spots = profile(argvs["changed-since"], tree, report) if args.profile else []
    return rows, hot_spots


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        OUT.mkdir(exist_ok=True)
        tree, total = build_repository(args.copies)
        changed, expected = change_notes(tree)
        rows, hot_spots = run_modes(args, tree, total, changed, expected)
    except BenchError as exc:
        print(f"bench_gate: {exc}", file=sys.stderr)
        return 1
    wrong = [row.mode for row in rows if row.notes_scanned != row.notes_expected]
    figures = {
        "source": str(CORPUS) if CORPUS.is_dir() else "synthetic",
        "cpus": os.cpu_count(),
        "tree_notes": total,
        "changed": [str(path.relative_to(tree)) for path in changed],
        "rows": [asdict(row) for row in rows],
        "scanned_as_expected": not wrong,
        "profile": hot_spots,
    }
    (OUT / "bench_gate.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"## Gate: {CHANGED_NOTES} changed notes in {total:,} (median of {args.repeat})\n")
    print(table(rows) + "\n")
    if wrong:
        print(f"**not as expected**: {', '.join(wrong)} scanned a different number of notes "
              "than the changed families hold\n")
    if hot_spots:
        print("## Gate hot spots (cProfile, linkaudit functions)\n\n```\n"
              + "\n".join(hot_spots) + "\n```")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
