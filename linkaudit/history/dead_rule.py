"""The dead rule: a link is dead after N failed checks spread over at least D days.

The one place that knows what a check counts as (success, failure, neither), how failures
are counted (since the last success), and N and D (``dead_after`` in the config). The store
keeps the counters; callers ask the store (``confirm``, ``changes``, ``latest_states``),
which judges with the ``DeadRule`` it was opened with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from linkaudit.config import DeadAfterConfig
from linkaudit.models import Verdict

if TYPE_CHECKING:
    import sqlite3

DAY = 86400.0

SUCCESS, NEITHER, FAILURE = 1, 0, -1


def outcome(verdict: str, final_verdict: str | None) -> int:
    """What a check means for the history: SUCCESS, FAILURE or NEITHER.

    A redirect counts as its final URL's verdict; only ``dead`` is a failure (``blocked``
    and ``unreachable`` say nothing about the page).
    """
    effective = final_verdict if verdict == Verdict.REDIRECTED else verdict
    return SUCCESS if effective == Verdict.OK else FAILURE if effective == Verdict.DEAD \
        else NEITHER


class Tally(NamedTuple):
    """A key's failure counters as of one check (a tuple: built once or twice per check
    recorded, where a frozen dataclass costs several times as much)."""

    failures: int = 0  # failed checks since the last success
    first_failure: float | None = None
    last_failure: float | None = None
    last_failure_ever: float | None = None

    def after(self, result: int, at: float) -> Tally:
        """The counters once a check with outcome ``result`` at time ``at`` is added (in order)."""
        if result == SUCCESS:
            return Tally(last_failure_ever=self.last_failure_ever)
        if result == FAILURE:
            first = self.first_failure if self.failures else at
            return Tally(self.failures + 1, first, at, at)
        return self

    @classmethod
    def of(cls, row: sqlite3.Row) -> Tally:
        return cls(row["failures"], row["first_failure"], row["last_failure"],
                   row["last_failure_ever"])

    def values(self) -> tuple[int, float | None, float | None, float | None]:
        return self


@dataclass(frozen=True, slots=True)
class Confirmation:
    """How far a link is on its way to being confirmed dead (IABot-style)."""

    state: str  # "ok" (no failure since the last success) | "failing" | "dead"
    failures: int  # failed checks since the last success
    needed: int  # failed checks needed for "dead"
    first_failure: float | None = None
    last_failure: float | None = None


def confirmation(
    failures: int, first: float | None, last: float | None, needed: int, min_days: float
) -> Confirmation:
    """Dead once ``needed`` failures span at least ``min_days`` days; failing before that."""
    if failures == 0 or first is None or last is None:
        return Confirmation("ok", 0, needed)
    spread_enough = last - first >= min_days * DAY
    state = "dead" if failures >= needed and spread_enough else "failing"
    return Confirmation(state, failures, needed, first, last)


@dataclass(frozen=True, slots=True)
class DeadRule:
    """N (``failures_needed``) and D (``min_days``) of the rule, as one value."""

    failures_needed: int
    min_days: float

    @classmethod
    def from_config(cls, config: DeadAfterConfig) -> DeadRule:
        """The rule a ``dead_after`` config section asks for (its days are seconds there)."""
        return cls(config.failures, config.days / DAY)

    def overridden(self, failures_needed: int | None, min_days: float | None) -> DeadRule:
        """This rule with whichever of N and D are given replaced."""
        return replace(self,
                       failures_needed=self.failures_needed if failures_needed is None
                       else failures_needed,
                       min_days=self.min_days if min_days is None else min_days)

    def judge(self, failures: int, first: float | None, last: float | None) -> Confirmation:
        """The confirmation of a key with these counters (failures since the last success)."""
        return confirmation(failures, first, last, self.failures_needed, self.min_days)

DEFAULT_RULE = DeadRule.from_config(DeadAfterConfig())
