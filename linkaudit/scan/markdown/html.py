"""HTML inside Markdown: comments, autolinks and tags met inline, open tags with their
href/src values, and where an HTML block starts (CommonMark 4.6)."""

from __future__ import annotations

import re

from linkaudit.models import LinkKind
from linkaudit.scan.markdown.state import ScanState

_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\x00-\x20<>]*)>")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_.:-]*")
_UNQUOTED_VALUE = re.compile(r"[^ \t\r\n\"'=<>`]+")
_CLOSING_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9-]*[ \t\r\n]*>")
_URL_ATTRIBUTES = frozenset({"href", "src"})
# What may follow "<" in any construct angle() knows: a tag name or scheme, "/", "!" or "?".
_AFTER_ANGLE = frozenset("!?/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
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
NOT_HTML: tuple[str, ...] = ()  # html_block_start: no HTML block starts here


class HtmlSyntax(ScanState):
    """HTML tags and comments, recognised at a ``<``."""

    def angle(self, start: int, end: int, html_only: bool) -> int:
        """Autolink, HTML comment or tag at ``start``: record it, return its end (-1: text)."""
        text = self.text
        after = text[start + 1] if start + 1 < end else ""
        if after not in _AFTER_ANGLE:
            return -1  # "<" then a space, digit or "<": text, found without the tries below
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

    def html_block_start(
        self, content: int, line_end: int, paragraph: bool
    ) -> tuple[str, ...] | None:
        """End markers of the HTML block starting here (None: a blank line ends it).

        ``NOT_HTML`` when no HTML block starts here.
        """
        if content >= line_end or self.text[content] != "<":
            return NOT_HTML
        for pattern, markers in _HTML_BLOCK_STARTS:
            if pattern.match(self.text, content, line_end):
                return markers
        if paragraph:
            return NOT_HTML  # type 7 cannot interrupt a paragraph
        name = _TAG_NAME.match(self.text, content + 1, line_end)
        if name and name.group().lower() in _RAW_TEXT_TAGS:
            return NOT_HTML
        closing = _CLOSING_TAG.match(self.text, content, line_end)
        tag_end = closing.end() if closing else self.open_tag(content, line_end)[0]
        if tag_end < 0 or self.text[tag_end:line_end].strip(" \t"):
            return NOT_HTML
        return None

    def ends_html(self, markers: tuple[str, ...], position: int, line_end: int) -> bool:
        line = self.text[position:line_end].lower()
        return any(marker in line for marker in markers)
