"""Cost of the local-link check: a synthetic Jekyll site scanned with it on and off.

Builds ``benchmarks/out/site-<notes>/``: posts in ``_posts/`` with headings, each citing
other posts by relative path and ``#heading``, by permalink URL, by ``{% post_url %}``,
an image and its own headings, one link in fifty broken on purpose. Then scans it in
this process (``scan.workers: 1``, so the figures are the check's own) with
``site.local_links`` off and on, at 1x and 4x the notes, and reports the median CPU time
(other work on the machine moves wall time too much), the cost per local link, and the
findings, which must be exactly the links broken on purpose (else the exit code is 1):
the time per link must stay flat as the site grows (no quadratic step).

    .venv/bin/python benchmarks/bench_local_links.py            # 2,000 and 8,000 notes
    .venv/bin/python benchmarks/bench_local_links.py --quick    # 200 and 800 notes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from linkaudit.config import Config, ScanConfig, SiteConfig  # noqa: E402
from linkaudit.run.scan import scan_tree  # noqa: E402

OUT = BENCH / "out"
LOCAL_KINDS = {"local-missing", "local-outside", "anchor-missing"}
BROKEN_EVERY = 50  # one note in this many carries one broken link of each kind


def post_name(index: int) -> str:
    return f"2024-{index % 12 + 1:02d}-{index % 28 + 1:02d}-post-{index}"


def note_text(index: int, count: int) -> str:
    """A post with six headings (two repeated) and nine local links."""
    other = (index * 7 + 1) % count
    name = post_name(other)
    year, month, day = name[:4], name[5:7], name[8:10]
    broken = index % BROKEN_EVERY == 0
    lines = [
        "---", f"title: Post {index}", "---", "",
        f"# Post {index}", "", "## Background", "", "Text.", "", "## Background", "",
        "## Café notes", "", "### Details {#details}", "",
        f"See [the other post](./{name}.md#background-1) and [its notes]"
        f"(./{name}.md#café-notes).",
        f"By URL: [post](/{year}/{month}/{day}/post-{other}.html#details), "
        f"[{{% post_url {name} %}}]({{% post_url {name} %}}).",
        "Image: ![logo](/assets/logo.png), here: [top](#background), "
        "[details](#details), [index](../index.md#home).",
    ]
    if broken:
        lines += ["", "[gone](./no-such-post.md) [anchor](#no-such-heading) "
                      "[out](../../../../../../../../etc/passwd)"]
    return "\n".join(lines) + "\n"


def build(notes: int) -> Path:
    site = OUT / f"site-{notes}"
    done = site / ".complete"
    if done.exists():
        return site
    (site / "_posts").mkdir(parents=True, exist_ok=True)
    (site / "assets").mkdir(exist_ok=True)
    (site / "_config.yml").write_text("title: bench\n", encoding="utf-8")
    (site / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (site / "index.md").write_text("# Home\n", encoding="utf-8")
    for index in range(notes):
        path = site / "_posts" / f"{post_name(index)}.md"
        path.write_text(note_text(index, notes), encoding="utf-8")
    done.write_text(str(notes), encoding="utf-8")
    return site


def measure(site: Path, local_links: bool, repeat: int) -> tuple[float, int, int]:
    """Median CPU seconds, local findings, links found."""
    config = dataclasses.replace(Config(), scan=ScanConfig(workers=1),
                                 site=SiteConfig(local_links=local_links))
    times = []
    findings = links = 0
    for _ in range(repeat):
        started = time.process_time()
        outcome = scan_tree([site], config, keep_links=False)
        times.append(time.process_time() - started)
        findings = sum(f.kind in LOCAL_KINDS for f in outcome.findings)
        links = outcome.link_count
    return statistics.median(times), findings, links


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    base = 200 if args.quick else args.notes
    rows = []
    for notes in (base, base * 4):
        site = build(notes)
        off, _, _ = measure(site, False, args.repeat)
        on, findings, links = measure(site, True, args.repeat)
        broken = 3 * len(range(0, notes, BROKEN_EVERY))
        local = notes * 9 + broken  # post_url tags are counted once, in their link
        rows.append({"notes": notes, "links": links, "local_links": local, "off_s": off,
                     "on_s": on, "us_per_local_link": (on - off) / local * 1e6,
                     "findings": findings, "broken_on_purpose": broken})
    print("| notes | local links | scan off CPU s | scan on CPU s | µs per local link | findings |"
          " broken on purpose |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['notes']:,} | {row['local_links']:,} | {row['off_s']:.2f} | "
              f"{row['on_s']:.2f} | {row['us_per_local_link']:.0f} | {row['findings']} | "
              f"{row['broken_on_purpose']} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_local_links.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all(row["findings"] == row["broken_on_purpose"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
