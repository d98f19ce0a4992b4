"""When to try a request again, and how long to wait first.

``decide`` is a pure function so every rule can be pinned by a table test; the loop that
applies it (``retrying``) lives here too, with the sleep injected so tests never wait.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from linkaudit.config import NetworkConfig

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Failures without a response worth another try: the next attempt may well succeed.
RETRY_REASONS = frozenset({"connect-timeout", "read-timeout", "timeout", "reset", "protocol"})
# A refused connection is retried once only: a restarting server comes back quickly, a
# closed port does not.
RETRY_ONCE_REASONS = frozenset({"refused"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt produced: an HTTP status, or a failure reason tag without one."""

    status: int | None = None
    reason: str = ""  # failure tag when no response arrived ("dns", "reset", ...)
    retry_after: str | None = None  # the raw Retry-After header, if any


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    delay: float
    reason: str


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (delta-seconds or HTTP-date) as seconds from ``now``, or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates are UTC by RFC 5322
        when = when.replace(tzinfo=now.tzinfo)
    return max(0.0, (when - now).total_seconds())


def capped_retry_after(value: str | None, now: datetime, config: NetworkConfig) -> float | None:
    """A server's ``Retry-After`` in seconds, cut to ``max_retry_after`` (None: not given)."""
    asked = retry_after_seconds(value, now)
    return None if asked is None else min(asked, float(config.max_retry_after))


def backoff_delay(attempt: int, base: float, rand: Callable[[], float]) -> float:
    """Equal jitter: half the exponential step is fixed so retries never bunch up at zero."""
    step = base * 2.0 ** (attempt - 1)
    return step / 2 + rand() * step / 2


def decide(
    outcome: Outcome,
    attempt: int,
    elapsed: float,
    config: NetworkConfig,
    *,
    now: datetime,
    rand: Callable[[], float] = random.random,
) -> RetryDecision:
    """Whether attempt ``attempt`` (1-based), ``elapsed`` seconds into the URL, is retried."""
    if outcome.status is not None:
        if outcome.status not in RETRY_STATUSES:
            return RetryDecision(False, 0.0, f"status {outcome.status} is final")
    elif outcome.reason in RETRY_ONCE_REASONS:
        if attempt > 1:
            return RetryDecision(False, 0.0, f"{outcome.reason} again")
    elif outcome.reason not in RETRY_REASONS:
        return RetryDecision(False, 0.0, f"{outcome.reason or 'failure'} is not transient")
    if attempt > config.retries:
        return RetryDecision(False, 0.0, f"no retries left after {attempt} attempts")
    server_delay = capped_retry_after(outcome.retry_after, now, config)
    if server_delay is not None:
        delay = server_delay
        why = f"Retry-After {server_delay:g} s"
    else:
        delay = backoff_delay(attempt, float(config.backoff), rand)
        why = "backoff"
    if elapsed + delay >= config.total_timeout:
        deadline = f"{config.total_timeout:g} s deadline"
        return RetryDecision(False, delay, f"{why} would pass the {deadline}")
    return RetryDecision(True, delay, why)


async def retrying(
    attempt_once: Callable[[], Awaitable[T]],
    choose: Callable[[T, int], RetryDecision],
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[T, int]:
    """Run ``attempt_once`` until ``choose`` declines; return the last result and attempt count.

    Every attempt returns a value (failures included), so only results are judged. A plain
    loop: tenacity's machinery cost more CPU per URL than the rest of a check's own logic
    (benchmarks/README.md, wire), and a URL is retried far less often than it is asked.
    """
    number = 1
    while True:
        result = await attempt_once()
        decision = choose(result, number)
        if not decision.retry:
            return result, number
        await sleep(decision.delay)
        number += 1
