"""One run of network checks: which URLs, the store's part, and how standing is decided.

Apart from ``pipeline`` (the offline stages) so that ``linkaudit scan`` never imports the
HTTP client or the store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from linkaudit.audit.online import Standing, failed, standing_of
from linkaudit.check.checker import NO_NETWORK_REASONS, Checker, network_unavailable
from linkaudit.config import Config
from linkaudit.history.store import DAY, Changes, Store
from linkaudit.models import CheckResult, Finding, Report, Severity, Verdict
from linkaudit.run.scan import Citations


def check_targets(citations: Citations, only: Collection[str] | None = None
                  ) -> list[tuple[str, str]]:
    """One ``(check key, URL)`` per distinct http(s) source, optionally limited to ``only``."""
    return sorted((key, url) for key, url in citations.urls.items()
                  if key.startswith(("http://", "https://"))
                  and (only is None or key in only))


class CheckRun:
    """One run of network checks against the history store.

    Results are recorded as they arrive, so Ctrl-C keeps what was checked. Failures that
    could mean "this machine has no network" (DNS, connect) are held back until the end:
    when every URL failed that way, nothing is recorded and nothing is called dead.
    """

    def __init__(self, config: Config, store: Store | None, run_id: int | None, *,
                 max_age: float | None, confirm_now: Collection[str] | bool = False) -> None:
        self.config, self.store, self.run_id = config, store, run_id
        self.max_age = max_age
        self.confirm_now = confirm_now
        self.results: list[CheckResult] = []
        self._held: list[CheckResult] = []

    def reuse_cached(self, targets: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Take fresh successes from the store; return the targets still to request."""
        if self.store is None or self.max_age is None:
            return list(targets)
        remaining = []
        for key, url in targets:
            cached = self.store.cached(key, self.max_age)
            if cached is None:
                remaining.append((key, url))
            else:
                self.results.append(cached)
        return remaining

    def stored_only(self, targets: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Offline: take the latest stored verdict of each target; return those never seen."""
        unseen = []
        for key, url in targets:
            latest = self.store.latest(key) if self.store is not None else None
            if latest is None:
                unseen.append((key, url))
            else:
                self.results.append(latest)
        return unseen

    async def run(self, checker: Checker, targets: Sequence[tuple[str, str]],
                  on_result: Callable[[CheckResult], None] | None = None) -> None:
        async for result in checker.results(targets):
            self.results.append(result)
            if result.status is None and result.reason in NO_NETWORK_REASONS:
                self._held.append(result)
            elif self.store is not None and self.run_id is not None:
                self.store.record(self.run_id, result)
            if on_result is not None:
                on_result(result)

    def settle(self) -> bool:
        """Record held-back failures unless the network was down; True when it was."""
        down = network_unavailable(self.results)
        if not down and self.store is not None and self.run_id is not None:
            self.store.record_many(self.run_id, self._held)
        self._held = []
        return down

    def standing(self) -> dict[str, Standing]:
        """For each dead URL: confirmed dead, or failing k of N (history store rule)."""
        standing: dict[str, Standing] = {}
        rule = self.config.dead_after
        for result in self.results:
            if not failed(result) or self.store is None:
                continue
            if self.confirm_now is True or (self.confirm_now and result.key in self.confirm_now):
                standing[result.key] = Standing(confirmed=True)
                continue
            seen = self.store.confirm(result.key, rule.failures, rule.days / DAY)
            standing[result.key] = standing_of(seen, rule.days / DAY)
        return standing

    def counts(self, standing: Mapping[str, Standing]) -> dict[str, int]:
        """Link health of this run for the history chart."""
        counts = {"ok": 0, "redirected": 0, "failing": 0, "dead": 0}
        for result in self.results:
            if result.key in standing:
                counts["dead" if standing[result.key].confirmed else "failing"] += 1
            elif result.verdict is Verdict.OK:
                counts["ok"] += 1
            elif result.verdict is Verdict.REDIRECTED:
                counts["redirected"] += 1
        return counts


def only_changes(report: Report, changes: Changes) -> Report:
    """The report cut down to what changed since the previous run (for cron mail)."""
    new = {(change.key, change.url) for change in changes.new_findings}
    new_urls = {change.url for change in (*changes.new_dead, *changes.new_redirects)}
    kept = [f for f in report.findings
            if (f.kind, f.url or "") in new or (f.url in new_urls and f.kind in
                                                  ("dead", "redirected"))]
    kept += [Finding(kind="recovered", severity=Severity.INFO, path=Path("-"), line=1,
                     column=1, url=change.url, message=change.detail)
             for change in changes.recovered]
    return replace(report, findings=tuple(kept))
