"""Unit and property tests for linkaudit.markdown.extract (text to links)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkaudit.models import Link, LinkKind, ReferenceForm
from linkaudit.scan.markdown import Extraction, extract
from linkaudit.scan.markdown.helpers import line_bounds

K = LinkKind


def found(text: str, **options: bool) -> list[tuple[LinkKind, str, int, int]]:
    """(kind, url, line, column) of every link, after checking each span holds its URL."""
    result = extract(text, **options)
    for link in result.links:
        assert text[link.span.start:link.span.end] == link.url
    return [(link.kind, link.url, link.line, link.column) for link in result.links]


def only(text: str, **options: bool) -> Link:
    (link,) = extract(text, **options).links
    return link


# ---------------------------------------------------------------- reference definitions


def test_definition_with_double_quoted_title() -> None:
    """A definition gives its label, URL span, title, line and column."""
    text = 'Intro.\n\n[1]: https://x.com/a?utm_source=chatgpt.com "Jingren Zhou"\n'
    link = only(text)
    assert link.kind is K.DEFINITION
    assert (link.label, link.url, link.title) == (
        "1", "https://x.com/a?utm_source=chatgpt.com", "Jingren Zhou")
    assert (link.line, link.column) == (3, 6)
    assert link.span.start == text.index("https")


@pytest.mark.parametrize(
    ("source", "url", "title"),
    [
        ("[a]: /u 'single'", "/u", "single"),
        ("[a]: /u (parens)", "/u", "parens"),
        ("[a]: <https://x.com/a b> \"t\"", "https://x.com/a b", "t"),
        ("[a]: <>", "", None),
        ("   [a]: /indented", "/indented", None),
        ("[a]:\n  /next-line\n  \"title on its own line\"", "/next-line", "title on its own line"),
        ("[a]: /u\n'title'", "/u", "title"),
        ('[a]: /u "multi\nline title"', "/u", "multi\nline title"),
        ("[Multi\nLine]: /u", "/u", None),
        ("[a]: /u(x)y", "/u(x)y", None),
        ("[a]: /u\\)", "/u\\)", None),
    ],
)
def test_definition_forms(source: str, url: str, title: str | None) -> None:
    """Every CommonMark definition form gives the destination as written and the title."""
    link = only(source + "\n")
    assert (link.kind, link.url, link.title) == (K.DEFINITION, url, title)


@pytest.mark.parametrize(
    "source",
    [
        "    [a]: /four-spaces-is-code",
        "Paragraph text\n[a]: /cannot-interrupt",
        '[a]: /u "title" trailing junk',
        "[a]:",
        "[a] : /space-before-colon",
        "[]: /empty-label",
        '[a]: /u "unclosed\n\nrest"',
    ],
)
def test_not_definitions(source: str) -> None:
    """Lines CommonMark does not read as definitions give no definition."""
    assert all(link.kind is not K.DEFINITION for link in extract(source + "\n").links)


def test_definition_title_line_with_junk_keeps_destination() -> None:
    """A bad title on the next line is paragraph text; the definition keeps its URL."""
    result = extract('[a]: /u\n"title" junk\n')
    assert [(link.url, link.title) for link in result.links] == [("/u", None)]


def test_block_of_definitions_after_heading_and_in_list() -> None:
    """Definitions follow each other, follow headings and may open a list item."""
    text = "# Sources\n[1]: https://a.com\n[2]: https://b.com 'B'\n\n- [3]: https://c.com\n"
    assert [(link.label, link.url) for link in extract(text).links] == [
        ("1", "https://a.com"), ("2", "https://b.com"), ("3", "https://c.com")]


# ---------------------------------------------------------------- reference uses


def test_reference_use_forms() -> None:
    """Full, collapsed and shortcut uses give the label characters and their position."""
    text = "See [text][Label 1], [Foo][] and [bar].\n\n[label 1]: /a\n[foo]: /b\n[bar]: /c\n"
    uses = extract(text).references
    assert [(use.form, use.label, use.line, use.column) for use in uses] == [
        (ReferenceForm.FULL, "Label 1", 1, 12),
        (ReferenceForm.COLLAPSED, "Foo", 1, 23),
        (ReferenceForm.SHORTCUT, "bar", 1, 35),
    ]
    assert all(text[use.span.start:use.span.end] == use.label for use in uses)


def test_undefined_full_reference_is_still_reported() -> None:
    """An undefined ``[text][label]`` is returned so the auditor can report it."""
    (use,) = extract("cite [text][missing]\n").references
    assert (use.form, use.label) == (ReferenceForm.FULL, "missing")


def test_shortcut_exclusions() -> None:
    """Task-list boxes, ``[x]:`` text and ``[x](...)`` are not shortcut uses."""
    text = "- [x] done\n- [ ] todo\n\nsee [note]: here and [a](/inline)\n"
    assert extract(text).references == ()


def test_image_reference_and_undefined_full_reference_label_before_inline_link() -> None:
    """``![alt][ref]`` is a use; ``[x][y]`` with y undefined leaves ``[y](url)`` a link."""
    result = extract("![logo][img] [a][b](/u)\n\n[img]: /logo.png\n")
    assert [(use.form, use.label) for use in result.references] == [
        (ReferenceForm.FULL, "img"), (ReferenceForm.FULL, "b")]
    assert [link.url for link in result.links if link.kind is K.INLINE] == ["/u"]


# ---------------------------------------------------------------- inline links and images


def test_inline_link_with_title_and_balanced_parentheses() -> None:
    """An inline destination keeps balanced parentheses; text and title are returned."""
    link = only('Read [the page](https://en.wikipedia.org/wiki/Foo_(bar) "T") now.\n')
    assert (link.kind, link.url, link.text, link.title) == (
        K.INLINE, "https://en.wikipedia.org/wiki/Foo_(bar)", "the page", "T")
    assert (link.line, link.column) == (1, 17)


def test_angle_destination_escapes_and_empty_destination() -> None:
    """``<...>`` destinations exclude the brackets; escapes stay as written; ``()`` is empty."""
    assert found("[a](<https://x.com/a b>) [b](https://x.com/\\)) [c]()\n") == [
        (K.INLINE, "https://x.com/a b", 1, 6),
        (K.INLINE, "https://x.com/\\)", 1, 30),
        (K.INLINE, "", 1, 52),
    ]


def test_image_nested_in_link() -> None:
    """``[![alt](img)](href)`` gives both the image and the link."""
    assert found("[![alt](/img.png)](https://x.com)\n") == [
        (K.IMAGE, "/img.png", 1, 9), (K.INLINE, "https://x.com", 1, 20)]


def test_link_text_spanning_lines_and_escaped_brackets() -> None:
    """Link text may span lines; escaped brackets open nothing."""
    assert found("[two\nlines](/a) \\[not](/b)\n") == [(K.INLINE, "/a", 2, 8)]


def test_no_link_inside_link_text_destination() -> None:
    """A link inside link text wins; the outer brackets become plain text."""
    assert [url for _, url, _, _ in found("[[inner](/in)](/out)\n")] == ["/in"]


# ---------------------------------------------------------------- autolinks and HTML


def test_autolinks() -> None:
    """``<scheme:...>`` autolinks, mailto included, exclude the angle brackets."""
    assert found("<https://x.com/a?b=1> <mailto:me@x.com> <not a link>\n") == [
        (K.AUTOLINK, "https://x.com/a?b=1", 1, 2), (K.AUTOLINK, "mailto:me@x.com", 1, 24)]


def test_html_href_and_src_quoted_or_not() -> None:
    """href/src values of tags are links, quoted or not; html=False turns them off."""
    text = '<img width="7" src="https://x.com/a.png">\n\ntext <a href=https://y.com title=x>y</a>\n'
    assert found(text) == [(K.HTML, "https://x.com/a.png", 1, 21), (K.HTML, "https://y.com", 3, 14)]
    assert found(text, html=False) == []


def test_markdown_inside_html_block_is_not_parsed() -> None:
    """Inside an HTML block only tags count: no Markdown links, no bare URLs."""
    text = "<div>\n[a](/md) https://bare.com <a href='/h'>\n</div>\n"
    assert found(text) == [(K.HTML, "/h", 2, 36)]


# ---------------------------------------------------------------- bare URLs


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("see https://x.com/a.", "https://x.com/a"),
        ("see https://x.com/a, b", "https://x.com/a"),
        ("(see https://x.com/a)", "https://x.com/a"),
        ("see https://x.com/Foo_(bar)", "https://x.com/Foo_(bar)"),
        ("see https://x.com/Foo_(bar)).", "https://x.com/Foo_(bar)"),
        ("'https://x.com/q?a=1'!", "https://x.com/q?a=1"),
        ("\"https://x.com/\";:?", "https://x.com/"),
        ("[https://x.com/a]", "https://x.com/a"),
        ("参见https://x.com/a。下一句", "https://x.com/a"),
        ("链接：https://x.com/a、https://y.com", "https://x.com/a"),
        ("（https://x.com/a）", "https://x.com/a"),
        ("「https://x.com/a」『』《》", "https://x.com/a"),
        ("https://x.com/a，后面；", "https://x.com/a"),
        ("https://x.com/a！？", "https://x.com/a"),
        ("HTTP://X.COM/<b>", "HTTP://X.COM/"),
        ("https://zh.wikipedia.org/wiki/中文 next", "https://zh.wikipedia.org/wiki/中文"),
    ],
)
def test_bare_url_trailing_punctuation(source: str, url: str) -> None:
    """Bare URLs stop at whitespace, ``<`` and CJK punctuation; trailing punctuation is dropped."""
    assert found(source + "\n")[0][:2] == (K.BARE, url)


def test_bare_url_rules_and_option() -> None:
    """No bare URL inside a word, a link's text or destination; bare_urls=False disables them."""
    text = "xhttps://no.com [https://text.com](https://dest.com) https:// https://ok.com\n"
    assert found(text) == [(K.INLINE, "https://dest.com", 1, 36), (K.BARE, "https://ok.com", 1, 63)]
    assert [kind for kind, *_ in found(text, bare_urls=False)] == [K.INLINE]


# ---------------------------------------------------------------- code and comments


def test_nothing_inside_code() -> None:
    """Fenced (``` and ~~~, indented, with info, unclosed), indented and inline code hide links."""
    text = (
        "```python\n[a](https://1.com)\n```\n"
        "  ~~~~\n  https://2.com\n  ~~~~\n"
        "\n    [b](https://3.com)\n\n"
        "Inline `[c](https://4.com)` and ``a ` https://5.com`` code; [ok](https://ok.com)\n"
        "\n```\nunclosed https://6.com\n"
    )
    assert [url for _, url, _, _ in found(text)] == ["https://ok.com"]


def test_indented_lines_in_paragraph_and_list_are_not_code() -> None:
    """A 4-space line continuing a paragraph or list item is text, not code."""
    text = "Para\n    https://a.com\n\n1. item\n\n    https://b.com\n"
    assert [url for _, url, _, _ in found(text)] == ["https://a.com", "https://b.com"]


def test_unmatched_backticks_are_text() -> None:
    """A backtick run without a closer of equal length is literal text."""
    assert [url for _, url, _, _ in found("``x` https://a.com\n")] == ["https://a.com"]


def test_nothing_inside_html_comments() -> None:
    """Links inside HTML comments, inline or multi-line blocks, are ignored."""
    text = "a <!-- [x](https://1.com) --> b\n\n<!--\nhttps://2.com\n\n[y](https://3.com)\n-->\nend\n"
    assert found(text) == []


# ---------------------------------------------------------------- positions, BOM, CRLF


def test_crlf_bom_and_start_offset() -> None:
    """Spans are offsets into the whole text (BOM, CRLF kept); only text after start is read."""
    text = "\ufeff---\r\nurl: https://front.matter\r\n---\r\n[a](https://x.com)\r\n\r\n[b]: /d\r\n"
    start = text.index("[a]")
    result = extract(text, start=start)
    assert [(link.url, link.line, link.column) for link in result.links] == [
        ("https://x.com", 4, 5), ("/d", 6, 6)]
    assert all(text[ln.span.start:ln.span.end] == ln.url for ln in result.links)


def test_lone_carriage_returns_and_no_final_newline() -> None:
    """A lone CR ends a line; the last line needs no line ending."""
    assert found("a\rb https://x.com\r\r[c]: /last") == [
        (K.BARE, "https://x.com", 2, 3), (K.DEFINITION, "/last", 4, 6)]


def test_column_counts_characters_not_bytes() -> None:
    """Columns count characters, so CJK text before a link counts one per character."""
    assert found("中文字 https://x.com\n") == [(K.BARE, "https://x.com", 1, 5)]


# ---------------------------------------------------------------- suppression comments


def test_suppression_comments() -> None:
    """ignore-line, ignore-next-line (skipping blanks) and disable/enable give line numbers."""
    text = (
        "a https://1.com <!-- linkaudit-ignore-line -->\n"  # 1
        "<!-- linkaudit-ignore-next-line: flaky -->\n"  # 2
        "\n"  # 3
        "https://2.com\n"  # 4
        "<!-- linkaudit-disable -->\n"  # 5
        "x\n"  # 6
        "y\n"  # 7
        "<!-- linkaudit-enable -->\n"  # 8
        "z\n"  # 9
        "<!-- linkaudit-disable -->\n"  # 10
        "to the end\n"  # 11
    )
    assert extract(text).ignored_lines == frozenset({1, 4, 6, 7, 11})


def test_suppression_comment_in_code_does_nothing() -> None:
    """A directive inside code is text, not a directive; unknown directives do nothing."""
    text = "`<!-- linkaudit-disable -->`\n<!-- linkaudit-ignore-everything -->\nx\n"
    assert extract(text).ignored_lines == frozenset()


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "text",
    ["[" * 100000, "(" * 100000, "<" * 50000, "[a](" * 50000, "<!--" * 50000,
     "`" * 1000 + "` `" * 20000, "<a b='" * 30000, "](" * 50000, "[a]: <" * 30000,
     ">" * 50000 + "\n```", "- " * 50000, "\\" * 100000, "https://" * 20000],
    ids=lambda text: repr(text[:8]),
)
def test_pathological_inputs_finish(text: str) -> None:
    """Hostile inputs of ~200 KB are scanned (linear time: no backtracking blow-up)."""
    assert isinstance(extract(text), Extraction)


def check_invariants(text: str) -> None:
    result = extract(text)
    for item in (*result.links, *result.references):
        start, end = item.span.start, item.span.end
        assert 0 <= start <= end <= len(text)
        before = text[:start]
        line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
        assert (item.line, item.column) == (line, start - line_start + 1)
    for link in result.links:
        assert text[link.span.start:link.span.end] == link.url
    for use in result.references:
        assert text[use.span.start:use.span.end] == use.label


FRAGMENTS = st.sampled_from([
    "[", "]", "(", ")", "![", "`", "``", "<", ">", "\n", "\r\n", "\n\n", " ", "    ", "\t",
    "https://a.com/x", "http://b.org", "[1]: ", "[1]", "[a][1]", ": ", '"t"', "'", "\\",
    "<!--", "-->", "<!-- linkaudit-disable -->", "- ", "> ", "```\n", "~~~\n",
    "<https://c.net>", '<a href="/h">', "# ", "1. ", "*", "<div>", "[x]", "[]", "。", "）",
    "中文", "\ufeff", "&amp;", "<img src=/i>",
])


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises_and_spans_hold(text: str) -> None:
    """For any text, extraction returns, each span holds its URL, positions match spans."""
    check_invariants(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_markdownish_text_never_raises_and_spans_hold(text: str) -> None:
    """For Markdown-like text, extraction returns, each span holds its URL, positions match."""
    check_invariants(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40).map("".join), st.data())
def test_any_body_start_reads_only_the_body_with_true_positions(text: str,
                                                                data: st.DataObject) -> None:
    """From any start (a line start, mid-line, inside a CRLF), links lie in the body and their
    lines and columns count from the top of the whole text."""
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    result = extract(text, start=start)
    for item in (*result.links, *result.references):
        assert item.span.start >= start
        before = text[:item.span.start]
        line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
        assert (item.line, item.column) == (line, item.span.start - line_start + 1)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab \r\n", max_size=30), st.data())
def test_line_bounds_match_line_endings(text: str, data: st.DataObject) -> None:
    """Line starts and ends, with or without CR, are those the CRLF|CR|LF line endings give."""
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    breaks = list(re.finditer(r"\r\n|\r|\n", text[start:]))
    starts, ends = line_bounds(text, start)
    assert starts == [start, *(start + match.end() for match in breaks)]
    assert ends == [*(start + match.start() for match in breaks), len(text)]


def test_equal_urls_in_two_notes_are_one_string() -> None:
    """A URL cited in many notes is held once: the scanner interns each URL it reads."""
    first = only("See https://x.com/a?utm_source=chatgpt.com now.\n")
    second = only("[1]: " + "https://x.com/" + "a?utm_source=chatgpt.com\n")
    assert first.url == second.url
    assert first.url is second.url


BLOCK_LINES = st.sampled_from([
    "```", "````", "~~~", "  ```", "    ```", "``` x", "```x`", "> ```", "- ```", "\t```",
    "<div>", "</div>", "<DIV class=x>", "<!--", "-->", "x -->", "<script>", "</SCRIPT>",
    "<?php", "?>", "<!DOCTYPE html>", "<![CDATA[", "]]>", "<a href=\"https://h.io/t\">",
    "", "   ", "\t", "- item", "1. item", "> quote", "    code https://i.io/c",
    "[d]: https://d.io/x", "see [d] and https://b.io/y.", "<https://a.io/z>", "- <div>",
    "  </div>", "- <!--", "  https://l.io/i",
])
AFTER = "see https://b.io/y"


@settings(max_examples=300, deadline=None)
@given(st.lists(BLOCK_LINES, max_size=25))
@example(["```", "    ```", AFTER, "```", AFTER])  # four spaces do not close a fence
@example(["<script>", "</SCRIPT>", AFTER])  # end markers match in any case
@example(["<script>", "</scr\u0131pt>", AFTER])  # but only ASCII case: dotless i is not i
@example(["- <div>", "  x", "", AFTER])  # an HTML block in a list item: line by line
@example(["- <!--", "  -->", AFTER])
@example(["> <div>", AFTER])  # in a blockquote: the line without ">" ends the block
def test_block_ends_found_ahead_agree_with_the_line_loop(lines: list[str]) -> None:
    """Top-level fences and HTML blocks are skipped with one regex search when every line
    ends in LF; with CRLF the line-by-line loop runs. Both find the same links."""
    def found(text: str) -> list[tuple[object, ...]]:
        result = extract(text)
        return [*((link.kind, link.url, link.line, link.column) for link in result.links),
                *((use.label, use.line, use.column) for use in result.references)]

    text = "\n".join(lines)
    assert found(text) == found(text.replace("\n", "\r\n"))
