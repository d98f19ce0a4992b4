"""Audit: cleaned links (and check results) → findings.

Offline findings are made note by note as the scan streams (``OfflineAudit.note``), keeping
only a small per-family summary, so memory stays flat in the number of notes; drift across
translations is decided once every note is seen (``OfflineAudit.finish``). Online findings
turn one ``CheckResult`` per URL into one finding listing every place that cites it.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from linkaudit.config import IgnoreRule
from linkaudit.errors import ConfigError
from linkaudit.models import (
    CheckResult,
    CleanedLink,
    FileProblem,
    Finding,
    LinkKind,
    Location,
    Note,
    Protection,
    ReferenceForm,
    Severity,
    Verdict,
    normalize_label,
)

if TYPE_CHECKING:  # the offline scan does not import the store
    from linkaudit.history.store import UrlState

# Every finding kind: its default severity (configurable per kind) and what it means.
KINDS: Mapping[str, tuple[Severity, str]] = {
    "unreadable": (Severity.ERROR, "File cannot be read"),
    "encoding": (Severity.ERROR, "File is not UTF-8 text"),
    "front-matter": (Severity.ERROR, "Front matter is not valid YAML"),
    "malformed-url": (Severity.ERROR, "URL cannot be used as written"),
    "undefined-reference": (Severity.ERROR, "Reference used but never defined"),
    "tracking": (Severity.WARNING, "Link carries tracking parameters"),
    "duplicate": (Severity.WARNING, "Same source cited twice in one note"),
    "translation-drift": (Severity.WARNING, "Translations cite different sources"),
    "unused-definition": (Severity.WARNING, "Reference defined but never used"),
    "signed-url": (Severity.WARNING, "Signed URL: expires, never rewritten"),
    "redirect-wrapper": (Severity.WARNING, "Link goes through a redirect wrapper"),
    "same-page": (Severity.INFO, "Two sections of one page cited in one note"),
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
        elif link.removed and link.clean_url != link.url:
            names = ", ".join(link.removed)
            found.append(_at(link, note, "tracking",
                             f"tracking parameter{'s' if len(link.removed) > 1 else ''} "
                             f"{names}",
                             clean_url=link.clean_url, removed_params=link.removed))
    return found


def duplicate_findings(note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
    """Two references (or links) to one source in one note; same page with another
    fragment is only info."""
    found = []
    first_by_citation: dict[str, CleanedLink] = {}
    first_by_page: dict[str, CleanedLink] = {}
    for link in links:
        if link.malformed is not None or link.link.kind is LinkKind.IMAGE:
            continue
        earlier = first_by_citation.get(link.citation_key)
        if earlier is not None:
            both_definitions = earlier.link.kind is link.link.kind is LinkKind.DEFINITION
            if both_definitions or earlier.link.kind is not link.link.kind:
                found.append(_at(
                    link, note, "duplicate",
                    f"{_label(link)} cites the same source as {_label(earlier)} on line "
                    f"{earlier.link.line}",
                    related=(Location(note.path, earlier.link.line, earlier.link.column),)))
            continue
        first_by_citation[link.citation_key] = link
        same_page = first_by_page.get(link.check_key)
        if same_page is not None:
            found.append(_at(
                link, note, "same-page",
                f"{_label(link)} cites another section of the page cited by "
                f"{_label(same_page)} on line {same_page.link.line}",
                related=(Location(note.path, same_page.link.line, same_page.link.column),)))
        else:
            first_by_page[link.check_key] = link
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


@dataclass
class _Citation:
    """One source as one note cites it; what the family comparison needs, nothing more."""

    path: Path
    lang: str
    line: int
    column: int
    url: str
    check_key: str
    variant_key: str


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
        for link in links:
            if link.malformed is not None or not link.check_key.startswith("http"):
                continue
            citation = _Citation(note.path, lang, link.link.line, link.link.column,
                                 link.url, link.check_key, self._variant_key(link.check_key))
            family.citations.append(citation)
            if link.link.kind is LinkKind.DEFINITION and link.link.label is not None:
                family.labels[normalize_label(link.link.label)].setdefault(lang, citation)

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
    by_key: dict[str, list[_Citation]] = defaultdict(list)
    by_variant: dict[str, list[_Citation]] = defaultdict(list)
    for citation in family.citations:
        by_key[citation.check_key].append(citation)
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
        if _langs(variants) == family.langs and len({c.check_key for c in variants}) > 1:
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
        ordered = sorted(by_lang.values(), key=lambda c: (c.lang, str(c.path)))
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
    """Configured severities, then suppressions (inline comments and URL ignore rules)."""
    compiled = [(re.compile(rule.pattern), rule) for rule in ignore]
    ignored_lines = ignored_lines or {}
    result = []
    for finding in findings:
        if finding.kind in severities:
            finding = replace(finding, severity=severities[finding.kind])
        reason = None
        if finding.line in ignored_lines.get(finding.path, frozenset()):
            reason = "linkaudit-ignore comment in the note"
        elif finding.url is not None:
            for pattern, rule in compiled:
                if (not rule.kinds or finding.kind in rule.kinds) and pattern.search(finding.url):
                    reason = rule.reason or f"ignored by pattern {rule.pattern}"
                    break
        result.append(replace(finding, suppressed=reason) if reason else finding)
    return sorted(result, key=lambda f: (str(f.path), f.line, f.column, f.kind))


# ---------------------------------------------------------------- online


@dataclass(frozen=True)
class Standing:
    """What the history says of a failing URL: dead now, or still on probation."""

    confirmed: bool
    detail: str = ""  # "failing (1 of 3, first seen 2026-11-28)"


def online_findings(
    results: Iterable[CheckResult],
    places: Mapping[str, Sequence[Location]],
    standing: Mapping[str, Standing] | None = None,
) -> list[Finding]:
    """One finding per checked URL that needs attention, at its first citation.

    A dead URL without a confirmed ``standing`` is reported as ``failing`` (a warning):
    the history store calls a link dead only after repeated failures over days.
    """
    standing = standing or {}
    findings = []
    for result in results:
        kind, message = _online_kind(result, standing.get(result.key))
        cited = sorted(places.get(result.key, ()), key=lambda p: (str(p.path), p.line))
        if kind is None or not cited:
            continue
        severity = DEFAULT_SEVERITY[kind]
        if kind == "redirected" and not result.permanent:
            severity = Severity.INFO
        first = cited[0]
        findings.append(Finding(kind=kind, severity=severity, path=first.path,
                                line=first.line, column=first.column, url=result.url,
                                message=message, related=tuple(cited[1:])))
    return findings


def _online_kind(result: CheckResult, standing: Standing | None) -> tuple[str | None, str]:
    cached = " (cached)" if result.from_cache else ""
    if result.verdict is Verdict.OK:
        return None, ""
    if result.verdict is Verdict.DEAD or (result.verdict is Verdict.REDIRECTED
                                          and result.final_verdict is Verdict.DEAD):
        if standing is not None and not standing.confirmed:
            return "failing", f"{standing.detail}: {result.detail}"
        return "dead", f"dead: {result.detail}{cached}"
    if result.verdict is Verdict.REDIRECTED:
        if result.permanent:
            return "redirected", f"moved permanently; update to {result.final_url}"
        return "redirected", f"redirects temporarily to {result.final_url}{cached}"
    if result.verdict is Verdict.UNREACHABLE:
        return "unreachable", f"unreachable: {result.detail}"
    if result.verdict is Verdict.BLOCKED:
        return "blocked", f"blocked: {result.detail} (the page may exist)"
    if result.reason == "scheme":
        return None, ""
    return "skipped", f"not checked: {result.detail}"


def unchecked_findings(keys: Iterable[str], places: Mapping[str, Sequence[Location]]
                       ) -> list[Finding]:
    """Offline gate: URLs the store has never seen are listed, not guessed at."""
    findings = []
    for key in keys:
        cited = sorted(places.get(key, ()), key=lambda p: (str(p.path), p.line))
        if cited:
            findings.append(Finding(
                kind="unchecked", severity=DEFAULT_SEVERITY["unchecked"], path=cited[0].path,
                line=cited[0].line, column=cited[0].column, url=key,
                message="not checked: the history store has no verdict for it yet",
                related=tuple(cited[1:])))
    return findings


_STATE_KIND = {"dead": "dead", "failing": "failing", "recovered": "recovered",
               "redirected": "redirected"}


def state_findings(states: Iterable[UrlState]) -> list[Finding]:
    """What the history store knows, as findings at each URL's first citation."""
    findings = []
    for state in states:
        kind = _STATE_KIND[state.state]
        seen = (f"first seen {day(state.first_seen)}, last seen {day(state.last_seen)}, "
                f"last checked {day(state.last_checked)}")
        if state.state == "failing":
            c = state.confirmation
            message = f"failing ({c.failures} of {c.needed}, first failed " \
                      f"{day(c.first_failure)}): {state.detail}; {seen}"
        elif state.state == "redirected":
            message = f"redirects to {state.final_url}; {seen}"
        else:
            message = f"{state.state}: {state.detail}; {seen}"
        severity = DEFAULT_SEVERITY[kind]
        if state.state == "redirected" and state.verdict is not Verdict.REDIRECTED:
            severity = Severity.INFO
        cited = [Location(c.path, c.line, 1) for c in state.citations] or \
            [Location(Path("-"), 1, 1)]
        findings.append(Finding(kind=kind, severity=severity, path=cited[0].path,
                                line=cited[0].line, column=1, url=state.url, message=message,
                                related=tuple(cited[1:])))
    return findings


def day(epoch: float | None) -> str:
    """A UTC calendar day for messages; "?" when unknown."""
    return "?" if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")
