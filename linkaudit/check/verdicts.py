"""Pure verdict rules: what a status, a page title or a redirect's target says about a URL.

No I/O here: every rule takes what was received and returns a verdict, so each can be
pinned by a table test. docs/checking.md says why each rule is what it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from linkaudit.models import Verdict

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
BLOCKED_STATUSES = frozenset({401, 403, 429, 999})
DEAD_STATUSES = frozenset({404, 410})

MAX_TITLE = 1024  # bytes of a title kept: enough for any real one
_TITLE_OPEN = re.compile(rb"<title", re.IGNORECASE)
_TITLE_CLOSE = re.compile(rb"</title", re.IGNORECASE)
_NOT_FOUND_TITLE = re.compile(
    r"\b404\b|\bpage not found\b|^not found\b|\bnot found$", re.IGNORECASE)
_NOT_FOUND_PATH = re.compile(
    r"(?:^|/)(?:404(?:\.html?)?|(?:page[-_]?)?not[-_]?found(?:\.html?)?)(?:/|$)",
    re.IGNORECASE)
_CHALLENGE_TITLE = re.compile(r"just a moment|attention required|checking your browser",
                              re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Response:
    """The part of one HTTP response the verdict needs (the body capped, HTML only)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def title(self) -> str | None:
        return page_title(self.body)


def page_title(body: bytes) -> str | None:
    """The text of the page's first ``<title>``, or None; at most ``MAX_TITLE`` bytes of it.

    Plain searches, each over the body once: a hostile page full of unclosed ``<title``
    tags costs time linear in its (capped) size, never quadratic as a regex that retries
    at every ``<title`` would.
    """
    start = _TITLE_OPEN.search(body)
    if start is None:
        return None
    text_start = body.find(b">", start.end()) + 1
    if text_start == 0:
        return None
    end = _TITLE_CLOSE.search(body, text_start)
    if end is None:
        return None
    text = body[text_start:min(end.start(), text_start + MAX_TITLE)]
    return " ".join(html.unescape(text.decode("utf-8", errors="replace")).split())


def phrase(status: int) -> str:
    """``404 Not Found``: a status as a person reads it."""
    return f"{status} {httpx.codes.get_reason_phrase(status)}".rstrip()


def is_challenge(response: Response) -> bool:
    """A bot wall (Cloudflare's and the like) rather than the page itself."""
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    title = response.title
    return response.status in (403, 503) and title is not None and bool(
        _CHALLENGE_TITLE.search(title))


def response_verdict(response: Response) -> tuple[Verdict, str, str]:
    """(verdict, reason, detail) for a final, non-redirect response."""
    status = response.status
    if is_challenge(response):
        return Verdict.BLOCKED, "bot-challenge", f"{phrase(status)}: a bot challenge page"
    if 200 <= status < 300:
        title = response.title
        if title is not None and _NOT_FOUND_TITLE.search(title):
            return Verdict.DEAD, "soft-404", f"{phrase(status)} but the page says {title!r}"
        return Verdict.OK, str(status), phrase(status)
    if status in DEAD_STATUSES:
        return Verdict.DEAD, str(status), phrase(status)
    if status in BLOCKED_STATUSES:
        return Verdict.BLOCKED, str(status), f"{phrase(status)} (the site refuses robots)"
    return Verdict.UNREACHABLE, str(status), phrase(status)


def _is_site_root(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False  # not a URL (a hostile Location): never a site root
    return parts.path in ("", "/") and not parts.query


def lands_on_site_root(first: str, final: str) -> bool:
    """A redirect from a deep page (a path or a query) to the bare site root: a soft 404,
    not a move. The checker calls it dead; ``fix`` never rewrites a link to it."""
    return _is_site_root(final) and not _is_site_root(first)


def soft_404_redirect(first: str, final: str) -> str | None:
    """Why a redirect from ``first`` to ``final`` is a disguised "not found", or None."""
    if lands_on_site_root(first, final):
        return "redirects to the site root"
    final_path, first_path = urlsplit(final).path or "/", urlsplit(first).path or "/"
    if _NOT_FOUND_PATH.search(final_path) and not _NOT_FOUND_PATH.search(first_path):
        return "redirects to a not-found page"
    return None
