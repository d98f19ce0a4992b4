"""Cleaning: remove tracking parameters from a URL at string level.

The raw query is split on ``&`` and each piece is judged by its percent-decoded name; the
pieces kept are rejoined byte for byte and in order, so a cleaned URL is the URL as
written minus some pieces: nothing is re-encoded, reordered, merged, added or removed
elsewhere (a ``/`` is never added, the fragment stays as written). Signed, archive and
wrapper URLs are never rewritten, except that a redirect wrapper is replaced by its target
at the aggressive level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from linkaudit.clean.rules import LEVELS, ClearUrlsProvider, RuleSet, SiteRules
from linkaudit.models import Protection, maker

_WEB_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class CleanResult:
    """A URL after cleaning, with what was removed and why it may have been left alone."""

    url: str  # the cleaned URL (== the input when nothing was removed)
    removed: tuple[str, ...] = ()  # decoded names of the removed parameters, in order
    protection: Protection | None = None  # why the URL as written must not be rewritten
    unwrapped: str | None = None  # a redirect wrapper's target (aggressive level only)


_result = maker(CleanResult)  # two per distinct URL a tree cites


def clean_url(url: str, rules: RuleSet, level: str = "safe") -> CleanResult:
    """Remove the tracking parameters ``rules`` name at ``level`` ("safe" or "aggressive")."""
    if level not in LEVELS:
        raise ValueError(f"unknown cleaning level {level!r}; expected one of {LEVELS}")
    located = _host_and_path(url)
    protection, target = _protection(url, rules, located)
    if protection is None:
        return _strip(url, rules, located)[LEVELS.index(level)]
    return _clean(url, rules, level, protection, target)


def clean_url_at_both_levels(url: str, rules: RuleSet, parts: SplitResult | None = None,
                             hostname: str | None = None) -> tuple[CleanResult, CleanResult]:
    """``clean_url`` at "safe" and at "aggressive", taking the URL apart once (or not at
    all: ``parts`` is ``urlsplit(url)`` and ``hostname`` its host name, when known)."""
    located = _host_and_path(url) if parts is None else _located(url, parts, hostname)
    protection, target = _protection(url, rules, located)
    if protection is None:
        return _strip(url, rules, located)
    return (_clean(url, rules, "safe", protection, target),
            _clean(url, rules, "aggressive", protection, target))


def _clean(url: str, rules: RuleSet, level: str, protection: Protection, target: str | None
           ) -> CleanResult:
    """A protected URL: as written, or at aggressive a redirect wrapper's final target."""
    if protection is not Protection.REDIRECT_WRAPPER or level != "aggressive" or target is None:
        return CleanResult(url, protection=protection)
    while target is not None:  # each target is shorter than its wrapper, so this ends
        unwrapped = target
        located = _host_and_path(unwrapped)
        inner, target = _protection(unwrapped, rules, located)
    stripped = _strip(unwrapped, rules, located)[1] if inner is None else CleanResult(unwrapped)
    return CleanResult(stripped.url, stripped.removed, protection, unwrapped)


def query_pieces(url: str) -> tuple[str, str, str] | None:
    """``(before "?", raw query, "#fragment" or "")``, or None when the URL has no query."""
    head, hash_mark, fragment = url.partition("#")
    base, question_mark, query = head.partition("?")
    return (base, query, hash_mark + fragment) if question_mark else None


def piece_name(piece: str) -> str:
    """The decoded name of one ``&``-piece of a query (``+`` is a space in names)."""
    return unquote(piece.partition("=")[0].replace("+", " "))


_Located = tuple[str, str, list[tuple[str, str]]]  # host, path, every (piece, decoded name)


def _host_and_path(url: str) -> _Located | None:
    """The URL's host, path and query pieces (``_names``), or None when it cannot be split.

    The pieces' names are decoded once here for both the protection and the stripping.
    """
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return None
    return _located(url, parts, hostname)


def _located(url: str, parts: SplitResult, hostname: str | None) -> _Located:
    return (hostname or "").rstrip("."), parts.path, _names(url)


def _names(url: str) -> list[tuple[str, str]]:
    """Every ``(piece, decoded name)`` of the query, in order."""
    pieces = query_pieces(url)
    return [] if pieces is None else [(p, piece_name(p)) for p in pieces[1].split("&")]


def _protection(url: str, rules: RuleSet, located: _Located | None
                ) -> tuple[Protection | None, str | None]:
    """Which protection applies, and for a wrapper the target URL it points to (if found).

    ``located`` is the URL taken apart (``_host_and_path``).
    """
    if located is None:
        return None, None
    host, path, names = located
    lowered = {name.lower() for _, name in names}
    if any(signature <= lowered for signature in rules.signed):
        return Protection.SIGNED, None
    if rules.archive_at(host, path) is not None:
        return Protection.ARCHIVE, None
    wrapper = rules.wrapper_at(host, path)
    if wrapper is not None:
        targets = {t.lower() for t in wrapper.targets}
        found = (_target(unquote(piece.partition("=")[2]), url) for piece, name in names
                 if name.lower() in targets)
        return Protection.REDIRECT_WRAPPER, next((t for t in found if t is not None), None)
    for provider in rules.clearurls:
        for redirection in provider.redirections:
            match = redirection.search(url)
            if match and provider.applies_to(url):
                return Protection.REDIRECT_WRAPPER, (
                    _target(unquote(match.group(1) or ""), url) if match.re.groups else None)
    return None, None


def _target(candidate: str, wrapper: str) -> str | None:
    """A wrapper's target if it is a web URL shorter than the wrapper (so unwrapping ends)."""
    usable = candidate.lower().startswith(_WEB_PREFIXES) and len(candidate) < len(wrapper)
    return candidate if usable else None


def _strip(url: str, rules: RuleSet, located: _Located | None
           ) -> tuple[CleanResult, CleanResult]:
    """``url`` without its tracking parameters at "safe" and at "aggressive", in one pass."""
    split = query_pieces(url)
    if split is None or located is None:
        return _result(url), _result(url)
    base, _query, fragment = split
    sites = rules.sites_for(located[0])
    providers = [p for p in rules.clearurls if p.applies_to(url)]
    kept: tuple[list[str], list[str]] = ([], [])
    removed: tuple[list[str], list[str]] = ([], [])
    decided: dict[str, tuple[bool, bool]] = {}  # a hostile query repeats one name many times
    for piece, name in located[2]:
        tracking = decided.get(name)
        if tracking is None:
            tracking = decided[name] = _tracking(name, rules, sites, providers)
        for level in (0, 1):
            if tracking[level]:
                removed[level].append(name)
            else:
                kept[level].append(piece)
    return _rejoined(url, base, kept[0], removed[0], fragment), \
        _rejoined(url, base, kept[1], removed[1], fragment)


def _rejoined(url: str, base: str, kept: list[str], removed: list[str], fragment: str
              ) -> CleanResult:
    if not removed:
        return _result(url)
    rest = "&".join(kept)
    return _result(base + ("?" + rest if rest else "") + fragment, tuple(removed))


_KEPT = (False, False)
_REMOVED = (True, True)


def _tracking(name: str, rules: RuleSet, sites: Sequence[SiteRules],
              providers: Sequence[ClearUrlsProvider]) -> tuple[bool, bool]:
    """Whether ``name`` is removed at safe, at aggressive: keep rules win; then safe-level
    names (removed at both levels); then aggressive-level names."""
    if not name:
        return _KEPT
    keep, tracking, referral = rules.name_rules(name)
    if keep or any(site.keep.matches(name) for site in sites):
        return _KEPT
    if (tracking or any(site.params.matches(name) for site in sites)
            or any(rule.fullmatch(name) for p in providers for rule in p.rules)):
        return _REMOVED
    return False, (referral or any(site.aggressive.matches(name) for site in sites)
                   or any(rule.fullmatch(name) for p in providers for rule in p.referral))
