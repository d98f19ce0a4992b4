"""Pure helpers of the Markdown scanner: line bounds, label validity, line shapes, and the
cached regexes built from what a block opened with. Nothing here holds scan state."""

from __future__ import annotations

import functools
import re
import unicodedata
from itertools import accumulate

LINE_END = re.compile(r"\r\n|\r|\n")
BLANK_LINE = re.compile(r"(?>\r\n|\r|\n)[ \t]*+(?:\r|\n)")
ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
MAX_LABEL = 999


@functools.lru_cache(maxsize=4096)
def stops_bare_url(char: str) -> bool:
    """Whitespace, ``<``, control and format characters, and non-ASCII punctuation (。」，）)."""
    if char.isspace() or char == "<":
        return True
    if char.isascii():
        return char < " " or char == "\x7f"
    category = unicodedata.category(char)
    return category[0] == "P" or category in ("Cc", "Cf")


def line_bounds(text: str, start: int) -> tuple[list[int], list[int]]:
    """Where each line of ``text[start:]`` starts, and where it ends before its line ending.

    Lines end at CRLF, CR or LF. Without a CR (the common case) the offsets are summed in
    C, from line lengths, instead of one Python step per line.
    """
    if "\r" not in text:
        lengths = list(map(len, text[start:].split("\n")))
        starts = list(accumulate(map((1).__add__, lengths[:-1]), initial=start))
        return starts, list(map(int.__add__, starts, lengths))
    starts, ends = [start], []
    for match in LINE_END.finditer(text, start):  # no list of match objects: 200 B a line
        ends.append(match.start())
        starts.append(match.end())
    ends.append(len(text))
    return starts, ends


@functools.lru_cache(maxsize=64)
def closing_fence(char: str, length: int) -> re.Pattern[str]:
    """A line closing a top-level fence: up to three spaces, the run, spaces or tabs."""
    return re.compile(rf"^ {{0,3}}{re.escape(char)}{{{length},}}[ \t]*$", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def html_block_end(markers: tuple[str, ...]) -> re.Pattern[str]:
    """Any end marker, ASCII case-insensitively (as ``str.lower`` finds these markers)."""
    return re.compile("|".join(map(re.escape, markers)), re.IGNORECASE | re.ASCII)


def valid_label(label: str) -> bool:
    """A CommonMark link label: not blank, at most 999 characters, no unescaped brackets."""
    if not 0 < len(label) <= MAX_LABEL or not label.strip(" \t\r\n"):
        return False
    if "[" in label or "]" in label:  # without brackets, nothing below can say no
        index = 0
        while index < len(label):
            char = label[index]
            if char == "\\":
                index += 2
                continue
            if char in "[]":
                return False
            index += 1
    return ("\n" not in label and "\r" not in label) or BLANK_LINE.search(label) is None


def is_thematic_break(body: str) -> bool:
    marks = body.replace(" ", "").replace("\t", "")
    return len(marks) >= 3 and marks[0] in "-*_" and marks == marks[0] * len(marks)


def is_setext_underline(body: str) -> bool:
    marks = body.rstrip(" \t")
    return bool(marks) and marks[0] in "=-" and marks == marks[0] * len(marks)


def can_interrupt(marker: re.Match[str]) -> bool:
    """Only a bullet or a ``1.`` item may interrupt a paragraph."""
    number = marker.group(1)
    return number is None or int(number) == 1
