"""What one extraction accumulates, and the small services every pass uses: positions,
recording links and label uses, and a remembering ``find``."""

from __future__ import annotations

import sys
from bisect import bisect_right

from linkaudit.models import (
    Link,
    LinkKind,
    ReferenceForm,
    ReferenceUse,
    Span,
    make_link,
    make_reference_use,
)
from linkaudit.scan.markdown.helpers import line_bounds


class ScanState:
    """The text being scanned and what has been found in it so far."""

    def __init__(self, text: str, start: int, *, bare_urls: bool, html: bool) -> None:
        self.text = text
        self.start = min(max(start, 0), len(text))
        self.bare_urls = bare_urls
        self.html = html
        self.file_line_starts, self.file_line_ends = line_bounds(text, 0)
        self.links: list[Link] = []
        self.references: list[ReferenceUse] = []
        self.comments: list[tuple[int, int]] = []  # (start, end of content) of HTML comments
        self.segments: list[tuple[int, int, bool]] = []  # (start, end, html_only)
        self.defined: set[str] = set()
        self.found: dict[tuple[str, int], tuple[int, int]] = {}
        self.backtick_runs: dict[int, list[int]] | None = None
        # (start, end, limit, offsets of its "(") of the last run links.too_deep listed
        self.paren_run: tuple[int, int, int, list[int]] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of an offset in the whole text."""
        line = bisect_right(self.file_line_starts, offset)
        return line, offset - self.file_line_starts[line - 1] + 1

    def add_link(self, kind: LinkKind, start: int, end: int, label: str | None = None,
                 title: str | None = None, text: str | None = None) -> None:
        line, column = self.position(start)
        url = sys.intern(self.text[start:end])  # one string per URL however often it is cited
        self.links.append(make_link(kind, url, Span(start, end), line, column, label, title, text))

    def add_reference(self, form: ReferenceForm, start: int, end: int) -> None:
        line, column = self.position(start)
        label = self.text[start:end]
        self.references.append(make_reference_use(label, form, Span(start, end), line, column))

    def find(self, needle: str, start: int, limit: int) -> int:
        """``str.find`` remembering its last answer, so retries from later offsets stay linear."""
        key = (needle, limit)
        cached = self.found.get(key)
        if cached is not None:
            searched_from, result = cached
            if start >= searched_from and (result < 0 or result >= start):
                return result
        result = self.text.find(needle, start, limit)
        self.found[key] = (start, result)
        return result
