"""A report run: what the history store knows, read only; nothing is checked."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from linkaudit.audit.online import state_findings
from linkaudit.config import Config
from linkaudit.errors import UsageError
from linkaudit.history import Store
from linkaudit.models import Report
from linkaudit.run.history import HISTORY_RUNS, open_store
from linkaudit.run.scan import fail_level


@dataclass(frozen=True)
class ReportOptions:
    """``since``: only what happened since ``YYYY-MM-DD`` or ``last-run``; None: everything."""

    since: str | None = None


def history_report(config: Config, options: ReportOptions = ReportOptions()) -> Report:
    """Dead, failing, recovered and redirected links as the store knows them."""
    with open_store(config, readonly=True) as store:
        since = _since(options.since, store)
        states = store.latest_states(since)
        return Report(command="report",
                      notes_scanned=len({c.path for s in states for c in s.citations}),
                      links=(), findings=tuple(state_findings(
                          states, min_days=store.rule.min_days)),
                      fail_on=fail_level(config.report.fail_on),
                      history=tuple(store.runs(limit=HISTORY_RUNS)),
                      dead_after=(store.rule.failures_needed, store.rule.min_days))


def _since(value: str | None, store: Store) -> float | None:
    if value is None:
        return None
    if value == "last-run":
        last = store.last_run()
        return None if last is None else last.started_at
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").replace(
            tzinfo=datetime.UTC).timestamp()
    except ValueError:
        raise UsageError(f"--since {value!r}: expected YYYY-MM-DD or last-run") from None
