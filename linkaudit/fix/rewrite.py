"""Applying planned edits to files: verified, atomic, and shown as a diff first.

Safety rules: every edit's old text is checked at its span before anything changes;
edits are applied from the end of the file backwards so earlier offsets stay valid; a
file is rewritten only when its bytes still decode to the text that was scanned, through
a temporary file in the same folder that replaces the original in one ``os.replace``.
A failed write leaves the original untouched.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from linkaudit.atomic import replace_file
from linkaudit.errors import LinkauditError, WriteError
from linkaudit.models import Edit
from linkaudit.textsafe import backslash_escaped, without_commands

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # opening a symbolic link fails with ELOOP
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang the run
_SYMLINK = "it is a symbolic link; fix never writes through one"
_NOT_REGULAR = "it is not a regular file"
_NO_NEWLINE = "\\ No newline at end of file\n"


class StaleFileError(LinkauditError):
    """An edit's old text is not at its span: the file changed since it was scanned."""


class OverlappingEditsError(ValueError):
    """Two edits touch the same characters: a planning bug, never applied."""


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What happened to one file: written, or skipped with the reason."""

    path: Path
    written: bool
    message: str


@dataclass(frozen=True, slots=True)
class EditSummary:
    """Counts of planned edits, for the end of a cleanup run."""

    total: int
    by_reason: Mapping[str, int]
    by_file: Mapping[Path, int]


def ensure_disjoint(edits: Iterable[Edit]) -> None:
    """Raise ``OverlappingEditsError`` unless no two edits of one file touch the same text.

    Two insertions at one offset count as overlapping: their order would be a guess.
    """
    previous: dict[Path, tuple[int, Edit]] = {}  # path -> (furthest end so far, last edit)
    for edit in sorted(edits, key=lambda e: (str(e.path), e.span.start, e.span.end)):
        frontier, last = previous.get(edit.path, (-1, None))
        same_insertion = (last is not None and last.span == edit.span
                          and edit.span.start == edit.span.end)
        if edit.span.start < frontier or same_insertion:
            raise OverlappingEditsError(
                f"{edit.path}: edits overlap at {edit.span} ({edit.reason})")
        previous[edit.path] = (max(frontier, edit.span.end), edit)


def apply_edits(path: Path, original_text: str, edits: Sequence[Edit]) -> str:
    """The text with every edit applied; raise ``StaleFileError`` if one does not fit."""
    ensure_disjoint(edits)
    for edit in edits:
        if edit.path != path:
            raise ValueError(f"edit for {edit.path} given for {path}")
        found = original_text[edit.span.start:edit.span.end]
        if not 0 <= edit.span.start <= edit.span.end <= len(original_text) or found != edit.old:
            raise StaleFileError(
                f"{path}: expected {edit.old!r} at offset {edit.span.start}, found {found!r}; "
                "the file changed since it was scanned, run linkaudit again"
            )
    text = original_text
    for edit in sorted(edits, key=lambda e: (e.span.start, e.span.end), reverse=True):
        text = text[:edit.span.start] + edit.new + text[edit.span.end:]
    return text


def write_file(path: Path, expected_text: str, new_text: str, *,
               roots: Sequence[Path] | None = None) -> WriteOutcome:
    """Replace the file atomically, but only if it still holds ``expected_text``.

    Never through a symbolic link, never anything but a regular file, and, when ``roots``
    (the scanned files and folders) are given, never outside them: such a file is skipped
    with a message. Raises ``WriteError`` (original intact) when the file cannot be written.
    """
    folder = Path(os.path.realpath(path.parent))
    target = folder / path.name
    refusal = _refusal(target, roots)
    if refusal is not None:
        return WriteOutcome(path, False, f"{path}: skipped, {refusal}")
    try:
        current, mode = _read_regular_file(target)
    except FileNotFoundError:
        return WriteOutcome(path, False, f"{path}: skipped, the file no longer exists")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return WriteOutcome(path, False, f"{path}: skipped, {_SYMLINK}")
        raise WriteError(f"{path}: cannot read the file again before writing: "
                         f"{exc.strerror or exc}") from None
    if mode is None:
        return WriteOutcome(path, False, f"{path}: skipped, {_NOT_REGULAR}")
    if current != expected_text.encode("utf-8"):
        return WriteOutcome(path, False, f"{path}: skipped, the file changed since it was "
                                         "scanned; run linkaudit again")
    if new_text == expected_text:
        return WriteOutcome(path, False, f"{path}: unchanged")
    _replace_atomically(target, new_text.encode("utf-8"), path, mode)
    return WriteOutcome(path, True, f"{path}: rewritten")


def _refusal(target: Path, roots: Sequence[Path] | None) -> str | None:
    """Why ``target`` (its folder already resolved) must not be written, or None."""
    try:
        status = os.lstat(target)
    except OSError:
        return None  # reading it again says what is wrong
    if stat.S_ISLNK(status.st_mode):
        return _SYMLINK
    if roots is not None and not any(target.is_relative_to(os.path.realpath(root))
                                     for root in roots):
        return "it is outside the scanned folders; fix never writes there"
    return None


def _read_regular_file(target: Path) -> tuple[bytes, int | None]:
    """The file's bytes and permission bits, refusing a symbolic link (ELOOP) as it opens;
    the bits are None (and the bytes empty) for anything but a regular file."""
    fd = os.open(target, os.O_RDONLY | _NO_FOLLOW | _NON_BLOCKING)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return b"", None
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read(), stat.S_IMODE(status.st_mode)
    finally:
        os.close(fd)


def _replace_atomically(target: Path, data: bytes, shown: Path, mode: int) -> None:
    try:
        replace_file(target, data, mode)
    except OSError as exc:
        raise WriteError(f"{shown}: cannot write the file: {exc.strerror or exc}; "
                         "the original is unchanged") from None


def _lines(text: str) -> list[str]:
    """Lines split on LF only, each keeping its ending (a CR stays part of the line)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _marked(diff: Iterable[str]) -> Iterator[str]:
    for line in diff:
        yield line if line.endswith("\n") else f"{line}\n{_NO_NEWLINE}"


def unified_diff(path: Path, old_text: str, new_text: str) -> str:
    """A git-style unified diff of one file, line endings kept, for dry runs.

    It is shown to people and CI logs: control characters inside lines and a name's
    undecodable bytes are backslash escapes, and no line can start a workflow command.
    """
    name = backslash_escaped(path.as_posix())
    diff = difflib.unified_diff(_lines(old_text), _lines(new_text),
                                fromfile=f"a/{name}", tofile=f"b/{name}")
    return without_commands("".join(_marked(_shown(line) for line in diff)))


def _shown(line: str) -> str:
    """One diff line with its own controls escaped, its ending (LF or CRLF) kept."""
    body = line.removesuffix("\n")
    ending = line[len(body):]
    if body.endswith("\r") and ending:
        body, ending = body[:-1], "\r" + ending
    return backslash_escaped(body) + ending


def summarize(edits: Iterable[Edit]) -> EditSummary:
    """How many edits, per reason and per file."""
    edits = list(edits)
    return EditSummary(
        total=len(edits),
        by_reason=dict(Counter(edit.reason for edit in edits)),
        by_file=dict(Counter(edit.path for edit in edits)),
    )
