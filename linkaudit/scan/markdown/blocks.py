"""The block pass: cut the body into paragraph and HTML segments, skip code, record definitions.

Containers (blockquotes, list items) are tracked only as far as they decide where code
and HTML blocks end; everything else about blocks is left to the inline pass.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from linkaudit.scan.markdown.helpers import (
    can_interrupt,
    closing_fence,
    html_block_end,
    is_setext_underline,
    is_thematic_break,
    line_bounds,
)
from linkaudit.scan.markdown.html import NOT_HTML, HtmlSyntax
from linkaudit.scan.markdown.links import LinkSyntax

_LIST_MARKER = re.compile(r"(?:[-+*]|(\d{1,9})[.)])(?=[ \t]|$)")
_LIST_MARKER_STARTS = frozenset("-+*0123456789")
_BLOCK_OPENERS = frozenset("`~#<")  # fences, ATX headings, HTML blocks
_MAX_DEPTH = 1 << 30  # blockquote nesting has no limit
_ATX_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"`{3,}|~{3,}")
_BLANK_LINE_AHEAD = re.compile(r"^[ \t]*$", re.MULTILINE)


@dataclass(slots=True)
class _Fence:
    char: str
    length: int
    container: int  # indentation column of the enclosing list item content
    depth: int  # blockquote depth


@dataclass(slots=True)
class _HtmlBlock:
    start: int
    last_end: int
    end_markers: tuple[str, ...] | None  # None: ends before a blank line
    container: int
    depth: int


class BlockPass(LinkSyntax, HtmlSyntax):
    """Line by line, with one regex search to skip a top-level fence or HTML block."""

    def block_pass(self) -> None:
        """Cut the body into paragraph and HTML segments; record reference definitions."""
        text = self.text
        first = bisect_left(self.file_line_starts, self.start)
        if first < len(self.file_line_starts) and self.file_line_starts[first] == self.start:
            line_starts, line_ends = self.file_line_starts[first:], self.file_line_ends[first:]
        else:  # the body starts inside a line
            line_starts, line_ends = line_bounds(text, self.start)

        whole_lines = "\r" not in text  # line ends are all LF: regexes may find them
        fence: _Fence | None = None
        html_block: _HtmlBlock | None = None
        segment: list[int] | None = None
        paragraph = False
        list_indents: list[int] = []  # content indentation of the open list items
        previous_blank = True
        previous_depth = 0
        index = 0

        def flush() -> None:
            nonlocal segment, paragraph
            if segment is not None:
                self.segments.append((segment[0], segment[1], False))
            segment = None
            paragraph = False

        def close_lists(indent: int) -> None:
            """A block that cannot be a lazy line ends the list items it is not indented for."""
            while list_indents and indent < list_indents[-1]:
                list_indents.pop()

        while index < len(line_starts):
            line_start, line_end = line_starts[index], line_ends[index]
            index += 1
            open_block: _Fence | _HtmlBlock | None = fence if fence is not None else html_block
            if open_block is not None:
                position, depth, column, base = self.after_quotes(
                    line_start, line_end, open_block.depth
                )
                content, content_column = self.after_indent(position, line_end, column)
                blank = content == line_end
                inside = depth == open_block.depth and (
                    blank or content_column - base >= open_block.container
                )
                if fence is not None:
                    if inside:
                        if self.closes_fence(fence, content, content_column - base):
                            fence = None
                        continue
                    fence = None  # its list item or blockquote ended
                elif html_block is not None:
                    if inside and not (blank and html_block.end_markers is None):
                        html_block.last_end = line_end
                        markers = html_block.end_markers
                        if markers is not None and self.ends_html(markers, content, line_end):
                            self.segments.append((html_block.start, line_end, True))
                            html_block = None
                        continue
                    self.segments.append((html_block.start, html_block.last_end, True))
                    html_block = None
            if line_start == line_end or text[line_start] not in " \t>":
                content, depth, content_column, base = line_start, 0, 0, 0  # nothing to skip
            else:
                position, depth, column, base = self.after_quotes(line_start, line_end,
                                                                  _MAX_DEPTH)
                content, content_column = self.after_indent(position, line_end, column)
            indent = content_column - base
            if content == line_end:
                flush()
                previous_blank = True
                continue
            if depth != previous_depth and not (depth < previous_depth and paragraph):
                flush()  # a blockquote starts or ends (a shallower line may be a lazy one)
                list_indents.clear()
            previous_depth = depth
            marker = _LIST_MARKER.match(text, content, line_end) \
                if text[content] in _LIST_MARKER_STARTS else None
            if list_indents and (previous_blank or not paragraph or marker):
                close_lists(indent)
            previous_blank = False
            if indent - (list_indents[-1] if list_indents else 0) >= 4:
                if paragraph and segment is not None:
                    segment[1] = line_end
                continue  # indented code, or a paragraph's continuation line
            if text[content] in "-*_=" and (  # the only characters these lines start with
                is_thematic_break(text[content:line_end])
                or (paragraph and is_setext_underline(text[content:line_end]))
            ):
                flush()
                continue
            if marker:
                item, item_column = self.after_indent(marker.end(), line_end,
                                                      content_column + len(marker.group()))
                width = item_column - content_column
                if not paragraph or (item < line_end and can_interrupt(marker)):
                    flush()
                    empty_or_code = item == line_end or width - len(marker.group()) > 4
                    item_indent = indent + (len(marker.group()) + 1 if empty_or_code else width)
                    list_indents.append(item_indent)
                    if empty_or_code:
                        continue  # nothing, or an indented code block, follows the marker
                    content, indent = item, item_indent
            opener = text[content]
            if opener == "[":  # only a definition starts so: no fence, heading or HTML
                if not paragraph:
                    definition_end = self.definition(content)
                    if definition_end is not None:
                        index = bisect_right(line_starts, definition_end)
                        continue
            elif opener in _BLOCK_OPENERS:
                fence_match = _FENCE.match(text, content, line_end)
                if fence_match and not (
                    fence_match.group()[0] == "`" and "`" in text[fence_match.end():line_end]
                ):
                    flush()
                    close_lists(indent)
                    container = list_indents[-1] if list_indents else 0
                    run = fence_match.group()
                    fence = _Fence(run[0], len(run), container, depth)
                    if whole_lines and container == 0 and depth == 0:
                        index = self.skip_top_level_fence(fence, line_starts, index)
                        fence = None
                    continue
                if _ATX_HEADING.match(text, content, line_end):
                    flush()
                    self.segments.append((content, line_end, False))
                    continue
                markers = self.html_block_start(content, line_end, paragraph)
                if markers != NOT_HTML:
                    flush()
                    if markers is not None and self.ends_html(markers, content + 2, line_end):
                        self.segments.append((content, line_end, True))
                    else:
                        close_lists(indent)
                        container = list_indents[-1] if list_indents else 0
                        html_block = _HtmlBlock(content, line_end, markers, container, depth)
                        if whole_lines and container == 0 and depth == 0:
                            index = self.skip_top_level_html(html_block, line_starts,
                                                             line_ends, index)
                            html_block = None
                    continue
            if segment is None:
                segment = [content, line_end]
            else:
                segment[1] = line_end
            paragraph = True
        flush()
        if html_block is not None:
            self.segments.append((html_block.start, html_block.last_end, True))

    # A block outside lists and blockquotes takes every line until its end, whatever
    # the line holds: its end is found with one regex search instead of line by line.

    def skip_top_level_fence(self, fence: _Fence, line_starts: list[int], index: int) -> int:
        """Index of the line after the one closing ``fence`` (or past the last line)."""
        if index >= len(line_starts):
            return index
        closing = closing_fence(fence.char, fence.length).search(self.text, line_starts[index])
        return len(line_starts) if closing is None else bisect_right(line_starts, closing.start())

    def skip_top_level_html(self, block: _HtmlBlock, line_starts: list[int],
                            line_ends: list[int], index: int) -> int:
        """Record the HTML block opened on the line before ``index``; the next line's index."""
        if index < len(line_starts):
            if block.end_markers is None:  # ends before the next blank line
                end = _BLANK_LINE_AHEAD.search(self.text, line_starts[index])
                lines_before_end = 2
            else:  # ends with the line holding an end marker
                end = html_block_end(block.end_markers).search(self.text, line_starts[index])
                lines_before_end = 1
            last = len(line_starts) - 1 if end is None else \
                bisect_right(line_starts, end.start()) - lines_before_end
            block.last_end = line_ends[last]
            index = last + 1
        self.segments.append((block.start, block.last_end, True))
        return index

    def after_quotes(
        self, position: int, line_end: int, max_depth: int
    ) -> tuple[int, int, int, int]:
        """Skip up to ``max_depth`` blockquote markers (``>`` after up to three spaces).

        Returns the position after them, the depth, the column there (for tab stops) and
        the column indentation is measured from (a tab after ``>`` lends it one column).
        """
        text, depth, column, base = self.text, 0, 0, 0
        while depth < max_depth:
            probe, probe_column = self.after_indent(position, line_end, column)
            if probe_column - column > 3 or probe >= line_end or text[probe] != ">":
                break
            depth += 1
            position, column = probe + 1, probe_column + 1
            base = column
            if text.startswith(" ", position) and position < line_end:
                position, column, base = position + 1, column + 1, column + 1
            elif text.startswith("\t", position) and position < line_end:
                base = column + 1
        return position, depth, column, base

    def after_indent(self, position: int, line_end: int, column: int) -> tuple[int, int]:
        """Skip spaces and tabs from ``column``; return where content starts and its column."""
        text = self.text
        while position < line_end and text[position] in " \t":
            column = column + 4 - column % 4 if text[position] == "\t" else column + 1
            position += 1
        return position, column

    def closes_fence(self, fence: _Fence, content: int, indent: int) -> bool:
        text = self.text
        if indent - fence.container > 3 or not text.startswith(fence.char * fence.length, content):
            return False
        run_end = content + fence.length
        while run_end < len(text) and text[run_end] == fence.char:
            run_end += 1
        return self.rest_is_blank(run_end) is not None
