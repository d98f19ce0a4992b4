"""Online audit: one check result per URL → a finding at its first citation, worded in the
one vocabulary of link states (``STATES``), and the history store's states as findings.

Apart from the offline findings so that a state word and its wording live in one place
that the reporters, the check run and the CLI all read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from linkaudit.audit.findings import DEFAULT_SEVERITY
from linkaudit.models import CheckResult, Finding, Location, Severity, Verdict

if TYPE_CHECKING:  # the reporters do not import the store
    from linkaudit.history import Confirmation, UrlState

# The one word for each state of a checked link, used by findings, summaries and every
# format. ``failing`` is a link that failed but is not yet called dead by the history rule.
STATES = ("ok", "redirected", "failing", "dead", "unreachable", "blocked", "skipped")
_DAY = 86_400.0  # seconds


@dataclass(frozen=True)
class Standing:
    """What the history says of a failed URL: dead now, or failing until the rule is met."""

    confirmed: bool
    failures: int = 1  # failed checks since the last success
    needed: int = 1  # failed checks the rule needs
    min_days: float = 0.0  # days the failures must span
    first_failure: float | None = None
    last_failure: float | None = None


def standing_of(confirmation: Confirmation, min_days: float) -> Standing:
    """A store confirmation as the standing findings are worded from."""
    return Standing(confirmed=confirmation.state == "dead", failures=confirmation.failures,
                    needed=confirmation.needed, min_days=min_days,
                    first_failure=confirmation.first_failure,
                    last_failure=confirmation.last_failure)


def failed(result: CheckResult) -> bool:
    """The check found the page gone (itself or at the end of its redirects)."""
    return result.verdict is Verdict.DEAD or (result.verdict is Verdict.REDIRECTED
                                              and result.final_verdict is Verdict.DEAD)


def link_state(result: CheckResult, failing: Collection[str] = ()) -> str:
    """The state word of a checked link; ``failing`` holds the keys not yet called dead."""
    if failed(result):
        return "failing" if result.key in failing else "dead"
    return str(result.verdict)


def failing_message(detail: str, standing: Standing) -> str:
    """``404 Not Found; 1 failed check since …; dead after …, or now with --confirm-now``.

    Says what is still missing (more failed checks, a longer span, or both), so the counter
    never reads past its goal ("4 of 3").
    """
    checks = "1 failed check" if standing.failures == 1 \
        else f"{standing.failures} failed checks"
    span = 0.0 if standing.first_failure is None or standing.last_failure is None \
        else (standing.last_failure - standing.first_failure) / _DAY
    days = f"{standing.min_days:g} day{'' if standing.min_days == 1 else 's'}"
    if standing.failures < standing.needed:
        when = f"after {standing.needed} failed checks"
        if span < standing.min_days:
            when += f" spanning {days}"
    else:  # not dead yet with enough failures: the span is what is missing
        when = f"once the failures span {days}"
    return f"{detail}; {checks} since {day(standing.first_failure)}; called dead {when}, " \
           "or now with --confirm-now"


def online_findings(
    results: Iterable[CheckResult],
    places: Mapping[str, Sequence[Location]],
    standing: Mapping[str, Standing] | None = None,
) -> list[Finding]:
    """One finding per checked URL that needs attention, at its first citation.

    A failed URL without a confirmed ``standing`` is reported as ``failing`` (a warning):
    the history store calls a link dead only after repeated failures over days.
    """
    standing = standing or {}
    findings = []
    for result in results:
        kind, message = _online_kind(result, standing.get(result.key))
        cited = sorted(places.get(result.key, ()), key=lambda p: (str(p.path), p.line))
        if kind is None or not cited:
            continue
        severity = DEFAULT_SEVERITY[kind]
        if kind == "redirected" and not result.permanent:
            severity = Severity.INFO
        first = cited[0]
        findings.append(Finding(kind=kind, severity=severity, path=first.path,
                                line=first.line, column=first.column, url=result.url,
                                message=message, related=tuple(cited[1:])))
    return findings


def _online_kind(result: CheckResult, standing: Standing | None) -> tuple[str | None, str]:
    """The finding kind (a state word) and a message that does not repeat it."""
    cached = " (cached)" if result.from_cache else ""
    if result.verdict is Verdict.OK:
        return None, ""
    if failed(result):
        if standing is not None and not standing.confirmed:
            return "failing", failing_message(result.detail, standing)
        return "dead", f"{result.detail}{cached}"
    if result.verdict is Verdict.REDIRECTED:
        if result.permanent:
            return "redirected", f"moved permanently; update to {result.final_url}"
        return "redirected", f"redirects temporarily to {result.final_url}{cached}"
    if result.verdict is Verdict.UNREACHABLE:
        return "unreachable", f"{result.detail}{cached}"
    if result.verdict is Verdict.BLOCKED:
        return "blocked", f"{result.detail}: the site refused the check; the page may exist"
    if result.reason == "scheme":
        return None, ""
    return "skipped", result.detail


def unchecked_findings(keys: Iterable[str], places: Mapping[str, Sequence[Location]]
                       ) -> list[Finding]:
    """Offline gate: URLs the store has never seen are listed, not guessed at."""
    findings = []
    for key in keys:
        cited = sorted(places.get(key, ()), key=lambda p: (str(p.path), p.line))
        if cited:
            findings.append(Finding(
                kind="unchecked", severity=DEFAULT_SEVERITY["unchecked"], path=cited[0].path,
                line=cited[0].line, column=cited[0].column, url=key,
                message="the history store has no verdict for it yet; a check without "
                        "--offline requests it",
                related=tuple(cited[1:])))
    return findings


_STATE_KIND = {"dead": "dead", "failing": "failing", "recovered": "recovered",
               "redirected": "redirected"}


def state_findings(states: Iterable[UrlState], *, min_days: float) -> list[Finding]:
    """What the history store knows, as findings at each URL's first citation.

    ``min_days`` is the dead-after rule's span, for the wording of failing links.
    """
    findings = []
    for state in states:
        kind = _STATE_KIND[state.state]
        seen = (f"first seen {day(state.first_seen)}, last seen {day(state.last_seen)}, "
                f"last checked {day(state.last_checked)}")
        if state.state == "failing":
            standing = standing_of(state.confirmation, min_days)
            message = f"{failing_message(state.detail, standing)}; {seen}"
        elif state.state == "redirected":
            message = f"redirects to {state.final_url}; {seen}"
        else:
            message = f"{state.detail}; {seen}"
        severity = DEFAULT_SEVERITY[kind]
        if state.state == "redirected" and state.verdict is not Verdict.REDIRECTED:
            severity = Severity.INFO
        cited = [Location(c.path, c.line, 1) for c in state.citations] or \
            [Location(Path("-"), 1, 1)]
        findings.append(Finding(kind=kind, severity=severity, path=cited[0].path,
                                line=cited[0].line, column=1, url=state.url, message=message,
                                related=tuple(cited[1:])))
    return findings


def day(epoch: float | None) -> str:
    """A UTC calendar day for messages; "?" when unknown."""
    return "?" if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")
