"""Writing a URL into the link form it replaces, so the note's Markdown keeps its shape.

Each form holds different characters: a plain destination (``[l]: url``, ``[t](url)``)
no space and only balanced parentheses; an angle-bracket one (``<url>``) no ``<``, ``>``
or line break; a bare URL stops at whitespace, ``<`` and non-ASCII punctuation and loses
trailing punctuation; an HTML attribute its quote. Everywhere a backtick could close a
code span opened earlier in the paragraph. What a form cannot hold is percent-encoded
(UTF-8), which a browser reads as the same URL, or, when encoding would change the URL
(a quote or a trailing comma that is part of it), the URL is refused with the reason.
"""

from __future__ import annotations

import enum
import unicodedata
from urllib.parse import quote

from linkaudit.models import Link, LinkKind

_MAX_PAREN_DEPTH = 32  # the scanner's (and markdown-it's) limit for a plain destination
# RFC 3986 allows these ASCII characters raw; any other is percent-encoded in a URL from
# outside, which every browser would do anyway (and ``[``/``]`` only in an IPv6 host).
_URI_ASCII = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;=%")
_BARE_TRAILING = frozenset(".,;:!?'\"*_~]")  # what the scanner trims off a bare URL's end
_UNRESERVED_TRAILING = frozenset("._~")  # those whose percent-encoding means the same


class LinkForm(enum.StrEnum):
    """How the URL being replaced is written in the note."""

    PLAIN = "link destination"  # [label]: url, [text](url)
    ANGLE = "<…> link destination"  # [label]: <url>, [text](<url>)
    AUTOLINK = "autolink"  # <url>
    BARE = "bare URL"  # https://… in running text
    HTML_DOUBLE = 'HTML attribute in "…"'
    HTML_SINGLE = "HTML attribute in '…'"
    HTML_UNQUOTED = "unquoted HTML attribute"


_REFUSED_BY_FORM = {  # reserved characters that end an HTML attribute
    LinkForm.HTML_SINGLE: "'",
    LinkForm.HTML_UNQUOTED: "'=",
}


class Unwritable(ValueError):
    """A URL the link form cannot hold without changing what it points to."""


def form_of(text: str, link: Link) -> LinkForm:
    """The form of ``link`` as written in ``text``."""
    before = text[link.span.start - 1:link.span.start] if link.span.start else ""
    if link.kind is LinkKind.AUTOLINK:
        return LinkForm.AUTOLINK
    if link.kind is LinkKind.BARE:
        return LinkForm.BARE
    if link.kind is LinkKind.HTML:
        return {'"': LinkForm.HTML_DOUBLE, "'": LinkForm.HTML_SINGLE}.get(
            before, LinkForm.HTML_UNQUOTED)
    if before == "<" and text.startswith(">", link.span.end):
        return LinkForm.ANGLE
    return LinkForm.PLAIN


def written(url: str, form: LinkForm, *, normalise: bool) -> str:
    """``url`` as it must be written in ``form``; raise ``Unwritable`` with the reason.

    ``normalise`` also percent-encodes every ASCII character RFC 3986 does not allow raw
    (for URLs from outside; a cleaned URL keeps the author's own characters).
    """
    authority_end = _authority_end(url)
    chars = list(url)
    for index in range(authority_end, len(chars)):
        char = chars[index]
        if _must_encode(char, form, normalise=normalise):
            chars[index] = quote(char, safe="")
        elif char in _REFUSED_BY_FORM.get(form, ""):
            raise Unwritable(f"it contains {char}, which would end the {form}")
    if form in (LinkForm.PLAIN, LinkForm.BARE):
        _encode_unbalanced_parentheses(chars, authority_end)
    if any(_must_encode(char, form, normalise=normalise)
           and (char not in "[]" or form is LinkForm.BARE)  # an IPv6 address's brackets
           for char in url[:authority_end]):
        raise Unwritable(f"its host part cannot be written in this {form}")
    result = "".join(chars)
    if form is LinkForm.BARE:
        result = _bare_ending(result)
    return result


def _must_encode(char: str, form: LinkForm, *, normalise: bool) -> bool:
    if char in "`\\<>" or char <= " " or char == "\x7f":
        return True  # a backtick could close an earlier code span; the rest ends any form
    if not char.isascii():
        category = unicodedata.category(char)
        if category[0] in "CZ":
            return True
        return form is LinkForm.BARE and category[0] == "P"
    if normalise and char not in _URI_ASCII:
        return True
    if form is LinkForm.BARE:
        return char in '[]"'
    if form in (LinkForm.HTML_DOUBLE, LinkForm.HTML_UNQUOTED):
        return char == '"'
    return False


def _authority_end(url: str) -> int:
    """Where ``scheme://host:port`` ends (0 for a URL without an authority)."""
    scheme_end = url.find("://")
    if scheme_end <= 0 or not url[:scheme_end].isascii() or not url[:scheme_end].isalpha():
        return 0
    ends = [url.find(char, scheme_end + 3) for char in "/?#"]
    return min((end for end in ends if end >= 0), default=len(url))


def _encode_unbalanced_parentheses(chars: list[str], start: int) -> None:
    """Percent-encode every parenthesis without a partner, and pairs nested too deep."""
    open_at: list[int] = []
    for index in range(start, len(chars)):
        if chars[index] == "(":
            open_at.append(index)
        elif chars[index] == ")":
            if open_at:
                opener = open_at.pop()
                if len(open_at) >= _MAX_PAREN_DEPTH:
                    chars[opener], chars[index] = "%28", "%29"
            else:
                chars[index] = "%29"
    for index in open_at:
        chars[index] = "%28"


def _bare_ending(url: str) -> str:
    """Keep a bare URL's last character from being trimmed off as punctuation."""
    last = url[-1:]
    if last in _UNRESERVED_TRAILING:
        return f"{url[:-1]}%{ord(last):02X}"
    if last in _BARE_TRAILING:
        raise Unwritable(f"it ends with {last!r}, which a bare URL cannot end with")
    return url
