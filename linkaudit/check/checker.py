"""Network check of each distinct URL: a ``CheckResult`` per check key, failures as values.

The outside world is injected (client, sleep, monotonic clock, wall clock, resolver) so
tests run on ``httpx.MockTransport``, cassettes or a loopback server and never wait.
Scheduling, the request chain and the verdict rules are described in docs/checking.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import heapq
import html
import itertools
import random
import re
import socket
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from linkaudit.check.client import (
    AddressProblem,
    PrivateAddressRefused,
    Resolver,
    check_address,
    host_concurrency,
    host_config,
    system_resolve,
)
from linkaudit.check.retry import Outcome, RetryDecision, decide, retry_after_seconds, retrying
from linkaudit.config import NetworkConfig
from linkaudit.models import CheckResult, Hop, Verdict

Sleep = Callable[[float], Awaitable[None]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
BLOCKED_STATUSES = frozenset({401, 403, 429, 999})
DEAD_STATUSES = frozenset({404, 410})
# A HEAD answered with one of these may be a server that does not do HEAD: ask with GET.
HEAD_REFUSED_STATUSES = frozenset({403, 404, 405, 501})
HEAD_REFUSED_REASONS = frozenset({"reset", "protocol"})
# HEAD "method not allowed / not implemented": the host's later URLs go straight to GET.
HEAD_UNSUPPORTED_STATUSES = frozenset({405, 501})
# A HEAD refusal that a GET can confirm (same status) or contradict: how a host's HEAD is
# learnt to be reliable. 5xx are left out: HEAD 503 then GET 200 is a transient, not a lie.
HEAD_CONFIRMABLE_STATUSES = frozenset({403, 404})
# Once a host's HEAD agreed with GET this often (and never lied), its HEAD 404 is final.
# One pair: each host's first dead link then costs 2 requests, later ones 1.
HEAD_TRUSTED_AFTER = 1
HOST_BACKOFF_STATUSES = frozenset({429, 503})
# The URL itself cannot be requested: nothing was tried, so nothing can be concluded.
UNUSABLE_URL_REASONS = frozenset({"invalid-url", "scheme"})
# Failures that mean "could not reach the network at all" (see network_unavailable).
NO_NETWORK_REASONS = frozenset({"dns", "refused", "connect", "connect-timeout"})

_HTMLISH = re.compile(r"text/html|application/xhtml\+xml|text/plain", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_NOT_FOUND_TITLE = re.compile(
    r"\b404\b|\bpage not found\b|^not found\b|\bnot found$", re.IGNORECASE)
_NOT_FOUND_PATH = re.compile(
    r"(?:^|/)(?:404(?:\.html?)?|(?:page[-_]?)?not[-_]?found(?:\.html?)?)(?:/|$)",
    re.IGNORECASE)
_CHALLENGE_TITLE = re.compile(r"just a moment|attention required|checking your browser",
                              re.IGNORECASE)


# ---------------------------------------------------------------- exceptions to values


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """The exception and everything it was raised from or during (httpcore cuts __cause__)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(reason tag, detail for a person) for any exception raised while requesting a URL."""
    causes = list(_causes(exc))
    timeouts: dict[type[BaseException], tuple[str, str]] = {
        httpx.ConnectTimeout: ("connect-timeout", "connect timed out"),
        httpx.ReadTimeout: ("read-timeout", "read timed out (no data from the server)"),
        httpx.WriteTimeout: ("timeout", "write timed out"),
        httpx.PoolTimeout: ("timeout", "timed out waiting for a free connection"),
    }
    for kind, described in timeouts.items():
        if isinstance(exc, kind):
            return described
    for cause in causes:
        if isinstance(cause, PrivateAddressRefused):  # the name changed its answer since
            return "private-address", str(cause)
        if isinstance(cause, socket.gaierror):
            return "dns", f"the name does not resolve ({cause})"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "tls", f"TLS certificate rejected: {cause}"
        if isinstance(cause, ssl.SSLError):
            return "tls", f"TLS handshake failed: {cause}"
        if isinstance(cause, ConnectionRefusedError):
            return "refused", "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "reset", "connection reset by the server"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol", f"the server broke the HTTP exchange: {exc}"
    if isinstance(exc, httpx.ConnectError):
        return "connect", f"could not connect: {exc}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "reset", f"connection lost: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "scheme", f"unsupported URL scheme: {exc}"
    if isinstance(exc, httpx.InvalidURL):
        return "invalid-url", f"invalid URL: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class _Response:
    """The part of one HTTP response the verdict needs (the body capped, HTML only)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def title(self) -> str | None:
        match = _TITLE.search(self.body)
        if match is None:
            return None
        text = match.group(1).decode("utf-8", errors="replace")
        return " ".join(html.unescape(text).split())


@dataclass(frozen=True, slots=True)
class _Trail:
    """What a result records of the requests made: hops, last status, attempts (all hops')."""

    chain: tuple[Hop, ...] = ()
    status: int | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One try at a URL: a response, or a failure (reason, detail) without one."""

    response: _Response | None = None
    reason: str = ""
    detail: str = ""

    @property
    def outcome(self) -> Outcome:
        if self.response is None:
            return Outcome(reason=self.reason)
        return Outcome(status=self.response.status,
                       retry_after=self.response.headers.get("retry-after"))


def _phrase(status: int) -> str:
    return f"{status} {httpx.codes.get_reason_phrase(status)}".rstrip()


def _is_challenge(response: _Response) -> bool:
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    title = response.title
    return response.status in (403, 503) and title is not None and bool(
        _CHALLENGE_TITLE.search(title))


def _response_verdict(response: _Response) -> tuple[Verdict, str, str]:
    """(verdict, reason, detail) for a final, non-redirect response."""
    status = response.status
    if _is_challenge(response):
        return Verdict.BLOCKED, "bot-challenge", f"{_phrase(status)}: a bot challenge page"
    if 200 <= status < 300:
        title = response.title
        if title is not None and _NOT_FOUND_TITLE.search(title):
            return Verdict.DEAD, "soft-404", f"{_phrase(status)} but the page says {title!r}"
        return Verdict.OK, str(status), _phrase(status)
    if status in DEAD_STATUSES:
        return Verdict.DEAD, str(status), _phrase(status)
    if status in BLOCKED_STATUSES:
        return Verdict.BLOCKED, str(status), f"{_phrase(status)} (the site refuses robots)"
    return Verdict.UNREACHABLE, str(status), _phrase(status)


def _path(url: httpx.URL) -> str:
    return url.path or "/"


def _soft_404_redirect(first: httpx.URL, final: httpx.URL) -> str | None:
    """Why a redirect from ``first`` to ``final`` is a disguised "not found", or None."""
    if _path(final) == "/" and not final.query and _path(first) != "/":
        return "redirects to the site root"
    if _NOT_FOUND_PATH.search(_path(final)) and not _NOT_FOUND_PATH.search(_path(first)):
        return "redirects to a not-found page"
    return None


def network_unavailable(results: Iterable[CheckResult]) -> bool:
    """True when at least one URL was tried and none got further than DNS or connecting."""
    tried = [r for r in results if r.verdict is not Verdict.SKIPPED and not r.from_cache]
    return bool(tried) and all(
        r.status is None and r.reason in NO_NETWORK_REASONS for r in tried)


# ---------------------------------------------------------------- per-host scheduling


@dataclass(frozen=True, slots=True)
class _Job:
    """One distinct URL to check, parsed once when queued (None: httpx cannot parse it)."""

    key: str
    url: str
    parsed: httpx.URL | None


@dataclass(eq=False)
class _Host:
    """One host's queue, limits and what was learnt about its HEAD answers this run."""

    name: str
    limit: int
    interval: float
    headers: Mapping[str, str]
    next_start: float = 0.0  # monotonic time before which no request may start
    in_flight: int = 0
    queued: deque[_Job] = field(default_factory=deque)
    listed: bool = False  # in the ready queue or the parked heap
    head_supported: bool = True  # False after HEAD 405/501: GET only from then on
    head_agreements: int = 0  # HEAD 403/404 confirmed by the same status from GET
    head_lies: bool = False  # a GET contradicted a HEAD 403/404: never trust its HEAD
    confirming: asyncio.Event | None = None  # set when the GET checking a HEAD 403/404 ends

    def needs_get(self, head: _Attempt) -> bool:
        """Whether a HEAD answer must be asked again with GET before it is believed."""
        if head.response is None:
            return head.reason in HEAD_REFUSED_REASONS
        status = head.response.status
        if status == 404 and self.head_trusted:
            return False
        return status in HEAD_REFUSED_STATUSES or status >= 500

    @property
    def head_trusted(self) -> bool:
        return not self.head_lies and self.head_agreements >= HEAD_TRUSTED_AFTER

    def pending_confirmation(self, head: _Attempt) -> asyncio.Event | None:
        """For a HEAD 404 while another URL's GET is testing this host's HEAD: that test's
        end, worth waiting for rather than asking GET at once."""
        if (head.response is None or head.response.status != 404 or self.head_lies
                or self.head_trusted):
            return None
        return self.confirming

    @contextlib.contextmanager
    def confirmation(self, head: _Attempt) -> Iterator[None]:
        """Around the GET that follows a HEAD 403/404: the first such GET of a host is the
        one its other HEAD 404s wait for (``pending_confirmation``)."""
        status = head.response.status if head.response is not None else None
        if self.confirming is not None or status not in HEAD_CONFIRMABLE_STATUSES:
            yield
            return
        event = self.confirming = asyncio.Event()
        try:
            yield
        finally:
            self.confirming = None
            event.set()

    def learn_head(self, head: _Attempt) -> None:
        """A HEAD 405/501 sends the host's later URLs straight to GET (told at once, so
        URLs starting while this one's GET runs do not ask HEAD in vain)."""
        if head.response is not None and head.response.status in HEAD_UNSUPPORTED_STATUSES:
            self.head_supported = False

    def learn_get(self, head: _Attempt, get: _Attempt) -> None:
        """Count a GET agreeing with a HEAD 403/404; one disagreement distrusts HEAD for good."""
        if head.response is None or get.response is None:
            return
        status = head.response.status
        if status in HEAD_CONFIRMABLE_STATUSES:
            if get.response.status == status:
                self.head_agreements += 1
            else:
                self.head_lies = True


def _parse(url: str) -> httpx.URL | None:
    """The URL as httpx will request it (host in IDNA, lower case); None if it cannot."""
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


class _Slot:
    """A running check's share of the global concurrency. It is lent back while the check
    only sleeps, so a retry back-off or a host's spacing does not idle a slot that
    another host's check could use."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = True

    async def lend(self, sleep: Sleep, seconds: float) -> None:
        self.release()
        await sleep(seconds)
        await self._slots.acquire()  # cancelled before this: not held, release() skips it
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


_CURRENT_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar(
    "linkaudit_check_slot", default=None)


class Checker:
    """Checks URLs politely: global and per-host limits, per-host spacing and back-off."""

    def __init__(
        self,
        client: httpx.AsyncClient,
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
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._resolve = resolve
        self._rand = rand
        self._exclude = [re.compile(p) for p in config.exclude]
        self._hosts: dict[str, _Host] = {}
        self._ready: deque[_Host] = deque()
        self._parked: list[tuple[float, int, _Host]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._queued = 0  # jobs waiting in all hosts' queues
        self._guarded: dict[str, AddressProblem | None] = {}

    # -------------------------------------------------------------- public API

    async def results(self, items: Iterable[tuple[str, str]]) -> AsyncIterator[CheckResult]:
        """Yield one result per distinct key as each completes.

        At most ``config.concurrency`` checks run at once; a check that only waits (retry
        back-off, a host's spacing) lends its slot to others meanwhile. Cancelling the
        consumer cancels the requests in flight; what was yielded before stays with the
        caller.
        """
        pending = self._enqueue(items)
        done: asyncio.Queue[CheckResult] = asyncio.Queue()
        slots = asyncio.Semaphore(self._config.concurrency)
        running: set[asyncio.Task[None]] = set()

        async def run(job: _Job, host: _Host) -> None:
            slot = _Slot(slots)
            _CURRENT_SLOT.set(slot)  # this task's own context: seen by _pause below it
            try:
                await done.put(await self._check_job(job))
            finally:
                slot.release()
                self._finished(host)

        async def dispatch() -> None:
            while True:
                await slots.acquire()
                job = await self._next_job()
                if job is None:
                    slots.release()
                    return
                task = asyncio.create_task(run(*job))
                running.add(task)
                task.add_done_callback(running.discard)

        dispatcher = asyncio.create_task(dispatch())
        try:
            for _ in range(pending):
                yield await done.get()
        finally:
            dispatcher.cancel()
            for task in list(running):
                task.cancel()
            await asyncio.gather(dispatcher, *running, return_exceptions=True)

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

    async def check(self, key: str, url: str) -> CheckResult:
        """The verdict for one URL; never raises for anything the network or URL does."""
        return await self._check_job(_Job(key, url, _parse(url)))

    async def _check_job(self, job: _Job) -> CheckResult:
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

    # -------------------------------------------------------------- scheduling

    def _host(self, name: str) -> _Host:
        host = self._hosts.get(name)
        if host is None:
            override = host_config(self._config.hosts, name)
            interval = float(self._config.per_host_interval)
            headers: Mapping[str, str] = {}
            if override is not None:
                interval = interval if override.interval is None else float(override.interval)
                headers = override.headers
            host = self._hosts[name] = _Host(
                name, host_concurrency(self._config, name), interval, headers)
        return host

    def _enqueue(self, items: Iterable[tuple[str, str]]) -> int:
        seen: set[str] = set()
        for key, url in items:
            if key in seen:
                continue
            seen.add(key)
            parsed = _parse(url)
            host = self._host(parsed.host if parsed is not None else "")
            host.queued.append(_Job(key, url, parsed))
            self._list(host)
        self._queued += len(seen)
        return len(seen)

    def _list(self, host: _Host) -> bool:
        """Put ``host`` in the ready queue if it has work and room; True if it was put."""
        if host.listed or not host.queued or host.in_flight >= host.limit:
            return False
        host.listed = True
        self._ready.append(host)
        return True

    def _finished(self, host: _Host) -> None:
        """A check ended: wake the dispatcher only if its host can start another now."""
        host.in_flight -= 1
        if self._list(host):
            self._changed.set()

    async def _next_job(self) -> tuple[_Job, _Host] | None:
        """The next job and its host, round-robin over hosts that may start now."""
        while True:
            now = self._clock()
            while self._parked and self._parked[0][0] <= now:
                self._ready.append(heapq.heappop(self._parked)[2])
            while self._ready:
                host = self._ready.popleft()
                if host.next_start > now:
                    heapq.heappush(self._parked, (host.next_start, next(self._order), host))
                    continue
                job = host.queued.popleft()
                self._queued -= 1
                host.in_flight += 1
                host.listed = False
                self._list(host)
                return job, host
            if not self._parked and not self._queued:
                return None
            self._changed.clear()
            if self._parked:  # a check ending or the earliest parked host, whichever first
                await _first_of([self._changed.wait(),
                                 self._sleep(max(0.0, self._parked[0][0] - now))])
            else:
                await self._changed.wait()

    async def _start_request(self, host: _Host) -> None:
        """Wait for the host's spacing (interval or back-off), then claim the start time."""
        while (wait := host.next_start - self._clock()) > 0:
            await self._pause(wait)
        host.next_start = self._clock() + host.interval

    async def _pause(self, seconds: float) -> None:
        """Sleep without holding a global slot when running under ``results()``."""
        slot = _CURRENT_SLOT.get()
        if slot is None:
            await self._sleep(seconds)
        else:
            await slot.lend(self._sleep, seconds)

    def _back_off(self, host: _Host, attempt: _Attempt) -> None:
        """After 429/503 the whole host waits, not only the URL that got it."""
        response = attempt.response
        if response is None or response.status not in HOST_BACKOFF_STATUSES:
            return
        delay = retry_after_seconds(response.headers.get("retry-after"), self._wall())
        delay = float(self._config.backoff) if delay is None else delay
        delay = min(delay, float(self._config.max_retry_after))
        host.next_start = max(host.next_start, self._clock() + delay)

    # -------------------------------------------------------------- one URL

    def _wall(self) -> datetime:
        return datetime.fromtimestamp(self._now(), tz=UTC)

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

    async def _check_url(self, job: _Job) -> CheckResult:
        key, url = job.key, job.url
        for pattern in self._exclude:
            if pattern.search(url):
                return self._result(key, url, Verdict.SKIPPED, "excluded",
                                    f"matches the exclude pattern {pattern.pattern!r}")
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            return self._result(key, url, Verdict.SKIPPED, "scheme",
                                f"{scheme or 'no'} scheme: not checked")
        first = current = job.parsed if job.parsed is not None else httpx.URL(url)
        chain: list[Hop] = []
        seen = {str(current)}
        start = self._clock()
        total_attempts = 0  # over every hop: what the result's ``attempts`` reports
        while True:
            problem = await self._guard(current.host)
            if problem is not None:
                verdict = Verdict.DEAD if problem.reason == "dns" else Verdict.SKIPPED
                return self._result(key, url, verdict, problem.reason, problem.detail,
                                    _Trail(tuple(chain), attempts=max(total_attempts, 1)))
            attempt, attempts = await self._fetch(current, start)
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
            location = response.headers.get("location")
            if not location:
                return self._result(key, url, Verdict.UNREACHABLE, "no-location",
                                    f"{_phrase(response.status)} without a Location header",
                                    trail)
            target_scheme = urllib.parse.urlsplit(location).scheme.lower()
            if target_scheme not in ("", "http", "https"):
                return self._result(key, url, Verdict.UNREACHABLE, "redirect-scheme",
                                    f"redirects to a {target_scheme}: URL ({location}), "
                                    "not a web page", trail)
            target = current.join(location)
            if str(target) in seen:
                return self._result(key, url, Verdict.UNREACHABLE, "loop",
                                    f"redirect loop back to {target}", trail)
            if len(chain) > self._config.max_redirects:
                return self._result(key, url, Verdict.UNREACHABLE, "too-many-redirects",
                                    f"more than {self._config.max_redirects} redirects", trail)
            seen.add(str(target))
            current = target

    def _final(self, key: str, url: str, first: httpx.URL, final: httpx.URL,
               response: _Response, trail: _Trail, last_hop_attempts: int) -> CheckResult:
        """The verdict of a chain's last response; redirects carry the final URL's verdict."""
        verdict, reason, detail = _response_verdict(response)
        if last_hop_attempts > 1:
            detail += f" after {last_hop_attempts} attempts"
        result = self._result(key, url, verdict, reason, detail, trail)
        redirects = trail.chain[:-1]
        if not redirects:
            return result
        permanent = all(hop.status in PERMANENT_STATUSES for hop in redirects)
        result = dataclasses.replace(result, final_url=str(final), final_verdict=verdict,
                                     permanent=permanent)
        soft = _soft_404_redirect(first, final) if verdict is Verdict.OK else None
        if soft is not None:
            return dataclasses.replace(result, verdict=Verdict.DEAD, reason="soft-404",
                                       detail=f"{soft} ({final})")
        if verdict is not Verdict.OK:
            return dataclasses.replace(result, detail=f"redirects to {final}: {detail}")
        kind = "permanent" if permanent else "temporary"
        return dataclasses.replace(result, verdict=Verdict.REDIRECTED, reason=kind,
                                   detail=f"{kind} redirect to {final}")

    async def _fetch(self, url: httpx.URL, start: float) -> tuple[_Attempt, int]:
        """One hop with retries: HEAD first (unless the host refuses HEAD), then GET for good
        once HEAD is refused."""
        host = self._host(url.host)
        use_head = host.head_supported

        async def attempt_once() -> _Attempt:
            nonlocal use_head
            if use_head:
                attempt, asked_get = await self._head_first(url, host)
                use_head = not asked_get
            else:
                attempt = await self._request("GET", url, host)
            self._back_off(host, attempt)
            return attempt

        def choose(attempt: _Attempt, number: int) -> RetryDecision:
            return decide(attempt.outcome, number, self._clock() - start, self._config,
                          now=self._wall(), rand=self._rand)

        return await retrying(attempt_once, choose, self._pause)

    async def _head_first(self, url: httpx.URL, host: _Host) -> tuple[_Attempt, bool]:
        """HEAD, then GET when the HEAD answer cannot be believed (see docs/checking.md on
        what a host's HEAD answers teach); True when GET was asked."""
        head = await self._request("HEAD", url, host)
        pending = host.pending_confirmation(head)
        if pending is not None:
            await pending.wait()
        if not host.needs_get(head):
            return head, False
        host.learn_head(head)
        with host.confirmation(head):
            get = await self._request("GET", url, host)
            host.learn_get(head, get)
        return get, True

    async def _request(self, method: str, url: httpx.URL, host: _Host) -> _Attempt:
        await self._start_request(host)
        request = self._client.build_request(method, url, headers=host.headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.InvalidURL as exc:  # httpx prepares the next request even when not
            #                              following it, and cannot for mailto: or javascript:
            return _Attempt(reason="redirect-scheme",
                            detail=f"redirects to a Location that is not a web address ({exc})")
        except httpx.HTTPError as exc:
            reason, detail = describe_error(exc)
            return _Attempt(reason=reason, detail=detail)
        try:
            body = await self._read_body(response)
        except httpx.HTTPError:
            body = b""  # the status is known; a body cut short only weakens soft-404 checks
        finally:
            await response.aclose()
        return _Attempt(_Response(response.status_code, dict(response.headers.items()), body))

    async def _read_body(self, response: httpx.Response) -> bytes:
        """At most ``body_cap`` bytes of an HTML-ish body; other bodies are not kept.

        A body left unread makes httpcore drop the connection on close, so whatever is
        small enough is read to its end (a HEAD's empty body, a short non-HTML one): the
        connection then goes back to the pool instead of being opened again.
        """
        cap = self._config.body_cap
        if response.request.method == "HEAD":
            await response.aread()
            return b""
        if cap == 0 or not _HTMLISH.search(response.headers.get("content-type", "")):
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) <= cap:
                async for _ in response.aiter_raw():
                    pass
            return b""
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= cap:
                break
        return bytes(body[:cap])


async def _first_of(waits: Sequence[Awaitable[object]]) -> None:
    """Wait until the first of ``waits`` finishes, then cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
