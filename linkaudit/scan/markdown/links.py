"""Link syntax shared by both passes: reference definitions, labels, destinations, titles."""

from __future__ import annotations

import re
from bisect import bisect_left

from linkaudit.models import LinkKind, normalize_label
from linkaudit.scan.markdown.helpers import ASCII_PUNCT, BLANK_LINE, MAX_LABEL, valid_label
from linkaudit.scan.markdown.state import ScanState

_MAX_PAREN_DEPTH = 32
# More unescaped "(" than the limit before any ")" or space: ``[a](`` repeated would
# otherwise walk 32 levels again from each of its brackets.
_TOO_DEEP = re.compile(
    rf"(?:(?:[^\x00-\x20\x7f()\\]|\\[^\x00-\x20\x7f])*+\(){{{_MAX_PAREN_DEPTH + 1}}}")
# The run _TOO_DEEP walks (escapes, "(" and plain characters up to a ")", space or control
# character), and its tokens: escaped pairs, and the "(" it counts.
_PAREN_RUN = re.compile(r"(?:[^\x00-\x20\x7f()\\]|\\[^\x00-\x20\x7f]|\()*+")
_RUN_TOKENS = re.compile(r"\\[^\x00-\x20\x7f]|(\()")
_PLAIN_DESTINATION = re.compile(r"[^\x00-\x20\x7f()\\]+")
# The usual definition, one line with a title, which the steps below would read the same
# way: a label without brackets or escapes, a plain destination, a title without escapes.
_SIMPLE_DEFINITION = re.compile(
    r'\[([^\[\]\\\r\n]{1,999})\]:[ \t]*([^\x00-\x20\x7f()\\<][^\x00-\x20\x7f()\\]*)'
    r'[ \t]+"([^"\\\r\n]*)"[ \t]*(?=\r|\n|\Z)')
# The usual inline destination, ``(url)``: what the steps below would find, in one step.
_SIMPLE_INLINE = re.compile(r"\(([^\x00-\x20\x7f()\\<][^\x00-\x20\x7f()\\]*)\)")
# What a title's scan must look at, per closer: escapes, the closer, line ends, and "("
# in a parenthesised title.
_TITLE_STOPS = {closer: re.compile(pattern) for closer, pattern in
                (('"', r'[\\"\r\n]'), ("'", r"[\\'\r\n]"), (")", r"[\\()\r\n]"))}


class LinkSyntax(ScanState):
    """Parsers of link parts; each returns offsets, or None when the text is not that part."""

    def definition(self, start: int) -> int | None:
        """Parse ``[label]: url "title"`` at ``start``; record it; return where it ends."""
        text, size = self.text, len(self.text)
        if start >= size or text[start] != "[":
            return None
        simple = _SIMPLE_DEFINITION.match(text, start)
        # Its label has no bracket, backslash or line end: valid unless blank.
        if simple is not None and simple.group(1).strip(" \t"):
            self.record_definition(simple.group(1), *simple.span(2), simple.group(3))
            return simple.end()
        close = self.label_end(start, size)
        if close < 0 or not text.startswith(":", close + 1):
            return None
        label = text[start + 1:close]
        if not valid_label(label):
            return None
        position = self.skip_whitespace(close + 2, size)
        if position < 0 or position >= size:
            return None
        destination = self.destination(position, size)
        if destination is None:
            return None
        url_start, url_end, after = destination
        own_line_end = self.rest_is_blank(after)
        title_start = self.skip_whitespace(after, size)
        if 0 <= title_start < size and title_start > after and text[title_start] in "\"'(":
            title = self.title(title_start, size)
            if title is not None:
                line_end = self.rest_is_blank(title[2])
                if line_end is not None:
                    self.record_definition(label, url_start, url_end, text[title[0]:title[1]])
                    return line_end
        if own_line_end is None:
            return None
        self.record_definition(label, url_start, url_end, None)
        return own_line_end

    def record_definition(
        self, label: str, url_start: int, url_end: int, title: str | None
    ) -> None:
        self.defined.add(normalize_label(label))
        self.add_link(LinkKind.DEFINITION, url_start, url_end, label=label, title=title)

    def is_defined(self, label: str) -> bool:
        return normalize_label(label) in self.defined

    def rest_is_blank(self, position: int) -> int | None:
        """The line's end if only spaces and tabs follow ``position`` on its line, else None."""
        text = self.text
        while position < len(text) and text[position] in " \t":
            position += 1
        return position if position == len(text) or text[position] in "\r\n" else None

    def skip_whitespace(self, position: int, limit: int) -> int:
        """Skip spaces, tabs and at most one line ending; -1 on a blank line."""
        text, seen_line_end = self.text, False
        while position < limit:
            char = text[position]
            if char in " \t":
                position += 1
            elif char in "\r\n":
                if seen_line_end:
                    return -1
                seen_line_end = True
                position += 2 if text.startswith("\r\n", position) else 1
            else:
                break
        return position

    def label_end(self, start: int, limit: int) -> int:
        """Offset of the ``]`` closing the label opened at ``start``, or -1."""
        text = self.text
        position = start + 1
        limit = min(limit, start + 2 + MAX_LABEL)
        while position < limit:
            char = text[position]
            if char == "\\":
                position += 2
                continue
            if char == "[":
                return -1
            if char == "]":
                return position
            position += 1
        return -1

    def destination(self, start: int, limit: int) -> tuple[int, int, int] | None:
        """A link destination at ``start``: (url start, url end, offset after it)."""
        text = self.text
        if text[start] == "<":
            position = start + 1
            while position < limit:
                char = text[position]
                if char == "\\" and position + 1 < limit and text[position + 1] in ASCII_PUNCT:
                    position += 2
                elif char == ">":
                    return start + 1, position, position + 1
                elif char in "<\r\n":
                    return None
                else:
                    position += 1
            return None
        position, depth = start, 0
        while position < limit:
            plain = _PLAIN_DESTINATION.match(text, position, limit)
            if plain:
                position = plain.end()
                continue
            char = text[position]
            if char == "\\" and position + 1 < limit and text[position + 1] in ASCII_PUNCT:
                position += 2
                continue
            if char == "(":
                if depth == 0 and self.too_deep(position, limit):
                    return None  # 33 "(" before any ")": one C-speed check, not a walk
                depth += 1
                if depth > _MAX_PAREN_DEPTH:
                    return None
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char <= " " or char == "\x7f":
                break
            position += 1
        if depth or position == start:
            return None
        return start, position, position

    def too_deep(self, position: int, limit: int) -> bool:
        """Whether ``_TOO_DEEP`` matches at ``position`` (a "(" met outside an escape).

        ``[a](`` repeated asks at every "(" of one long run, and each match walks 33 of
        them: instead the run's "(" are listed once, and each later question on the same
        run is a count. The tokens from a later "(" line up with the run's from the
        character after it, so only that "(" itself may be missing from the list.
        """
        run = self.paren_run
        if run is None or run[2] != limit or position >= run[1]:
            end = _PAREN_RUN.match(self.text, position, limit).end()  # type: ignore[union-attr]
            parens = [token.start() for token in _RUN_TOKENS.finditer(self.text, position, end)
                      if token.group(1) is not None]
            run = self.paren_run = (position, end, limit, parens)
        elif position < run[0]:
            return _TOO_DEEP.match(self.text, position, limit) is not None  # never met so far
        parens = run[3]
        index = bisect_left(parens, position)
        listed = index < len(parens) and parens[index] == position
        return len(parens) - index + (0 if listed else 1) > _MAX_PAREN_DEPTH

    def title(self, start: int, limit: int) -> tuple[int, int, int] | None:
        """A quoted or parenthesised title at ``start``: (text start, text end, offset after)."""
        text = self.text
        closer = ")" if text[start] == "(" else text[start]
        stops = _TITLE_STOPS[closer]  # the other characters only move on by one
        position = start + 1
        while True:
            stop = stops.search(text, position, limit)
            if stop is None:
                return None
            position = stop.start()
            char = text[position]
            if char == "\\":
                position += 2
                continue
            if char == closer:
                return start + 1, position, position + 1
            if char == "(" or BLANK_LINE.match(text, position):
                return None
            position += 1

    def inline_destination(self, start: int, limit: int) -> tuple[int, int, str | None, int] | None:
        """``(url "title")`` at ``start``: (url start, url end, title, offset after ``)``)."""
        text = self.text
        simple = _SIMPLE_INLINE.match(text, start, limit)
        if simple is not None:
            return simple.start(1), simple.end(1), None, simple.end()
        position = self.skip_whitespace(start + 1, limit)
        if position < 0 or position >= limit:
            return None
        if text[position] == ")":
            return position, position, None, position + 1
        destination = self.destination(position, limit)
        if destination is None:
            return None
        url_start, url_end, after = destination
        title_text: str | None = None
        position = self.skip_whitespace(after, limit)
        if 0 < position < limit and position > after and text[position] in "\"'(":
            title = self.title(position, limit)
            if title is None:
                return None
            title_text = text[title[0]:title[1]]
            position = self.skip_whitespace(title[2], limit)
        if 0 <= position < limit and text[position] == ")":
            return url_start, url_end, title_text, position + 1
        return None
