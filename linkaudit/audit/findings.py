"""Audit: cleaned links → findings; every finding kind; the reporting policy.

Offline findings are made note by note as the scan streams (``OfflineAudit.note``), keeping
only a small per-family summary, so memory stays flat in the number of notes; drift across
translations is decided once every note is seen (``OfflineAudit.finish``). Online findings
(check results → findings) are ``linkaudit.audit.online``.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path

from linkaudit.audit.suppression import Suppressions
from linkaudit.config import IgnoreRule
from linkaudit.errors import ConfigError
from linkaudit.models import (
    CleanedLink,
    FileProblem,
    Finding,
    LinkKind,
    Location,
    Note,
    Protection,
    ReferenceForm,
    Severity,
    make_finding,
    normalize_label,
)

# Every finding kind: its default severity (configurable per kind) and what it means.
KINDS: Mapping[str, tuple[Severity, str]] = {
    "unreadable": (Severity.ERROR, "File cannot be read"),
    "encoding": (Severity.ERROR, "File is not UTF-8 text"),
    "front-matter": (Severity.ERROR, "Front matter is not valid YAML"),
    "too-many-links": (Severity.WARNING, "Note has more links than are audited"),
    "malformed-url": (Severity.ERROR, "URL cannot be used as written"),
    "undefined-reference": (Severity.ERROR, "Reference used but never defined"),
    "tracking": (Severity.WARNING, "Link carries tracking parameters"),
    "duplicate": (Severity.WARNING, "Same source defined twice in one note"),
    "translation-drift": (Severity.WARNING, "Translations cite different sources"),
    "unused-definition": (Severity.WARNING, "Reference defined but never used"),
    "signed-url": (Severity.WARNING, "Signed URL: expires, never rewritten"),
    "redirect-wrapper": (Severity.WARNING, "Link goes through a redirect wrapper"),
    "same-page": (Severity.INFO, "Two sections of one page defined in one note"),
    "locale-variant": (Severity.INFO, "Translations cite language versions of one source"),
    "dead": (Severity.ERROR, "Link is dead"),
    "failing": (Severity.WARNING, "Link failed, not yet confirmed dead"),
    "unreachable": (Severity.WARNING, "Link could not be reached"),
    "blocked": (Severity.INFO, "Site refused the check; the page may exist"),
    "redirected": (Severity.WARNING, "Link redirects elsewhere"),  # temporary ones: info
    "skipped": (Severity.INFO, "Link not checked"),
    "unchecked": (Severity.INFO, "Offline run: the store has no verdict for this link"),
    "recovered": (Severity.INFO, "Link failed before and answers again"),
    "local-missing": (Severity.ERROR, "Local link or post_url points to nothing in the site"),
    "local-outside": (Severity.ERROR, "Relative link leads outside the site root"),
    "anchor-missing": (Severity.ERROR, "#fragment matches no heading or id of its page"),
}
DEFAULT_SEVERITY: Mapping[str, Severity] = {kind: sev for kind, (sev, _) in KINDS.items()}

_PROTECTION_KIND = {
    Protection.SIGNED: "signed-url",
    Protection.REDIRECT_WRAPPER: "redirect-wrapper",
}


def severity_overrides(configured: Mapping[str, str]) -> dict[str, Severity]:
    """``report.severities`` validated: every kind and severity name must exist."""
    overrides = {}
    for kind, name in configured.items():
        if kind not in DEFAULT_SEVERITY:
            close = difflib.get_close_matches(kind, list(DEFAULT_SEVERITY), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"report.severities.{kind}: unknown finding kind{hint}")
        if name not in ("error", "warning", "info"):
            raise ConfigError(f"report.severities.{kind}: {name!r} is not one of "
                              "error, warning, info")
        overrides[kind] = Severity[name.upper()]
    return overrides


def problem_finding(problem: FileProblem) -> Finding:
    """A file that could not be read (or whose front matter is broken) as a finding."""
    return Finding(kind=problem.kind, severity=DEFAULT_SEVERITY[problem.kind],
                   path=problem.path, line=problem.line, column=problem.column,
                   message=problem.message)


def _at(link: CleanedLink, note: Note, kind: str, message: str, **extra: object) -> Finding:
    return Finding(kind=kind, severity=DEFAULT_SEVERITY[kind], path=note.path,
                   line=link.link.line, column=link.link.column, message=message,
                   url=link.url, **extra)  # type: ignore[arg-type]


def _label(link: CleanedLink) -> str:
    written = link.link.label
    return f"[{written}]" if written is not None else f"the {link.link.kind} link"


# ---------------------------------------------------------------- per note


def tracking_findings(note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
    found = []
    path, tracking = note.path, DEFAULT_SEVERITY["tracking"]
    messages: dict[tuple[str, ...], str] = {}  # by removed names: a note repeats a few
    for link in links:
        if link.malformed is not None:
            found.append(_at(link, note, "malformed-url", f"malformed URL: {link.malformed}"))
        elif link.protection in _PROTECTION_KIND:
            kind = _PROTECTION_KIND[link.protection]
            if link.protection is Protection.SIGNED:
                message = "signed URL: it expires, and removing any parameter breaks it; " \
                          "never rewritten"
            else:
                message = "link goes through a redirect wrapper; cite the target instead"
            if link.removed:
                message += f" (carries {', '.join(link.removed)})"
            found.append(_at(link, note, kind, message))
        elif link.removed and link.clean_url != link.link.url:
            removed, written = link.removed, link.link
            named = messages.get(removed)
            if named is None:
                named = messages[removed] = \
                    f"tracking parameter{'s' if len(removed) > 1 else ''} {', '.join(removed)}"
            # positional: nearly every link of a tree may carry tracking
            found.append(make_finding("tracking", tracking, path, written.line, written.column,
                                      named, written.url, link.clean_url, removed))
    return found


def _fragment(link: CleanedLink) -> str:
    """The cited fragment (``#…``) as the citation key has it, or ""."""
    citation, check = link.citation_key, link.check_key
    if citation is check:  # keys are interned: the same string when there is no fragment
        return ""
    return citation[len(check):] if citation.startswith(check) else ""


def duplicate_findings(note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
    """Two reference definitions of one source in one note (docs/cleaning.md, "Duplicates
    and drift"): the same source is the same aggressive key; with the same fragment it is
    a duplicate, with another fragment only info (same-page). Links of every other form
    are uses in the text, and using a source twice is ordinary prose."""
    found = []
    first_by_citation: dict[str, CleanedLink] = {}
    first_by_page: dict[str, CleanedLink] = {}
    for link in links:
        if link.malformed is not None or link.link.kind is not LinkKind.DEFINITION:
            continue
        citation = link.aggressive_key + _fragment(link)
        earlier = first_by_citation.get(citation)
        if earlier is not None:
            message = f"{_label(link)} cites the same source as {_label(earlier)} on line " \
                      f"{earlier.link.line}"
            if earlier.citation_key != link.citation_key:
                forms = sorted(set(earlier.heuristics) ^ set(link.heuristics))
                message += f" (the URLs differ only by {', '.join(forms) or 'their form'}; " \
                           "fix merges identical URLs only)"
            found.append(_at(
                link, note, "duplicate", message,
                related=(Location(note.path, earlier.link.line, earlier.link.column),)))
            continue
        first_by_citation[citation] = link
        same_page = first_by_page.get(link.aggressive_key)
        if same_page is not None:
            found.append(_at(
                link, note, "same-page",
                f"{_label(link)} cites another section of the page cited by "
                f"{_label(same_page)} on line {same_page.link.line}",
                related=(Location(note.path, same_page.link.line, same_page.link.column),)))
        else:
            first_by_page[link.aggressive_key] = link
    return found


def reference_findings(note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
    """Uses of labels nobody defined, and definitions nobody uses."""
    defined = {normalize_label(link.link.label) for link in links
               if link.link.kind is LinkKind.DEFINITION and link.link.label is not None}
    used = {normalize_label(use.label) for use in note.references}
    found = []
    for use in note.references:
        if use.form is not ReferenceForm.SHORTCUT and normalize_label(use.label) not in defined:
            found.append(Finding(
                kind="undefined-reference", severity=DEFAULT_SEVERITY["undefined-reference"],
                path=note.path, line=use.line, column=use.column,
                message=f"reference [{use.label}] has no definition"))
    for link in links:
        label = link.link.label
        if link.link.kind is LinkKind.DEFINITION and label is not None \
                and normalize_label(label) not in used:
            found.append(_at(link, note, "unused-definition",
                             f"definition [{label}] is never used in the text"))
    return found


# ---------------------------------------------------------------- families


@dataclass(slots=True)
class _Citation:
    """One source as one note cites it; what the family comparison needs, nothing more."""

    path: Path
    lang: str
    line: int
    column: int
    url: str
    source_key: str  # the aggressive key: equivalent forms of one URL are one source
    variant_key: str  # the source key without language segments and parameters


@dataclass
class _Family:
    citations: list[_Citation] = field(default_factory=list)
    langs: set[str] = field(default_factory=set)
    # normalized label -> lang -> citation (definitions only)
    labels: dict[str, dict[str, _Citation]] = field(default_factory=lambda: defaultdict(dict))


class OfflineAudit:
    """Offline findings for a stream of notes, then drift across each translation family."""

    def __init__(self, locale_variant_key: Callable[[str], str]) -> None:
        self._variant_key = locale_variant_key
        self._families: dict[str, _Family] = defaultdict(_Family)

    def note(self, note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
        """Findings about one note alone; remembers what drift needs."""
        findings = [problem_finding(problem) for problem in note.problems]
        findings += tracking_findings(note, links)
        findings += duplicate_findings(note, links)
        findings += reference_findings(note, links)
        self._remember(note, links)
        return findings

    def _remember(self, note: Note, links: Sequence[CleanedLink]) -> None:
        lang = note.lang or "?"
        family = self._families[note.family]
        family.langs.add(lang)
        variant_key, path, citations = self._variant_key, note.path, family.citations
        labels, definition = family.labels, LinkKind.DEFINITION
        for cleaned in links:
            if cleaned.malformed is not None or not cleaned.check_key.startswith("http"):
                continue
            link, source = cleaned.link, cleaned.aggressive_key
            citation = _Citation(path, lang, link.line, link.column, link.url, source,
                                 variant_key(source))
            citations.append(citation)
            if link.kind is definition and link.label is not None:
                labels[normalize_label(link.label)].setdefault(lang, citation)

    def finish(self) -> list[Finding]:
        """Drift findings for every family seen since the last call, which are forgotten."""
        findings: list[Finding] = []
        for family in self._families.values():
            if len(family.langs) > 1:
                findings += _source_drift(family)
                findings += _label_drift(family)
        self._families.clear()
        return findings


def _langs(citations: Iterable[_Citation]) -> set[str]:
    return {c.lang for c in citations}


def _source_drift(family: _Family) -> list[Finding]:
    """Sources some translations cite and others do not; language versions of one page
    (differing only by a language segment or parameter) are locale variants instead."""
    by_key: dict[str, list[_Citation]] = defaultdict(list)
    by_variant: dict[str, list[_Citation]] = defaultdict(list)
    for citation in family.citations:
        by_key[citation.source_key].append(citation)
        by_variant[citation.variant_key].append(citation)
    findings = []
    reported_variants: set[str] = set()
    all_langs = sorted(family.langs)
    for _key, citations in sorted(by_key.items()):
        having = _langs(citations)
        if having == family.langs:
            continue
        variants = by_variant[citations[0].variant_key]
        first = min(citations, key=lambda c: (str(c.path), c.line))
        related = tuple(Location(c.path, c.line, c.column) for c in variants if c is not first)
        if _langs(variants) == family.langs and len({c.source_key for c in variants}) > 1:
            if citations[0].variant_key in reported_variants:
                continue
            reported_variants.add(citations[0].variant_key)
            forms = sorted({f"{c.lang}: {c.url}" for c in variants})
            findings.append(Finding(
                kind="locale-variant", severity=DEFAULT_SEVERITY["locale-variant"],
                path=first.path, line=first.line, column=first.column, url=first.url,
                message="translations cite language versions of one source ("
                        + "; ".join(forms) + ")", related=related))
            continue
        lacking = [lang for lang in all_langs if lang not in having]
        findings.append(Finding(
            kind="translation-drift", severity=DEFAULT_SEVERITY["translation-drift"],
            path=first.path, line=first.line, column=first.column, url=first.url,
            message=f"source cited in {', '.join(sorted(having))} but missing from "
                    f"{', '.join(lacking)}",
            related=tuple(Location(c.path, c.line, c.column) for c in citations
                          if c is not first)))
    return findings


def _label_drift(family: _Family) -> list[Finding]:
    findings = []
    for label, by_lang in sorted(family.labels.items()):
        variants = {c.variant_key for c in by_lang.values()}
        if len(by_lang) < 2 or len(variants) < 2:
            continue
        ordered = [by_lang[lang] for lang in sorted(by_lang)]  # one citation per language
        first = ordered[0]
        targets = "; ".join(f"{c.lang}: {c.url}" for c in ordered)
        findings.append(Finding(
            kind="translation-drift", severity=DEFAULT_SEVERITY["translation-drift"],
            path=first.path, line=first.line, column=first.column, url=first.url,
            message=f"label [{label}] points to different sources across translations "
                    f"({targets})",
            related=tuple(Location(c.path, c.line, c.column) for c in ordered[1:])))
    return findings


# ---------------------------------------------------------------- policy


def apply_policy(
    findings: Iterable[Finding],
    *,
    severities: Mapping[str, Severity],  # configured overrides only
    ignore: Sequence[IgnoreRule] = (),
    ignored_lines: Mapping[Path, frozenset[int]] | None = None,
) -> list[Finding]:
    """Configured severities, then suppressions (``linkaudit.audit.suppression``)."""
    if not (severities or ignore or ignored_lines):
        return _in_order(findings)  # nothing to apply: the usual case
    suppressions = Suppressions(ignore, ignored_lines)
    result = []
    for finding in findings:
        if finding.kind in severities:
            finding = replace(finding, severity=severities[finding.kind])
        reason = suppressions.reason(finding)
        result.append(replace(finding, suppressed=reason) if reason else finding)
    return _in_order(result)


_PATH = attrgetter("path")
_PLACE_AND_KIND = attrgetter("line", "column", "kind")


def _in_order(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted by path text, line, column and kind, without a Python call per finding.

    By line, column and kind first, then stably by path text: the order of one sort by
    all four. A family's findings share a few paths, each made text once.
    """
    ordered = sorted(findings, key=_PLACE_AND_KIND)
    paths = list(map(_PATH, ordered))
    texts = {path: str(path) for path in set(paths)}
    order = sorted(range(len(ordered)), key=list(map(texts.__getitem__, paths)).__getitem__)
    return list(map(ordered.__getitem__, order))
