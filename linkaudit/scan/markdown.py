"""Markdown text to links: the pure half of the scanner.

Hand-written rather than built on a CommonMark library because rewriting needs the exact
character span of every URL as written (parsers hand back normalised URLs without
positions), and because notes are untrusted: every step is a forward scan or a single
non-nested regex, so hostile input stays linear. A block pass (code fences, indented code,
HTML blocks, headings, lists, reference definitions) cuts the text into paragraph
segments; an inline pass finds links in each; bare URLs are looked for last, in what no
other construct claimed. Rules and deliberate differences from CommonMark: docs/scanner.md.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

from linkaudit.models import Link, LinkKind, ReferenceForm, ReferenceUse, Span, normalize_label

__all__ = ["Extraction", "extract"]


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


_LINE_END = re.compile(r"\r\n|\r|\n")
_BLANK_LINE = re.compile(r"(?>\r\n|\r|\n)[ \t]*+(?:\r|\n)")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_MAX_LABEL = 999
_MAX_PAREN_DEPTH = 32
_INLINE_SPECIAL = re.compile(r"[\\`<!\[\]]")
_BACKTICKS = re.compile(r"`+")
_PLAIN_DESTINATION = re.compile(r"[^\x00-\x20\x7f()\\]+")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\x00-\x20<>]*)>")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_.:-]*")
_UNQUOTED_VALUE = re.compile(r"[^ \t\r\n\"'=<>`]+")
_CLOSING_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9-]*[ \t\r\n]*>")
_URL_ATTRIBUTES = frozenset({"href", "src"})
_LIST_MARKER = re.compile(r"(?:[-+*]|(\d{1,9})[.)])(?=[ \t]|$)")
_LIST_MARKER_STARTS = frozenset("-+*0123456789")
_BLOCK_OPENERS = frozenset("`~#<[")  # fences, ATX headings, HTML blocks, definitions
_MAX_DEPTH = 1 << 30  # blockquote nesting has no limit
_TASK_PREFIX = re.compile(r"[ \t>]*(?:[-+*]|\d{1,9}[.)])[ \t]+")
_ATX_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"`{3,}|~{3,}")
_BLANK_LINE_AHEAD = re.compile(r"^[ \t]*$", re.MULTILINE)
_BARE_START = re.compile(r"https?://", re.IGNORECASE)
_BARE_TRAILING = frozenset(".,;:!?'\"*_~]")
_DIRECTIVE = re.compile(
    r"[ \t\r\n]*linkaudit-(ignore-next-line|ignore-line|disable|enable)(?=[\s:]|$)"
)

# HTML blocks (CommonMark 4.6): start pattern and the text that ends them (None: blank line).
_RAW_TEXT_TAGS = ("script", "pre", "style", "textarea")
_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|"
    "details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|"
    "h1|h2|h3|h4|h5|h6|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|"
    "noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|"
    "thead|title|tr|track|ul"
)
_HTML_BLOCK_STARTS: tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...] = (
    (re.compile(r"<(?:script|pre|style|textarea)(?:[ \t>]|$)", re.IGNORECASE),
     tuple(f"</{name}>" for name in _RAW_TEXT_TAGS)),
    (re.compile(r"<!--"), ("-->",)),
    (re.compile(r"<\?"), ("?>",)),
    (re.compile(r"<![A-Za-z]"), (">",)),
    (re.compile(r"<!\[CDATA\["), ("]]>",)),
    (re.compile(rf"</?(?:{_BLOCK_TAGS})(?:[ \t>]|/>|$)", re.IGNORECASE), None),
)
_NOT_HTML: tuple[str, ...] = ()  # html_block_start: no HTML block starts here


def _stops_bare_url(char: str) -> bool:
    """Whitespace, ``<``, control and format characters, and non-ASCII punctuation (。」，）)."""
    if char.isspace() or char == "<":
        return True
    if char.isascii():
        return char < " " or char == "\x7f"
    category = unicodedata.category(char)
    return category[0] == "P" or category in ("Cc", "Cf")


def _line_bounds(text: str, start: int) -> tuple[list[int], list[int]]:
    """Where each line of ``text[start:]`` starts, and where it ends before its line ending.

    Lines end at CRLF, CR or LF. Without a CR (the common case) the offsets are summed in
    C, from line lengths, instead of one Python step per line.
    """
    if "\r" not in text:
        lengths = list(map(len, text[start:].split("\n")))
        starts = list(accumulate(map((1).__add__, lengths[:-1]), initial=start))
        return starts, list(map(int.__add__, starts, lengths))
    breaks = list(_LINE_END.finditer(text, start))
    return ([start, *[match.end() for match in breaks]],
            [*[match.start() for match in breaks], len(text)])


@functools.lru_cache(maxsize=64)
def _closing_fence(char: str, length: int) -> re.Pattern[str]:
    """A line closing a top-level fence: up to three spaces, the run, spaces or tabs."""
    return re.compile(rf"^ {{0,3}}{re.escape(char)}{{{length},}}[ \t]*$", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def _html_block_end(markers: tuple[str, ...]) -> re.Pattern[str]:
    """Any end marker, ASCII case-insensitively (as ``str.lower`` finds these markers)."""
    return re.compile("|".join(map(re.escape, markers)), re.IGNORECASE | re.ASCII)


def _valid_label(label: str) -> bool:
    """A CommonMark link label: not blank, at most 999 characters, no unescaped brackets."""
    if not 0 < len(label) <= _MAX_LABEL or not label.strip(" \t\r\n"):
        return False
    index = 0
    while index < len(label):
        char = label[index]
        if char == "\\":
            index += 2
            continue
        if char in "[]":
            return False
        index += 1
    return _BLANK_LINE.search(label) is None


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


class _Scanner:
    """One extraction: the block pass, then the inline pass over the segments it found."""

    def __init__(self, text: str, start: int, *, bare_urls: bool, html: bool) -> None:
        self.text = text
        self.start = min(max(start, 0), len(text))
        self.bare_urls = bare_urls
        self.html = html
        self.file_line_starts, self.file_line_ends = _line_bounds(text, 0)
        self.links: list[Link] = []
        self.references: list[ReferenceUse] = []
        self.comments: list[tuple[int, int]] = []  # (start, end of content) of HTML comments
        self.segments: list[tuple[int, int, bool]] = []  # (start, end, html_only)
        self.defined: set[str] = set()
        self.found: dict[tuple[str, int], tuple[int, int]] = {}
        self.backtick_runs: dict[int, list[int]] | None = None

    # ------------------------------------------------------------ results

    def run(self) -> Extraction:
        self.block_pass()
        for seg_start, seg_end, html_only in self.segments:
            self.inline_pass(seg_start, seg_end, html_only)
        return Extraction(
            links=tuple(sorted(self.links, key=lambda link: link.span.start)),
            references=tuple(sorted(self.references, key=lambda use: use.span.start)),
            ignored_lines=self.ignored_lines(),
        )

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of an offset in the whole text."""
        line = bisect_right(self.file_line_starts, offset)
        return line, offset - self.file_line_starts[line - 1] + 1

    def add_link(self, kind: LinkKind, start: int, end: int, **extra: str | None) -> None:
        line, column = self.position(start)
        url = sys.intern(self.text[start:end])  # one string per URL however often it is cited
        self.links.append(Link(kind, url, Span(start, end), line, column, **extra))

    def add_reference(self, form: ReferenceForm, start: int, end: int) -> None:
        line, column = self.position(start)
        label = self.text[start:end]
        self.references.append(ReferenceUse(label, form, Span(start, end), line, column))

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

    # ------------------------------------------------------------ block pass

    def block_pass(self) -> None:
        """Cut the body into paragraph and HTML segments; record reference definitions."""
        text = self.text
        first = bisect_left(self.file_line_starts, self.start)
        if first < len(self.file_line_starts) and self.file_line_starts[first] == self.start:
            line_starts, line_ends = self.file_line_starts[first:], self.file_line_ends[first:]
        else:  # the body starts inside a line
            line_starts, line_ends = _line_bounds(text, self.start)

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
            if previous_blank or not paragraph or marker:
                close_lists(indent)
            previous_blank = False
            if indent - (list_indents[-1] if list_indents else 0) >= 4:
                if paragraph and segment is not None:
                    segment[1] = line_end
                continue  # indented code, or a paragraph's continuation line
            if text[content] in "-*_=" and (  # the only characters these lines start with
                self.is_thematic_break(text[content:line_end])
                or (paragraph and self.is_setext_underline(text[content:line_end]))
            ):
                flush()
                continue
            if marker:
                item, item_column = self.after_indent(marker.end(), line_end,
                                                      content_column + len(marker.group()))
                width = item_column - content_column
                if not paragraph or (item < line_end and self.can_interrupt(marker)):
                    flush()
                    empty_or_code = item == line_end or width - len(marker.group()) > 4
                    item_indent = indent + (len(marker.group()) + 1 if empty_or_code else width)
                    list_indents.append(item_indent)
                    if empty_or_code:
                        continue  # nothing, or an indented code block, follows the marker
                    content, indent = item, item_indent
            if text[content] in _BLOCK_OPENERS:
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
                if markers != _NOT_HTML:
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
                if not paragraph:
                    definition_end = self.definition(content)
                    if definition_end is not None:
                        index = bisect_right(line_starts, definition_end)
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
        closing = _closing_fence(fence.char, fence.length).search(self.text, line_starts[index])
        return len(line_starts) if closing is None else bisect_right(line_starts, closing.start())

    def skip_top_level_html(self, block: _HtmlBlock, line_starts: list[int],
                            line_ends: list[int], index: int) -> int:
        """Record the HTML block opened on the line before ``index``; the next line's index."""
        if index < len(line_starts):
            if block.end_markers is None:  # ends before the next blank line
                end = _BLANK_LINE_AHEAD.search(self.text, line_starts[index])
                lines_before_end = 2
            else:  # ends with the line holding an end marker
                end = _html_block_end(block.end_markers).search(self.text, line_starts[index])
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

    def ends_html(self, markers: tuple[str, ...], position: int, line_end: int) -> bool:
        line = self.text[position:line_end].lower()
        return any(marker in line for marker in markers)

    def html_block_start(
        self, content: int, line_end: int, paragraph: bool
    ) -> tuple[str, ...] | None:
        """End markers of the HTML block starting here (None: a blank line ends it).

        ``_NOT_HTML`` when no HTML block starts here.
        """
        if content >= line_end or self.text[content] != "<":
            return _NOT_HTML
        for pattern, markers in _HTML_BLOCK_STARTS:
            if pattern.match(self.text, content, line_end):
                return markers
        if paragraph:
            return _NOT_HTML  # type 7 cannot interrupt a paragraph
        name = _TAG_NAME.match(self.text, content + 1, line_end)
        if name and name.group().lower() in _RAW_TEXT_TAGS:
            return _NOT_HTML
        closing = _CLOSING_TAG.match(self.text, content, line_end)
        tag_end = closing.end() if closing else self.open_tag(content, line_end)[0]
        if tag_end < 0 or self.text[tag_end:line_end].strip(" \t"):
            return _NOT_HTML
        return None

    @staticmethod
    def is_thematic_break(body: str) -> bool:
        marks = body.replace(" ", "").replace("\t", "")
        return len(marks) >= 3 and marks[0] in "-*_" and marks == marks[0] * len(marks)

    @staticmethod
    def is_setext_underline(body: str) -> bool:
        marks = body.rstrip(" \t")
        return bool(marks) and marks[0] in "=-" and marks == marks[0] * len(marks)

    @staticmethod
    def can_interrupt(marker: re.Match[str]) -> bool:
        """Only a bullet or a ``1.`` item may interrupt a paragraph."""
        number = marker.group(1)
        return number is None or int(number) == 1

    # ------------------------------------------------------------ definitions

    def definition(self, start: int) -> int | None:
        """Parse ``[label]: url "title"`` at ``start``; record it; return where it ends."""
        text, size = self.text, len(self.text)
        if start >= size or text[start] != "[":
            return None
        close = self.label_end(start, size)
        if close < 0 or not text.startswith(":", close + 1):
            return None
        label = text[start + 1:close]
        if not _valid_label(label):
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
        limit = min(limit, start + 2 + _MAX_LABEL)
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

    # ------------------------------------------------------------ destinations and titles

    def destination(self, start: int, limit: int) -> tuple[int, int, int] | None:
        """A link destination at ``start``: (url start, url end, offset after it)."""
        text = self.text
        if text[start] == "<":
            position = start + 1
            while position < limit:
                char = text[position]
                if char == "\\" and position + 1 < limit and text[position + 1] in _ASCII_PUNCT:
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
            if char == "\\" and position + 1 < limit and text[position + 1] in _ASCII_PUNCT:
                position += 2
                continue
            if char == "(":
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

    def title(self, start: int, limit: int) -> tuple[int, int, int] | None:
        """A quoted or parenthesised title at ``start``: (text start, text end, offset after)."""
        text = self.text
        closer = ")" if text[start] == "(" else text[start]
        position = start + 1
        while position < limit:
            char = text[position]
            if char == "\\":
                position += 2
                continue
            if char == closer:
                return start + 1, position, position + 1
            if char == "(" and closer == ")":
                return None
            if char in "\r\n" and _BLANK_LINE.match(text, position):
                return None
            position += 1
        return None

    def inline_destination(self, start: int, limit: int) -> tuple[int, int, str | None, int] | None:
        """``(url "title")`` at ``start``: (url start, url end, title, offset after ``)``)."""
        text = self.text
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

    # ------------------------------------------------------------ inline pass

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
            else:
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
                escaped = position + 1 < end and text[position + 1] in _ASCII_PUNCT
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
                inactive = not image and len(openers) < first_active
                first_active = min(first_active, len(openers))
                if inactive:
                    position += 1
                    continue
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
        link_text = text[opener + 1:close] if close - opener <= _MAX_LABEL + 1 else None
        if text.startswith("(", after):
            inline = self.inline_destination(after, end)
            if inline is not None:
                url_start, url_end, title, link_end = inline
                kind = LinkKind.IMAGE if image else LinkKind.INLINE
                self.add_link(kind, url_start, url_end, title=title, text=text[opener + 1:close])
                return link_end, True
            if link_text is not None and _valid_label(link_text) and self.is_defined(link_text):
                self.add_reference(ReferenceForm.SHORTCUT, opener + 1, close)
                return after, True
            return after, False
        if text.startswith("[", after):
            label_close = self.label_end(after, end)
            if label_close == after + 1:
                if link_text is None or not _valid_label(link_text):
                    return after, False
                self.add_reference(ReferenceForm.COLLAPSED, opener + 1, close)
                if self.is_defined(link_text):
                    return label_close + 1, True
                return after, False  # not a link: "[](url)" may follow
            if label_close > 0 and _valid_label(text[after + 1:label_close]):
                self.add_reference(ReferenceForm.FULL, after + 1, label_close)
                if self.is_defined(text[after + 1:label_close]):
                    return label_close + 1, True
                return after, False  # not a link: its label may still be [text](url)
        if (
            link_text is None
            or not _valid_label(link_text)
            or (text.startswith(":", after) and not self.is_defined(link_text))
            or self.is_task_marker(opener, link_text)
            or (self.references and self.references[-1].span == Span(opener + 1, close))
        ):
            return after, False
        self.add_reference(ReferenceForm.SHORTCUT, opener + 1, close)
        return after, self.is_defined(link_text)

    def is_defined(self, label: str) -> bool:
        return normalize_label(label) in self.defined

    def is_task_marker(self, opener: int, label: str) -> bool:
        """``[x]`` right after a list marker is a task-list checkbox, not a label."""
        if label not in ("x", "X"):
            return False
        line_start = self.file_line_starts[bisect_right(self.file_line_starts, opener) - 1]
        return _TASK_PREFIX.fullmatch(self.text, line_start, opener) is not None

    def angle(self, start: int, end: int, html_only: bool) -> int:
        """Autolink, HTML comment or tag at ``start``: record it, return its end (-1: text)."""
        text = self.text
        if text.startswith("<!--", start):
            close = self.find("-->", start + 2, end)
            if close < 0 and not html_only:
                return -1
            content_end = end if close < 0 else close
            self.comments.append((start + 4, content_end))
            return end if close < 0 else close + 3
        if not html_only:
            autolink = _AUTOLINK.match(text, start, end)
            if autolink:
                self.add_link(LinkKind.AUTOLINK, autolink.start(1), autolink.end(1))
                return autolink.end()
        closing = _CLOSING_TAG.match(text, start, end)
        if closing:
            return closing.end()
        for opening, closer in (("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">")):
            if text.startswith(opening, start):
                if opening == "<!" and not text[start + 2:start + 3].isalpha():
                    return -1
                close = self.find(closer, start + len(opening), end)
                return close + len(closer) if close >= 0 else -1
        tag_end, urls = self.open_tag(start, end)
        if tag_end > 0 and self.html:
            for url_start, url_end in urls:
                self.add_link(LinkKind.HTML, url_start, url_end)
        return tag_end

    def open_tag(self, start: int, limit: int) -> tuple[int, list[tuple[int, int]]]:
        """An HTML open tag at ``start``: (its end or -1, spans of its href/src values)."""
        text = self.text
        name = _TAG_NAME.match(text, start + 1, limit)
        if name is None:
            return -1, []
        position = name.end()
        urls: list[tuple[int, int]] = []
        while True:
            spaced = position
            while position < limit and text[position] in " \t\r\n":
                position += 1
            if text.startswith(">", position) and position < limit:
                return position + 1, urls
            if text.startswith("/>", position) and position + 2 <= limit:
                return position + 2, urls
            attribute = _ATTR_NAME.match(text, position, limit) if position > spaced else None
            if attribute is None:
                return -1, []
            position = attribute.end()
            probe = position
            while probe < limit and text[probe] in " \t\r\n":
                probe += 1
            if not text.startswith("=", probe) or probe >= limit:
                continue
            probe += 1
            while probe < limit and text[probe] in " \t\r\n":
                probe += 1
            if probe < limit and text[probe] in "\"'":
                close = self.find(text[probe], probe + 1, limit)
                if close < 0:
                    return -1, []
                value = (probe + 1, close)
                position = close + 1
            else:
                unquoted = _UNQUOTED_VALUE.match(text, probe, limit)
                if unquoted is None:
                    return -1, []
                value = unquoted.span()
                position = unquoted.end()
            if attribute.group().lower() in _URL_ATTRIBUTES:
                urls.append(value)

    # ------------------------------------------------------------ bare URLs

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
            while url_end < end and not _stops_bare_url(text[url_end]):
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

    # ------------------------------------------------------------ suppression comments

    def ignored_lines(self) -> frozenset[int]:
        """Lines silenced by ``linkaudit-ignore-line``, ``-ignore-next-line``, ``-disable``."""
        text = self.text
        last_line = len(self.file_line_starts)
        if self.file_line_starts[-1] == len(text) and last_line > 1:
            last_line -= 1  # a final line ending does not start another line
        ignored: set[int] = set()
        disabled_from: int | None = None
        for content_start, content_end in sorted(self.comments):
            directive = _DIRECTIVE.match(text, content_start, content_end)
            if directive is None:
                continue
            first_line = self.position(content_start)[0]
            end_line = self.position(content_end)[0]
            action = directive.group(1)
            if action == "ignore-line":
                ignored.add(first_line)
            elif action == "ignore-next-line":
                following = self.next_non_blank_line(end_line + 1, last_line)
                if following is not None:
                    ignored.add(following)
            elif action == "disable" and disabled_from is None:
                disabled_from = end_line + 1
            elif action == "enable" and disabled_from is not None:
                ignored.update(range(disabled_from, first_line))
                disabled_from = None
        if disabled_from is not None:
            ignored.update(range(disabled_from, last_line + 1))
        return frozenset(ignored)

    def next_non_blank_line(self, line: int, last_line: int) -> int | None:
        starts = self.file_line_starts
        while line <= last_line:
            line_end = starts[line] if line < len(starts) else len(self.text)
            if self.text[starts[line - 1]:line_end].strip():
                return line
            line += 1
        return None
