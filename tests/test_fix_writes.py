"""Validated writes: what a redirect or the archive returns is checked and written safely."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit.clean.keys import clean_links
from linkaudit.clean.rules import load_rules
from linkaudit.config import CleaningConfig, FixConfig
from linkaudit.fix import plan as plan_module
from linkaudit.fix.form import LinkForm, Unwritable, written
from linkaudit.fix.plan import Plan, plan_edits
from linkaudit.fix.rewrite import apply_edits
from linkaudit.fix.target import (
    parse_snapshot,
    unfit_cleaned,
    unfit_redirect,
    unfit_snapshot,
    unfit_target,
)
from linkaudit.models import CheckResult, CleanedLink, Edit, Note, Verdict
from linkaudit.scan.markdown import extract

RULES = load_rules(CleaningConfig(), Path("."))
CITED = "https://cited.example/page"
SNAPSHOT_OF_CITED = f"https://web.archive.org/web/20190101000000/{CITED}"

# Every link form the scanner knows, each with neighbours that a careless write would
# disturb: an unclosed backtick before, brackets and parentheses after, other links.
CONTEXTS = (
    "Intro `code [a][1] and https://other.example/x.\n\n[1]: {u}\n[2]: https://two.example/\n",
    "See [text]({u}) and [more](https://two.example/) `tick\n",
    "See [text](<{u}>) then https://bare.example/ok\n",
    '![alt]({u} "title") <https://auto.example/>\n',
    "Auto <{u}> and [ref][r]\n\n[r]: <https://r.example/>\n",
    "Bare {u} then text) and [x](https://two.example/).\n",
    "Bare ({u}) in parens.\n",
    "Bare {u}。中文\n",
    'Text <a href="{u}">x</a> and [y](https://two.example/)\n',
    "Text <a href='{u}'>x</a>\n",
    "Text <a href={u}>x</a>\n",
    "- item [t]({u})\n  continued `x\n",
    '> quote [1]\n>\n> [1]: {u} "T"\n',
)


def note_of(text: str, path: str = "notes/n.md") -> Note:
    found = extract(text)
    return Note(Path(path), text, "en", "n", links=found.links, references=found.references)


def cleaned(*notes: Note) -> list[tuple[Note, Sequence[CleanedLink]]]:
    return [(note, clean_links(note.links, RULES, "safe")) for note in notes]


def moved_to(target: str, source: str = CITED) -> dict[str, CheckResult]:
    return {source: CheckResult(key=source, url=source, verdict=Verdict.REDIRECTED,
                                detail="301", final_url=target, permanent=True,
                                final_verdict=Verdict.OK)}


def applied(plan: Plan, note: Note) -> str:
    return apply_edits(note.path, note.text, [e for e in plan.edits if e.path == note.path])


def shape_outside(text: str, start: int, end: int) -> list[tuple[object, ...]]:
    """Links and label uses, offsets counted from the start of the text before ``start``
    and from its end after ``end``; the URL of the link at ``start`` is left out."""
    found = extract(text)

    def where(offset: int) -> tuple[str, int]:
        return ("from start", offset) if offset <= start else ("from end", len(text) - offset)

    shape: list[tuple[object, ...]] = [
        (link.kind, where(link.span.start), None if link.span.start == start else link.url,
         link.label, link.title) for link in found.links]
    shape.extend((use.form, use.label, where(use.span.start)) for use in found.references)
    return [*shape, (found.ignored_lines,)]


def assert_same_structure(before: Note, after_text: str, edit: Edit, target: str) -> None:
    """The rewritten note has the same links, and the edited one holds the written URL."""
    after = extract(after_text)
    assert len(after.links) == len(before.links)
    assert len(after.references) == len(before.references)
    new_end = edit.span.start + len(edit.new)
    edited = [link.url for link in after.links
              if (link.span.start, link.span.end) == (edit.span.start, new_end)]
    assert edited == [edit.new]
    assert shape_outside(before.text, edit.span.start, edit.span.end) == \
        shape_outside(after_text, edit.span.start, new_end)
    assert unquote(edit.new) == unquote(target)


# ------------------------------------------------------------------ hostile targets

_HOSTILE_PIECES = st.sampled_from([
    "a", "/", "?", "&", "=", "#", "%", "%2", "%41", "(", ")", "[", "]", "<", ">", "`", "\\",
    '"', "'", " ", "\t", "\n", "\r\n", "\x00", "\x1b", "\x7f", "\u202e", "\u00a0", "\u2028",
    "中", "。", "）", ".", ",", ";", ":", "!", "*", "_", "~", "|", "{", "}", "^", "&amp;",
    ")[x](https://evil.example/", "](https://evil.example/)", "<script>", "<!--", "-->",
    "\n\n[1]: https://evil.example/\n", "``", "\"onmouseover='x'", " \"title\"", "<>",
])
_PREFIXES = st.sampled_from([
    "https://x.example/", "http://x.example/p", "HTTPS://X.EXAMPLE/", "https://中文.example/",
    "https://[::1]:8443/", "javascript:alert(1)//", "data:text/html,", "file:///etc/passwd",
    "//x.example/", "https://user:pw@x.example/", "https://x.example\\@evil.example/",
    "https://x.example:99999/", "mailto:a@b.example?", "https://", "",
])
hostile_urls = st.builds(lambda prefix, pieces: prefix + "".join(pieces),
                         _PREFIXES, st.lists(_HOSTILE_PIECES, max_size=8))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CONTEXTS), hostile_urls)
def test_any_redirect_target_keeps_the_markdown_or_is_skipped(context: str, target: str) -> None:
    """Whatever a redirect returns, the note keeps its links, or the edit is skipped."""
    note = note_of(context.format(u=CITED))
    plan = plan_edits(cleaned(note), options=FixConfig(), results=moved_to(target))
    if not plan.edits:  # an empty target is no redirect at all: nothing to say
        assert len(plan.skipped) == bool(target)
        assert all(skipped.message.isprintable() for skipped in plan.skipped)
        return
    (edit,) = plan.edits
    assert unfit_redirect(target, CITED) is None
    assert edit.new.lower().startswith(("http://", "https://"))
    assert_same_structure(note, applied(plan, note), edit, target)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CONTEXTS), st.sampled_from([
    SNAPSHOT_OF_CITED, "https://web.archive.org/web/2019/https://evil.example/page",
    "https://evil.example/web/20190101000000/" + CITED, "javascript:alert(1)",
    "https://web.archive.org/web/20190101000000/javascript:alert(1)",
    "https://web.archive.org.evil.example/web/2019/" + CITED,
    "https://web.archive.org@evil.example/web/2019/" + CITED,
    "http://web.archive.org/web/20190101000000/" + CITED,
]), st.lists(_HOSTILE_PIECES, max_size=4).map("".join))
def test_only_a_snapshot_of_the_same_url_on_the_archive_host_is_written(
    context: str, snapshot: str, tail: str
) -> None:
    """An archived copy is written only as https://web.archive.org/web/<time>/<the URL>."""
    note = note_of(context.format(u=CITED))
    plan = plan_edits(cleaned(note), options=FixConfig(), dead={CITED},
                      archived={CITED: snapshot + tail})
    if not plan.edits:
        assert len(plan.skipped) == 1 and plan.skipped[0].message.isprintable()
        return
    (edit,) = plan.edits
    taken_apart = parse_snapshot(edit.new)
    assert taken_apart is not None and edit.new.startswith("https://web.archive.org/web/")
    original = urlsplit(unquote(taken_apart.original))
    assert (original.hostname, original.path.rstrip("/"), original.query.strip("&")) == \
        ("cited.example", "/page", "")
    assert_same_structure(note, applied(plan, note), edit, snapshot + tail)


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "data:text/html,<script>x</script>", "file:///etc/passwd",
    "https://user:secret@x.example/p", "https://x.example\\@evil.example/p",
    "https://x.example/\x1b[2J", "https://x.example/a\nb", "ftp://x.example/p",
])
def test_dangerous_redirect_targets_are_never_written(target: str) -> None:
    """A non-web scheme, credentials, a backslash or a control character: skipped, said why."""
    note = note_of(f"[1]: {CITED}\n")
    plan = plan_edits(cleaned(note), options=FixConfig(), results=moved_to(target))
    assert plan.edits == ()
    (skipped,) = plan.skipped
    assert skipped.message.startswith("redirect target ") and skipped.message.isprintable()
    assert "not written: it " in skipped.message


def test_injection_through_a_closing_parenthesis_is_encoded() -> None:
    """``)[x](https://evil…`` in a target becomes part of the URL, not a second link."""
    note = note_of(f"See [text]({CITED}).\n")
    target = "https://x.example/a)[x](https://evil.example/"
    plan = plan_edits(cleaned(note), options=FixConfig(), results=moved_to(target))
    assert [e.new for e in plan.edits] == ["https://x.example/a%29%5Bx%5D%28https://evil.example/"]
    assert [link.url for link in extract(applied(plan, note)).links] == [plan.edits[0].new]


def test_redirect_to_http_from_https_is_a_downgrade() -> None:
    """An https citation is not replaced by an http target."""
    assert unfit_redirect("http://x.example/", "https://x.example/old") == \
        "it would downgrade https to http"
    assert unfit_redirect("https://x.example/", "http://x.example/old") is None


@pytest.mark.parametrize(("snapshot", "why"), [
    ("https://web.archive.org/web/2019/https://other.example/page", "another address"),
    ("https://archive.example/web/2019/" + CITED, "not a snapshot address"),
    ("http://web.archive.org/web/2019/" + CITED, "not an https address"),
    ("https://web.archive.org/2019/" + CITED, "not a snapshot address"),
    ("https://web.archive.org/web/2019/https://x.example:99999/", "not a snapshot address"),
])
def test_snapshot_checks_name_what_is_wrong(snapshot: str, why: str) -> None:
    """Another page, another host, plain http or another path shape: each is named."""
    assert why in (unfit_snapshot(snapshot, CITED, "web.archive.org") or "")
    assert unfit_snapshot(SNAPSHOT_OF_CITED, "/relative/page", "web.archive.org") is not None


def test_snapshot_of_the_same_page_written_differently_is_accepted() -> None:
    """www., http, a trailing slash, escaping and query order do not make another page."""
    snapshot = "https://web.archive.org/web/20190101/http://www.Cited.example/p%61ge/?b=2&a=1"
    assert unfit_snapshot(snapshot, "https://cited.example/page?a=1&b=2",
                          "web.archive.org") is None


def test_snapshot_host_is_the_configured_one() -> None:
    """A snapshot on another archive host is refused unless that host is configured."""
    snapshot = f"https://archive.example.org/web/2019/{CITED}"
    note = note_of(f"[1]: {CITED}\n")
    for host, planned in (("web.archive.org", 0), ("archive.example.org", 1)):
        plan = plan_edits(cleaned(note), options=FixConfig(), dead={CITED},
                          archived={CITED: snapshot}, archive_host=host)
        assert len(plan.edits) == planned


def test_cleaned_url_must_only_lose_query_pieces() -> None:
    """A cleaned URL is the URL as written minus pieces; anything else is refused."""
    original = "https://x.example/a?utm_source=z&id=3#f"
    assert unfit_cleaned("https://x.example/a?id=3#f", original) is None
    assert unfit_cleaned("https://x.example/a#f", original) is None
    assert unfit_cleaned("https://x.example/b?id=3#f", original) is not None
    assert unfit_cleaned("https://x.example/a?id=4#f", original) is not None
    assert unfit_cleaned("https://x.example/a?id=3", original) is not None


def test_targets_over_the_length_cap_are_refused() -> None:
    """A URL longer than 8,192 characters from outside is not written."""
    assert "longer than" in (unfit_target("https://x.example/" + "a" * 9000) or "")


@pytest.mark.parametrize(("form", "url", "expected"), [
    (LinkForm.PLAIN, "https://x.example/a(b", "https://x.example/a%28b"),
    (LinkForm.PLAIN, "https://x.example/w_(x)", "https://x.example/w_(x)"),
    (LinkForm.ANGLE, "https://x.example/a)b>", "https://x.example/a)b%3E"),
    (LinkForm.BARE, "https://x.example/a.", "https://x.example/a%2E"),
    (LinkForm.BARE, "https://x.example/中文。", "https://x.example/中文%E3%80%82"),
    (LinkForm.HTML_DOUBLE, 'https://x.example/"', "https://x.example/%22"),
    (LinkForm.PLAIN, "https://x.example/`", "https://x.example/%60"),
    (LinkForm.PLAIN, "https://[::1]:8443/[a]", "https://[::1]:8443/%5Ba%5D"),
])
def test_each_form_encodes_what_it_cannot_hold(form: LinkForm, url: str, expected: str) -> None:
    """Unbalanced parentheses, closers, trailing dots and backticks are percent-encoded."""
    assert written(url, form, normalise=True) == expected


@pytest.mark.parametrize(("form", "url"), [
    (LinkForm.BARE, "https://x.example/a,"),
    (LinkForm.HTML_SINGLE, "https://x.example/it's"),
    (LinkForm.HTML_UNQUOTED, "https://x.example/?a=1"),
])
def test_reserved_characters_a_form_cannot_hold_are_refused(form: LinkForm, url: str) -> None:
    """Encoding a reserved character would change the URL, so it is refused with a reason."""
    with pytest.raises(Unwritable):
        written(url, form, normalise=True)


def test_an_edit_that_would_change_the_links_is_caught_by_the_rescan(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the form encoder to miss a case, the re-scan skips that edit and keeps the rest."""
    monkeypatch.setattr(plan_module, "written", lambda url, form, normalise: url)
    note = note_of("[a](https://one.example/p) [b](https://two.example/p)\n")
    results = {**moved_to("https://x.example/a)[x](https://evil/", "https://one.example/p"),
               **moved_to("https://x.example/fine", "https://two.example/p")}
    plan = plan_edits(cleaned(note), options=FixConfig(), results=results)
    assert [e.new for e in plan.edits] == ["https://x.example/fine"]
    assert [s.kind for s in plan.skipped] == ["changes-markdown"]
    assert "would change the note's Markdown" in plan.skipped[0].message


def test_many_edits_failing_together_are_all_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 16 edits in a failing note no edit is checked alone: the cost stays bounded."""
    monkeypatch.setattr(plan_module, "written", lambda url, form, normalise: url)
    text = " ".join(f"[{i}](https://h{i}.example/p)" for i in range(20)) + "\n"
    note = note_of(text)
    results: dict[str, CheckResult] = {}
    for i in range(20):
        results.update(moved_to(f"https://x.example/{i}(", f"https://h{i}.example/p"))
    calls: list[int] = []
    real = plan_module.keeps_structure
    monkeypatch.setattr(plan_module, "keeps_structure",
                        lambda note, edits: calls.append(len(edits)) or real(note, edits))
    plan = plan_edits(cleaned(note), options=FixConfig(), results=results)
    assert plan.edits == () and len(plan.skipped) == 20
    assert calls == [20]


def test_refused_redirect_still_lets_tracking_go() -> None:
    """A redirect target that is refused is reported, and the tracking is still stripped."""
    note = note_of(f"[1]: {CITED}?utm_source=chatgpt.com\n")
    plan = plan_edits(cleaned(note), options=FixConfig(),
                      results=moved_to("javascript:alert(1)//x"))
    assert [(e.reason, e.new) for e in plan.edits] == [("tracking", CITED)]
    assert [s.kind for s in plan.skipped] == ["unfit-url"]
