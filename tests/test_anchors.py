"""Heading ids per Markdown engine, explicit and HTML ids, and what is skipped as code.

The expected kramdown ids were produced by kramdown 2.4.0 and kramdown-parser-gfm 1.1.0
(Debian's ruby-kramdown packages) from the very text of ``EDGE_CASES``, with
``auto_ids: true`` and ``input: GFM`` or ``input: kramdown``.
"""

from __future__ import annotations

import pytest

from linkaudit.scan.anchors import heading_id, outline

EDGE_CASES = """\
## 1. Introduction

## 2024

## Hello, World!

## `code` and *emphasis* and [a link](http://x.y)

## A -- B --- C ... D

## snake_case_name and _em_

## Ünïcödé Straße İstanbul

## 中文 标题

## مرحبا بالعالم

## हिन्दी शीर्षक

## Duplicate

## Duplicate

## Duplicate

## &amp; entities &copy; here

## Closing hashes ##

## Trailing {#explicit-one}

Setext one
==========

## Escaped \\* star \\#

## <span>html</span> inside

## ![img](x.png) image alt

## Emoji 🎉 party

#NoSpace

## Has IAL
{: #ial-id}

## Ends with dash -

## 3 numbered 3
"""

KRAMDOWN_GFM = {
    "1-introduction", "2024", "hello-world", "code-and-emphasis-and-a-link", "a--b--c--d",
    "snake_case_name-and-em", "ünïcödé-straße-i̇stanbul", "中文-标题", "مرحبا-بالعالم",
    "हिन्दी-शीर्षक", "duplicate", "duplicate-1", "duplicate-2", "-entities--here",
    "closing-hashes", "explicit-one", "setext-one", "escaped--star-", "html-inside",
    "-image-alt", "emoji--party", "ial-id", "ends-with-dash--", "3-numbered-3",
}
KRAMDOWN = {
    "introduction", "section", "hello-world", "code-and-emphasis-and-a-linkhttpxy",
    "a----b-----c--d", "snakecasename-and-em", "ncd-strae-stanbul", "section-1", "section-2",
    "section-3", "duplicate", "duplicate-1", "duplicate-2", "amp-entities-copy-here",
    "closing-hashes", "explicit-one", "setext-one", "escaped--star-", "spanhtmlspan-inside",
    "imgxpng-image-alt", "emoji--party", "nospace", "ial-id", "ends-with-dash--", "numbered-3",
}


@pytest.mark.parametrize(("engine", "expected"), [
    ("kramdown-gfm", KRAMDOWN_GFM),
    ("kramdown", KRAMDOWN),
])
def test_kramdown_ids_match_kramdown_itself(engine: str, expected: set[str]) -> None:
    """Every id kramdown gives the edge-case headings, and no other, under both inputs."""
    assert outline(EDGE_CASES, 0, engine).ids == expected


@pytest.mark.parametrize(("heading", "expected"), [
    ("Hello, World!", "hello-world"),
    ("1. Intro", "1-intro"),
    ("Tab\there", "tabhere"),  # github.com deletes tabs; kramdown-gfm makes them hyphens
    ("Café & crème", "café--crème"),
    ("A -- B", "a----b"),  # no typographic dashes on github.com
    ("Title {#not-an-id}", "title-not-an-id"),  # plain text on github.com
    ("`a_b` _em_", "a_b-em"),
])
def test_github_slug_rule(heading: str, expected: str) -> None:
    """github.com: lowercase, drop all but word characters, hyphens and spaces, spaces to -."""
    assert heading_id(heading, "github") == expected


def test_kramdown_gfm_turns_tabs_into_hyphens() -> None:
    """kramdown-gfm keeps tabs as hyphens where github.com deletes them."""
    assert heading_id("Tab\there", "kramdown-gfm") == "tab-here"


def test_github_answers_with_and_without_user_content_prefix() -> None:
    """github.com prefixes ids with user-content-; links work with either form."""
    ids = outline("# Intro\n\n# Intro\n\n<a name=\"x\"></a>\n", 0, "github").ids
    assert {"intro", "intro-1", "user-content-intro", "user-content-intro-1", "x",
            "user-content-x"} <= ids


def test_code_comments_and_liquid_blocks_have_no_headings() -> None:
    """Headings inside fences, HTML comments and Liquid raw blocks give no ids."""
    text = ("```sh\n# shell comment\n```\n\n~~~\n# tilde\n~~~\n\n<!--\n# commented\n-->\n\n"
            "{% raw %}\n# raw\n{% endraw %}\n\n    # indented code\n\n# Real\n")
    found = outline(text, 0, "kramdown-gfm")
    assert found.ids == {"real"}
    assert len(found.code) == 4


def test_unclosed_fence_runs_to_the_end() -> None:
    """A fence never closed hides the rest of the note, as CommonMark says."""
    found = outline("# Before\n```\n# inside\n", 0, "kramdown-gfm")
    assert found.ids == {"before"}
    assert found.code[-1][1] == len("# Before\n```\n# inside\n")


def test_html_ids_footnotes_and_attribute_lists() -> None:
    """HTML id= and name= values, footnote ids and kramdown {: #id} lists are ids too."""
    text = ('<div id="box" class="x">t</div> <a name=\'old\'></a> <span ID=bare>s</span>\n\n'
            "A paragraph.\n{: #para-id}\n\nText[^note].\n\n[^note]: The note.\n")
    assert {"box", "old", "bare", "para-id", "fn:note", "fnref:note"} <= \
        outline(text, 0, "kramdown-gfm").ids
    assert {"user-content-fn-note", "fn-note"} <= outline(text, 0, "github").ids


def test_setext_needs_a_paragraph_line_above() -> None:
    """A --- under a blank line or a list item is a rule, not a heading underline."""
    text = "Intro\n\n---\n\n- item\n---\n\nReal title\n---\n"
    assert outline(text, 0, "kramdown-gfm").ids == {"real-title"}


def test_front_matter_is_skipped_by_the_start_offset() -> None:
    """Only the body after ``start`` is read, so front matter makes no heading."""
    text = "---\ntitle: x\n---\n# Body\n"
    assert outline(text, len("---\ntitle: x\n---\n"), "kramdown-gfm").ids == {"body"}


def test_unknown_engine_is_a_programming_error() -> None:
    """Config validation names the engines; anything else here is a bug, not user input."""
    with pytest.raises(ValueError, match="unknown Markdown engine"):
        outline("# x", 0, "pandoc")


def test_long_hostile_heading_stays_cheap() -> None:
    """A heading of a million characters is cut, not slugged whole."""
    ids = outline("# " + "a" * 1_000_000 + "\n", 0, "kramdown-gfm").ids
    assert ids == {"a" * 1000}


def test_headings_inside_lists_quotes_and_definitions() -> None:
    """Headings in list items, block quotes and definitions get ids, as kramdown gives them."""
    text = ("- ## Item heading\n- plain\n\n> ## Quoted\n\n1. ## Numbered\n\n"
            "   ## Continued in item\n\nTerm\n: ## def\n")
    assert {"item-heading", "quoted", "numbered", "continued-in-item", "def"} <= \
        outline(text, 0, "kramdown-gfm").ids
