"""Planning cleanup edits: tracking, permanent redirects, duplicates, archived copies."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.config import FixConfig
from linkaudit.fix.plan import Plan, plan_edits
from linkaudit.fix.rewrite import apply_edits
from linkaudit.models import (
    CheckResult,
    CleanedLink,
    Link,
    LinkKind,
    Note,
    Protection,
    ReferenceForm,
    ReferenceUse,
    Span,
    Verdict,
)

# ------------------------------------------------------------------ tiny local scanner

_DEFINITION = re.compile(r'^\[([^\]\n]+)\]:[ \t]*(\S+)(?:[ \t]+"([^"\n]*)")?[ \t]*\r?$', re.M)
_REFERENCE = re.compile(r"\[([^\[\]\n]+)\](?:\[([^\[\]\n]*)\])?(?![:(])")
_TRACKING = re.compile(r"^utm_")


def _position(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def scan(text: str, path: str = "_posts/en/2025-10-22-cto-en.md") -> Note:
    """A Note with one-line definitions and reference uses found by regular expressions."""
    links = []
    definition_lines = []
    for match in _DEFINITION.finditer(text):
        definition_lines.append((match.start(), match.end()))
        line, column = _position(text, match.start(2))
        links.append(Link(LinkKind.DEFINITION, match.group(2), Span(match.start(2), match.end(2)),
                          line, column, label=match.group(1), title=match.group(3)))
    uses = []
    for match in _REFERENCE.finditer(text):
        if any(start <= match.start() < end for start, end in definition_lines):
            continue
        if match.group(2) is None:
            form, group = ReferenceForm.SHORTCUT, 1
        elif match.group(2) == "":
            form, group = ReferenceForm.COLLAPSED, 1
        else:
            form, group = ReferenceForm.FULL, 2
        line, column = _position(text, match.start(group))
        uses.append(ReferenceUse(match.group(group), form,
                                 Span(match.start(group), match.end(group)), line, column))
    lang = path.split("/")[1]
    return Note(Path(path), text, lang, "cto", links=tuple(links), references=tuple(uses))


def clean(link: Link) -> CleanedLink:
    """Cleaner stub: drops utm_* parameters at string level; archive URLs are protected."""
    base, hash_mark, fragment = link.url.partition("#")
    address, question, query = base.partition("?")
    kept = [part for part in query.split("&") if not _TRACKING.match(part)] if question else []
    clean_url = address + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
    protection = Protection.ARCHIVE if "web.archive.org/web/" in link.url else None
    return CleanedLink(link, clean_url, (), clean_url.partition("#")[0], clean_url,
                       clean_url.partition("#")[0], (), protection)


def items(*notes: Note) -> list[tuple[Note, Sequence[CleanedLink]]]:
    return [(note, [clean(link) for link in note.links]) for note in notes]


def apply(plan: Plan, *notes: Note) -> dict[Path, str]:
    return {note.path: apply_edits(note.path, note.text,
                                   [e for e in plan.edits if e.path == note.path])
            for note in notes}


def redirect(url: str, final: str, *, permanent: bool = True,
             final_verdict: Verdict = Verdict.OK) -> CheckResult:
    return CheckResult(key=url, url=url, verdict=Verdict.REDIRECTED, detail="301",
                       final_url=final, permanent=permanent, final_verdict=final_verdict)


ALL = FixConfig()
CITED = 'Text ([Board][1]).\n\n[1]: https://x.com/a?utm_source=chatgpt.com&id=3 "Board"\n'


# ------------------------------------------------------------------ tracking


def test_tracking_replaces_only_the_url_by_its_cleaned_form() -> None:
    """A tracked URL becomes its cleaned form and nothing else in the note changes."""
    note = scan(CITED)
    plan = plan_edits(items(note), options=ALL)
    assert [(e.old, e.new, e.reason) for e in plan.edits] == [
        ("https://x.com/a?utm_source=chatgpt.com&id=3", "https://x.com/a?id=3", "tracking")]
    assert apply(plan, note)[note.path] == CITED.replace("utm_source=chatgpt.com&", "")


def test_protected_links_are_never_rewritten() -> None:
    """A link the cleaner marks as protected gets no edit even with tracking in it."""
    note = scan("[1]: https://web.archive.org/web/2019/https://x.com/?utm_source=a\n")
    assert plan_edits(items(note), options=ALL).edits == ()


def test_disabled_actions_plan_nothing() -> None:
    """With tracking, redirects and archive turned off no URL edit is planned."""
    note = scan(CITED)
    off = FixConfig(tracking=False, redirects=False, archive=False)
    key = "https://x.com/a?id=3"
    plan = plan_edits(items(note), options=off, results={key: redirect(key, "https://y.com/b")},
                      dead={key}, archived={key: "https://web.archive.org/web/1/" + key})
    assert plan.edits == ()


# ------------------------------------------------------------------ redirects


def test_permanent_redirect_uses_cleaned_final_url_and_wins_over_tracking() -> None:
    """A permanent redirect to an ok page replaces the URL once, cleaned, reason redirect."""
    note = scan(CITED)
    key = "https://x.com/a?id=3"
    results = {key: redirect(key, "https://x.com/new?id=3&utm_medium=rss")}
    plan = plan_edits(items(note), options=ALL, results=results,
                      clean=lambda url: clean(Link(LinkKind.BARE, url, Span(0, 0), 1, 1)).clean_url)
    assert [(e.new, e.reason) for e in plan.edits] == [("https://x.com/new?id=3", "redirect")]


def test_redirect_keeps_the_original_fragment() -> None:
    """The citation's #fragment survives a redirect whose final URL has none."""
    note = scan("[1]: https://x.com/a#part-2\n")
    results = {"https://x.com/a": redirect("https://x.com/a", "https://x.com/b")}
    plan = plan_edits(items(note), options=ALL, results=results)
    assert [e.new for e in plan.edits] == ["https://x.com/b#part-2"]


def test_temporary_failing_and_root_redirects_are_left_alone() -> None:
    """Temporary redirects, redirects to failing pages and to the site root plan no edit."""
    note = scan("[1]: https://a.com/x\n[2]: https://b.com/x\n[3]: https://c.com/x\n")
    results = {
        "https://a.com/x": redirect("https://a.com/x", "https://a.com/y", permanent=False),
        "https://b.com/x": redirect("https://b.com/x", "https://b.com/y",
                                    final_verdict=Verdict.DEAD),
        "https://c.com/x": redirect("https://c.com/x", "https://c.com/"),
    }
    plan = plan_edits(items(note), options=ALL, results=results)
    assert plan.edits == ()
    assert [(s.url, "soft 404" in s.message) for s in plan.skipped] == [("https://c.com/x", True)]


def test_redirect_and_archive_reach_every_translation() -> None:
    """A source change planned for a URL hits every language version citing it."""
    def family(url: str) -> list[Note]:
        return [scan(f"Text [1].\n\n[1]: {url}\n", f"_posts/{lang}/2025-10-22-cto-{lang}.md")
                for lang in ("en", "de", "ja")]

    moved, gone = "https://x.com/moved", "https://x.com/gone"
    snapshot = "https://web.archive.org/web/20190101000000/" + gone
    plan = plan_edits(items(*family(moved)), options=ALL, results={moved: redirect(moved, gone)})
    assert {e.path.parts[1]: e.new for e in plan.edits} == {"en": gone, "de": gone, "ja": gone}
    plan = plan_edits(items(*family(gone)), options=ALL, dead={gone}, archived={gone: snapshot})
    assert [(e.reason, e.new) for e in plan.edits] == [("archive", snapshot)] * 3


# ------------------------------------------------------------------ archive


def test_dead_link_without_snapshot_is_skipped_with_the_reason() -> None:
    """A confirmed-dead link with no archived copy stays and a skipped message says why."""
    note = scan("[1]: https://x.com/gone\n[2]: https://x.com/fine\n")
    plan = plan_edits(items(note), options=ALL, dead={"https://x.com/gone"},
                      archive_missing={"https://x.com/gone": "archive unreachable: timed out"})
    assert plan.edits == ()
    assert [s.message for s in plan.skipped] == [
        "confirmed dead, no archived copy (archive unreachable: timed out); left as is"]


def test_archive_replacement_embeds_the_original_and_keeps_its_fragment() -> None:
    """A dead link becomes its snapshot URL, the cited fragment kept."""
    note = scan("[1]: https://x.com/gone?utm_source=z#sec\n")
    snapshot = "https://web.archive.org/web/20200101000000/https://x.com/gone"
    plan = plan_edits(items(note), options=ALL, dead={"https://x.com/gone"},
                      archived={"https://x.com/gone": snapshot})
    assert [(e.reason, e.new) for e in plan.edits] == [("archive", snapshot + "#sec")]


# ------------------------------------------------------------------ duplicates

DUPLICATES = (
    "Intro [one][1], [two][3], [3][] and [3] and [2].\n"
    "\n"
    '[1]: https://x.com/a "A"\n'
    "[2]: https://y.com/b\n"
    '[3]: https://x.com/a?utm_source=chatgpt.com "A again"\n'
    "[4]: https://z.com/c\n"
)


def test_duplicate_definition_is_merged_into_the_first_label() -> None:
    """Uses of a duplicate label in all three forms point at the first; its line goes."""
    note = scan(DUPLICATES)
    plan = plan_edits(items(note), options=ALL)
    assert apply(plan, note)[note.path] == (
        "Intro [one][1], [two][1], [3][1] and [3][1] and [2].\n"
        "\n"
        '[1]: https://x.com/a "A"\n'
        "[2]: https://y.com/b\n"
        "[4]: https://z.com/c\n"
    )
    assert {e.reason for e in plan.edits} == {"duplicate"}


def test_duplicate_removal_keeps_crlf_and_a_missing_final_newline() -> None:
    """Removing the last definition of a CRLF file without final newline leaves CRLF intact."""
    text = "See [a][2].\r\n\r\n[1]: https://x.com/a\r\n[2]: https://x.com/a"
    note = scan(text)
    result = apply(plan_edits(items(note), options=ALL), note)[note.path]
    assert result == "See [a][1].\r\n\r\n[1]: https://x.com/a"


def test_adjacent_duplicates_at_the_end_are_removed_together() -> None:
    """Two duplicate lines ending the file become one removal, no stray line break left."""
    text = "[1]: https://x.com/a\n[2]: https://x.com/a\n[3]: https://x.com/a"
    note = scan(text)
    plan = plan_edits(items(note), options=ALL)
    assert apply(plan, note)[note.path] == "[1]: https://x.com/a"
    assert len(plan.edits) == 1


def test_duplicate_with_title_on_next_line_is_left_for_a_person() -> None:
    """A definition that may continue on the next line is not removed; a message says so."""
    text = "[x][2]\n\n[1]: https://x.com/a\n[2]: https://x.com/a\n  \"Title\"\n"
    note = scan(text)
    plan = plan_edits(items(note), options=ALL)
    assert plan.edits == ()
    assert "merge it by hand" in plan.skipped[0].message


def test_duplicates_option_off_keeps_both_definitions() -> None:
    """With duplicates off only the tracking edit on the second definition remains."""
    note = scan(DUPLICATES)
    plan = plan_edits(items(note), options=FixConfig(duplicates=False))
    assert [e.reason for e in plan.edits] == ["tracking"]


def test_malformed_definitions_are_not_merged() -> None:
    """Malformed URLs sharing a key are not treated as one source."""
    note = scan("[x][2]\n\n[1]: http://[bad\n[2]: http://[worse\n")
    cleaned = [dataclasses.replace(clean(link), citation_key="", malformed="bad host")
               for link in note.links]
    assert plan_edits([(note, cleaned)], options=ALL).edits == ()


def test_target_that_breaks_markdown_is_skipped() -> None:
    """A redirect target with a space is not written; a skipped message says so."""
    note = scan("[1]: https://x.com/a\n")
    results = {"https://x.com/a": redirect("https://x.com/a", "https://x.com/a b")}
    plan = plan_edits(items(note), options=ALL, results=results)
    assert plan.edits == ()
    assert "cannot be written in Markdown" in plan.skipped[0].message


# ------------------------------------------------------------------ idempotence

_urls = st.sampled_from([
    "https://x.com/a", "https://x.com/a?utm_source=chatgpt.com", "https://y.org/p?id=1",
    "https://y.org/p?utm_medium=x&id=1", "https://z.net/中文?utm_campaign=q#frag",
])


@st.composite
def notes_with_citations(draw: st.DrawFn) -> str:
    """A note body citing random URLs, some twice, with CRLF or LF and maybe a BOM."""
    urls = draw(st.lists(_urls, min_size=1, max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    uses = " ".join(draw(st.sampled_from([f"[t][{i}]", f"[{i}][]", f"[{i}]"]))
                    for i in range(1, len(urls) + 1))
    definitions = newline.join(f"[{i}]: {url}" for i, url in enumerate(urls, 1))
    text = draw(st.sampled_from(["", "\ufeff"])) + f"文 {uses}.{newline}{newline}{definitions}"
    return text + draw(st.sampled_from(["", newline]))


@settings(max_examples=200, deadline=None)
@given(notes_with_citations())
def test_second_run_plans_nothing(text: str) -> None:
    """Planning again on the fixed text plans no edit, and the line endings stay as they were."""
    note = scan(text)
    fixed = apply(plan_edits(items(note), options=ALL), note)[note.path]
    assert plan_edits(items(scan(fixed)), options=ALL).edits == ()
    assert ("\r\n" in text) == ("\r\n" in fixed)
    assert fixed.startswith("\ufeff") == text.startswith("\ufeff")
