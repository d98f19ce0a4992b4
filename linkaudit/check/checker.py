"""Network check of each distinct URL: a ``CheckResult`` per check key, failures as values.

The checker follows one URL's redirect chain hop by hop (GET with a capped read; HEAD
first only for files that are not pages, GET when HEAD cannot be believed; retries per
hop) and is the per-URL error boundary: whatever happens to a
URL becomes its result. Scheduling is the ``Scheduler``'s, one request ``fetch``'s, the
verdict rules ``verdicts``'s, the mapping of exceptions ``errors``'s.

The outside world is injected (client, sleep, monotonic clock, wall clock, resolver) so
tests run on ``httpx.MockTransport``, cassettes or a loopback server and never wait.
docs/checking.md describes the whole.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx

from linkaudit.check.client import CheckClient
from linkaudit.check.errors import UNUSABLE_URL_REASONS, describe_error
from linkaudit.check.fetch import Attempt, fetch
from linkaudit.check.guard import AddressProblem, Resolver, check_address, system_resolve
from linkaudit.check.head import wants_head
from linkaudit.check.hosts import Host, Job, parse_url, unrequestable, url_problem
from linkaudit.check.retry import RetryDecision, decide, retrying
from linkaudit.check.scheduler import Scheduler, Sleep
from linkaudit.check.verdicts import (
    PERMANENT_STATUSES,
    REDIRECT_STATUSES,
    Response,
    phrase,
    response_verdict,
    soft_404_redirect,
)
from linkaudit.config import NetworkConfig
from linkaudit.models import CheckResult, Hop, Verdict
from linkaudit.userregex import compile_user_regex


@dataclass(frozen=True, slots=True)
class _Trail:
    """What a result records of the requests made: hops, last status, attempts (all hops')."""

    chain: tuple[Hop, ...] = ()
    status: int | None = None
    attempts: int = 1


class Checker:
    """Checks URLs politely: global and per-host limits, per-host spacing and back-off."""

    def __init__(
        self,
        client: CheckClient,
        config: NetworkConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        resolve: Resolver = system_resolve,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._config = config
        self._clock = clock
        self._now = now
        self._resolve = resolve
        self._rand = rand
        self._exclude = [compile_user_regex(p, f"network.exclude[{n}]")
                         for n, p in enumerate(config.exclude)]
        self._scheduler = Scheduler(config, sleep=sleep, clock=clock, now=now)
        self._guarded: dict[str, AddressProblem | None] = {}
        # Redirect targets asked this run, by URL: another chain leading there reuses the
        # answer (None: it could not be shared, ask again).
        self._targets: dict[str, asyncio.Future[tuple[Attempt, int] | None]] = {}

    # -------------------------------------------------------------- public API

    def results(self, items: Iterable[tuple[str, str]]) -> AsyncIterator[CheckResult]:
        """Yield one result per distinct key as each completes.

        At most ``config.concurrency`` checks run at once; a check that only waits (retry
        back-off, a host's spacing) lends its slot to others meanwhile. Cancelling the
        consumer cancels the requests in flight; what was yielded before stays with the
        caller.
        """
        return self._scheduler.run(items, self._check_job)

    async def check_all(
        self,
        items: Iterable[tuple[str, str]],
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> list[CheckResult]:
        """Every result, in completion order; ``on_result`` sees each one as it arrives."""
        collected: list[CheckResult] = []
        async for result in self.results(items):
            collected.append(result)
            if on_result is not None:
                on_result(result)
        return collected

    @property
    def slowed_down(self) -> dict[str, int]:
        """Per host, how often it answered 429 (or 503 with Retry-After) so far this run."""
        return self._scheduler.slowed_down

    async def check(self, key: str, url: str) -> CheckResult:
        """The verdict for one URL; never raises for anything the network or URL does."""
        return await self._check_job(Job(key, url, parse_url(url)))

    # -------------------------------------------------------------- one URL

    async def _check_job(self, job: Job) -> CheckResult:
        key, url = job.key, job.url
        try:
            async with asyncio.timeout(float(self._config.total_timeout)):
                return await self._check_url(job)
        except TimeoutError:
            deadline = f"{self._config.total_timeout:g} s"
            return self._result(key, url, Verdict.UNREACHABLE, "timeout",
                                f"gave up after the {deadline} deadline for this URL")
        except Exception as exc:  # the per-URL boundary: any failure becomes a value
            reason, detail = describe_error(exc)
            verdict = Verdict.SKIPPED if reason in UNUSABLE_URL_REASONS else Verdict.UNREACHABLE
            return self._result(key, url, verdict, reason, detail)

    def _result(self, key: str, url: str, verdict: Verdict, reason: str, detail: str,
                trail: _Trail | None = None) -> CheckResult:
        trail = trail or _Trail()
        return CheckResult(key=key, url=url, verdict=verdict, detail=detail, reason=reason,
                           status=trail.status, chain=trail.chain, attempts=trail.attempts,
                           checked_at=self._now())

    async def _guard(self, host: str) -> AddressProblem | None:
        if host not in self._guarded:
            self._guarded[host] = await check_address(
                host, self._config.allow_private, resolve=self._resolve)
        return self._guarded[host]

    async def _check_url(self, job: Job) -> CheckResult:
        key, url = job.key, job.url
        for pattern in self._exclude:
            if pattern.search(url):
                return self._result(key, url, Verdict.SKIPPED, "excluded",
                                    f"matches the exclude pattern {pattern.pattern!r}")
        try:
            scheme = urllib.parse.urlsplit(url).scheme.lower()
        except ValueError as exc:  # an unclosed IPv6 bracket, for one
            return self._result(key, url, Verdict.SKIPPED, "invalid-url",
                                f"not a URL that can be requested: {exc}")
        if scheme not in ("http", "https"):
            return self._result(key, url, Verdict.SKIPPED, "scheme",
                                f"{scheme or 'no'} scheme: not checked")
        if job.parsed is None:
            return self._result(key, url, Verdict.SKIPPED, "invalid-url",
                                f"not a URL that can be requested: {url_problem(url)}")
        first = current = job.parsed
        chain: list[Hop] = []
        cookies = httpx.Cookies()  # this URL's own: never sent with another URL's check
        # A loop: the same URL again, with the same cookies (made at the first redirect).
        seen: set[tuple[str, _CookieState]] | None = None
        origin = None  # whose configured headers may be sent (found at the first redirect)
        start = self._clock()
        total_attempts = 0  # over every hop: what the result's ``attempts`` reports
        downgraded = False  # an https hop was followed by an http one
        while True:
            # A host's answer once known is read without a coroutine per hop.
            problem = (self._guarded[current.host] if current.host in self._guarded
                       else await self._guard(current.host))
            if problem is not None:
                verdict = Verdict.DEAD if problem.reason == "dns" else Verdict.SKIPPED
                return self._result(key, url, verdict, problem.reason, problem.detail,
                                    _Trail(tuple(chain), attempts=max(total_attempts, 1)))
            if current is first:
                own_origin = True
            else:
                origin = origin or _origin(first)
                own_origin = not downgraded and _origin(current) == origin
            if chain and not cookies and not (own_origin and self._scheduler.host(
                    current.host).headers):
                attempt, attempts = await self._shared_target(current, start, own_origin,
                                                              cookies)
            else:
                attempt, attempts = await self._hop(current, start, own_origin, cookies)
            total_attempts += attempts
            response = attempt.response
            if response is None:
                verdict = {"dns": Verdict.DEAD, "private-address": Verdict.SKIPPED}.get(
                    attempt.reason, Verdict.UNREACHABLE)
                detail = attempt.detail + (f" ({attempts} attempts)" if attempts > 1 else "")
                return self._result(key, url, verdict, attempt.reason, detail,
                                    _Trail(tuple(chain), attempts=total_attempts))
            chain.append(Hop(str(current), response.status))
            trail = _Trail(tuple(chain), response.status, total_attempts)
            if response.status not in REDIRECT_STATUSES:
                return self._final(key, url, first, current, response, trail, attempts)
            target = _redirect_target(current, response)
            if isinstance(target, tuple):
                return self._result(key, url, Verdict.UNREACHABLE, *target, trail)
            visit = (str(target), _cookie_state(cookies))
            seen = seen or {(str(first), ())}
            if visit in seen:
                return self._result(key, url, Verdict.UNREACHABLE, "loop",
                                    f"redirect loop back to {target}", trail)
            if len(chain) > self._config.max_redirects:
                return self._result(key, url, Verdict.UNREACHABLE, "too-many-redirects",
                                    f"more than {self._config.max_redirects} redirects", trail)
            seen.add(visit)
            downgraded = downgraded or (current.scheme == "https" and target.scheme == "http")
            current = target

    def _final(self, key: str, url: str, first: httpx.URL, final: httpx.URL,
               response: Response, trail: _Trail, last_hop_attempts: int) -> CheckResult:
        """The verdict of a chain's last response; redirects carry the final URL's verdict."""
        verdict, reason, detail = response_verdict(response)
        if last_hop_attempts > 1:
            detail += f" after {last_hop_attempts} attempts"
        result = self._result(key, url, verdict, reason, detail, trail)
        redirects = trail.chain[:-1]
        if not redirects or final == first:  # e.g. a cookie set, then back to the page
            return result
        permanent = all(hop.status in PERMANENT_STATUSES for hop in redirects)
        result = dataclasses.replace(result, final_url=str(final), final_verdict=verdict,
                                     permanent=permanent)
        soft = soft_404_redirect(str(first), str(final)) if verdict is Verdict.OK else None
        if soft is not None:
            return dataclasses.replace(result, verdict=Verdict.DEAD, reason="soft-404",
                                       detail=f"{soft} ({final})")
        if verdict is not Verdict.OK:
            return dataclasses.replace(result, detail=f"redirects to {final}: {detail}")
        kind = "permanent" if permanent else "temporary"
        return dataclasses.replace(result, verdict=Verdict.REDIRECTED, reason=kind,
                                   detail=f"{kind} redirect to {final}")

    async def _shared_target(self, url: httpx.URL, start: float, own_origin: bool,
                             cookies: httpx.Cookies) -> tuple[Attempt, int]:
        """A redirect target's answer, asked once per run: the chains that lead to the same
        URL (the site root, a login or consent page) without cookies or configured headers
        share one request. An answer that sets a cookie is not shared."""
        key = str(url)
        waiting = self._targets.get(key)
        if waiting is not None:
            shared = await asyncio.shield(waiting)
            return shared if shared is not None else await self._hop(
                url, start, own_origin, cookies)
        future = self._targets[key] = asyncio.get_running_loop().create_future()
        try:
            attempt, attempts = await self._hop(url, start, own_origin, cookies)
        except BaseException:
            del self._targets[key]
            future.set_result(None)
            raise
        response = attempt.response
        if response is not None and "set-cookie" in response.headers:
            del self._targets[key]
            future.set_result(None)
        else:
            digest = attempt if response is None else dataclasses.replace(
                attempt, response=response.digest())
            future.set_result((digest, attempts))
        return attempt, attempts

    def _hop(self, url: httpx.URL, start: float, own_origin: bool,
             cookies: httpx.Cookies) -> Awaitable[tuple[Attempt, int]]:
        """One hop with retries: GET, whose first bytes the soft-404 rules read; HEAD first
        only for a file that is not a page (``wants_head``: a PDF, an image) on a host that
        does not refuse HEAD, then GET for good once HEAD is refused. The host's configured
        headers go only to the cited URL's own origin (``own_origin``).

        Neither this nor ``_request`` is a coroutine of its own: each frame between a task
        and its socket is passed through again at every wake-up of every request."""
        host = self._scheduler.host(url.host)
        headers = host.headers if own_origin else {}
        use_head = host.head.supported and wants_head(url)

        async def head_first() -> Attempt:
            nonlocal use_head
            attempt, asked_get = await self._head_first(url, host, headers, cookies)
            use_head = not asked_get
            return attempt

        def attempt_once() -> Awaitable[Attempt]:
            if use_head:
                return head_first()
            return self._request("GET", url, host, headers, cookies)

        def choose(attempt: Attempt, number: int) -> RetryDecision:
            return decide(attempt.outcome, number, self._clock() - start, self._config,
                          now=self._scheduler.wall(), rand=self._rand)

        return retrying(attempt_once, choose, self._scheduler.pause)

    async def _head_first(self, url: httpx.URL, host: Host, headers: Mapping[str, str],
                          cookies: httpx.Cookies) -> tuple[Attempt, bool]:
        """HEAD, then GET when the HEAD answer cannot be believed (see docs/checking.md on
        what a host's HEAD answers teach); True when GET was asked."""
        head = await self._request("HEAD", url, host, headers, cookies)
        knowledge = host.head
        pending = knowledge.pending_confirmation(head)
        if pending is not None:
            await pending.wait()
        if not knowledge.needs_get(head):
            return head, False
        knowledge.learn_head(head)
        with knowledge.confirmation(head):
            get = await self._request("GET", url, host, headers, cookies)
            knowledge.learn_get(head, get)
        return get, True

    def _request(self, method: str, url: httpx.URL, host: Host,
                 headers: Mapping[str, str], cookies: httpx.Cookies) -> Awaitable[Attempt]:
        return self._scheduler.send(host, lambda: fetch(
            self._client, method, url, headers, self._config.body_cap, cookies))


_DEFAULT_PORTS = {"http": 80, "https": 443}


_CookieState = tuple[tuple[str, str, str, str], ...]


def _cookie_state(cookies: httpx.Cookies) -> _CookieState:
    """What a request could carry from the jar: asking again with other cookies is no loop."""
    if not cookies:
        return ()
    return tuple(sorted((c.domain, c.path, c.name, c.value or "") for c in cookies.jar))


def _redirect_target(current: httpx.URL, response: Response) -> httpx.URL | tuple[str, str]:
    """Where a redirect leads, or (reason, detail) when nowhere a web request can go: no
    Location, another scheme (mailto:, javascript:), or no valid URL."""
    location = response.headers.get("location")
    if not location:
        return "no-location", f"{phrase(response.status)} without a Location header"
    try:
        scheme = urllib.parse.urlsplit(location).scheme.lower()
        if scheme not in ("", "http", "https"):
            return ("redirect-scheme",
                    f"redirects to a {scheme}: URL ({location}), not a web page")
        target = current.join(location)
    except (ValueError, httpx.InvalidURL) as exc:
        return "bad-location", f"redirects to {location!r}, not a valid URL ({exc})"
    problem = unrequestable(target)
    if problem is not None:
        return "bad-location", f"redirects to {location!r}, not a valid URL ({problem})"
    return target


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port): whom a host's configured headers belong to."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)
