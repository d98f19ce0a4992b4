"""Hostile responses: what checking one URL costs when its server is an attacker.

A loopback server (tests/loopback.py) serves gzip bombs (a few KB on the wire decoding
to GiBs, once or with ``Content-Encoding: gzip, gzip``) and a page of 64 KB of unclosed
``<title>`` tags. Each case is checked by the real checker (``make_client`` +
``Checker``) in a fresh Python process, so the process's peak RSS is the case's. With
``--tree`` another checkout of linkaudit is measured instead (for before/after figures).
A last case checks 40 ordinary URLs beside 8 hostile-title pages and reports the slowest
ordinary URL: a hostile page must not push the others past their deadlines.

    .venv/bin/python benchmarks/bench_response.py                 # this tree
    .venv/bin/python benchmarks/bench_response.py --tree /old/co  # another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.loopback import LoopbackServer, gzip_bomb  # noqa: E402

# Runs in the child: checks the URLs given, prints one JSON line of figures.
CHILD = r"""
import asyncio, json, resource, sys, time
from linkaudit.check.checker import Checker  # (module paths older checkouts have too)
from linkaudit.check.client import make_client
from linkaudit.config import Duration, NetworkConfig

config = NetworkConfig(allow_private=True, retries=0, read_timeout=Duration(60),
                       total_timeout=Duration(120), per_host_concurrency=16,
                       per_host_interval=Duration(0))
slow = {}

async def main():
    async with make_client(config) as client:
        checker = Checker(client, config)
        started = time.monotonic()
        async for result in checker.results([(u, u) for u in sys.argv[1:]]):
            slow[result.key] = (time.monotonic() - started, result.verdict.value,
                                result.reason)
    return slow

cpu = time.process_time()
wall = time.monotonic()
done = asyncio.run(main())
ordinary = [t for key, (t, _, _) in done.items() if "/ok" in key]
print(json.dumps({
    "wall_s": time.monotonic() - wall, "cpu_s": time.process_time() - cpu,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "verdicts": sorted({f"{v} {r}" for _, v, r in done.values()}),
    "slowest_ordinary_s": max(ordinary) if ordinary else None,
}))
"""


def run_case(tree: Path, urls: Sequence[str]) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, *urls], env=env, cwd=tree,
                          capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1:]}
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="linkaudit checkout to measure")
    parser.add_argument("--mb", type=int, default=2048, help="MiB a bomb decodes to")
    args = parser.parse_args(argv)
    print(f"building bombs of {args.mb} MiB ...", file=sys.stderr)
    for layers in (1, 2):
        gzip_bomb(args.mb, layers)
    with LoopbackServer() as server:
        cases = {
            f"gzip bomb ({len(gzip_bomb(args.mb, 1)):,} B -> {args.mb} MiB)":
                [server.url(f"/bomb?mb={args.mb}&layers=1&head=405")],
            f"gzip, gzip bomb ({len(gzip_bomb(args.mb, 2)):,} B -> {args.mb} MiB)":
                [server.url(f"/bomb?mb={args.mb}&layers=2&head=405")],
            "64 KB of <title>": [server.url("/title?kb=64&head=405")],
            "40 ordinary URLs beside 8 hostile titles":
                [server.url(f"/ok?n={i}") for i in range(40)]
                + [server.url(f"/title?kb=64&head=405&n={i}") for i in range(8)],
        }
        print(f"tree: {args.tree}\n\n| case | wall s | CPU s | peak RSS MB | verdicts "
              "| slowest ordinary URL s |\n| --- | --- | --- | --- | --- | --- |")
        for name, urls in cases.items():
            f = run_case(args.tree, urls)
            if "failed" in f:
                print(f"| {name} | failed: {f['failed']} | | | | |")
                continue
            slowest = f["slowest_ordinary_s"]
            print(f"| {name} | {f['wall_s']:.2f} | {f['cpu_s']:.2f} | {f['peak_rss_mb']:.0f} "
                  f"| {', '.join(f['verdicts'])} "  # type: ignore[arg-type]
                  f"| {'-' if slowest is None else format(slowest, '.2f')} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
