"""Text from outside (file names, URLs, messages quoting notes) made safe to show.

File names that are not valid UTF-8 arrive as lone surrogates (``os.fsdecode``'s
``surrogateescape``), which no UTF-8 output can hold; control characters would drive a
terminal, break a line-based format or start a CI workflow command; bidi controls and
line separators make text read other than it is. Every renderer escapes them on the
way out, in the way its format allows:

- ``backslash_escaped``: ``\\xNN`` for a byte a name could not decode and for controls
  below U+0100, ``\\uNNNN`` above; readable, one line (backslashes are not doubled, so
  this is for people: JSON keeps the exact text).
- ``json_escaped``: the same characters as JSON ``\\uNNNN`` escapes, which decode back to
  the exact string (``os.fsencode`` then gives the original bytes of a name).
- ``percent_escaped``: the same characters percent-encoded (an undecodable byte as
  itself), for URIs.
- ``without_commands``: no line of a whole output can start a GitHub workflow command
  (``::`` after leading spaces) nor hold the legacy ``##[`` anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

# C0 and C1 controls, DEL, bidi marks and overrides, line and paragraph separators,
# and lone surrogates (undecodable bytes of a file name).
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape's home for bytes 0x80-0xFF
# A line starts after LF or CR (a runner reading lines breaks on both) and leading spaces.
_COMMAND_START = re.compile(r"(?:^|(?<=\r))([^\S\r\n]*):(?=:)", re.MULTILINE)
_LEGACY_COMMAND = re.compile(r"#(?=#\[)")


def _backslash(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _plain(text: str) -> bool:
    """No unsafe character can be in ``text``: printable ASCII (a test far cheaper than
    the regular expression, and what nearly every name, URL and message is)."""
    return text.isascii() and text.isprintable()


def backslash_escaped(text: str, *, keep: str = "") -> str:
    """``text`` with every unsafe character (those in ``keep`` aside) backslash-escaped."""
    if _plain(text):
        return text
    return UNSAFE.sub(lambda m: m.group() if m.group() in keep else _backslash(m.group()),
                      text)


def _unicode_escape(char: str) -> str:
    return f"\\u{ord(char):04x}"


def json_escaped(document: str, *, line_starts: bool = True) -> str:
    """A JSON document with every unsafe character, and the ``#`` of a legacy ``##[``
    workflow command, written as a ``\\uNNNN`` escape.

    ``json.dumps`` already escapes C0 controls inside strings, so one seen raw is the
    document's own whitespace and stays. Structural JSON holds none of the others, so
    they can only be inside strings, where the escape decodes to the same character.
    ``line_starts`` as for ``without_commands``.
    """
    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return char if char < " " else _unicode_escape(char)

    # ASCII without DEL: the only unsafe characters it can hold are the C0 that stay
    if not document.isascii() or "\x7f" in document:
        document = UNSAFE.sub(escape, document)
    return without_commands(document, _unicode_escape, line_starts=line_starts)


def char_reference(char: str) -> str:
    """An HTML or XML character reference, which decodes to exactly ``char``."""
    return f"&#{ord(char)};"


def _percent(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"%{code - 0xDC00:02X}"
    return quote(char.encode("utf-8", "surrogatepass"), safe="")


def percent_escaped(text: str) -> str:
    """``text`` with every unsafe character percent-encoded, for a URI."""
    if _plain(text):
        return text
    return UNSAFE.sub(lambda m: _percent(m.group()), text)


def without_commands(text: str, escape: Callable[[str], str] = _backslash, *,
                     line_starts: bool = True) -> str:
    """``text`` where no line starts a workflow command: the first ``:`` of a line's
    ``::`` and the first ``#`` of any ``##[`` are written with the format's ``escape``.

    Each pattern runs only when the text holds what it needs (``::``, ``##[``): the line
    start pattern tries every position, and most texts hold neither. ``##[`` is looked
    for from the first ``#`` on, found by the far cheaper search for one character. A
    caller that knows no line of ``text`` can start with ``:`` after spaces (each line
    starts with a JSON value, say) passes ``line_starts=False``: looking for ``::`` costs
    a pass over a text full of URLs' ``:``."""
    if line_starts and "::" in text:
        text = _COMMAND_START.sub(lambda m: m.group(1) + escape(":"), text)
    if (first := text.find("#")) >= 0 and text.find("##[", first) >= 0:
        text = _LEGACY_COMMAND.sub(lambda m: escape("#"), text)
    return text
