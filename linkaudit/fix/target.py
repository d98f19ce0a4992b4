"""Is a replacement URL fit to be written into a note? Checked before any edit is planned.

A redirect target and an archive snapshot come from servers nobody here controls, so each
must be an absolute http(s) URL with a plain host, no credentials and nothing a browser
reads differently from us (control characters, whitespace, backslashes); a redirect may
not downgrade https to http; a snapshot must sit on the configured archive host as
``/web/<timestamp>/<original>`` with the original being the very URL that was looked up.
A cleaned URL must be the URL as written minus some query pieces, nothing added.
Every check answers with the reason a person reads, or None when the URL is fine.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from linkaudit.clean.keys import WEB_SCHEMES
from linkaudit.clean.strip import query_pieces
from linkaudit.config import ArchiveConfig

DEFAULT_ARCHIVE_HOST = ArchiveConfig().snapshot_host  # the config's default, written once
MAX_URL_LENGTH = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SNAPSHOT_PATH = re.compile(r"/web/(?P<timestamp>\d{1,14})/(?P<original>.+)", re.DOTALL)
_ASCII_HOST = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
_WWW = re.compile(r"www\d*\.")
_CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]*);")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An archive snapshot URL taken apart: when it was taken and of which URL."""

    timestamp: str
    original: str


def shown(url: str, limit: int = 200) -> str:
    """A URL as it may appear in a message: invisible characters escaped, long ones cut."""
    text = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in url)
    return text if len(text) <= limit else text[:limit] + "…"


def parse_snapshot(url: str, host: str | None = DEFAULT_ARCHIVE_HOST) -> Snapshot | None:
    """``http(s)://<host>/web/<timestamp>/<http(s) original>`` taken apart, else None.

    ``host`` None accepts any host (the archive's own answer, before the planner checks it).
    """
    parts = _split(url)
    if parts is None or parts.scheme.lower() not in WEB_SCHEMES or _has_userinfo(parts):
        return None
    if host is not None and (parts.hostname or "") != host.lower():
        return None
    if not parts.hostname or parts.port not in (None, 443, 80):
        return None
    prefix = f"{parts.scheme}://{parts.netloc}"
    match = _SNAPSHOT_PATH.fullmatch(url[len(prefix):].partition("#")[0])
    if match is None:
        return None
    original = match.group("original")
    original_parts = _split(original)
    if original_parts is None or original_parts.scheme.lower() not in WEB_SCHEMES:
        return None
    return Snapshot(match.group("timestamp"), original)


def unfit_target(url: str) -> str | None:
    """Why a URL from outside (a redirect, the archive) must not be written, or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"it is longer than {MAX_URL_LENGTH} characters"
    for char in url:
        if _is_control(char):
            return f"it contains the control character U+{ord(char):04X}"
        if char.isspace():
            return "it contains whitespace, which cannot be written in Markdown as is"
    if "\\" in url:
        return "it contains a backslash, which browsers read as /"
    if _CHARACTER_REFERENCE.search(url):
        return "it contains what Markdown and HTML read as a character reference (&…;)"
    parts = _split(url)
    if parts is None:
        return "it cannot be parsed as a URL"
    if parts.scheme.lower() not in WEB_SCHEMES:
        scheme = f"a {parts.scheme}: URL" if parts.scheme else "not an absolute URL"
        return f"it is {scheme}, and only http and https are written"
    if _has_userinfo(parts):
        return "it carries a user name or password"
    return _unfit_host(parts.hostname or "", parts.netloc)


def unfit_redirect(url: str, original: str) -> str | None:
    """Why a permanent redirect's target must not replace ``original``, or None."""
    why = unfit_target(url)
    if why is None and urlsplit(url).scheme.lower() == "http" \
            and original.lower().startswith("https:"):
        why = "it would downgrade https to http"
    return why


def unfit_snapshot(url: str, looked_up: str, host: str) -> str | None:
    """Why an archive answer must not replace the dead ``looked_up`` URL, or None."""
    why = unfit_target(url)
    if why is not None:
        return why
    snapshot = parse_snapshot(url, host)
    if snapshot is None:
        return f"it is not a snapshot address on {host} (https://{host}/web/<time>/<url>)"
    if not url.lower().startswith("https:"):
        return "it is not an https address"
    wanted = _wayback_form(looked_up)
    if wanted is None or _wayback_form(snapshot.original) != wanted:
        return f"it is a snapshot of another address ({shown(snapshot.original)})"
    return None


def unfit_cleaned(url: str, original: str) -> str | None:
    """Why a cleaned URL is not ``original`` minus some query pieces, or None."""
    if url == original:
        return None
    before, after = query_pieces(original), query_pieces(url)
    if before is not None:
        base, query, fragment = before
        if after is None and url == base + fragment:
            return None  # every piece removed
        if after is not None and after[0] == base and after[2] == fragment:
            pieces = iter(query.split("&"))
            if all(piece in pieces for piece in after[1].split("&")):
                return None
    return "it is not the URL as written minus tracking parameters"


# ---------------------------------------------------------------- helpers


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises when not a number in range
    except ValueError:
        return None
    return parts


def _has_userinfo(parts: SplitResult) -> bool:
    return "@" in parts.netloc


def _unfit_host(host: str, netloc: str) -> str | None:
    if not host:
        return "it has no host"
    if netloc.startswith("["):
        return None  # an IPv6 literal, validated by urlsplit
    if host.isascii():
        return None if _ASCII_HOST.fullmatch(host) else "its host name has invalid characters"
    if any(unicodedata.category(char)[0] not in "LMN" and char not in ".-" for char in host):
        return "its host name has invalid characters"
    try:
        host.encode("idna")
    except UnicodeError:
        return "its host name is not a valid internationalised name"
    return None


def _wayback_form(url: str) -> tuple[str, int | None, str, tuple[str, ...]] | None:
    """The parts the Wayback Machine compares: host without ``www``, path, query pieces.

    The archive answers with the URL it captured, which may differ from the one asked for
    in scheme, ``www.``, a trailing slash, escaping and query order; anything else is
    another page.
    """
    parts = _split(url)
    if parts is None or parts.scheme.lower() not in WEB_SCHEMES:
        return None
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    host = host.removeprefix(match.group()) if (match := _WWW.match(host)) else host
    port = None if parts.port == _DEFAULT_PORTS[parts.scheme.lower()] else parts.port
    path = unquote(parts.path).rstrip("/")
    query = tuple(sorted(unquote(piece) for piece in parts.query.split("&") if piece))
    return host, port, path, query
