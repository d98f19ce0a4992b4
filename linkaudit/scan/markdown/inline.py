"""The inline pass: links, images, label uses, code spans and HTML in one segment."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from linkaudit.models import LinkKind, ReferenceForm, Span
from linkaudit.scan.markdown.bare import BarePass
from linkaudit.scan.markdown.helpers import ASCII_PUNCT, MAX_LABEL, valid_label
from linkaudit.scan.markdown.html import HtmlSyntax
from linkaudit.scan.markdown.links import LinkSyntax

_INLINE_SPECIAL = re.compile(r"[\\`<!\[\]]")
_SPECIAL_CHARS = frozenset("\\`<![]")
_BACKTICKS = re.compile(r"`+")
# Link text longer than this is not kept: nested brackets would make the texts' sum
# quadratic in the note's size (realistic link texts are far shorter). At most MAX_LABEL:
# the text kept is the label text close_bracket has already cut out.
_MAX_LINK_TEXT = 256
_TASK_PREFIX = re.compile(r"[ \t>]*(?:[-+*]|\d{1,9}[.)])[ \t]+")


class InlinePass(LinkSyntax, HtmlSyntax, BarePass):
    """Brackets resolved with a stack of openers; every step moves forward."""

    def inline_pass(self, start: int, end: int, html_only: bool) -> None:
        """Links, label uses, comments and (last) bare URLs in one segment."""
        text = self.text
        claimed: list[tuple[int, int]] = []
        openers: list[tuple[int, bool]] = []  # (offset of "[", is an image)
        first_active = 0  # "[" openers below this index sit in a link's text: inactive
        self.backtick_runs = None
        position = start
        while position < end:
            if html_only:
                found = self.find("<", position, end)
                if found < 0:
                    break
                position = found
            elif text[position] not in _SPECIAL_CHARS:  # brackets often come in runs
                special = _INLINE_SPECIAL.search(text, position, end)
                if special is None:
                    break
                position = special.start()
            char = text[position]
            if char == "<":
                after = self.angle(position, end, html_only)
                if after > position:
                    claimed.append((position, after))
                    position = after
                else:
                    position += 1
            elif char == "\\":
                escaped = position + 1 < end and text[position + 1] in ASCII_PUNCT
                position += 2 if escaped else 1
            elif char == "`":
                run_end = position
                while run_end < end and text[run_end] == "`":
                    run_end += 1
                close = self.code_span_end(position, run_end - position, start, end)
                if close > 0:
                    claimed.append((position, close))
                    position = close
                else:
                    position = run_end
            elif char == "!":
                if text.startswith("[", position + 1):
                    openers.append((position + 1, True))
                    position += 2
                else:
                    position += 1
            elif char == "[":
                openers.append((position, False))
                position += 1
            else:  # "]"
                if not openers:
                    position += 1
                    continue
                opener, image = openers.pop()
                if len(openers) < first_active:
                    first_active = len(openers)
                    if not image:
                        position += 1
                        continue  # inside a link's text: inactive
                after, is_link = self.close_bracket(opener, image, position, end)
                if is_link:
                    claimed.append((opener, after))
                    if not image:
                        first_active = len(openers)
                else:
                    claimed.append((position, after))
                position = after
        if self.bare_urls and not html_only:
            self.bare_pass(start, end, claimed)

    def code_span_end(self, start: int, length: int, seg_start: int, seg_end: int) -> int:
        """End of the code span opened by ``length`` backticks at ``start``, or -1."""
        if self.backtick_runs is None:
            self.backtick_runs = {}
            for run in _BACKTICKS.finditer(self.text, seg_start, seg_end):
                self.backtick_runs.setdefault(len(run.group()), []).append(run.start())
        runs = self.backtick_runs.get(length, [])
        index = bisect_left(runs, start + length)
        return runs[index] + length if index < len(runs) else -1

    def close_bracket(self, opener: int, image: bool, close: int, end: int) -> tuple[int, bool]:
        """Resolve ``]`` at ``close``: record what it makes; return (offset after, made a link)."""
        text = self.text
        after = close + 1
        link_text = text[opener + 1:close] if close - opener <= MAX_LABEL + 1 else None
        if text.startswith("(", after):
            inline = self.inline_destination(after, end)
            if inline is not None:
                url_start, url_end, title, link_end = inline
                kind = LinkKind.IMAGE if image else LinkKind.INLINE
                kept = link_text if close - opener <= _MAX_LINK_TEXT + 1 else None
                self.add_link(kind, url_start, url_end, title=title, text=kept)
                return link_end, True
            if link_text is not None and valid_label(link_text) and self.is_defined(link_text):
                self.add_reference(ReferenceForm.SHORTCUT, opener + 1, close)
                return after, True
            return after, False
        if text.startswith("[", after):
            label_close = self.label_end(after, end)
            if label_close == after + 1:
                if link_text is None or not valid_label(link_text):
                    return after, False
                self.add_reference(ReferenceForm.COLLAPSED, opener + 1, close)
                if self.is_defined(link_text):
                    return label_close + 1, True
                return after, False  # not a link: "[](url)" may follow
            label = text[after + 1:label_close] if label_close > 0 else ""
            if label and valid_label(label):
                self.add_reference(ReferenceForm.FULL, after + 1, label_close)
                if self.is_defined(label):
                    return label_close + 1, True
                return after, False  # not a link: its label may still be [text](url)
        if (
            link_text is None
            or not valid_label(link_text)
            or (text.startswith(":", after) and not self.is_defined(link_text))
            or self.is_task_marker(opener, link_text)
            or (self.references and self.references[-1].span == Span(opener + 1, close))
        ):
            return after, False
        self.add_reference(ReferenceForm.SHORTCUT, opener + 1, close)
        return after, self.is_defined(link_text)

    def is_task_marker(self, opener: int, label: str) -> bool:
        """``[x]`` right after a list marker is a task-list checkbox, not a label."""
        if label not in ("x", "X"):
            return False
        line_start = self.file_line_starts[bisect_right(self.file_line_starts, opener) - 1]
        return _TASK_PREFIX.fullmatch(self.text, line_start, opener) is not None
