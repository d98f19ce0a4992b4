"""Markdown text to links: the pure half of the scanner; ``extract`` is the entry point.

Hand-written rather than built on a CommonMark library because rewriting needs the exact
character span of every URL as written (parsers hand back normalised URLs without
positions), and because notes are untrusted: every step is a forward scan or a single
non-nested regex, so hostile input stays linear. A block pass (``blocks``: code fences,
indented code, HTML blocks, headings, lists, reference definitions) cuts the text into
paragraph segments; an inline pass (``inline``) finds links in each; bare URLs (``bare``)
are looked for last, in what no other construct claimed. Link parts (``links``) and HTML
(``html``) are shared by both passes; suppression comments are read by
``linkaudit.audit.suppression`` from the comments met here. Rules and deliberate
differences from CommonMark: docs/scanner.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from linkaudit.audit.suppression import ignored_lines
from linkaudit.models import Link, ReferenceUse
from linkaudit.scan.markdown.blocks import BlockPass
from linkaudit.scan.markdown.inline import InlinePass

__all__ = ["Extraction", "extract"]

_BY_START = attrgetter("span.start")  # links and label uses in text order


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one note's text holds: links and label uses in text order, silenced lines."""

    links: tuple[Link, ...]
    references: tuple[ReferenceUse, ...]
    ignored_lines: frozenset[int]  # 1-based, from linkaudit-ignore/disable comments


def extract(text: str, *, start: int = 0, bare_urls: bool = True, html: bool = True) -> Extraction:
    """Links in ``text[start:]`` with spans, lines and columns relative to all of ``text``.

    ``start`` is the body offset (after front matter); it never raises, whatever the text.
    """
    return _Scanner(text, start, bare_urls=bare_urls, html=html).run()


class _Scanner(BlockPass, InlinePass):
    """One extraction: the block pass, then the inline pass over the segments it found."""

    def run(self) -> Extraction:
        self.block_pass()
        for seg_start, seg_end, html_only in self.segments:
            self.inline_pass(seg_start, seg_end, html_only)
        return Extraction(
            links=tuple(sorted(self.links, key=_BY_START)),
            references=tuple(sorted(self.references, key=_BY_START)),
            ignored_lines=ignored_lines(self.text, self.comments, self.file_line_starts),
        )
