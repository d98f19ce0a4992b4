"""A nightly re-run served from the history store: only the stale URLs are requested.

Starts the loopback farm (loopback_farm.py: 50 hosts, 50 ms per request, every request
counted), writes notes citing 20,000 distinct URLs that all answer 200 (each post in
``en`` and ``de``, both citing the same sources), and runs ``linkaudit check`` once to
fill a fresh history store. Then it ages 5% of the stored checks by two days (every
20th key: ``checked_at`` of its latest check, in ``latest`` and ``checks``), so they are
past ``cache.max_age`` (one day), and times a second ``linkaudit check``. The farm must
see exactly one request per stale URL and none for the others. Also times ``linkaudit
scan`` of the same tree, the part of the re-run that never touches the network.
Prints Markdown, writes ``out/bench_nightly.json``.

    .venv/bin/python benchmarks/bench_nightly.py           # 20,000 URLs, 1,000 stale
    .venv/bin/python benchmarks/bench_nightly.py --quick   # 400 URLs, a few seconds
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from loopback_farm import (
    OUT,
    BenchError,
    Farm,
    RequestCounts,
    Run,
    host_address,
    linkaudit_argv,
    linkaudit_config,
    measure,
    profile,
    url_id,
    write_note,
)

WORK = OUT / "nightly"
LANGS = ("en", "de")
STALE_EVERY = 20  # 5% of the keys
AGE_S = 2 * 86400  # older than the default cache.max_age of one day
CONCURRENCY, PER_HOST = 32, 2


def build_tree(farm: Farm, families: int, per_family: int) -> Path:
    """Each post in two languages citing the same ``per_family`` distinct 200 pages."""
    root = WORK / "tree"
    shutil.rmtree(root, ignore_errors=True)
    for family in range(families):
        urls = [f"{farm.base(i % farm.hosts)}/ok/n{i:06d}?utm_source=chatgpt.com"
                for i in range(family * per_family, (family + 1) * per_family)]
        for lang in LANGS:
            write_note(root / "_posts" / lang / f"2025-06-01-night-{family:04d}-{lang}.md",
                       f"Night {family} ({lang})", lang, urls)
    return root


def age_every_nth(store: Path, every: int, seconds: float) -> set[tuple[str, str]]:
    """Make every ``every``-th stored key's latest check ``seconds`` older; their farm ids."""
    with sqlite3.connect(store) as db:
        keys = [key for (key,) in db.execute("SELECT key FROM latest ORDER BY key")][::every]
        rows = [(seconds, key) for key in keys]
        db.executemany("UPDATE checks SET checked_at = checked_at - ? WHERE id = "
                       "(SELECT check_id FROM latest WHERE key = ?)", rows)
        db.executemany("UPDATE latest SET checked_at = checked_at - ? WHERE key = ?", rows)
    db.close()
    return {url_id(key) for key in keys}


def requested(counts: RequestCounts) -> set[tuple[str, str]]:
    return {(host, path) for host, _method, path in counts}


def timed_check(farm: Farm, tree: Path, config: Path, name: str) -> tuple[Run, RequestCounts]:
    farm.take_counts()
    run = measure(linkaudit_argv("check", tree, config, WORK / f"{name}.json"), WORK / name,
                  (0, 1))
    return run, farm.take_counts()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--families", type=int, default=1000,
                        help="posts, each in en and de (default 1,000: 20,000 URLs)")
    parser.add_argument("--per-family", type=int, default=20, help="sources per post")
    parser.add_argument("--hosts", type=int, default=50, help="farm hosts (default 50)")
    parser.add_argument("--quick", action="store_true", help="400 URLs on 10 hosts")
    parser.add_argument("--profile", action="store_true",
                        help="age the same keys again and profile a third run (cProfile)")
    args = parser.parse_args(argv)
    if args.quick:
        args.families, args.per_family, args.hosts = 40, 10, 10
    if min(args.families, args.per_family) < 1:
        parser.error("--families and --per-family must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    urls = args.families * args.per_family
    try:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        config, store = WORK / "linkaudit.yaml", WORK / "store" / "history.sqlite"
        linkaudit_config(config, concurrency=CONCURRENCY, per_host=PER_HOST, store=store)
        with Farm(args.hosts) as farm:
            tree = build_tree(farm, args.families, args.per_family)
            first, first_counts = timed_check(farm, tree, config, "first")
            if sum(first_counts.values()) != urls:
                raise BenchError(f"the first run made {sum(first_counts.values())} requests "
                                 f"for {urls} URLs that all answer 200 at once")
            stale = age_every_nth(store, STALE_EVERY, AGE_S)
            second, second_counts = timed_check(farm, tree, config, "second")
            offline = measure(linkaudit_argv("scan", tree, config, WORK / "scan.json"),
                              WORK / "scan", (0, 1))
            if args.profile:
                age_every_nth(store, STALE_EVERY, AGE_S)
                hot_spots = profile(linkaudit_argv("check", tree, config,
                                                   WORK / "profile.json"), WORK / "profile")
    except (BenchError, OSError, sqlite3.Error) as exc:
        print(f"bench_nightly: {exc}", file=sys.stderr)
        return 1
    seen = requested(second_counts)
    figures = {
        "distinct_urls": urls, "notes": args.families * len(LANGS), "hosts": args.hosts,
        "farm_first": host_address(0), "concurrency": CONCURRENCY, "per_host": PER_HOST,
        "first_run": asdict(first), "first_run_requests": sum(first_counts.values()),
        "stale": len(stale), "second_run": asdict(second),
        "second_run_requests": sum(second_counts.values()),
        "second_run_requested_only_stale": seen == stale,
        "stale_not_requested": len(stale - seen), "fresh_requested": len(seen - stale),
        "scan_only": asdict(offline),
        "profile": hot_spots if args.profile else [],
    }
    (OUT / "bench_nightly.json").write_text(json.dumps(figures, indent=2) + "\n",
                                            encoding="utf-8")
    exact = sum(second_counts.values()) == len(stale) and seen == stale
    print(f"## nightly: {figures['notes']:,} notes, {urls:,} distinct URLs on {args.hosts} "
          f"hosts, {len(stale):,} stale\n\n"
          "| run | wall s | CPU s | peak RSS MB | requests |\n| --- | --- | --- | --- | --- |\n"
          f"| first (fills the store) | {first.wall_s:.2f} | {first.cpu_s:.2f} "
          f"| {first.peak_rss_mb:.0f} | {sum(first_counts.values()):,} |\n"
          f"| second (5% stale) | {second.wall_s:.2f} | {second.cpu_s:.2f} "
          f"| {second.peak_rss_mb:.0f} | {sum(second_counts.values()):,} |\n"
          f"| `linkaudit scan`, same tree | {offline.wall_s:.2f} | {offline.cpu_s:.2f} "
          f"| {offline.peak_rss_mb:.0f} | 0 |\n\n"
          f"second run requested exactly the stale URLs: {'yes' if exact else 'NO'} "
          f"({len(stale - seen)} stale not requested, {len(seen - stale)} fresh requested)")
    if args.profile:
        print("\n### hot spots of a re-run (cProfile)\n\n```\n" + "\n".join(hot_spots)
              + "\n```")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
