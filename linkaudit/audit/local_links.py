"""Local links to findings: missing files and pages, paths out of the site, dead #fragments.

Checked offline, during ``scan``, so a pre-publish gate catches them without the network.
Relative links resolve against the note's folder, ``/root-relative`` ones against the site
root (``linkaudit.scan.site``), ``{% post_url %}`` tags against the site's posts, and
``#fragments`` against the ids the site's Markdown engine gives the target page
(``linkaudit.scan.anchors``). A working link is silent. Each target page's ids are worked
out once per run, and only when a fragment points at it. Rules: docs/local-links.md.
"""

from __future__ import annotations

import difflib
import os
import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Collection, Sequence
from pathlib import Path
from urllib.parse import unquote

from linkaudit.audit.findings import DEFAULT_SEVERITY
from linkaudit.config import Config
from linkaudit.models import CleanedLink, Finding, Note
from linkaudit.scan.anchors import Outline, outline
from linkaudit.scan.site import PAGE_SUFFIXES, Site, Sites

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_POST_URL = re.compile(r"\{%-?[ \t]*post_url[ \t]+([^\s%]+)[ \t]*-?%\}(#[^\s)\]\"'<>]*)?")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^---[ \t]*(?:\r?\n|\Z)",
                           re.MULTILINE | re.DOTALL)
_LINE_END = re.compile(r"\r\n|\r|\n")  # as the scanner counts lines
_MAX_TARGET = 4 << 20  # bytes of a linked page read for its ids; a larger one is not judged
_MAX_SUGGESTIONS = 2000  # ids compared with a missing one for a "did you mean"
_CACHED_PAGES = 20_000  # outlines kept at most (the oldest go first; a page is then reread)


def is_local(url: str) -> bool:
    """A link into the site: no scheme, not ``//host``, no Liquid left to expand."""
    return bool(url) and _SCHEME.match(url) is None and not url.startswith("//") \
        and "{{" not in url and "{%" not in url


class LocalLinkAudit:
    """Local-link findings note by note; what it learns of the site is kept for the run."""

    def __init__(self, config: Config, scanned: Sequence[Path] = ()) -> None:
        self._enabled = config.site.local_links
        self.sites = Sites(config, scanned)
        self._outlines: OrderedDict[str, Outline | None] = OrderedDict()  # by absolute path

    def note(self, note: Note, links: Sequence[CleanedLink]) -> list[Finding]:
        """Findings for the note's local links and post_url tags (none for working ones)."""
        if not self._enabled:
            return []
        local = [link for link in links if link.malformed is None and is_local(link.url)]
        if not local and "post_url" not in note.text:
            return []  # most notes: nothing to resolve, so no site to look up
        check = _NoteCheck(self, note)
        for link in local:
            check.link(link.url, link.link.line, link.link.column)
        if "post_url" in note.text:
            check.post_urls()
        return check.findings

    def note_outline(self, note: Note, path: str, site: Site) -> Outline:
        """The outline of ``note`` (at absolute ``path``), from the text already read."""
        found = self._outlines.get(path)
        if found is None:
            found = outline(note.text, note.body_start, site.engine)
            self._remember(path, found)
        return found

    def page_outline(self, path: str, site: Site) -> Outline | None:
        """The outline of the page at ``path`` (None: not a page, unreadable, or too big)."""
        if path not in self._outlines:
            self._remember(path, self._read_outline(path, site))
        return self._outlines[path]

    def _remember(self, path: str, found: Outline | None) -> None:
        if len(self._outlines) >= _CACHED_PAGES:
            self._outlines.popitem(last=False)
        self._outlines[path] = found

    def _read_outline(self, path: str, site: Site) -> Outline | None:
        if not path.lower().endswith(PAGE_SUFFIXES):
            return None
        if not os.path.realpath(path).startswith(site.real_root + os.sep):
            return None  # a symbolic link out of the site: never read
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_TARGET + 1)
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if len(data) > _MAX_TARGET:
            return None
        front = _FRONT_MATTER.match(text)
        return outline(text, front.end() if front else 0, site.engine)


class _NoteCheck:
    """One note's local links."""

    def __init__(self, audit: LocalLinkAudit, note: Note) -> None:
        self.audit = audit
        self.note = note
        self.site = audit.sites.for_note(note.path)
        self.path = os.path.abspath(note.path)
        self.folder = os.path.dirname(self.path)
        self.findings: list[Finding] = []
        self.judged: dict[str, tuple[str, str] | None] = {}  # by URL: a note cites some often

    @property
    def outline(self) -> Outline:
        return self.audit.note_outline(self.note, self.path, self.site)

    def add(self, kind: str, line: int, column: int, url: str, message: str) -> None:
        self.findings.append(Finding(kind=kind, severity=DEFAULT_SEVERITY[kind],
                                     path=self.note.path, line=line, column=column,
                                     message=message, url=url))

    def shown(self, path: str) -> str:
        """A path for messages: relative to the site root."""
        return os.path.relpath(path, self.site.root).replace(os.sep, "/")

    def link(self, url: str, line: int, column: int) -> None:
        """The finding a local link makes, if any; worked out once per URL in a note."""
        if url in self.judged:
            verdict = self.judged[url]
        else:
            verdict = self.judged[url] = self.judge(url)
        if verdict is not None:
            self.add(verdict[0], line, column, url, verdict[1])

    def judge(self, url: str) -> tuple[str, str] | None:
        """(kind, message) of what is wrong with a local link, or None when it works."""
        written, _, fragment = url.partition("#")
        path = unquote(written.split("?", 1)[0])
        if not path:
            return self.fragment(self.outline.ids, fragment, "this note") if fragment else None
        if path.startswith("/"):
            target = self.site.url(path)
            if target is None:
                base = self.site.baseurl
                under = "" if not base or path.startswith(base + "/") or path == base \
                    else f" (the site is served under its baseurl {base})"
                return "local-missing", f"no file or page of the site is served at {path}{under}"
        else:
            joined = os.path.normpath(os.path.join(self.folder, path))
            if not self.site.inside(joined):
                return "local-outside", (f"{path} leads outside the site root {self.site.root}; "
                                         "it was not looked for")
            target = self.site.source(joined + (os.sep if path.endswith("/") else ""))
            if target is None:
                return "local-missing", f"{path} does not exist (looked for {self.shown(joined)})"
        return self.target_fragment(target, fragment) if fragment else None

    def target_fragment(self, target: str, fragment: str) -> tuple[str, str] | None:
        if target == self.path:
            found: Outline | None = self.outline
        else:
            found = self.audit.page_outline(target, self.site)
        return None if found is None else self.fragment(found.ids, fragment, self.shown(target))

    def fragment(self, ids: Collection[str], fragment: str, where: str) -> tuple[str, str] | None:
        wanted = unquote(fragment)
        if wanted in ids or wanted.lower() == "top":
            return None
        close = difflib.get_close_matches(wanted, list(ids), n=1, cutoff=0.6) \
            if len(ids) <= _MAX_SUGGESTIONS else []
        hint = f" (did you mean #{close[0]}?)" if close else ""
        return "anchor-missing", f"#{wanted} matches no heading or id in {where}{hint}"

    def post_urls(self) -> None:
        """``{% post_url name %}`` tags outside code: the named post must exist."""
        text = self.note.text
        code = self.outline.code
        starts = [start for start, _ in code]
        line_starts: list[int] = []
        line, ticks, counted = 0, 0, 0  # backticks before ``counted`` on the current line
        for match in _POST_URL.finditer(text, self.note.body_start):
            index = bisect_right(starts, match.start()) - 1
            if index >= 0 and match.start() < code[index][1]:
                continue  # in a code block
            if not line_starts:
                line_starts = [0, *(found.end() for found in _LINE_END.finditer(text))]
            found_line = bisect_right(line_starts, match.start())
            if found_line != line:
                line, ticks, counted = found_line, 0, line_starts[found_line - 1]
            ticks += text.count("`", counted, match.start())
            counted = match.start()
            if ticks % 2:
                continue  # in a code span
            column = match.start() - line_starts[line - 1] + 1
            name = match.group(1)
            target = self.site.post(name)
            if target is None:
                self.add("local-missing", line, column, match.group(),
                         f"post_url names no post: no _posts folder holds {name}")
            elif match.group(2) and len(match.group(2)) > 1:
                verdict = self.target_fragment(target, match.group(2)[1:])
                if verdict is not None:
                    self.add(verdict[0], line, column, match.group(), verdict[1])
