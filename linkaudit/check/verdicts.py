"""Pure verdict rules: what a status, a page title or a redirect's target says about a URL.

No I/O here: every rule takes what was received and returns a verdict, so each can be
pinned by a table test. docs/checking.md says why each rule is what it is.
"""

from __future__ import annotations

import functools
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

MAX_TITLE = 1024  # bytes of a title or main heading kept: enough for any real one
_TITLE_OPEN = re.compile(rb"<title", re.IGNORECASE)
_TITLE_CLOSE = re.compile(rb"</title", re.IGNORECASE)
_HEADING_OPEN = re.compile(rb"<h1(?=[\s>])", re.IGNORECASE)
HEADING_CLOSE = re.compile(rb"</h1", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# "Not found" as servers and site generators word it, in the languages a multilingual
# blog cites most. A whole title part or main heading must be one of these (with an
# optional "404" or "error 404" beside it): a title that only mentions 404 does not count.
_NOT_FOUND_PHRASES = (
    # en
    r"(?:(?:the\s+)?(?:requested\s+)?(?:page|file|url|resource|document|post|article)"
    r"\s+)?(?:was\s+|is\s+)?not\s+found",
    r"(?:the\s+)?(?:page|file)\s+(?:could\s+not|cannot|can't|can\s+not)\s+be\s+found",
    r"(?:this\s+|the\s+)?page\s+(?:does\s+not|doesn't|no\s+longer)\s+exists?",
    r"(?:the\s+)?page\s+you(?:\s+are|'re|\s+were)?\s+(?:requested|looking\s+for)\s+"
    r"(?:could\s+not\s+be\s+found|cannot\s+be\s+found|can't\s+be\s+found|"
    r"was\s+not\s+found|does\s+not\s+exist|doesn't\s+exist)",
    r"nothing\s+(?:was\s+)?found",
    # de
    r"(?:die\s+)?(?:seite\s+|datei\s+)?(?:wurde\s+)?nicht\s+gefunden",
    r"(?:die\s+)?seite\s+(?:existiert\s+nicht|konnte\s+nicht\s+gefunden\s+werden)",
    # fr
    r"(?:la\s+)?page\s+(?:introuvable|non\s+trouv[ée]e|inexistante|n'existe\s+pas)",
    r"introuvable",
    # es, pt
    r"(?:la\s+|a\s+)?p[áa]gina\s+(?:no\s+encontrada|n[ãa]o\s+encontrada|no\s+existe|"
    r"n[ãa]o\s+existe|inexistente)",
    r"no\s+encontrad[oa]", r"n[ãa]o\s+encontrad[oa]",
    # it
    r"(?:la\s+)?pagina\s+(?:non\s+trovata|non\s+esiste|inesistente)", r"non\s+trovat[oa]",
    # nl
    r"(?:deze\s+)?pagina\s+(?:niet\s+gevonden|bestaat\s+niet)", r"niet\s+gevonden",
    # ja
    r"(?:お探しの)?ページ(?:が|は)?(?:見つかりません(?:でした)?|存在しません)",
    r"見つかりません(?:でした)?",
    # zh (simplified and traditional)
    r"(?:抱歉[，,]?\s*)?(?:您(?:访问|訪問)的)?(?:页面|頁面|网页|網頁)(?:不存在|未找到|找不到了?|没有找到|沒有找到)",
    r"找不到(?:该|該)?(?:页面|頁面|网页|網頁)",
    # ko
    r"(?:요청하신\s*)?페이지를\s*찾을\s*수\s*(?:없습니다|없음)",
    r"찾을\s*수\s*없는\s*페이지(?:입니다)?",
    # ru
    r"(?:страница|документ)\s+не\s+найден[ао]?", r"не\s+найдено",
)
_ERROR = r"(?:(?:http\s+)?(?:error|fehler|erreur|errore|erro|fout|ошибка|エラー|错误|錯誤|오류)\s*)"
_PHRASE = "(?:" + "|".join(_NOT_FOUND_PHRASES) + ")"
_CODE = rf"(?:{_ERROR}?404(?:\s*{_ERROR})?)"
_END = r"[\s!.。！…]*"
_NOT_FOUND_PART = re.compile(
    rf"(?:(?:oops|whoops|sorry|uh\s+oh|hmm)[\s!,.…]*)?"
    rf"(?:{_CODE}(?:\s*[-:–—!.]?\s*{_PHRASE})?|(?:{_CODE}\s*[-:–—!.]?\s*)?{_PHRASE}"
    rf"(?:\s*[-:–—(]?\s*{_CODE}\)?)?){_END}",
    re.IGNORECASE)
# What separates a title's parts ("Page not found | Example", "404 - Not Found"). The
# lookahead names every character a separator can start with: it changes no match, but
# spares trying three alternatives at every other character (2.5 → 1 µs on 16 characters).
_TITLE_PARTS = re.compile(r"(?=[\s|｜–—·•»：:])(?:\s*[|｜–—·•»：]\s*|\s+[-:]\s+|\s*::\s*)")
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

    @property
    def heading(self) -> str | None:
        return page_heading(self.body)

    def digest(self) -> Response:
        """This response with its body cut after its title and main heading, all that the
        verdict rules read: what is kept of a response shared between URLs."""
        ends = [_element_end(self.body, _TITLE_OPEN, _TITLE_CLOSE),
                _element_end(self.body, _HEADING_OPEN, HEADING_CLOSE)]
        return Response(self.status, self.headers, self.body[:max(ends)])


def page_title(body: bytes) -> str | None:
    """The text of the page's first ``<title>``, or None; at most ``MAX_TITLE`` bytes of it.

    Plain searches, each over the body once: a hostile page full of unclosed ``<title``
    tags costs time linear in its (capped) size, never quadratic as a regex that retries
    at every ``<title`` would.
    """
    text = _element_text(body, _TITLE_OPEN, _TITLE_CLOSE)
    return None if text is None else " ".join(html.unescape(text).split())


def page_heading(body: bytes) -> str | None:
    """The text of the page's first ``<h1>`` (its tags dropped), or None; at most
    ``MAX_TITLE`` bytes of it, found by linear searches as the title is."""
    text = _element_text(body, _HEADING_OPEN, HEADING_CLOSE)
    return None if text is None else " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _element_end(body: bytes, opening: re.Pattern[bytes], closing: re.Pattern[bytes]) -> int:
    """Where the first ``opening`` tag's ``closing`` one ends, or 0."""
    start = opening.search(body)
    end = None if start is None else closing.search(body, start.end())
    return 0 if end is None else end.end()


def _element_text(body: bytes, opening: re.Pattern[bytes],
                  closing: re.Pattern[bytes]) -> str | None:
    """The raw text between the first ``opening`` tag and the ``closing`` one after it."""
    start = opening.search(body)
    if start is None:
        return None
    text_start = body.find(b">", start.end()) + 1
    if text_start == 0:
        return None
    end = closing.search(body, text_start)
    if end is None:
        return None
    text = body[text_start:min(end.start(), text_start + MAX_TITLE)]
    return text.decode("utf-8", errors="replace")


def says_not_found(text: str) -> bool:
    """Whether a title or main heading is a "not found" message: the whole text, or one
    part of a title split at its separators, is such a phrase (in one of several
    languages) or a bare 404. "How to fix a 404" is not; "404 – Page not found | Site",
    "Seite nicht gefunden" and "ページが見つかりません" are."""
    text = text.strip()
    if _NOT_FOUND_PART.fullmatch(text):
        return True
    parts = _TITLE_PARTS.split(text)
    # One part is the whole text, just tried (most titles: no separator).
    return len(parts) > 1 and any(_NOT_FOUND_PART.fullmatch(part) for part in parts if part)


def soft_404_page(response: Response) -> str | None:
    """What a 2xx page says that makes it a disguised "not found" (its title or its main
    heading), or None."""
    title = response.title
    if title is not None and says_not_found(title):
        return f"the page says {title!r}"
    heading = response.heading
    if heading is not None and says_not_found(heading):
        return f"the page's heading says {heading!r}"
    return None


@functools.lru_cache(maxsize=1024)  # every status of three digits: 3 µs each time otherwise
def phrase(status: int) -> str:
    """``404 Not Found``: a status as a person reads it."""
    return f"{status} {httpx.codes.get_reason_phrase(status)}".rstrip()


def is_challenge(response: Response) -> bool:
    """A bot wall (Cloudflare's and the like) rather than the page itself."""
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    if response.status not in (403, 503):
        return False
    title = response.title
    return title is not None and bool(_CHALLENGE_TITLE.search(title))


def response_verdict(response: Response) -> tuple[Verdict, str, str]:
    """(verdict, reason, detail) for a final, non-redirect response."""
    status = response.status
    if is_challenge(response):
        return Verdict.BLOCKED, "bot-challenge", f"{phrase(status)}: a bot challenge page"
    if 200 <= status < 300:
        says = soft_404_page(response)
        if says is not None:
            return Verdict.DEAD, "soft-404", f"{phrase(status)} but {says}"
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
