"""Table tests for the pure retry decision and the loop that applies it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from linkaudit.check.retry import Outcome, RetryDecision, backoff_delay, decide, retrying
from linkaudit.config import Duration, NetworkConfig

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
CONFIG = NetworkConfig(retries=2, backoff=Duration(1), max_retry_after=Duration(60),
                       total_timeout=Duration(45))
HALF = 0.5  # the injected random draw: equal jitter gives 0.75 of the step


def _decide(outcome: Outcome, attempt: int = 1, elapsed: float = 0.0) -> RetryDecision:
    return decide(outcome, attempt, elapsed, CONFIG, now=NOW, rand=lambda: HALF)


@pytest.mark.parametrize(("outcome", "retry"), [
    (Outcome(status=200), False),
    (Outcome(status=301), False),
    (Outcome(status=400), False),
    (Outcome(status=401), False),
    (Outcome(status=403), False),
    (Outcome(status=404), False),
    (Outcome(status=410), False),
    (Outcome(status=451), False),
    (Outcome(status=501), False),
    (Outcome(status=408), True),
    (Outcome(status=429), True),
    (Outcome(status=500), True),
    (Outcome(status=502), True),
    (Outcome(status=503), True),
    (Outcome(status=504), True),
    (Outcome(reason="connect-timeout"), True),
    (Outcome(reason="read-timeout"), True),
    (Outcome(reason="timeout"), True),
    (Outcome(reason="reset"), True),
    (Outcome(reason="protocol"), True),
    (Outcome(reason="refused"), True),
    (Outcome(reason="dns"), False),
    (Outcome(reason="tls"), False),
    (Outcome(reason="redirect-scheme"), False),
    (Outcome(reason="error"), False),
])
def test_first_attempt_retries_only_transient_failures(outcome: Outcome, retry: bool) -> None:
    """Timeouts, resets, 408/429/5xx-gateway statuses retry; DNS, TLS and other 4xx do not."""
    assert _decide(outcome).retry is retry


def test_refused_connection_is_retried_once_only() -> None:
    """A refused connection gets one more try (a restarting server), not a second."""
    assert _decide(Outcome(reason="refused"), attempt=1).retry
    assert not _decide(Outcome(reason="refused"), attempt=2).retry


def test_retries_stop_when_the_budget_is_spent() -> None:
    """With retries=2 the third attempt is the last, whatever the failure."""
    assert _decide(Outcome(status=503), attempt=2).retry
    decision = _decide(Outcome(status=503), attempt=3)
    assert not decision.retry
    assert "no retries left" in decision.reason


@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.75), (2, 1.5), (3, 3.0)])
def test_backoff_doubles_with_equal_jitter(attempt: int, delay: float) -> None:
    """The delay is half the doubling step plus a random share of the other half."""
    assert backoff_delay(attempt, 1.0, lambda: HALF) == pytest.approx(delay)
    assert backoff_delay(attempt, 1.0, lambda: 0.0) == pytest.approx(delay / 1.5)


@pytest.mark.parametrize(("header", "delay"), [
    ("7", 7.0),
    (" 0 ", 0.0),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),  # already passed
    ("soon, please", 0.75),  # garbage: ordinary backoff
    ("-5", 0.75),  # not delta-seconds: ordinary backoff
])
def test_retry_after_is_honoured_in_both_forms_and_capped(header: str, delay: float) -> None:
    """Retry-After in seconds or as an HTTP date sets the delay, never beyond the cap."""
    decision = _decide(Outcome(status=429, retry_after=header))
    assert decision.retry
    assert decision.delay == pytest.approx(delay, abs=0.01)


def test_retry_after_over_the_cap_waits_the_cap() -> None:
    """A Retry-After longer than max_retry_after is cut to the cap."""
    roomy = NetworkConfig(max_retry_after=Duration(60), total_timeout=Duration(300))
    decision = decide(Outcome(status=429, retry_after="3600"), 1, 0.0, roomy, now=NOW)
    assert decision.retry
    assert decision.delay == 60.0


def test_no_retry_would_pass_the_url_deadline() -> None:
    """A retry whose wait ends past the total deadline is not scheduled."""
    decision = _decide(Outcome(status=503, retry_after="10"), attempt=1, elapsed=40.0)
    assert not decision.retry
    assert "deadline" in decision.reason
    assert _decide(Outcome(status=503, retry_after="10"), attempt=1, elapsed=30.0).retry


def test_loop_retries_until_the_decision_declines_and_sleeps_the_decided_delays() -> None:
    """The loop calls the attempt again after each yes and sleeps what was decided."""
    answers = [Outcome(status=503), Outcome(status=503), Outcome(status=200)]
    slept: list[float] = []

    async def attempt() -> Outcome:
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    def choose(outcome: Outcome, number: int) -> RetryDecision:
        return _decide(outcome, attempt=number)

    final, attempts = asyncio.run(retrying(attempt, choose, sleep))
    assert final == Outcome(status=200)
    assert attempts == 3
    assert slept == [pytest.approx(0.75), pytest.approx(1.5)]


def test_loop_returns_the_last_failure_when_retries_run_out() -> None:
    """When no retry is left, the last outcome is returned, not raised."""
    async def attempt() -> Outcome:
        return Outcome(reason="reset")

    async def sleep(seconds: float) -> None:
        return None

    final, attempts = asyncio.run(retrying(
        attempt, lambda outcome, number: _decide(outcome, attempt=number), sleep))
    assert final == Outcome(reason="reset")
    assert attempts == 3
