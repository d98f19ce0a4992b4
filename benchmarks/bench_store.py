"""History store at scale: build a big store, then time the report path and the cache.

Builds a store of ``--checks`` checks over ``--urls`` URLs spread over ``--runs`` simulated
nightly runs, then measures what a user waits for: the file size, ``latest_states() +
runs()`` (what ``linkaudit report`` reads), ``changes()`` of the last run (what a scheduled
run reports), ``--lookups`` ``cached()`` calls (what a check run does per URL), then
``prune()`` of all but the last 3 runs, then of one more day (what a check run does at
its end with ``store.keep``; the report must read the same after it) and the peak
memory. Prints JSON and writes it to ``benchmarks/out/bench_store.json``.

    .venv/bin/python benchmarks/bench_store.py            # 1,000,000 checks, 100,000 URLs
    .venv/bin/python benchmarks/bench_store.py --small    # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from linkaudit.history import DAY, Store
from linkaudit.models import CheckResult, Hop, Verdict

OUT = Path(__file__).resolve().parent / "out"
START = 1_700_000_000.0
# Share of each verdict in a simulated run, roughly what a notes tree gives.
VERDICTS = (Verdict.OK, Verdict.REDIRECTED, Verdict.DEAD, Verdict.UNREACHABLE, Verdict.BLOCKED)
WEIGHTS = (0.90, 0.04, 0.03, 0.02, 0.01)
CITED_PER_NOTE = 20  # URLs per note; every URL is cited by an English and a German note


def url_of(index: int) -> str:
    return f"https://host{index % 997}.example/articles/{index}?id={index * 7}"


def simulated_results(run: int, per_run: int, urls: int, rng: random.Random,
                      ) -> Iterator[CheckResult]:
    for i in range(per_run):
        url = url_of((run * per_run + i) % urls)
        verdict = rng.choices(VERDICTS, WEIGHTS)[0]
        at = START + run * DAY + i * 0.01
        if verdict is Verdict.REDIRECTED:
            final = url + "&moved=1"
            yield CheckResult(key=url, url=url, verdict=verdict, detail=f"301 to {final}",
                              status=200, chain=(Hop(url, 301), Hop(final, 200)),
                              final_url=final, permanent=True, final_verdict=Verdict.OK,
                              checked_at=at)
        else:
            status = {Verdict.OK: 200, Verdict.DEAD: 404, Verdict.BLOCKED: 403}.get(verdict)
            yield CheckResult(key=url, url=url, verdict=verdict, detail=f"{status}",
                              status=status, chain=(Hop(url, status),) if status else (),
                              checked_at=at)


def build(path: Path, checks: int, urls: int, runs: int, seed: int) -> float:
    """Fill a new store through its public API; returns seconds taken."""
    rng = random.Random(seed)
    clock = [START]
    started = time.perf_counter()
    with Store.open(path, lock_timeout=0, now=lambda: clock[0]) as store:
        per_run = checks // runs
        for run in range(runs):
            clock[0] = START + run * DAY
            run_id = store.begin_run("check", ["notes"])
            store.record_many(run_id, simulated_results(run, per_run, urls, rng))
            store.set_citations(run_id, ((url_of(i), url_of(i),
                                          f"_posts/{lang}/note-{i // CITED_PER_NOTE}.md",
                                          10 + i % CITED_PER_NOTE)
                                         for i in range(urls) for lang in ("en", "de")))
            store.finish_run(run_id, exit_code=0, counts={"ok": per_run})
    return time.perf_counter() - started


def measure(checks: int, urls: int, runs: int, lookups: int, seed: int) -> dict[str, object]:
    folder = OUT / "bench-store"
    shutil.rmtree(folder, ignore_errors=True)
    path = folder / "history.sqlite"
    build_seconds = build(path, checks, urls, runs, seed)

    started = time.perf_counter()
    with Store.open(path, readonly=True, now=lambda: START + runs * DAY) as reader:
        opened = time.perf_counter()
        states = reader.latest_states()
        summaries = reader.runs()
        report_seconds = time.perf_counter() - opened
        changes_started = time.perf_counter()
        changes = reader.changes(summaries[-1].run_id)
        changes_seconds = time.perf_counter() - changes_started

    rng = random.Random(seed)
    keys = [url_of(rng.randrange(urls)) for _ in range(lookups)]
    with Store.open(path, lock_timeout=0, now=lambda: START + runs * DAY) as store:
        lookup_started = time.perf_counter()
        hits = sum(store.cached(key, max_age=runs * DAY) is not None for key in keys)
        lookup_seconds = time.perf_counter() - lookup_started

        prune_started = time.perf_counter()
        pruned = store.prune(older_than=START + (runs - 3) * DAY)
        prune_seconds = time.perf_counter() - prune_started
        next_day_started = time.perf_counter()  # what a nightly run's prune costs
        pruned_next_day = store.prune(older_than=START + (runs - 2) * DAY)
        next_day_seconds = time.perf_counter() - next_day_started
        same_after_prune = store.latest_states() == states  # after both prunes

    return {
        "checks": checks, "urls": urls, "runs": runs, "sqlite": sqlite3.sqlite_version,
        "build_s": round(build_seconds, 2),
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "open_readonly_s": round(opened - started, 4),
        "latest_states_plus_runs_s": round(report_seconds, 3),
        "states_listed": len(states), "runs_listed": len(summaries),
        "changes_last_run_s": round(changes_seconds, 3),
        "changes_listed": len(changes.recovered) + len(changes.new_redirects)
        + len(changes.new_dead),
        "cached_lookups": lookups, "cached_hits": hits,
        "cached_lookups_s": round(lookup_seconds, 3),
        "cached_lookup_us": round(lookup_seconds / max(lookups, 1) * 1e6, 1),
        "prune_s": round(prune_seconds, 2), "pruned_checks": pruned,
        "prune_next_day_s": round(next_day_seconds, 2), "pruned_next_day": pruned_next_day,
        "report_same_after_prune": same_after_prune,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--checks", type=int, default=1_000_000)
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", action="store_true",
                        help="20,000 checks over 2,000 URLs (a CI smoke run)")
    args = parser.parse_args(argv)
    if args.small:
        args.checks, args.urls, args.lookups = 20_000, 2_000, 2_000
    figures = measure(args.checks, args.urls, args.runs, args.lookups, args.seed)
    OUT.mkdir(exist_ok=True)
    text = json.dumps(figures, indent=2)
    (OUT / "bench_store.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if figures["report_same_after_prune"] else 1


if __name__ == "__main__":
    sys.exit(main())
