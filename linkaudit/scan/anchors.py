"""The ids a rendered note carries, as the site's Markdown engine would make them.

A ``#fragment`` link works when the page has an element with that id. A Markdown page's ids
come from its headings (each engine has its own slug rule, below), from explicit ids
(kramdown's ``{#id}`` and ``{: #id}``), from HTML ``id=`` and ``name=`` attributes, and from
footnotes. One line pass over the body finds them; code blocks, HTML comments and Liquid
``raw``/``comment``/``highlight`` blocks are skipped, and their ranges are kept so callers
can ignore what sits in code. The rules, and where they come from, are in
docs/local-links.md.

Engines:

- ``kramdown-gfm``: kramdown with GFM input, Jekyll's default (kramdown-parser-gfm,
  ``generate_gfm_header_id``): the heading's *text* (markup dropped), lowercased, every
  character but word characters, ``-``, space and tab deleted, space and tab to ``-``.
- ``kramdown``: kramdown's own input (``Converter::Base#basic_generate_id``): the heading
  *as written*, leading characters up to the first ASCII letter dropped, everything but
  ASCII letters, digits, space and ``-`` dropped, spaces to ``-``, lowercased; ``section``
  when nothing is left.
- ``github``: github.com (html-pipeline's table-of-contents filter): like ``kramdown-gfm``
  but tabs are deleted, ``{#id}`` is plain text, and ids also answer as ``user-content-…``.

Repeated ids get ``-1``, ``-2``… in document order, counted per generated id.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

ENGINES = ("kramdown-gfm", "kramdown", "github")

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FENCE_KRAMDOWN = re.compile(r"(~{3,})")  # kramdown's own syntax knows no backtick fences
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_KRAMDOWN = re.compile(r"(#{1,6})[ \t]*(.+?)[ \t]*$")  # no indent; no space needed
_ATX_KRAMDOWN_GFM = re.compile(r"(#{1,6})[ \t]+(.+?)[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")  # CommonMark and kramdown-gfm
_CLOSING_HASHES_KRAMDOWN = re.compile(r"(?<!\\)#+$")
_HEADER_ID = re.compile(r"[ \t]+\{#([A-Za-z][\w:-]*)\}$")
_CONTAINERS = re.compile(r" {0,3}(?:>[ \t]?|[-+*][ \t]+|\d{1,9}[.)][ \t]+|:[ \t]+)+")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_BLOCK_IAL = re.compile(r" {0,3}\{:(.*)\}[ \t]*$")
_IAL_ID = re.compile(r"\{:?[^{}\n]*?#([A-Za-z][\w:-]*)[^{}\n]*\}")
_IAL_ONE_ID = re.compile(r"(?:^|\s)#([A-Za-z][\w:-]*)")
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-+*][ \t]|\d{1,9}[.)][ \t]|>|\||<|\{[:%]|\[\^?[^\]]*\]:)")
_HTML_TAG = re.compile(r"<[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>")
_HTML_ID = re.compile(r"""(?:^|\s)(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""",
                      re.IGNORECASE)
_FOOTNOTE = re.compile(r" {0,3}\[\^([^\]\s]+)\]:")
_LIQUID_BLOCK = re.compile(r"\{%-?\s*(raw|comment|highlight)\b")
_BACKTICKS = re.compile(r"`+")
_IMAGE = re.compile(r"!\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]*)>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
_TYPOGRAPHIC = re.compile(r"---|--|\.\.\.|<<|>>")
_MARKUP = re.compile(r"[\[\]<>&\\_!-]|\.\.\.")  # what _inline_text may change
_MAX_HEADING = 1000  # characters of one heading looked at (a hostile note stays cheap)


@dataclass(frozen=True, slots=True)
class Outline:
    """What links can point at in one note: its ids, and the ranges that are code."""

    ids: frozenset[str]
    code: tuple[tuple[int, int], ...]  # [start, end) offsets of skipped blocks, in order


@dataclass(slots=True)
class _Heading:
    text: str  # as written, closing hashes removed
    explicit: str | None  # {#id} on the heading line, or {: #id} on the next line


def outline(text: str, start: int = 0, engine: str = "kramdown-gfm") -> Outline:
    """The ids the page rendered from ``text[start:]`` carries under ``engine``."""
    return _Pass(text, start, engine).run()


def heading_id(text: str, engine: str) -> str:
    """The id ``engine`` derives from one heading's text, before duplicates are numbered."""
    if engine == "kramdown":
        return _kramdown_id(text)
    visible = _visible_text(text, engine)
    if engine == "kramdown-gfm":
        return "".join(c for c in visible.lower() if _is_word(c) or c in "- \t") \
            .replace(" ", "-").replace("\t", "-")
    return "".join(c for c in visible.lower() if _is_word(c) or c in "- ").replace(" ", "-")


def _kramdown_id(raw: str) -> str:
    """kramdown's basic_generate_id, ``section`` when nothing survives."""
    index = next((i for i, c in enumerate(raw) if c.isascii() and c.isalpha()), len(raw))
    kept = "".join(c for c in raw[index:] if (c.isascii() and c.isalnum()) or c in " -")
    return kept.replace(" ", "-").lower() or "section"


@functools.lru_cache(maxsize=4096)
def _is_word(char: str) -> bool:
    """Onigmo's ``\\p{Word}`` (Ruby, so kramdown and github.com): letters, marks, decimal
    digits, letter numbers, connector punctuation, and the circled and squared Latin letters
    Unicode counts as alphabetic.

    Python's ``\\w`` leaves out combining marks, which Hindi and Arabic headings are full
    of, so the class is decided from the Unicode category instead.
    """
    category = unicodedata.category(char)
    if category[0] in "LM" or category in ("Nd", "Nl", "Pc"):
        return True
    return category == "So" and any(low <= ord(char) <= high for low, high in _ALPHABETIC_SO)


_ALPHABETIC_SO = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


def _visible_text(raw: str, engine: str) -> str:
    """A heading's text as rendered: markup dropped, code spans and link texts kept."""
    parts = []
    position = 0
    for match in _BACKTICKS.finditer(raw):
        if match.start() < position:
            continue
        close = raw.find(match.group(), match.end())
        while close >= 0 and raw.startswith("`", close + len(match.group())):
            close = raw.find(match.group(), close + len(match.group()) + 1)
        if close < 0:
            continue
        parts.append(_inline_text(raw[position:match.start()], engine))
        code = raw[match.end():close]
        parts.append(code[1:-1] if code.startswith(" ") and code.endswith(" ")
                     and code.strip() else code)
        position = close + len(match.group())
    parts.append(_inline_text(raw[position:], engine))
    return "".join(parts)


def _inline_text(raw: str, engine: str) -> str:
    if _MARKUP.search(raw) is None:
        return raw  # most headings: nothing to take off
    text = _IMAGE.sub("", raw)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    if engine == "kramdown-gfm":  # kramdown turns these into typographic symbols first
        text = _TYPOGRAPHIC.sub("", text)
    text = _EMPHASIS_UNDERSCORE.sub("", text)
    text = _ESCAPE.sub(r"\1", text)
    return html.unescape(text)


class _Pass:
    """One forward pass over the lines of a body."""

    def __init__(self, text: str, start: int, engine: str) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown Markdown engine {engine!r}")
        self.text = text
        self.start = start
        self.engine = engine
        self.kramdown = engine.startswith("kramdown")
        self.fence = _FENCE_KRAMDOWN if engine == "kramdown" else _FENCE
        self.atx = {"kramdown": _ATX_KRAMDOWN, "kramdown-gfm": _ATX_KRAMDOWN_GFM}.get(engine, _ATX)
        self.headings: list[_Heading] = []
        self.ids: set[str] = set()
        self.code: list[tuple[int, int]] = []

    def run(self) -> Outline:
        lines = self.text[self.start:].splitlines(keepends=True)
        offset = self.start
        paragraph: list[str] = []
        skip_until: re.Pattern[str] | None = None
        skip_from = 0
        last_was_heading = False
        for line in lines:
            here, offset = offset, offset + len(line)
            body = line.rstrip("\r\n")
            if skip_until is not None:
                if skip_until.search(body):
                    self.code.append((skip_from, offset))
                    skip_until = None
                continue
            closer = self.opens_skipped_block(body)
            if closer is not None:
                paragraph.clear()
                last_was_heading = False
                if not closer.search(body, self.opener_end(body)):
                    skip_until, skip_from = closer, here
                else:
                    self.code.append((here, offset))
                continue
            stripped = body.lstrip(" ")
            if not stripped.strip():
                paragraph.clear()
                last_was_heading = False
                continue
            self.collect_ids(body)
            ial = _BLOCK_IAL.match(body) if self.kramdown else None
            if ial is not None:
                found = _IAL_ONE_ID.search(ial.group(1))
                if found and last_was_heading:
                    self.headings[-1].explicit = found.group(1)
                last_was_heading = False
                continue
            last_was_heading = True
            if (len(body) - len(stripped) >= 4 or body.startswith("\t")) and not paragraph:
                last_was_heading = False  # indented code
                continue
            underline = _SETEXT.match(body)
            if underline is not None and paragraph and (not self.kramdown or len(paragraph) == 1):
                self.add_heading("\n".join(paragraph).strip())
                paragraph.clear()
                continue
            atx = self.atx.match(_heading_candidate(body))
            if atx is not None and atx.group(2) is not None \
                    and not (self.engine == "kramdown" and paragraph):
                self.add_heading(atx.group(2)[:_MAX_HEADING], closing=True)
                paragraph.clear()
                continue
            last_was_heading = False
            if _NOT_PARAGRAPH.match(body) or _SETEXT.match(body):
                paragraph.clear()
            else:
                paragraph.append(body[:_MAX_HEADING])
        if skip_until is not None:
            self.code.append((skip_from, len(self.text)))
        return Outline(frozenset(self.ids | self.heading_ids()) - {""}, tuple(self.code))

    def opens_skipped_block(self, body: str) -> re.Pattern[str] | None:
        """The pattern that closes a code fence, comment or Liquid block opened here."""
        fence = self.fence.match(body)
        if fence is not None:
            run = fence.group(1)
            return _closing(rf"^ {{0,3}}{re.escape(run[0])}{{{len(run)},}}[ \t]*$")
        stripped = body.lstrip(" ")
        if stripped.startswith("<!--") and len(body) - len(stripped) < 4:
            return _closing(r"-->")
        liquid = _LIQUID_BLOCK.match(stripped)
        if liquid is not None:
            return _closing(rf"\{{%-?\s*end{liquid.group(1)}\s*-?%\}}")
        return None

    def opener_end(self, body: str) -> int:
        """Where to look for the closer on the opening line itself (after the opener)."""
        stripped = body.lstrip(" ")
        if self.fence.match(body):
            return len(body)  # a fence never closes on its own line
        return len(body) - len(stripped) + (4 if stripped.startswith("<!--") else 2)

    def add_heading(self, content: str, *, closing: bool = False) -> None:
        """A heading's text: ``{#id}`` taken off first (kramdown), then closing hashes."""
        explicit = None
        if self.kramdown:
            found = _HEADER_ID.search(content)
            if found is not None:
                explicit = found.group(1)
                content = content[:found.start()].rstrip()
        if closing:
            hashes = _CLOSING_HASHES_KRAMDOWN if self.engine == "kramdown" else _CLOSING_HASHES
            content = hashes.sub("", content).rstrip()
        if content:
            self.headings.append(_Heading(content, explicit))

    def collect_ids(self, body: str) -> None:
        """HTML id/name attributes, kramdown attribute lists, footnote definitions."""
        if "<" in body:
            for tag in _HTML_TAG.finditer(body):
                for found in _HTML_ID.finditer(tag.group(), len(tag.group().split(None, 1)[0])):
                    value = next(v for v in found.groups() if v is not None)
                    self.ids.add(html.unescape(value))
                    if self.engine == "github":
                        self.ids.add("user-content-" + html.unescape(value))
        if self.kramdown and "{" in body:
            self.ids.update(found.group(1) for found in _IAL_ID.finditer(body))
        footnote = _FOOTNOTE.match(body)
        if footnote is not None:
            name = footnote.group(1)
            if self.kramdown:
                self.ids.update((f"fn:{name}", f"fnref:{name}"))
            else:
                self.ids.update((f"user-content-fn-{name}", f"user-content-fnref-{name}",
                                 f"fn-{name}", f"fnref-{name}"))

    def heading_ids(self) -> set[str]:
        """Every heading's id, repeated ones numbered as the engine numbers them."""
        ids = set()
        counts: Counter[str] = Counter()
        for heading in self.headings:
            if heading.explicit is not None:
                ids.add(heading.explicit)
                continue
            base = heading_id(heading.text, self.engine)
            if self.engine == "github" and not base:
                continue  # github.com gives such a heading no usable anchor
            made = f"{base}-{counts[base]}" if counts[base] else base
            counts[base] += 1
            ids.add(made)
            if self.engine == "github":
                ids.add("user-content-" + made)
        return ids


def _heading_candidate(body: str) -> str:
    """The line with block-quote, list-item and definition markers taken off.

    Headings inside those containers get ids too; the containers themselves are not
    tracked, so an indented heading (up to three spaces) is taken as being inside one.
    """
    containers = _CONTAINERS.match(body)
    rest = body[containers.end():] if containers is not None else body
    return rest.lstrip(" ") if len(rest) - len(rest.lstrip(" ")) < 4 else rest


@functools.lru_cache(maxsize=64)
def _closing(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
