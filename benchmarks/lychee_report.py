"""lychee's JSON report read in linkaudit's words, for the benchmarks that run both."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from loopback_farm import url_id


def lychee_verdict(entry: Mapping[str, object], outcome: str) -> str:
    """A lychee JSON entry (from its success, error or timeout map) in linkaudit's words."""
    status = entry.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if outcome == "timeout":
        return "unreachable"
    if outcome == "error":
        return "dead" if code in (404, 410) else "unreachable"
    redirects = entry.get("redirects")
    hops = redirects.get("redirects", []) if isinstance(redirects, dict) else []
    if not hops:
        return "ok"
    permanent = all(hop.get("code") in (301, 308) for hop in hops)
    return f"redirected ({'permanent' if permanent else 'temporary'})"


def lychee_verdicts(report: Path) -> dict[tuple[str, str], set[str]]:
    """Every verdict lychee gave each URL (several spellings of one URL may differ).

    A citation lychee answered from its in-run cache ("OK (cached)") repeats the verdict
    of the request it made, without the redirect chain: only the requested entries count.
    """
    data = json.loads(report.read_text(encoding="utf-8"))
    verdicts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for section, outcome in (("success_map", "success"), ("error_map", "error"),
                             ("timeout_map", "timeout")):
        for entries in data.get(section, {}).values():
            for entry in entries:
                if not str(entry["status"].get("text", "")).endswith("(cached)"):
                    verdicts[url_id(entry["url"])].add(lychee_verdict(entry, outcome))
    return verdicts
