"""One request and its capped body read: an ``Attempt``, a response or a failure reason.

Nothing here retries, waits or decides a verdict; the checker does that with what an
``Attempt`` holds. Only the start of an HTML-ish body is kept (up to ``body_cap``
bytes), for the title rules; every other body is left unread or drained when small.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from linkaudit.check.errors import describe_error
from linkaudit.check.retry import Outcome
from linkaudit.check.verdicts import Response

_HTMLISH = re.compile(r"text/html|application/xhtml\+xml|text/plain", re.IGNORECASE)


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


async def fetch(client: httpx.AsyncClient, method: str, url: httpx.URL,
                headers: Mapping[str, str], body_cap: int) -> Attempt:
    """Send one request and read at most ``body_cap`` bytes of its body; never raises for
    anything the network or the server does."""
    request = client.build_request(method, url, headers=headers)
    try:
        response = await client.send(request, stream=True)
    except httpx.InvalidURL as exc:  # httpx prepares the next request even when not
        #                              following it, and cannot for mailto: or javascript:
        return Attempt(reason="redirect-scheme",
                       detail=f"redirects to a Location that is not a web address ({exc})")
    except httpx.HTTPError as exc:
        reason, detail = describe_error(exc)
        return Attempt(reason=reason, detail=detail)
    try:
        body = await read_body(response, body_cap)
    except httpx.HTTPError:
        body = b""  # the status is known; a body cut short only weakens soft-404 checks
    finally:
        await response.aclose()
    return Attempt(Response(response.status_code, dict(response.headers.items()), body))


async def read_body(response: httpx.Response, cap: int) -> bytes:
    """At most ``cap`` bytes of an HTML-ish body; other bodies are not kept.

    A body left unread makes httpcore drop the connection on close, so whatever is
    small enough is read to its end (a HEAD's empty body, a short non-HTML one): the
    connection then goes back to the pool instead of being opened again.
    """
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
