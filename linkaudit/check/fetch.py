"""One request and its capped body read: an ``Attempt``, a response or a failure reason.

Nothing here retries, waits or decides a verdict; the checker does that with what an
``Attempt`` holds. Only the start of an HTML-ish body is kept (up to ``body_cap``
bytes, less when the main heading ends sooner), for the soft-404 rules; every other body
is left unread or drained when small.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httpx

from linkaudit.check.client import CheckClient
from linkaudit.check.decoding import BoundedDecoder, UnsupportedCoding
from linkaudit.check.errors import describe_error
from linkaudit.check.retry import Outcome
from linkaudit.check.verdicts import HEADING_CLOSE, Response

_HTMLISH = re.compile(r"text/html|application/xhtml\+xml|text/plain", re.IGNORECASE)
_SPENT = httpx.ByteStream(b"")  # what a read and closed response is left with


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a URL: a response, or a failure (reason, detail) without one."""

    response: Response | None = None
    reason: str = ""
    detail: str = ""

    @property
    def outcome(self) -> Outcome:
        if self.response is None:
            return Outcome(reason=self.reason)
        return Outcome(status=self.response.status,
                       retry_after=self.response.headers.get("retry-after"))


async def fetch(client: CheckClient, method: str, url: httpx.URL,
                headers: Mapping[str, str], body_cap: int, cookies: httpx.Cookies) -> Attempt:
    """Send one request and read at most ``body_cap`` bytes of its body; never raises for
    anything the network or the server does.

    ``cookies`` is the jar of one URL's check: its cookies that match this request go with
    it (the jar's domain and path rules), and the cookies the response sets are kept in it.
    A redirect is an answer like any other: the checker judges its Location.
    """
    request = client.prepare(method, url, headers)
    if cookies:
        cookies.set_cookie_header(request)
    try:
        response = await client.exchange(request)
    except httpx.HTTPError as exc:
        reason, detail = describe_error(exc)
        return Attempt(reason=reason, detail=detail)
    # Decoded once: every lookup on httpx's headers decodes them all again.
    headers = dict(response.headers.items())
    _keep_cookies(cookies, response, headers)
    try:
        body = await read_body(response, body_cap, headers)
    except httpx.HTTPError:
        body = b""  # the status is known; a body cut short only weakens soft-404 checks
    finally:
        await response.aclose()
        # httpx's response and its stream refer to each other, so a response left as it is
        # (with the aiohttp response, headers and request it holds: ~30 objects) waits for
        # the cycle collector; without its spent stream, it is freed as soon as it is let go.
        response.stream = _SPENT
    return Attempt(Response(response.status_code, headers, body))


def is_htmlish(headers: Mapping[str, str]) -> bool:
    """Whether a response's Content-Type is one whose start is read (a page, or text)."""
    return _HTMLISH.search(headers.get("content-type", "")) is not None


def _keep_cookies(cookies: httpx.Cookies, response: httpx.Response,
                  headers: Mapping[str, str]) -> None:
    if "set-cookie" in headers:
        cookies.extract_cookies(response)


async def read_body(response: httpx.Response, cap: int,
                    headers: Mapping[str, str] | None = None) -> bytes:
    """At most ``cap`` bytes of an HTML-ish body; other bodies are not kept (``headers``:
    the response's, decoded, when the caller has them).

    The soft-404 rules read the title and the first ``<h1>``: once the ``</h1>`` is in,
    a body declared longer than ``cap`` is read no further, since its connection is
    closed either way. Any other body is read on up to ``cap``: one of unknown length
    (chunked, as most compressed pages are) usually ends within it, and its connection
    then goes back to the pool instead of costing a new handshake.

    The cap holds on the decoded bytes whatever the content codings (``BoundedDecoder``
    never inflates past it) and on the raw bytes received (at most ``cap`` plus one chunk).

    A body left unread makes the pool drop the connection on close, so whatever is
    small enough is read to its end (a HEAD's empty body, a short non-HTML one): the
    connection then goes back to the pool instead of being opened again.

    The chunks come from the response's stream itself: ``aiter_raw`` adds a generator,
    a chunker and an error context per chunk, and closes the response, which the caller
    does anyway.
    """
    if headers is None:
        headers = dict(response.headers.items())
    htmlish = cap > 0 and is_htmlish(headers)
    if response.is_stream_consumed:  # built with its body in memory (a test transport)
        return response.content[:cap] if htmlish and response.request.method != "HEAD" else b""
    stream = cast(httpx.AsyncByteStream, response.stream)
    if response.request.method == "HEAD":
        async for _ in stream:
            pass
        return b""
    if not htmlish:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) <= cap:
            async for _ in stream:
                pass
        return b""
    try:
        decoder = BoundedDecoder(headers.get("content-encoding", ""))
    except UnsupportedCoding:
        return b""  # nothing it could say is readable without an unbounded decoder
    length = headers.get("content-length", "")
    stop_at_heading = length.isdigit() and int(length) > cap
    body = bytearray()
    raw = 0
    async for chunk in stream:
        raw += len(chunk)
        decoder.feed(chunk)
        seen = len(body)
        try:
            body += decoder.read(cap - len(body))
        except zlib.error:
            break  # corrupt from here on: what was decoded stands
        if len(body) >= cap or raw >= cap:
            break
        if stop_at_heading and HEADING_CLOSE.search(body, max(seen - 4, 0)):
            break
    return bytes(body)
