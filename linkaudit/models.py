"""Types that cross stage boundaries.

Every stage takes and returns these frozen dataclasses, never dicts, so a stage can be
tested alone and the CLI stays glue. Offsets are character offsets into ``Note.text``,
which is the file's bytes decoded as UTF-8 with nothing translated (a BOM stays at
offset 0, CRLF stays two characters), so an offset is valid for rewriting the file.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range ``[start, end)`` in a note's text."""

    start: int
    end: int


class LinkKind(enum.StrEnum):
    """How a URL was written in the note."""

    DEFINITION = "definition"  # [label]: url "title"
    INLINE = "inline"  # [text](url "title")
    IMAGE = "image"  # ![alt](url)
    AUTOLINK = "autolink"  # <https://...>
    HTML = "html"  # href="..." / src="..."
    BARE = "bare"  # https://... in running text


@dataclass(frozen=True, slots=True)
class Link:
    """One URL as written in a note: ``note.text[span.start:span.end] == url``."""

    kind: LinkKind
    url: str
    span: Span
    line: int  # 1-based
    column: int  # 1-based, in characters
    label: str | None = None  # definitions: the label as written
    title: str | None = None  # definitions, inline links and images
    text: str | None = None  # inline links: the link text; images: the alt text


class ReferenceForm(enum.StrEnum):
    """CommonMark reference-link forms."""

    FULL = "full"  # [text][label]
    COLLAPSED = "collapsed"  # [label][]
    SHORTCUT = "shortcut"  # [label]


@dataclass(frozen=True, slots=True)
class ReferenceUse:
    """A use of a reference label; ``span`` covers the label characters only."""

    label: str  # as written
    form: ReferenceForm
    span: Span
    line: int
    column: int


@functools.lru_cache(maxsize=4096)  # labels repeat: a note uses each of its labels often
def normalize_label(label: str) -> str:
    """CommonMark label matching: case-folded, inner whitespace collapsed, trimmed."""
    return " ".join(label.split()).casefold()


@dataclass(frozen=True, slots=True)
class FileProblem:
    """Something wrong with a file as a whole (reported as a finding, scan goes on)."""

    path: Path
    kind: str  # "unreadable" | "encoding" | "front-matter" | "too-many-links"
    message: str
    line: int = 1
    column: int = 1


@dataclass(frozen=True)
class Note:
    """A scanned Markdown note."""

    path: Path
    text: str
    lang: str | None
    family: str
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    body_start: int = 0  # offset where the body begins (after the front matter)
    links: tuple[Link, ...] = ()
    references: tuple[ReferenceUse, ...] = ()
    problems: tuple[FileProblem, ...] = ()
    # 1-based lines silenced by linkaudit-ignore/disable comments (see markdown.extract)
    ignored_lines: frozenset[int] = field(default=frozenset(), compare=False, hash=False)

    @property
    def title(self) -> str | None:
        value = self.metadata.get("title")
        return None if value is None else str(value)


class Protection(enum.StrEnum):
    """Why a URL must never be rewritten."""

    SIGNED = "signed-url"
    ARCHIVE = "archive"
    REDIRECT_WRAPPER = "redirect-wrapper"


@dataclass(frozen=True, slots=True)
class CleanedLink:
    """A link after tracking removal, with the keys used to compare sources."""

    link: Link
    clean_url: str  # the URL as written minus tracking parameters (== url when nothing removed)
    removed: tuple[str, ...]  # decoded names of the removed parameters, in order
    check_key: str  # safe normalisation, fragment dropped: one request per key
    citation_key: str  # safe normalisation with the fragment
    aggressive_key: str  # aggressive normalisation, fragment dropped
    heuristics: tuple[str, ...]  # which aggressive heuristics changed the URL
    protection: Protection | None = None
    malformed: str | None = None  # why the URL cannot be used, or None

    @property
    def url(self) -> str:
        return self.link.url


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a note: used to list every citation of one URL."""

    path: Path
    line: int
    column: int


@dataclass(frozen=True)
class Finding:
    """A problem found, with enough context for a person to act on it."""

    kind: str
    severity: Severity
    path: Path
    line: int
    column: int
    message: str
    url: str | None = None
    clean_url: str | None = None
    removed_params: tuple[str, ...] = ()
    related: tuple[Location, ...] = ()  # other places citing the same URL
    suppressed: str | None = None  # reason, when an ignore rule matched


class Verdict(enum.StrEnum):
    OK = "ok"
    REDIRECTED = "redirected"
    DEAD = "dead"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Hop:
    """One response in a redirect chain."""

    url: str
    status: int


@dataclass(frozen=True)
class CheckResult:
    """The network verdict for one check key. A failure is a value, never an exception."""

    key: str
    url: str  # the URL requested first
    verdict: Verdict
    detail: str  # for a person: "404 Not Found", "timed out after 10 s (3 attempts)", ...
    reason: str = ""  # machine tag: "404", "dns", "timeout", "refused", "reset", "tls",
    #                   "soft-404", "bot-challenge", "private-address", "scheme", "loop", ...
    status: int | None = None  # last HTTP status seen, if any
    chain: tuple[Hop, ...] = ()  # every response, redirects included, in order
    final_url: str | None = None  # for redirects: where the chain ended
    permanent: bool | None = None  # for redirects: every hop 301/308
    final_verdict: Verdict | None = None  # for redirects: verdict of the final URL
    attempts: int = 1
    checked_at: float = 0.0  # seconds since the epoch
    from_cache: bool = False


@dataclass(frozen=True, slots=True)
class Edit:
    """One planned change to a file: replace ``old`` at ``span`` by ``new``."""

    path: Path
    span: Span
    old: str
    new: str
    reason: str  # "tracking" | "redirect" | "duplicate" | "archive"


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A link as listed in reports: flat, small, with no note text attached."""

    path: Path
    line: int
    column: int
    kind: LinkKind
    url: str
    clean_url: str
    check_key: str
    family: str
    lang: str | None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Link health at the end of one recorded run (for the history chart)."""

    run_id: int
    started_at: float
    ok: int
    redirected: int
    failing: int
    dead: int
    status: str = "finished"  # "finished" | "interrupted" | "running"
    command: str = ""  # as recorded: "check", ...
    arguments: tuple[str, ...] = ()  # the command line as recorded
    partial: bool = False  # it looked at some notes only (a gate, a file list, paths)


@dataclass(frozen=True)
class Report:
    """Everything a reporter renders. Built by the CLI, rendered to a string by a reporter."""

    command: str  # "scan" | "check" | "report"
    notes_scanned: int
    # Links and findings may be a spill on disk (``linkaudit.spill``): iterate, never index.
    links: Collection[LinkRecord]  # empty when the format does not list links

    findings: Collection[Finding]
    results: tuple[CheckResult, ...] = ()
    fail_on: Severity | None = Severity.ERROR  # None: never fail
    started_at: float = 0.0
    finished_at: float = 0.0
    interrupted: bool = False
    history: tuple[RunSummary, ...] = ()  # recorded runs, oldest first (from the store)
    link_count: int | None = None  # links found, when ``links`` is not filled in
    failing: frozenset[str] = frozenset()  # check keys that failed, not yet called dead
    dead_after: tuple[int, float] | None = None  # (failed checks, days) before "dead"
    # gate runs: findings already in notes outside the change, counted and not listed
    outside_change: int | None = None
    # hosts that told the run to slow down (429, or 503 with Retry-After), and how often
    slowed_down: tuple[tuple[str, int], ...] = ()


def maker(cls: Callable[_P, _T]) -> Callable[_P, _T]:
    """``cls(...)`` for a frozen dataclass made in bulk, several times faster.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (its
    own ``__setattr__`` refuses), about ten times the cost of a plain assignment, and a
    scan makes several such objects per link. Here the fields go into an unfrozen twin of
    the same layout (the same slots, or a ``__dict__``), whose class is then switched to
    ``cls``: the object is the one ``cls(...)`` makes, and frozen from then on.
    """
    assert isinstance(cls, type) and dataclasses.is_dataclass(cls)
    if hasattr(cls, "__post_init__"):  # the twin's generated __init__ would skip it
        raise TypeError(f"{cls.__name__} has a __post_init__: make it with the class")
    twin = dataclasses.make_dataclass(
        f"_{cls.__name__}Fields",
        [(f.name, f.type, field(default=f.default, default_factory=f.default_factory))
         for f in dataclasses.fields(cls)],
        slots="__slots__" in cls.__dict__, eq=False, repr=False, match_args=False)

    def make(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        made = twin(*args, **kwargs)
        made.__class__ = cls
        return made  # type: ignore[no-any-return]

    return make


# The objects made once per link, or per finding, of a scan.
make_link = maker(Link)
make_reference_use = maker(ReferenceUse)
make_cleaned_link = maker(CleanedLink)
make_finding = maker(Finding)
