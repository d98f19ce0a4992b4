"""Differential check: the scanner against markdown-it-py (CommonMark) on real and tricky notes.

Compared: every link and image markdown-it renders (inline, autolink, and reference links
resolved through their definition) and every definition it stores, as multisets of
normalised URLs. Our raw URLs go through markdown-it's own unescaping and ``normalizeLink``
first, so only extraction is compared, not URL spelling. Not compared, by design: bare URLs
(markdown-it's linkify needs linkify-it-py) and HTML href/src (raw HTML to markdown-it).
Every other difference must be of a class listed in docs/scanner.md, "Differences from
markdown-it-py and why"; ``DOCUMENTED`` holds those classes as predicates.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll

from linkaudit.models import LinkKind, normalize_label
from linkaudit.scan.markdown import Extraction, extract

CORPUS = Path("/work/shared/corpus")
MD = MarkdownIt("commonmark")
FRONT_MATTER = re.compile(r"\ufeff?---[ \t]*\r?\n.*?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)

Item = tuple[str, str]  # ("link" | "definition", normalised URL)

# Difference classes from docs/scanner.md: (which side has it, item, body) -> excused?
DOCUMENTED: dict[str, Callable[[str, Item, str], bool]] = {
    "email autolinks are not extracted": lambda side, item, body: (
        side == "markdown-it" and item[1].startswith("mailto:")
        and f"<{item[1].removeprefix('mailto:')}>" in body
    ),
}


def markdown_it_items(body: str) -> Counter[Item]:
    env: dict[str, object] = {}
    items: Counter[Item] = Counter()
    for token in MD.parse(body, env):
        for child in token.children or []:
            if child.type == "link_open":
                items["link", str(child.attrs["href"])] += 1
            elif child.type == "image":
                items["link", str(child.attrs["src"])] += 1
    references = env.get("references", {})
    assert isinstance(references, dict)
    for reference in references.values():
        items["definition", reference["href"]] += 1
    return items


def scanner_items(found: Extraction) -> Counter[Item]:
    def normalise(url: str) -> str:
        return MD.normalizeLink(unescapeAll(url))

    items: Counter[Item] = Counter()
    definitions: dict[str, str] = {}
    for link in found.links:
        if link.kind is LinkKind.DEFINITION and link.label is not None:
            definitions.setdefault(normalize_label(link.label), normalise(link.url))
        elif link.kind in (LinkKind.INLINE, LinkKind.IMAGE):
            items["link", normalise(link.url)] += 1
        elif link.kind is LinkKind.AUTOLINK:  # autolinks take no escapes
            items["link", MD.normalizeLink(link.url)] += 1
    for url in definitions.values():  # CommonMark: the first definition of a label wins
        items["definition", url] += 1
    for use in found.references:
        url = definitions.get(normalize_label(use.label))
        if url is not None:
            items["link", url] += 1
    return items


def undocumented_differences(body: str, found: Extraction) -> list[tuple[str, Item]]:
    """Differences between markdown-it and ``found`` that no documented class explains."""
    theirs, ours = markdown_it_items(body), scanner_items(found)
    differences = [("markdown-it", item) for item in (theirs - ours).elements()]
    differences += [("scanner", item) for item in (ours - theirs).elements()]
    return [
        (side, item) for side, item in differences
        if not any(excuse(side, item, body) for excuse in DOCUMENTED.values())
    ]


def body_of(text: str) -> tuple[str, int]:
    match = FRONT_MATTER.match(text)
    start = match.end() if match else 0
    return text[start:], start


TRICKY = [
    "[a](</x y>) [b](/u(v)w \"t\") ![i](/i.png 'alt') [e]()\n",
    "[![img](/in.png)](/out) [[nested](/n)](/outer)\n",
    "<https://auto.link/?q=1> <mailto:a@b.c> <me@example.com>\n",
    "[full][Ref] [ref][] [REF] [missing][nope] [x][y](/after)\n\n[ref]: /r 'T'\n[ref]: /dup\n",
    "```\n[code](/c)\n```\n    [indented](/i)\n\n`[span](/s)` <!-- [comment](/m) -->\n",
    "- item [a](/1)\n\n      [code](/2)\n- [b]: /def-in-item\n\n> quote [q](/3)\n> [qd]: /4\n",
    "Para\n[not]: /def\n\n[multi\nline]:\n  /ml\n  \"title\"\n[multi line] [a\\]b](/esc\\))\n",
    "<div>\n[raw](/html)\n</div>\n\n# Heading [h](/h)\nSetext [s](/s)\n---\n",
    "~~~\nunclosed [u](/u)\n",
    "\ufeff[bom](/b)\r\n\r\n[crlf]: /c\r\n[crlf]\r\n",
]


@pytest.mark.parametrize("body", TRICKY, ids=range(len(TRICKY)))
def test_tricky_snippets_match_markdown_it(body: str) -> None:
    """Hand-written edge cases extract what markdown-it renders, up to documented differences."""
    assert undocumented_differences(body, extract(body)) == []


def corpus_notes() -> list[Path]:
    return sorted(CORPUS.rglob("*.md")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"sample corpus {CORPUS} is not present")
def test_corpus_matches_markdown_it() -> None:
    """Every corpus note extracts what markdown-it renders, up to documented differences."""
    notes = corpus_notes()
    assert notes, "the corpus folder holds no notes"
    failures = {}
    for path in notes:
        text = path.read_text(encoding="utf-8")
        body, start = body_of(text)
        differences = undocumented_differences(body, extract(text, start=start))
        if differences:
            failures[str(path.relative_to(CORPUS))] = differences
    assert failures == {}


def test_the_check_can_fail() -> None:
    """A scanner result missing a link, or holding an extra one, is an undocumented difference."""
    body = "[a](/x) and <https://y.com>\n"
    complete = extract(body)
    missing = Extraction(complete.links[:1], (), frozenset())
    assert undocumented_differences(body, missing) == [("markdown-it", ("link", "https://y.com"))]
    extra = Extraction(extract(body + "[b](/z)\n").links, (), frozenset())
    assert undocumented_differences(body, extra) == [("scanner", ("link", "/z"))]
