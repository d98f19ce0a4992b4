"""Cleanup planning: turn what the scan, cleaner, checker and store found into edits.

Pure: no files are read or written here, so a dry run and a real run plan exactly the
same edits. Every edit touches only the bytes it must: a URL, a reference label, or the
whole line of a duplicate definition. One edit per URL: when several fixes apply to one
link the strongest wins (archive, then redirect, then tracking), and the chosen URL is
always the cleaned one.

Source changes (redirect, archive) are keyed by the link's check key, so a change planned
for a URL reaches every note citing it, every translation of a family included.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from linkaudit.audit.online import Standing, failing_message
from linkaudit.check.verdicts import lands_on_site_root
from linkaudit.config import DeadAfterConfig, FixConfig
from linkaudit.fix.duplicates import Definition, Merge, plan_merges
from linkaudit.fix.form import Unwritable, form_of, written
from linkaudit.fix.rewrite import ensure_disjoint
from linkaudit.fix.structure import keeps_structure
from linkaudit.fix.target import (
    DEFAULT_ARCHIVE_HOST,
    shown,
    unfit_cleaned,
    unfit_redirect,
    unfit_snapshot,
    unfit_target,
)
from linkaudit.models import (
    CheckResult,
    CleanedLink,
    Edit,
    Link,
    LinkKind,
    Note,
    Span,
    Verdict,
)

_NOTHING: Mapping[str, str] = MappingProxyType({})
_NO_RESULTS: Mapping[str, CheckResult] = MappingProxyType({})
_DEAD_AFTER = DeadAfterConfig()
_DAY = 86400.0
_MAX_EDITS_CHECKED_ALONE = 16  # bounds the scans when a note's edits fail together
_WHAT = {"tracking": "cleaned URL", "redirect": "redirect target", "archive": "archived copy"}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A fix that was wanted but not planned, with the reason a person needs."""

    path: Path
    line: int
    column: int
    url: str
    message: str
    kind: str = "other"  # a tag for machines: one of SKIP_KINDS


SKIP_KINDS = (
    "not-confirmed-dead",  # failing, but the dead rule has not confirmed it yet
    "no-archived-copy",  # confirmed dead, and the archive has no usable snapshot
    "soft-404",  # a permanent redirect to the bare site root
    "unfit-url",  # the new URL failed validation or cannot be written in its link form
    "changes-markdown",  # writing it would change the note's links
    "merge-by-hand",  # a duplicate definition or use of an unusual shape
    "moved",  # the scanned position no longer holds the URL
)


class FailureCounts(Protocol):
    """How far a failing link is on its way to dead (the history's ``Confirmation``)."""

    @property
    def failures(self) -> int: ...  # failed checks since the last success
    @property
    def needed(self) -> int: ...  # failed checks needed for dead
    @property
    def first_failure(self) -> float | None: ...  # seconds since the epoch
    @property
    def last_failure(self) -> float | None: ...


_NOTHING_FAILING: Mapping[str, FailureCounts] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Plan:
    """The edits to apply (disjoint, sorted by file and offset) and what was left alone."""

    edits: tuple[Edit, ...]
    skipped: tuple[Skipped, ...]


def _as_written(url: str) -> str:
    return url


def plan_edits(
    items: Iterable[tuple[Note, Sequence[CleanedLink]]],
    *,
    options: FixConfig,
    results: Mapping[str, CheckResult] = _NO_RESULTS,
    dead: Collection[str] = (),
    archived: Mapping[str, str] = _NOTHING,
    archive_missing: Mapping[str, str] = _NOTHING,
    clean: Callable[[str], str] = _as_written,
    archive_host: str = DEFAULT_ARCHIVE_HOST,
    citation_key: Callable[[str], str] = _as_written,
    unconfirmed: Mapping[str, FailureCounts] = _NOTHING_FAILING,
    dead_after: DeadAfterConfig = _DEAD_AFTER,
) -> Plan:
    """Plan every enabled fix for the given notes.

    ``results`` and ``archived`` are keyed by check key; ``dead`` holds the check keys the
    store confirmed dead; ``archive_missing`` gives, per check key, why no snapshot was found.
    ``clean`` strips tracking from a redirect's final URL (the CLI passes the cleaner), so
    a redirect update never brings tracking back and a second run plans nothing.
    ``archive_host`` is where a snapshot must live (``https://<host>/web/<time>/<url>``).
    ``citation_key`` gives a redirect target's or snapshot's citation key (the CLI passes
    the cleaner's), so duplicates a source change creates are merged in the same run.
    ``unconfirmed`` holds, per check key, the counters of a failing link not confirmed
    dead yet under ``dead_after``: it is left alone and the plan says how far it is.
    """
    planner = _Planner(options, results, dead, archived, archive_missing, clean, archive_host,
                       citation_key, unconfirmed, dead_after)
    edits: list[Edit] = []
    for note, cleaned in items:
        edits.extend(planner.plan_note(note, cleaned))
    return Plan(
        edits=tuple(sorted(edits, key=lambda e: (str(e.path), e.span.start, e.span.end))),
        skipped=tuple(planner.skipped),
    )


@dataclass
class _Planner:
    options: FixConfig
    results: Mapping[str, CheckResult]
    dead: Collection[str]
    archived: Mapping[str, str]
    archive_missing: Mapping[str, str]
    clean: Callable[[str], str]
    archive_host: str
    citation_key: Callable[[str], str]
    unconfirmed: Mapping[str, FailureCounts]
    dead_after: DeadAfterConfig

    def __post_init__(self) -> None:
        self.skipped: list[Skipped] = []
        self.pending: list[tuple[Span, Skipped]] = []  # this note's, by link span

    def skip(self, note: Note, link: Link, kind: str, message: str) -> None:
        self.pending.append(
            (link.span, Skipped(note.path, link.line, link.column, link.url, message, kind)))

    def plan_note(self, note: Note, cleaned: Sequence[CleanedLink]) -> list[Edit]:
        """URL edits first (a redirect may make two citations one), then merges."""
        self.pending = []
        url_edits = {}
        for item in cleaned:
            edit = self.url_edit(note, item)
            if edit is not None:
                url_edits[edit.span] = edit
        merge = plan_merges(note, self.definitions(cleaned, url_edits)) \
            if self.options.duplicates else Merge()

        lines = sorted((line.start, line.end) for line in merge.removed)

        def removed(span: Span) -> bool:
            """Whether the span lies in a removed definition line."""
            index = bisect_right(lines, (span.start, len(note.text) + 1)) - 1
            return index >= 0 and span.end <= lines[index][1]
        for link, message in merge.refused:
            self.skip(note, link, "merge-by-hand", message)
        edits = merge.edits + self.structure_kept(
            note, [edit for span, edit in url_edits.items() if not removed(span)])
        ensure_disjoint(edits)
        self.skipped.extend(skipped for span, skipped in self.pending if not removed(span))
        return edits

    def definitions(self, cleaned: Sequence[CleanedLink],
                    url_edits: Mapping[Span, Edit]) -> list[Definition]:
        """Each definition with the citation key its URL will have once edited."""
        found = []
        for item in cleaned:
            link = item.link
            if link.kind is not LinkKind.DEFINITION or link.label is None:
                continue
            edit = url_edits.get(link.span)
            key: str | None = item.citation_key
            if item.malformed is not None:
                key = None
            elif edit is not None and edit.reason != "tracking":
                key = self.citation_key(edit.new)
            found.append(Definition(link, link.label, key))
        return found

    def structure_kept(self, note: Note, edits: list[Edit]) -> list[Edit]:
        """The URL edits after which the note, scanned again, has the same links.

        Checked all together; when that fails (never, unless ``form`` missed a case),
        each edit alone if there are few (each check scans the note twice), and the ones
        that change the Markdown are skipped; with many, all are.
        """
        if keeps_structure(note, edits):
            return edits
        kept: list[Edit] = []
        if len(edits) <= _MAX_EDITS_CHECKED_ALONE:
            kept = [edit for edit in edits if keeps_structure(note, [edit])]
            if not keeps_structure(note, kept):
                kept = []
        links = {link.span: link for link in note.links}
        for edit in sorted(set(edits).difference(kept), key=lambda edit: edit.span.start):
            self.skip(note, links[edit.span], "changes-markdown",
                      f"{_WHAT[edit.reason]} {shown(edit.new)} not written: "
                      "it would change the note's Markdown; left as is")
        return kept

    # ------------------------------------------------------------ one URL

    def url_edit(self, note: Note, item: CleanedLink) -> Edit | None:
        """The single rewrite of one link's URL, validated and written in its form, or None."""
        link = item.link
        if item.protection is not None or item.malformed is not None:
            return None
        if note.text[link.span.start:link.span.end] != link.url:
            self.skip(note, link, "moved",
                      "the scanned position does not hold this URL; left as is")
            return None
        choices = [self.source_change(note, item)]
        if self.options.tracking and item.clean_url != link.url:
            choices.append((item.clean_url, "tracking"))  # also when the change is refused
        for choice in choices:
            if choice is None or choice[0] == link.url:
                continue
            new, reason = choice
            why = self.unfit(new, reason, item)
            if why is None:
                try:
                    new = written(new, form_of(note.text, link), normalise=reason != "tracking")
                except Unwritable as exc:
                    why = f"{exc}, so it cannot be written in Markdown as is"
            if why is None:
                return None if new == link.url else Edit(note.path, link.span, link.url, new,
                                                         reason)
            self.skip(note, link, "unfit-url",
                      f"{_WHAT[reason]} {shown(new)} not written: {why}; left as is")
        return None

    def unfit(self, new: str, reason: str, item: CleanedLink) -> str | None:
        """Why ``new`` must not replace the link's URL, or None."""
        if reason == "tracking":
            return unfit_cleaned(new, item.link.url)
        if reason == "redirect":
            return unfit_redirect(new, item.clean_url)
        return unfit_snapshot(new, item.clean_url.partition("#")[0], self.archive_host)

    def source_change(self, note: Note, item: CleanedLink) -> tuple[str, str] | None:
        """A replacement URL from the network findings: archived copy or redirect target."""
        key = item.check_key
        if self.options.archive and key in self.dead:
            snapshot = self.archived.get(key)
            if snapshot is not None:
                return _with_fragment(snapshot, item.clean_url), "archive"
            why = self.archive_missing.get(key, "not found")
            self.skip(note, item.link, "no-archived-copy",
                      f"confirmed dead, no archived copy ({why}); left as is")
            return None
        counts = self.unconfirmed.get(key)
        if self.options.archive and counts is not None:
            self.skip(note, item.link, "not-confirmed-dead",
                      not_confirmed_message(counts, self.dead_after))
            return None
        result = self.results.get(key)
        if not self.options.redirects or result is None or not _permanent_ok(result):
            return None
        assert result.final_url is not None  # _permanent_ok checked it
        fit = unfit_target(result.final_url) is None  # else refused below, and unparsable
        if fit and lands_on_site_root(item.clean_url, result.final_url):
            self.skip(note, item.link, "soft-404",
                      f"redirects to the site root {shown(result.final_url)} (a soft 404); "
                      "left as is")
            return None
        return _with_fragment(self.clean(result.final_url), item.clean_url), "redirect"


def _permanent_ok(result: CheckResult) -> bool:
    return (result.verdict is Verdict.REDIRECTED and result.permanent is True
            and result.final_verdict is Verdict.OK and bool(result.final_url))


def _with_fragment(new: str, original: str) -> str:
    """Keep the citation's fragment when the new URL has none."""
    _, hash_mark, fragment = original.partition("#")
    return f"{new}#{fragment}" if hash_mark and "#" not in new else new


def not_confirmed_message(counts: FailureCounts, rule: DeadAfterConfig) -> str:
    """``dead link not confirmed yet; 1 failed check since …; called dead after …``: the
    words every report uses for a failing link (``audit.online.failing_message``)."""
    standing = Standing(confirmed=False, failures=counts.failures, needed=counts.needed,
                        min_days=rule.days / _DAY, first_failure=counts.first_failure,
                        last_failure=counts.last_failure)
    return failing_message("dead link not confirmed yet", standing) + "; left as is"
