"""CPU per request of the checker's network part: ``check_urls`` on N ok URLs of the farm.

Starts the loopback farm (loopback_farm.py, HTTP and HTTPS with a throw-away CA, no
rate-limited host), then checks ``--urls`` distinct ``/ok/`` URLs spread over ``--hosts``
hosts at ``--concurrency`` in flight and ``--per-host`` per host, in a fresh child
process per run: the child imports first, then times ``linkaudit.run.check.check_urls``
alone (CPU of the process, user + system) and asserts every verdict is ok. Runs alternate
between the trees given (``--tree``, default this checkout), A B A B, so a before/after
pair shares the farm and the machine's load; the table gives each tree's median CPU ms
per URL for plain HTTP and for HTTPS, beside the floors of the same requests made by
httpx over httpx-aiohttp and by aiohttp alone (``--floors``). Each run's line also gives
the child's peak RSS, and its RSS before the check (imports).

    .venv/bin/python benchmarks/bench_wire.py                          # this tree
    .venv/bin/python benchmarks/bench_wire.py --tree /old/co --tree .  # before/after
    .venv/bin/python benchmarks/bench_wire.py --profile out/wire.prof  # one profiled run
    .venv/bin/python benchmarks/bench_wire.py --wrap "py-spy record -f raw -o S --"  # sampled
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from loopback_farm import OUT, REPO, Farm, host_address
from throwaway_ca import make_test_ca

WORK = OUT / "wire"

# Runs in the child, with the measured tree first on sys.path: argv = mode, profile
# file ("" for none), concurrency, per-host, URLs...; prints one JSON line.
CHILD = r"""
import asyncio, cProfile, gc, json, resource, sys, time
mode, prof, concurrency, per_host, urls = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                           int(sys.argv[4]), sys.argv[5:])

def linkaudit():
    from linkaudit.config import Config, Duration, NetworkConfig
    from linkaudit.run.check import check_urls
    network = NetworkConfig(allow_private=True, concurrency=concurrency,
                            per_host_concurrency=per_host, per_host_interval=Duration(0),
                            connect_timeout=Duration(10), read_timeout=Duration(10),
                            total_timeout=Duration(40), retries=2, backoff=Duration(1))
    config = Config(network=network)
    def go():
        results = check_urls(urls, config)
        bad = [r for r in results if r.verdict.value != "ok"]
        assert not bad, bad[:3]
    return go

def floor(client_kind):
    import aiohttp, httpx
    from httpx_aiohttp import AiohttpTransport
    async def main():
        gate = asyncio.Semaphore(concurrency)
        hosts = {}
        def session():
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=httpx.create_ssl_context(), limit=concurrency, limit_per_host=0))
        if client_kind == "aiohttp":
            client = session()
            async def one(url):
                async with client.get(url, allow_redirects=False) as response:
                    await response.read()
                    return response.status
        else:
            client = httpx.AsyncClient(transport=AiohttpTransport(client=session))
            async def one(url):
                response = await client.get(url)
                return response.status_code
        async def limited(url):
            host = url.split("/")[2]
            per = hosts.setdefault(host, asyncio.Semaphore(per_host))
            async with gate, per:
                return await one(url)
        async with client:
            statuses = await asyncio.gather(*(limited(url) for url in urls))
        assert set(statuses) == {200}, set(statuses)
    def go():
        young, *older = gc.get_threshold()
        gc.set_threshold(100_000, *older)  # as a linkaudit check run does
        asyncio.run(main())
    return go

run = linkaudit() if mode == "linkaudit" else floor(mode)
collecting = [0.0, 0, 0.0]  # CPU seconds in the cycle collector, collections, start

def collector(phase, info):
    if phase == "start":
        collecting[2] = time.process_time()
    else:
        collecting[0] += time.process_time() - collecting[2]
        collecting[1] += 1

gc.callbacks.append(collector)
profiler = cProfile.Profile(time.process_time) if prof else None
cpu, wall = time.process_time(), time.perf_counter()
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if profiler:
    profiler.enable()
run()
if profiler:
    profiler.disable()
    profiler.dump_stats(prof)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({"cpu_ms_per_url": 1000 * cpu / len(urls), "wall_s": wall,
                  "gc_ms_per_url": 1000 * collecting[0] / len(urls),
                  "collections": collecting[1], "rss_mb": rss_before / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def urls(farm: Farm, count: int, hosts: int, https: bool, round_: int) -> list[str]:
    """``count`` distinct ok URLs, round robin over the hosts (new paths each round)."""
    return [f"{farm.base(n % hosts, https=https)}/ok/r{round_}-{n}" for n in range(count)]


def child(tree: Path, mode: str, targets: list[str], args: argparse.Namespace,
          ca: Path, prof: str = "") -> dict[str, float]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("LINKAUDIT_") and "proxy" not in key.lower()}
    env.update(PYTHONPATH=str(tree), SSL_CERT_FILE=str(ca))
    done = subprocess.run(
        [*args.wrap.split(), sys.executable, "-c", CHILD, mode, prof, str(args.concurrency),
         str(args.per_host), *targets], capture_output=True, text=True, env=env, cwd=WORK,
        check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} on {tree} failed:\n{done.stderr[-3000:]}")
    line = [line for line in done.stdout.splitlines() if line.startswith("{")][-1]
    figures: dict[str, float] = json.loads(line)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--urls", type=int, default=4000)
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--per-host", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tree and scheme")
    parser.add_argument("--tree", action="append", type=Path,
                        help="a checkout to measure (repeatable; default this one)")
    parser.add_argument("--floors", action="store_true",
                        help="also time the same GETs by httpx-aiohttp and by aiohttp")
    parser.add_argument("--profile", metavar="FILE",
                        help="one HTTPS run of the first tree under cProfile, to FILE")
    parser.add_argument("--schemes", default="http,https", help="http, https or both")
    parser.add_argument("--wrap", default="", metavar="CMD",
                        help="a command the measured child runs under (a sampling profiler)")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [REPO]]
    WORK.mkdir(parents=True, exist_ok=True)
    addresses = [host_address(n) for n in range(args.hosts)]
    ca, servers = make_test_ca(WORK / "ca", addresses)
    modes = [(tree, "linkaudit") for tree in trees]
    if args.floors:
        modes += [(trees[0], "httpx-aiohttp"), (trees[0], "aiohttp")]
    cpu: dict[tuple[str, str], list[float]] = {}
    with Farm(args.hosts, latency=0.05, tls=servers) as farm:
        if args.profile:
            targets = urls(farm, args.urls, args.hosts, True, 0)
            child(trees[0], "linkaudit", targets, args, ca, str(Path(args.profile).resolve()))
            print(f"profile written to {args.profile}")
            return 0
        round_ = 0
        for _ in range(args.repeat):
            for https in [scheme == "https" for scheme in args.schemes.split(",")]:
                for tree, mode in modes:
                    round_ += 1
                    targets = urls(farm, args.urls, args.hosts, https, round_)
                    figures = child(tree, mode, targets, args, ca)
                    name = f"{mode} {tree}" if mode == "linkaudit" else mode
                    scheme = "https" if https else "http"
                    cpu.setdefault((name, scheme), []).append(figures["cpu_ms_per_url"])
                    print(f"  {scheme:5} {name}: {figures['cpu_ms_per_url']:.3f} ms/URL, of "
                          f"which {figures['gc_ms_per_url']:.3f} in {figures['collections']} "
                          f"collections ({figures['wall_s']:.2f} s wall; peak RSS "
                          f"{figures['peak_rss_mb']:.0f} MB, {figures['rss_mb']:.0f} before)",
                          file=sys.stderr)
    print(f"| client | CPU ms/URL http | CPU ms/URL https |  ({args.urls} URLs, "
          f"{args.hosts} hosts, {args.concurrency}/{args.per_host}, median of {args.repeat})")
    print("| --- | --- | --- |")
    for name in dict.fromkeys(name for name, _ in cpu):
        http, https_ = (f"{statistics.median(cpu[(name, s)]):.3f}" if (name, s) in cpu else "-"
                        for s in ("http", "https"))
        print(f"| {name} | {http} | {https_} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
