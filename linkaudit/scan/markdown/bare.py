"""Bare ``http(s)://`` URLs in running text, looked for last in what no construct claimed."""

from __future__ import annotations

import re

from linkaudit.models import LinkKind
from linkaudit.scan.markdown.helpers import stops_bare_url
from linkaudit.scan.markdown.state import ScanState

_BARE_START = re.compile(r"https?://", re.IGNORECASE)
# Characters that never end a bare URL: printable ASCII but "<", and letters and digits of
# any script; a run of them is taken in one step, the rest are looked at one by one.
_URL_RUN = re.compile(r"[!-;=-~\w]+")
_BARE_TRAILING = frozenset(".,;:!?'\"*_~]")


class BarePass(ScanState):
    """Bare URLs between claimed spans."""

    def bare_pass(self, start: int, end: int, claimed: list[tuple[int, int]]) -> None:
        """Bare ``http(s)://`` URLs in the gaps no other construct claimed."""
        if self.text.find("://", start, end) < 0:
            return  # no URL at all: most paragraphs
        gap_start = start
        for claim_start, claim_end in [*sorted(claimed), (end, end)]:
            if claim_start > gap_start:
                self.bare_urls_in(gap_start, claim_start)
            gap_start = max(gap_start, claim_end)

    def bare_urls_in(self, start: int, end: int) -> None:
        text = self.text
        position = start
        while True:
            match = _BARE_START.search(text, position, end)
            if match is None:
                return
            host = match.end()
            position = host
            before = text[match.start() - 1] if match.start() else " "
            if before.isascii() and before.isalnum():
                continue  # inside a word (xhttps://); CJK text may touch a URL
            url_end = host
            while url_end < end:
                run = _URL_RUN.match(text, url_end, end)
                if run is not None:
                    url_end = run.end()
                elif stops_bare_url(text[url_end]):
                    break
                else:
                    url_end += 1
            url_end = self.trim_bare(match.start(), url_end)
            if url_end > host:
                self.add_link(LinkKind.BARE, match.start(), url_end)
                position = url_end

    def trim_bare(self, start: int, end: int) -> int:
        """Drop trailing punctuation; keep a closing parenthesis that balances one inside."""
        text = self.text
        opened = text.count("(", start, end)
        closed = text.count(")", start, end)
        while end > start:
            char = text[end - 1]
            if char == ")" and closed > opened:
                closed -= 1
            elif char not in _BARE_TRAILING:
                return end
            end -= 1
        return end
