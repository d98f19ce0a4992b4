"""Offline audit: per-note findings, translation drift and the reporting policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from linkaudit.audit.findings import KINDS, OfflineAudit, apply_policy, severity_overrides
from linkaudit.audit.online import Standing, failing_message, online_findings
from linkaudit.clean.keys import clean_links, locale_variant_key
from linkaudit.clean.rules import load_rules
from linkaudit.config import CleaningConfig, IgnoreRule, ScanConfig
from linkaudit.errors import ConfigError
from linkaudit.models import (
    CheckResult,
    CleanedLink,
    Finding,
    Link,
    LinkKind,
    Location,
    Note,
    Protection,
    ReferenceForm,
    ReferenceUse,
    Severity,
    Span,
    Verdict,
)
from linkaudit.scan.note import parse_note


def variant_key(url: str) -> str:
    """A stand-in for the normaliser's locale key: drop a two-letter path segment."""
    return re.sub(r"/[a-z]{2}/", "/", url)


def link(url: str, line: int, *, label: str | None = None, clean: str | None = None,
         removed: tuple[str, ...] = (), kind: LinkKind = LinkKind.DEFINITION,
         protection: Protection | None = None, malformed: str | None = None) -> CleanedLink:
    cleaned = clean or url
    page = cleaned.split("#")[0]
    return CleanedLink(
        link=Link(kind=kind, url=url, span=Span(0, len(url)), line=line, column=6,
                  label=label),
        clean_url=cleaned, removed=removed, check_key=page, citation_key=cleaned,
        aggressive_key=page, heuristics=(), protection=protection, malformed=malformed)


def note(path: str, lang: str, family: str = "post", uses: tuple[str, ...] = ()) -> Note:
    return Note(path=Path(path), text="", lang=lang, family=family,
                references=tuple(ReferenceUse(u, ReferenceForm.FULL, Span(0, 1), 3, 1)
                                 for u in uses))


def kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings)


def test_tracking_finding_names_parameters_and_clean_url() -> None:
    """A link with tracking parameters gets a finding naming them and the cleaned URL."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("1",)), [
        link("https://x.org/a?utm_source=chatgpt.com", 5, label="1",
             clean="https://x.org/a", removed=("utm_source",))])
    (finding,) = found
    assert finding.kind == "tracking"
    assert finding.severity is Severity.WARNING
    assert finding.removed_params == ("utm_source",)
    assert finding.clean_url == "https://x.org/a"
    assert "utm_source" in finding.message and (finding.line, finding.column) == (5, 6)


def test_protected_urls_get_their_own_kind_not_tracking() -> None:
    """Signed URLs and redirect wrappers are flagged, never offered a cleaned form."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("1", "2")), [
        link("https://s3/x?X-Amz-Signature=1&utm_source=a", 1, label="1",
             removed=("utm_source",), protection=Protection.SIGNED),
        link("https://www.google.com/url?url=https://a", 2, label="2",
             protection=Protection.REDIRECT_WRAPPER)])
    assert kinds(found) == ["redirect-wrapper", "signed-url"]
    assert all(f.clean_url is None for f in found)


def test_duplicate_definitions_name_both_labels() -> None:
    """Two definitions citing one source are a duplicate naming both labels and lines."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("2", "5")), [
        link("https://h.io/q?utm_source=x", 20, label="2", clean="https://h.io/q"),
        link("https://h.io/q", 23, label="5")])
    (finding,) = found
    assert finding.kind == "duplicate"
    assert "[5]" in finding.message and "[2]" in finding.message and "line 20" in finding.message
    assert finding.line == 23


def test_same_page_other_fragment_is_info() -> None:
    """The same page with a different fragment is info, not a duplicate."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("1", "2")), [
        link("https://h.io/p#intro", 1, label="1"), link("https://h.io/p#usage", 2, label="2")])
    (finding,) = found
    assert (finding.kind, finding.severity) == ("same-page", Severity.INFO)


def test_repeated_inline_link_is_not_a_duplicate() -> None:
    """Linking the same URL inline twice in prose is ordinary, not a duplicate."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en"), [
        link("https://h.io/p", 1, kind=LinkKind.INLINE),
        link("https://h.io/p", 9, kind=LinkKind.INLINE)])
    assert found == []


def test_undefined_and_unused_references() -> None:
    """A full reference without a definition is an error; an unused definition a warning."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("1", "9")),
                       [link("https://a.io/", 1, label="1"), link("https://b.io/", 2, label="2")])
    by_kind = {f.kind: f for f in found}
    assert by_kind["undefined-reference"].severity is Severity.ERROR
    assert "[9]" in by_kind["undefined-reference"].message
    assert "[2]" in by_kind["unused-definition"].message


def test_labels_match_case_insensitively() -> None:
    """Reference labels match case-insensitively with whitespace collapsed."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en", uses=("My  Source",)),
                       [link("https://a.io/", 1, label="my source")])
    assert found == []


def test_malformed_url() -> None:
    """A malformed URL is an error finding."""
    audit = OfflineAudit(variant_key)
    found = audit.note(note("a.md", "en"), [
        link("https://exa mple.com/", 1, kind=LinkKind.INLINE, malformed="contains a space")])
    assert kinds(found) == ["malformed-url"]


def test_translation_drift_names_languages() -> None:
    """A source cited in some translations and missing from others is drift, with langs."""
    audit = OfflineAudit(variant_key)
    audit.note(note("en/p-en.md", "en", uses=("1", "2")),
               [link("https://a.io/x", 10, label="1"), link("https://b.io/y", 11, label="2")])
    audit.note(note("de/p-de.md", "de", uses=("1",)), [link("https://a.io/x", 8, label="1")])
    audit.note(note("ja/p-ja.md", "ja", uses=("1",)), [link("https://a.io/x", 7, label="1")])
    (finding,) = audit.finish()
    assert finding.kind == "translation-drift"
    assert finding.url == "https://b.io/y"
    assert "cited in en" in finding.message and "missing from de, ja" in finding.message


def test_locale_variants_are_not_drift() -> None:
    """Language versions of one source across translations are reported as variants."""
    audit = OfflineAudit(variant_key)
    audit.note(note("en/p-en.md", "en", uses=("1",)),
               [link("https://docs.x.org/3/os.html", 3, label="1")])
    audit.note(note("ja/p-ja.md", "ja", uses=("1",)),
               [link("https://docs.x.org/ja/3/os.html", 3, label="1")])
    (finding,) = audit.finish()
    assert finding.kind == "locale-variant" and finding.severity is Severity.INFO
    assert "ja: https://docs.x.org/ja/3/os.html" in finding.message


def test_same_label_different_source_across_translations() -> None:
    """One label pointing to different sources in two translations is drift."""
    audit = OfflineAudit(variant_key)
    audit.note(note("en/p-en.md", "en", uses=("1",)), [link("https://a.io/x", 3, label="1")])
    audit.note(note("de/p-de.md", "de", uses=("1",)), [link("https://b.io/z", 3, label="1")])
    messages = [f.message for f in audit.finish()]
    assert any("label [1] points to different sources" in m for m in messages)


def test_single_language_family_has_no_drift() -> None:
    """Notes of one language are never compared for drift."""
    audit = OfflineAudit(variant_key)
    audit.note(note("a-en.md", "en"), [link("https://a.io/x", 1, kind=LinkKind.INLINE)])
    audit.note(note("b/a-en.md", "en"), [link("https://b.io/x", 1, kind=LinkKind.INLINE)])
    assert audit.finish() == []


def make_finding(kind: str = "tracking", line: int = 3, url: str = "https://a.io/x") -> Finding:
    return Finding(kind=kind, severity=Severity.WARNING, path=Path("a.md"), line=line,
                   column=1, message="m", url=url)


def test_policy_overrides_severity_and_suppresses() -> None:
    """Configured severities apply; inline comments and ignore rules suppress with a reason."""
    findings = [make_finding(line=3), make_finding(line=4, url="https://intra.net/x"),
                make_finding(kind="duplicate", line=5)]
    result = apply_policy(
        findings, severities=severity_overrides({"tracking": "error"}),
        ignore=[IgnoreRule(pattern=r"intra\.net", reason="VPN only", kinds=("tracking",))],
        ignored_lines={Path("a.md"): frozenset({5})})
    assert [f.severity for f in result] == [Severity.ERROR, Severity.ERROR, Severity.WARNING]
    assert [f.suppressed for f in result] == [None, "VPN only",
                                              "linkaudit-ignore comment in the note"]


@pytest.mark.parametrize(("configured", "message"), [
    ({"trackin": "error"}, "did you mean 'tracking'"),
    ({"tracking": "fatal"}, "'fatal' is not one of"),
])
def test_bad_severity_config(configured: dict[str, str], message: str) -> None:
    """Unknown kinds and severities in report.severities are config errors."""
    with pytest.raises(ConfigError, match=message):
        severity_overrides(configured)


def test_every_finding_kind_is_documented() -> None:
    """Each finding kind the audit can emit is explained in the README and docs/formats.md."""
    project = Path(__file__).resolve().parent.parent
    readme = (project / "README.md").read_text(encoding="utf-8")
    formats = (project / "docs" / "formats.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in readme, f"README does not explain {kind}"
        assert f"`{kind}`" in formats, f"docs/formats.md does not list {kind}"


# ---------------------------------------------------------------- one rule for every form

RULES = load_rules(CleaningConfig(), Path("."))


def audit_texts(*notes: tuple[str, str]) -> list[Finding]:
    """Offline findings (per note, then drift) for real note texts, as a scan makes them."""
    audit = OfflineAudit(locale_variant_key)
    found: list[Finding] = []
    for path, body in notes:
        lang = path.split("/")[0]
        scanned = parse_note(Path(path), f"---\nlang: {lang}\n---\n{body}", ScanConfig())
        found += audit.note(scanned, clean_links(scanned.links, RULES, "safe"))
    return found + audit.finish()


@pytest.mark.parametrize("body", [
    "See https://h.io/p and [the page](https://h.io/p).\n",
    "See [the page](https://h.io/p), later [again](https://h.io/p).\n",
    "See <https://h.io/p> and ![shot](https://h.io/p).\n",
    "See [the page][1] and [the page again][1] and [here](https://h.io/p).\n\n"
    "[1]: https://h.io/p\n",
])
def test_uses_in_the_text_are_never_duplicates(body: str) -> None:
    """Bare, inline, autolink and image uses of a source, and a definition used twice, are
    ordinary prose: no duplicate, whatever the forms."""
    assert [f.kind for f in audit_texts(("en/a.md", body))] == []


def test_two_definitions_of_one_source_are_a_duplicate_in_any_form() -> None:
    """Definitions of one source are a duplicate, also when only an equivalent form
    (trailing slash, www, http) differs, and the message names that difference."""
    body = ("[a][1] [b][2] [c][3]\n\n[1]: https://h.io/p\n[2]: http://www.h.io/p/\n"
            "[3]: https://h.io/p?utm_source=chatgpt.com\n")
    found = [f for f in audit_texts(("en/a.md", body)) if f.kind != "tracking"]
    assert [(f.kind, f.line) for f in found] == [("duplicate", 7), ("duplicate", 8)]
    assert "differ only by https, trailing-slash, www" in found[0].message
    assert "differ only" not in found[1].message  # the same URL once cleaned: fix merges it


@pytest.mark.parametrize(("en", "ja"), [
    ("https://h.io/guide/a", "https://h.io/guide/a/"),
    ("http://www.h.io/a", "https://h.io/a"),
    ("https://h.io/a?x=1&y=2", "https://h.io/a?y=2&x=1"),
])
def test_equivalent_forms_across_translations_are_one_source(en: str, ja: str) -> None:
    """A trailing slash or another equivalent form is the same source: neither drift nor
    a language version."""
    found = audit_texts(("en/p-en.md", f"[s][1]\n\n[1]: {en}\n"),
                        ("ja/p-ja.md", f"[s][1]\n\n[1]: {ja}\n"))
    assert found == []


def test_language_segment_across_translations_is_a_locale_variant() -> None:
    """A real language path segment is a language version, whatever form cites it."""
    found = audit_texts(("en/p-en.md", "See https://docs.h.io/3/os.html today.\n"),
                        ("ja/p-ja.md", "[s][1]\n\n[1]: https://docs.h.io/ja/3/os.html/\n"))
    assert [f.kind for f in found] == ["locale-variant"]


def test_drift_compares_sources_whatever_the_form() -> None:
    """A source cited bare in one translation and as a definition in another is no drift."""
    found = audit_texts(("en/p-en.md", "See https://h.io/a.\n"),
                        ("de/p-de.md", "[s][1]\n\n[1]: https://h.io/a\n"))
    assert found == []


# ---------------------------------------------------------------- online wording

DAY = 86_400.0
T0 = 1_790_000_000.0  # 2026-09-21


@pytest.mark.parametrize(("failures", "span_days", "expected"), [
    (1, 0, "1 failed check since 2026-09-21; called dead after 3 failed checks spanning "
           "3 days, or now with --confirm-now"),
    (2, 4, "2 failed checks since 2026-09-21; called dead after 3 failed checks, "
           "or now with --confirm-now"),
    (4, 1, "4 failed checks since 2026-09-21; called dead once the failures span 3 days, "
           "or now with --confirm-now"),
])
def test_failing_message_says_what_is_missing(failures: int, span_days: float,
                                              expected: str) -> None:
    """The counter never reads past its goal: the message names what is still missing."""
    standing = Standing(confirmed=False, failures=failures, needed=3, min_days=3,
                        first_failure=T0, last_failure=T0 + span_days * DAY)
    assert failing_message("410 Gone", standing) == f"410 Gone; {expected}"


@pytest.mark.parametrize(("verdict", "standing", "kind", "message"), [
    (Verdict.DEAD, Standing(confirmed=True), "dead", "410 Gone"),
    (Verdict.DEAD, Standing(confirmed=False, first_failure=T0, last_failure=T0, needed=3),
     "failing", "410 Gone; 1 failed check since 2026-09-21; called dead after 3 failed "
                "checks, or now with --confirm-now"),
    (Verdict.UNREACHABLE, None, "unreachable", "410 Gone"),
    (Verdict.BLOCKED, None, "blocked",
     "410 Gone: the site refused the check; the page may exist"),
])
def test_online_messages_never_repeat_the_kind(verdict: Verdict, standing: Standing | None,
                                               kind: str, message: str) -> None:
    """The kind is the state word and the message does not start with it again."""
    result = CheckResult("https://h.io/x", "https://h.io/x", verdict, "410 Gone")
    places = {"https://h.io/x": [Location(Path("a.md"), 3, 1)]}
    (finding,) = online_findings([result], places,
                                 {} if standing is None else {"https://h.io/x": standing})
    assert (finding.kind, finding.message) == (kind, message)
