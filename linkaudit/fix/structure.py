"""The last check before a URL edit is planned: the note, scanned again, has the same links.

``form`` writes each URL so that its link form holds it; this proves it on the note
itself. The note is scanned before and after the edits (with every construct on) and the
two must agree: as many links and label uses, of the same kinds, at the same places once
shifted by the edits, with the edited links holding exactly their new URLs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate

from linkaudit.fix.rewrite import apply_edits
from linkaudit.models import Edit, Note
from linkaudit.scan.markdown import Extraction, extract

_Shape = tuple[tuple[object, ...], ...]
_Offset = Callable[[int], int]


def keeps_structure(note: Note, edits: Sequence[Edit]) -> bool:
    """Whether applying ``edits`` (URL replacements) changes nothing but those URLs."""
    if not edits:
        return True
    ordered = sorted(edits, key=lambda edit: edit.span.start)
    new_text = apply_edits(note.path, note.text, ordered)
    before = extract(note.text, start=note.body_start)
    after = extract(new_text, start=note.body_start)
    return (after.ignored_lines == before.ignored_lines
            and _shape(after, lambda offset: offset, {}) == _shape(before, _shift(ordered),
                                                                   _replaced(ordered)))


def _shift(edits: Sequence[Edit]) -> _Offset:
    """Where an offset of the old text (outside every edit) lands in the new text."""
    ends = [edit.span.end for edit in edits]
    moved = list(accumulate(len(edit.new) - len(edit.old) for edit in edits))

    def shifted(offset: int) -> int:
        index = bisect_right(ends, offset)
        return offset + (moved[index - 1] if index else 0)
    return shifted


def _replaced(edits: Sequence[Edit]) -> dict[int, Edit]:
    return {edit.span.start: edit for edit in edits}


def _shape(extraction: Extraction, shift: _Offset, replaced: dict[int, Edit]) -> _Shape:
    links = []
    for link in extraction.links:
        start, end, url = shift(link.span.start), shift(link.span.end), link.url
        edit = replaced.get(link.span.start)
        if edit is not None and edit.span.end == link.span.end:
            url, end = edit.new, start + len(edit.new)
        links.append((link.kind, start, end, url, link.label, link.title))
    uses = [(use.form, use.label, shift(use.span.start), shift(use.span.end))
            for use in extraction.references]
    return (*links, *uses)
