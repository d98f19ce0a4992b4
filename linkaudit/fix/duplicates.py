"""Merging duplicate reference definitions in one note, planned so a second run has nothing.

Two definitions cite one source when their citation keys are equal (after the URL edits
planned for them: a redirect can make two citations one). The first label is kept, every
use of the other label points at it (``[t][2]`` -> ``[t][1]``, ``[2][]`` and ``[2]`` ->
``[2][1]``), and the other definition's line goes. Only a label's first definition counts
(CommonMark ignores later ones), so removing it wakes the next definition of that label,
which is merged in turn when it is a duplicate too: the plan is what a second run would
leave as it is. Other labels are never renumbered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from linkaudit.models import Edit, Link, Note, ReferenceForm, ReferenceUse, Span, normalize_label

_DEFINITION_HEAD = re.compile(r" {0,3}\[(?P<label>(?:[^\\\[\]]|\\.)+)\]:[ \t]*<?")
_TITLE_OPENERS = {'"': '"', "'": "'", "(": ")"}


@dataclass(frozen=True, slots=True)
class Definition:
    """One reference definition and its citation key once its planned edit is applied
    (None for a malformed URL, whose key says nothing about the source)."""

    link: Link
    label: str
    key: str | None


@dataclass
class Merge:
    """What merging plans: the edits, the lines removed, and definitions left for a person."""

    edits: list[Edit] = field(default_factory=list)
    removed: list[Span] = field(default_factory=list)
    refused: list[tuple[Link, str]] = field(default_factory=list)


def plan_merges(note: Note, definitions: Sequence[Definition]) -> Merge:
    """Merge duplicate definitions until none is left, as a second run would find them.

    One sweep in text order reaches that point: whether a definition is effective, kept
    or a duplicate depends only on the definitions before it, and a kept label is never
    removed later, so uses move once, from a removed label to a kept one.
    """
    uses_by_label: dict[str, list[int]] = {}
    for index, use in enumerate(note.references):
        uses_by_label.setdefault(normalize_label(use.label), []).append(index)
    labels = [use.label for use in note.references]  # the label each use will point at
    effective: set[str] = set()  # labels whose definition in force is settled
    kept_by_key: dict[str, str] = {}  # citation key -> label kept, as written
    merge = Merge()
    for definition in sorted(definitions, key=lambda d: d.link.span.start):
        wanted = normalize_label(definition.label)
        if wanted in effective:
            continue  # an earlier definition of this label stays: this one is ignored
        kept = None if definition.key is None else kept_by_key.get(definition.key)
        if kept is None:
            effective.add(wanted)
            if definition.key is not None:
                kept_by_key[definition.key] = definition.label
            continue
        users = uses_by_label.pop(wanted, [])
        line = _definition_line(note.text, definition.link, definition.label)
        if line is None or any(_repoint(note, note.references[i], kept) is None
                               for i in users):
            effective.add(wanted)
            merge.refused.append((definition.link, f"duplicate of [{kept}], but its definition "
                                                   "or a use has an unusual shape; merge it by "
                                                   "hand"))
            continue
        merge.removed.append(line)  # the label's next definition, if any, takes its place
        for i in users:
            labels[i] = kept
    for use, label in zip(note.references, labels, strict=True):
        if normalize_label(label) != normalize_label(use.label):
            edit = _repoint(note, use, label)
            assert edit is not None  # checked when the use was repointed
            merge.edits.append(edit)
    merge.edits.extend(_removal_edits(note, merge.removed))
    return merge


def _repoint(note: Note, use: ReferenceUse, kept: str) -> Edit | None:
    """Make one use of a duplicate label refer to the kept label, text unchanged."""
    text, span = note.text, use.span
    if use.form is ReferenceForm.FULL:
        return Edit(note.path, span, text[span.start:span.end], kept, "duplicate")
    if use.form is ReferenceForm.COLLAPSED:
        if text[span.end:span.end + 3] != "][]":
            return None
        return Edit(note.path, Span(span.end + 2, span.end + 2), "", kept, "duplicate")
    if text[span.end:span.end + 1] != "]":
        return None
    return Edit(note.path, Span(span.end + 1, span.end + 1), "", f"[{kept}]", "duplicate")


def _definition_line(text: str, link: Link, label: str) -> Span | None:
    """The full line (with its line ending) of a one-line definition, else None.

    None too when the next line could be read as a title once this line is gone.
    """
    start = text.rfind("\n", 0, link.span.start) + 1
    if start == 0 and text.startswith("\ufeff"):
        start = 1  # the BOM is not part of the line
    newline = text.find("\n", link.span.end)
    end = len(text) if newline == -1 else newline
    content_end = end - 1 if end > link.span.end and text[end - 1] == "\r" else end
    head = _DEFINITION_HEAD.fullmatch(text, start, link.span.start)
    if head is None or normalize_label(head.group("label")) != normalize_label(label):
        return None
    tail = text[link.span.end:content_end].removeprefix(">").strip(" \t")
    if link.title is None and tail:
        return None
    if link.title is not None and ("\n" in link.title or len(tail) < 2
                                   or _TITLE_OPENERS.get(tail[:1]) != tail[-1:]):
        return None
    following_end = text.find("\n", end + 1)
    following = "" if newline == -1 else text[end + 1:len(text) if following_end == -1
                                                   else following_end]
    if following.lstrip(" \t")[:1] in _TITLE_OPENERS:
        return None  # it may be this definition's title, or become the one above's
    return Span(start, len(text) if newline == -1 else newline + 1)


def _removal_edits(note: Note, lines: Sequence[Span]) -> list[Edit]:
    """Edits removing whole lines, adjacent lines merged into one edit.

    A block that ends the file without a final newline takes the preceding line break
    with it, so the file still ends the way it did (CRLF stays CRLF).
    """
    text = note.text
    blocks: list[list[int]] = []
    for line in sorted(lines, key=lambda s: s.start):
        if blocks and blocks[-1][1] == line.start:
            blocks[-1][1] = line.end
        else:
            blocks.append([line.start, line.end])
    edits = []
    for start, end in blocks:
        if end == len(text) and not text.endswith("\n") and start > 0 and text[start - 1] == "\n":
            start -= 2 if start > 1 and text[start - 2] == "\r" else 1
        edits.append(Edit(note.path, Span(start, end), text[start:end], "", "duplicate"))
    return edits
