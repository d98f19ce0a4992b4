"""Keys that tell when two links cite the same source.

All keys are computed on the safe-cleaned URL, so tracking never makes two citations
differ. ``check_key`` (RFC 3986 §6.2.2–6.2.3 plus IDNA, fragment dropped) decides what is
requested once; ``citation_key`` keeps the fragment; ``aggressive_key`` adds heuristics that
usually, but not always, hold (https, no ``www.``, no trailing slash, sorted query, desktop
host, wrapper target), each named in ``heuristics`` when it changed something. Keys are
for comparing only: nothing here rewrites a note.
"""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import SplitResult, quote, urlsplit

from linkaudit.clean.rules import LEVELS, RuleSet
from linkaudit.clean.strip import (
    CleanResult,
    clean_url,
    clean_url_at_both_levels,
    piece_name,
    query_pieces,
)
from linkaudit.languages import ISO_639_1
from linkaudit.models import CleanedLink, Link, Protection, make_cleaned_link, maker

WEB_SCHEMES = ("http", "https")
UNCHECKED_SCHEMES = ("mailto", "tel")  # valid links, but nothing to request
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# An escape, or a run of what a URI cannot hold (encoded in one call, however long).
_ENCODE = re.compile(r"%([0-9A-Fa-f]{2})|[^\x21-\x7e]+|[\"<>\\^`{|}]")
# Printable ASCII is never whitespace or invisible: only the rest needs a closer look.
_MAYBE_INVISIBLE = re.compile(r"[^\x21-\x7e]+")
# A DNS name as http(s) hosts use them (underscores occur in the wild), or an IPv4 address.
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_MOBILE_LABELS = ("m", "mobile")
_REMOVABLE_LABELS = frozenset({"www", *_MOBILE_LABELS})  # host labels the steps may remove
_LOCALE_PARAMS = frozenset({"hl", "lang", "locale", "language"})
_LOCALE_SEGMENTS = 2  # language path segments are looked for among the first two only
_LANGUAGE_TAG = re.compile(r"([a-z]{2})(?:[-_](?:[a-z]{2}|[a-z]{4}|\d{3}))*", re.IGNORECASE)
_SCRIPT_SEGMENTS = frozenset({"hans", "hant"})
# Per LinkCleaner, and for locale_variant_key: about 1 KB a URL, so ~20 MB at most.
_MAX_REMEMBERED_URLS = 20_000


@dataclass(frozen=True)
class UrlKeys:
    """The comparison keys of one URL; for an unusable URL every key is the URL as written."""

    check_key: str  # safe normalisation, no fragment: one request per key
    citation_key: str  # safe normalisation with the fragment
    aggressive_key: str  # aggressive normalisation, no fragment
    heuristics: tuple[str, ...] = ()  # aggressive steps that changed the URL, in order
    malformed: str | None = None  # why the URL cannot be used
    checkable: bool = True  # False for malformed URLs, relative links, mailto: and tel:
    variant_key: str | None = None  # ``locale_variant_key(aggressive_key)`` of a web URL


_url_keys = maker(UrlKeys)  # one per distinct URL a tree cites


_Split = tuple[SplitResult, int | None, str | None]  # urlsplit, its port and host name


class _Malformed(Exception):
    """Internal: why a URL cannot be normalised (becomes ``UrlKeys.malformed``)."""


class _Parts(NamedTuple):  # a tuple: made several times per distinct URL
    scheme: str
    userinfo: str  # "user:password@" as written, or ""
    host: str
    port: str  # ":8080", or "" for the scheme's default port
    path: str
    query: str
    fragment: str

    def unsplit(self, *, fragment: bool) -> str:
        url = f"{self.scheme}://{self.userinfo}{self.host}{self.port}{self.path}"
        url += f"?{self.query}" if self.query else ""
        return url + (f"#{self.fragment}" if fragment and self.fragment else "")


def keys(url: str, rules: RuleSet) -> UrlKeys:
    """The keys of ``url`` after safe cleaning; never raises."""
    return _clean_and_key(url, rules, "safe")[1]


def _clean_and_key(url: str, rules: RuleSet, level: str) -> tuple[CleanResult, UrlKeys]:
    """``url`` cleaned at ``level`` (as written when unusable) and its keys; never raises."""
    try:
        split = _split(url)
        scheme = split[0].scheme.lower()
        if scheme not in WEB_SCHEMES:
            if scheme in UNCHECKED_SCHEMES or not scheme:
                return clean_url(url, rules, level), UrlKeys(url, url, url, checkable=False)
            raise _Malformed(f"unsupported scheme {scheme!r}")
        safe_result, aggressive = clean_url_at_both_levels(url, rules, split[0], split[2])
        cleaned = (safe_result.url, aggressive.url, aggressive.unwrapped is not None)
        url_keys = _known_keys.get(cleaned) or _web_keys(url, cleaned, split)
    except _Malformed as exc:
        return CleanResult(url), UrlKeys(url, url, url, malformed=str(exc), checkable=False)
    return (safe_result if level == "safe" else aggressive), url_keys


# The keys of web URLs by (safe URL, aggressive URL, unwrapped): a tree writes one source
# with several sets of tracking parameters (bounded as a cleaner's memo; rules play no part).
_known_keys: dict[tuple[str, str, bool], UrlKeys] = {}


def _web_keys(url: str, cleaned: tuple[str, str, bool], split: _Split) -> UrlKeys:
    """The keys of web URL ``url`` from ``cleaned`` (its safe and aggressive cleanings, and
    whether the latter unwrapped a redirect), remembered; ``split`` is ``_split(url)``."""
    safe_url, aggressive_url, unwrapped = cleaned
    query = None
    if safe_url != url:  # only pieces of the query were removed
        pieces = query_pieces(safe_url)
        query = pieces[1] if pieces else ""
    safe = _safe_parts(safe_url, split, query)
    heuristics: list[str] = []
    try:
        start = safe if aggressive_url == safe_url else _safe_parts(aggressive_url)
    except _Malformed:  # an unwrapped target that is unusable: compare the wrapper itself
        start = safe
    else:
        if unwrapped:
            heuristics.append("redirect-wrapper")
        elif start.query != safe.query:
            heuristics.append("aggressive-params")
    final, applied = _aggressive_parts(start)
    aggressive_key = sys.intern(final.unsplit(fragment=False))
    check_key = sys.intern(safe.unsplit(fragment=False))
    url_keys = _url_keys(
        check_key=check_key,
        citation_key=sys.intern(safe.unsplit(fragment=True)) if safe.fragment else check_key,
        aggressive_key=aggressive_key,
        heuristics=(*heuristics, *applied),
        variant_key=_variant_of(final, aggressive_key),
    )
    if len(_known_keys) >= _MAX_REMEMBERED_URLS:
        del _known_keys[next(iter(_known_keys))]
    _known_keys[cleaned] = url_keys
    return url_keys


def _variant_of(final: _Parts, aggressive_key: str) -> str:
    """``locale_variant_key(aggressive_key)``, from the parts it was written from.

    Reading the key back gives ``final`` again when the aggressive steps change nothing
    more (not so for ``www.www.``), unless the port is 443 (``http://h:443`` became
    ``https://h:443``, read back without it) or there is user info (kept as written); in
    those cases the key is read back. Only a host label the steps remove can be left for
    a second pass (``www.www.``, ``m.www.``): the other steps are done in one.
    """
    if final.port == ":443" or final.userinfo or (
            not _REMOVABLE_LABELS.isdisjoint(final.host.split("."))
            and _aggressive_parts(final)[1]):
        return locale_variant_key(aggressive_key)
    return _without_locale(final)


@functools.lru_cache(maxsize=_MAX_REMEMBERED_URLS)
def locale_variant_key(url: str) -> str:
    """A key shared by language versions of one page (``/ja/`` segments, ``hl=``, ...).

    Language subdomains are left alone: ``de.wikipedia.org`` is another article, not a
    translation. Pass a cleaned URL or a ``check_key``; an unusable URL is its own key.
    """
    try:
        parts, _ = _aggressive_parts(_safe_parts(url))
    except _Malformed:
        return url
    return _without_locale(parts)


def _without_locale(parts: _Parts) -> str:
    # "" and the first segments; the rest of the path is left whole
    segments = parts.path.split("/", _LOCALE_SEGMENTS + 1)
    path = "/".join(segment for index, segment in enumerate(segments)
                    if not (0 < index <= _LOCALE_SEGMENTS and _is_language(segment)))
    query = "&".join(piece for piece in parts.query.split("&")
                     if piece_name(piece).lower() not in _LOCALE_PARAMS) if parts.query else ""
    return _Parts(parts.scheme, parts.userinfo, parts.host, parts.port, path or "/", query,
                  parts.fragment).unsplit(fragment=False)


# ---------------------------------------------------------------- safe normalisation


def _split(url: str) -> _Split:
    """``urlsplit``, the port and the host name, for a URL free of whitespace and invisible
    characters."""
    # A printable URL without a space has none (the usual case: no run to look at).
    for suspect in () if url.isprintable() and " " not in url else \
            _MAYBE_INVISIBLE.finditer(url):
        run = suspect.group()
        if run.isprintable() and " " not in run:
            continue  # no whitespace, control, format or surrogate character in it
        for offset, char in enumerate(run):
            if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
                raise _Malformed(f"contains whitespace or an invisible character "
                                 f"(U+{ord(char):04X}) at position "
                                 f"{suspect.start() + offset + 1}")
    try:
        parts = urlsplit(url)
        return parts, parts.port, parts.hostname  # the port raises when not a number in range
    except ValueError as exc:
        raise _Malformed(f"cannot be parsed: {exc}") from None


def _safe_parts(url: str, split: _Split | None = None, query: str | None = None) -> _Parts:
    """RFC 3986 §6.2.2–6.2.3 normalisation of an http(s) URL, with an IDNA host.

    ``split`` is ``_split`` of ``url``, or of a URL that differs only by its ``query``,
    when the caller already knows it.
    """
    parts, port, hostname = split or _split(url)
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES:
        raise _Malformed(f"unsupported scheme {scheme!r}")
    host = _host(hostname or "")
    userinfo, at_sign, _ = parts.netloc.rpartition("@")
    return _Parts(
        scheme=scheme,
        userinfo=userinfo + at_sign,
        host=host,
        port="" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}",
        path=_remove_dot_segments(_normalize_percent(parts.path, decode=True)) or "/",
        query=_normalize_percent(parts.query if query is None else query, decode=False),
        fragment=_normalize_percent(parts.fragment, decode=False),
    )


def _host(host: str) -> str:
    if not host:
        raise _Malformed("no host")
    if ":" in host:  # an IPv6 address, validated by urlsplit
        return f"[{host}]"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _Malformed(f"invalid host name {host!r}: {exc}") from None
    if not _HOST.fullmatch(host):
        raise _Malformed(f"invalid character in host name {host!r}")
    for label in host.split(".") if "xn--" in host else ():
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise _Malformed(f"invalid internationalised label {label!r} in host name") \
                    from None
    return host


def _normalize_percent(text: str, *, decode: bool) -> str:
    """Upper-case escapes, encode what a URI cannot hold, decode unreserved if ``decode``."""
    return _ENCODE.sub(_decoding_fix if decode else _keeping_fix, text)


def _keeping_fix(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return quote(match.group(0), safe="")
    return "%" + match.group(1).upper()


def _decoding_fix(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return quote(match.group(0), safe="")
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path."""
    if "/." not in path:
        return path  # no "." or ".." segment (an absolute path starts with "/")
    segments = path.split("/")
    output: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")
    return "/".join(output)


# ---------------------------------------------------------------- aggressive heuristics


def _aggressive_parts(parts: _Parts) -> tuple[_Parts, tuple[str, ...]]:
    applied: list[str] = []
    scheme = parts.scheme
    if scheme == "http":
        scheme = "https"
        applied.append("https")
    labels = parts.host.split(".")
    if labels[0] == "www" and len(labels) > 2:
        labels = labels[1:]
        applied.append("www")
    for mobile, label in enumerate(labels[:-2]):  # the first mobile label, if any
        if label in _MOBILE_LABELS:
            labels = labels[:mobile] + labels[mobile + 1:]
            applied.append("mobile")
            break
    path = parts.path
    if path != "/" and path.endswith("/"):
        path = path.rstrip("/") or "/"
        applied.append("trailing-slash")
    query = parts.query  # without "&", one piece or none: in order already
    if "&" in query:
        query = "&".join(sorted(piece for piece in query.split("&") if piece))
    if query != parts.query:
        applied.append("query-order")
    return _Parts(scheme, parts.userinfo, ".".join(labels), parts.port, path, query,
                  parts.fragment), tuple(applied)


def _is_language(segment: str) -> bool:
    match = _LANGUAGE_TAG.fullmatch(segment)
    return (match is not None and match.group(1).lower() in ISO_639_1) \
        or segment.lower() in _SCRIPT_SEGMENTS


# What a CleanedLink holds besides its link: (clean URL, removed names, check key,
# citation key, aggressive key, heuristics, protection, malformed), in field order.
_Cleaning = tuple[str, tuple[str, ...], str, str, str, tuple[str, ...], Protection | None,
                  str | None]


class LinkCleaner:
    """Cleans links at one level with one rule set, working out each distinct URL once.

    Translations cite the same sources many times over. The memo is bounded (the oldest
    URL is forgotten first), so memory stays flat however large the tree; the keys it
    hands out are shared (and interned) strings, so equal URLs cost one copy.
    """

    def __init__(self, rules: RuleSet, level: str, max_urls: int = _MAX_REMEMBERED_URLS) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown cleaning level {level!r}; expected one of {LEVELS}")
        if max_urls < 1:
            raise ValueError(f"a cleaner must remember at least one URL, not {max_urls}")
        self.rules = rules
        self.level = level
        self._max_urls = max_urls
        self._memo: dict[str, _Cleaning] = {}
        self._variants: dict[str, str] = {}  # by aggressive key, bounded as the memo

    def __len__(self) -> int:
        """How many distinct URLs are remembered."""
        return len(self._memo)

    def clean(self, links: Iterable[Link]) -> tuple[CleanedLink, ...]:
        """Each link cleaned with its comparison keys; unusable URLs stay as written."""
        memo, worked_out = self._memo, self._worked_out
        # A tree cites each URL many times: the memo answers most links with the fields
        # of their CleanedLink, given positionally (one is made per link).
        return tuple([make_cleaned_link(link, *(memo.get(link.url) or worked_out(link.url)))
                      for link in links])

    def _worked_out(self, url: str) -> _Cleaning:
        """A URL the memo does not hold, cleaned and remembered (the oldest is forgotten)."""
        url = sys.intern(url)
        result, keys = _clean_and_key(url, self.rules, self.level)
        known = (result.url, result.removed, keys.check_key, keys.citation_key,
                 keys.aggressive_key, keys.heuristics, result.protection, keys.malformed)
        if len(self._memo) >= self._max_urls:
            del self._memo[next(iter(self._memo))]
        self._memo[url] = known
        if keys.variant_key is not None:
            if len(self._variants) >= self._max_urls:
                del self._variants[next(iter(self._variants))]
            self._variants[keys.aggressive_key] = keys.variant_key
        return known

    def variant_key(self, aggressive_key: str) -> str:
        """``locale_variant_key(aggressive_key)``: worked out with the URL's other keys when
        this cleaner gave that aggressive key (and still remembers it)."""
        known = self._variants.get(aggressive_key)
        return locale_variant_key(aggressive_key) if known is None else known


def clean_links(links: Iterable[Link], rules: RuleSet, level: str) -> tuple[CleanedLink, ...]:
    """Each link cleaned at ``level`` with its comparison keys; unusable URLs stay as written.

    For one-off calls; a run over many notes keeps one ``LinkCleaner`` and its memo.
    """
    return LinkCleaner(rules, level).clean(links)
