"""Memory of the offline runs on a large tree: ``scan`` and ``check --offline``, JSON out.

Measures peak RSS of the whole process tree (workers included), wall and CPU time of

- ``linkaudit scan TREE --format json --output …`` (a defaults-only config), and
- ``linkaudit check TREE --offline --format json --output …`` against a copy of a history
  store (every URL answered from the store: the scan, the store's reads and writes and the
  report, without the network),

for this checkout's code and, with ``--baseline DIR``, for another checkout's beside it
(for example ``git archive REV linkaudit | tar -x -C DIR``); the reports of both must be
the same apart from their timestamps. The tree and the store default to what
``bench_check.py`` leaves in ``out/check/`` (run it once first).

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --baseline /tmp/linkaudit-before
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from loopback_farm import OUT, BenchError, Run, measure

REPO = Path(__file__).resolve().parent.parent
_TIMES = re.compile(rb'"(started_at|finished_at)": [0-9.e+]+')


def run(code: Path, name: str, argv: list[str]) -> Run:
    """One linkaudit command, importing the package from ``code``."""
    log = OUT / "memory" / name
    return measure([sys.executable, "-m", "linkaudit", *argv], log, ok_codes=(0, 1),
                   env={"PYTHONPATH": str(code)})


def measure_code(code: Path, label: str, tree: Path, store: Path) -> dict[str, Run]:
    """Both commands with the code in ``code``; reports go to ``out/memory/<label>-*``."""
    folder = OUT / "memory"
    folder.mkdir(parents=True, exist_ok=True)
    defaults = folder / "defaults.yaml"
    defaults.write_text("# defaults\n", encoding="utf-8")
    copy = folder / f"{label}-history.sqlite"
    shutil.copyfile(store, copy)
    offline = folder / f"{label}-offline.yaml"
    offline.write_text(f'store:\n  path: "{copy}"\n', encoding="utf-8")
    return {
        "scan --format json": run(code, f"{label}-scan", [
            "scan", str(tree), "--config", str(defaults), "--format", "json",
            "--output", str(folder / f"{label}-scan.json")]),
        "check --offline --format json": run(code, f"{label}-check", [
            "check", str(tree), "--offline", "--config", str(offline), "--format", "json",
            "--output", str(folder / f"{label}-check.json")]),
    }


def same_reports(first: str, second: str) -> bool:
    """Both labels' reports are byte-identical once their timestamps are blanked."""
    folder = OUT / "memory"
    return all(_TIMES.sub(b"", (folder / f"{first}-{kind}.json").read_bytes())
               == _TIMES.sub(b"", (folder / f"{second}-{kind}.json").read_bytes())
               for kind in ("scan", "check"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=OUT / "check" / "tree")
    parser.add_argument("--store", type=Path,
                        default=OUT / "check" / "store" / "history.sqlite",
                        help="history store to copy for check --offline")
    parser.add_argument("--baseline", type=Path,
                        help="a folder holding another version's linkaudit package")
    args = parser.parse_args()
    for needed in (args.tree, args.store):
        if not needed.exists():
            print(f"bench_memory: {needed} is missing; run bench_check.py first",
                  file=sys.stderr)
            return 2
    codes = {"this checkout": REPO}
    if args.baseline is not None:
        codes = {"baseline": args.baseline, **codes}
    try:
        rows = {label: measure_code(code, label.split()[0], args.tree, args.store)
                for label, code in codes.items()}
    except BenchError as exc:
        print(f"bench_memory: {exc}", file=sys.stderr)
        return 1
    print("| code | command | wall s | CPU s | peak RSS MB (tree) |")
    print("| --- | --- | --- | --- | --- |")
    for label, runs in rows.items():
        for command, measured in runs.items():
            print(f"| {label} | `{command}` | {measured.wall_s:.1f} | {measured.cpu_s:.1f} "
                  f"| {measured.peak_rss_mb:.0f} |")
    if args.baseline is not None:
        same = same_reports("baseline", "this")
        print(f"\nreports identical apart from timestamps: {'yes' if same else 'NO'}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
