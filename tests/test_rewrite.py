"""Applying edits: verification, atomic writes, failures that leave the original, diffs."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.errors import WriteError
from linkaudit.fix.rewrite import (
    OverlappingEditsError,
    StaleFileError,
    apply_edits,
    ensure_disjoint,
    summarize,
    unified_diff,
    write_file,
)
from linkaudit.models import Edit, Span

NOTE = Path("note.md")
TEXT = "\ufeff---\r\ntitle: x\r\n---\r\n[1]: https://x.com/?utm_source=a\r\n"
URL_AT = TEXT.index("https")
TRACKED = "https://x.com/?utm_source=a"


def edit(start: int, old: str, new: str, path: Path = NOTE, reason: str = "tracking") -> Edit:
    return Edit(path, Span(start, start + len(old)), old, new, reason)


# ------------------------------------------------------------------ apply_edits


def test_apply_replaces_only_the_span_and_keeps_bom_and_crlf() -> None:
    """An edit changes its span and nothing else, BOM and CRLF included."""
    result = apply_edits(NOTE, TEXT, [edit(URL_AT, TRACKED, "https://x.com/")])
    assert result == TEXT.replace(TRACKED, "https://x.com/")


def test_apply_refuses_an_edit_whose_old_text_moved() -> None:
    """A span that no longer holds the old text raises StaleFileError naming the file."""
    with pytest.raises(StaleFileError, match=r"note\.md: expected"):
        apply_edits(NOTE, TEXT, [edit(URL_AT + 1, TRACKED, "https://x.com/")])


def test_apply_refuses_an_edit_past_the_end() -> None:
    """An insertion beyond the end of the text is stale, not silently appended."""
    with pytest.raises(StaleFileError):
        apply_edits(NOTE, "abc", [edit(10, "", "x")])


def test_overlapping_edits_are_rejected() -> None:
    """Overlapping spans, or two insertions at one offset, raise OverlappingEditsError."""
    with pytest.raises(OverlappingEditsError):
        ensure_disjoint([edit(0, "abc", "x"), edit(2, "cd", "y")])
    with pytest.raises(OverlappingEditsError):
        ensure_disjoint([edit(3, "", "x"), edit(3, "", "y")])
    ensure_disjoint([edit(0, "ab", "x"), edit(2, "", "y"), edit(2, "cd", "z"),
                     edit(0, "ab", "w", path=Path("other.md"))])


def test_insertion_at_the_start_of_a_replacement_goes_before_it() -> None:
    """An insertion and a replacement starting at the same offset both apply, in order."""
    assert apply_edits(NOTE, "abcd", [edit(2, "cd", "Z"), edit(2, "", "[i]")]) == "ab[i]Z"


# ------------------------------------------------------------------ properties

_text = st.text(alphabet=st.sampled_from(list("ab \n\r[]中文🙂\ufeff")), max_size=80)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["", "\ufeff"]), _text)
def test_no_edits_give_the_text_back_byte_for_byte(prefix: str, body: str) -> None:
    """Applying no edits returns the identical text, whatever its bytes."""
    text = prefix + body
    assert apply_edits(NOTE, text, []).encode("utf-8") == text.encode("utf-8")


@st.composite
def text_and_edits(draw: st.DrawFn) -> tuple[str, list[Edit]]:
    """A text and random disjoint edits (replacements, deletions, insertions) on it."""
    text = draw(_text)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    edits = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if draw(st.booleans()):
            end = start  # an insertion
        edits.append(edit(start, text[start:end], draw(st.text(max_size=5))))
    return text, draw(st.permutations(edits))


@settings(max_examples=200, deadline=None)
@given(text_and_edits())
def test_edits_change_exactly_their_spans(case: tuple[str, list[Edit]]) -> None:
    """Everything between planned spans is unchanged and each span holds its new text."""
    text, edits = case
    result = apply_edits(NOTE, text, edits)
    position = 0
    for change in sorted(edits, key=lambda e: e.span.start):
        gap = text[position:change.span.start]
        assert result.startswith(gap)
        result = result[len(gap):]
        assert result.startswith(change.new)
        result = result[len(change.new):]
        position = change.span.end
    assert result == text[position:]


# ------------------------------------------------------------------ write_file


def test_write_replaces_the_file_and_keeps_its_permission_bits(tmp_path: Path) -> None:
    """A rewrite lands in the same file, mode preserved, no temporary file left behind."""
    note = tmp_path / "note.md"
    note.write_bytes(TEXT.encode("utf-8"))
    note.chmod(0o640)
    new = TEXT.replace(TRACKED, "https://x.com/")
    outcome = write_file(note, TEXT, new)
    assert outcome.written
    assert note.read_bytes() == new.encode("utf-8")
    assert stat.S_IMODE(note.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


def test_write_skips_a_file_changed_since_the_scan(tmp_path: Path) -> None:
    """When the bytes on disk differ from the scanned text the file is left as it is."""
    note = tmp_path / "note.md"
    note.write_text("edited by a person\n", encoding="utf-8")
    outcome = write_file(note, TEXT, "new")
    assert not outcome.written and "changed since it was scanned" in outcome.message
    assert note.read_text(encoding="utf-8") == "edited by a person\n"


def test_write_refuses_a_symbolic_link(tmp_path: Path) -> None:
    """A symlinked note is skipped with a message: neither the link nor its target change."""
    target = tmp_path / "real.md"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "note.md"
    link.symlink_to(target)
    outcome = write_file(link, "old", "new")
    assert not outcome.written and "symbolic link" in outcome.message
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "old"


def test_symlink_out_of_the_tree_is_never_written(tmp_path: Path) -> None:
    """A note linking to a file outside the scanned folder leaves that file untouched."""
    tree, outside = tmp_path / "notes", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    secret = outside / "secret.md"
    secret.write_text("old", encoding="utf-8")
    (tree / "note.md").symlink_to(secret)
    outcome = write_file(tree / "note.md", "old", "new", roots=[tree])
    assert not outcome.written and "symbolic link" in outcome.message
    assert secret.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.md"]


def test_folder_symlinked_out_of_the_roots_is_never_written(tmp_path: Path) -> None:
    """A note reached through a folder link pointing out of the roots is skipped."""
    tree, outside = tmp_path / "notes", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (outside / "note.md").write_text("old", encoding="utf-8")
    (tree / "linked").symlink_to(outside, target_is_directory=True)
    outcome = write_file(tree / "linked" / "note.md", "old", "new", roots=[tree])
    assert not outcome.written and "outside the scanned folders" in outcome.message
    assert (outside / "note.md").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in outside.iterdir()) == ["note.md"]


def test_folder_symlinked_inside_the_roots_is_written_in_the_real_folder(
    tmp_path: Path
) -> None:
    """A folder link within the roots is fine: the real file is replaced, in its own folder."""
    tree = tmp_path / "notes"
    (tree / "real").mkdir(parents=True)
    (tree / "real" / "note.md").write_text("old", encoding="utf-8")
    (tree / "alias").symlink_to(tree / "real", target_is_directory=True)
    assert write_file(tree / "alias" / "note.md", "old", "new", roots=[tree]).written
    assert (tree / "real" / "note.md").read_text(encoding="utf-8") == "new"
    assert (tree / "alias").is_symlink()
    assert [p.name for p in (tree / "real").iterdir()] == ["note.md"]


def test_file_outside_the_roots_is_skipped(tmp_path: Path) -> None:
    """A path that is not under any root is never written; a single file root is fine."""
    note = tmp_path / "note.md"
    note.write_text("old", encoding="utf-8")
    other = tmp_path / "notes"
    other.mkdir()
    outcome = write_file(note, "old", "new", roots=[other])
    assert not outcome.written and "outside the scanned folders" in outcome.message
    assert note.read_text(encoding="utf-8") == "old"
    assert write_file(note, "old", "new", roots=[other, note]).written


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_skipped_without_hanging(tmp_path: Path) -> None:
    """A FIFO named like a note is not a regular file: skipped at once, never opened to wait."""
    fifo = tmp_path / "note.md"
    os.mkfifo(fifo)
    outcome = write_file(fifo, "old", "new", roots=[tmp_path])
    assert not outcome.written and "not a regular file" in outcome.message


def test_disk_full_leaves_the_original_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing raises WriteError naming the file; the original is untouched."""
    note = tmp_path / "note.md"
    note.write_bytes(TEXT.encode("utf-8"))

    def disk_full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(WriteError, match=r"note\.md: cannot write the file: No space left"):
        write_file(note, TEXT, "new text")
    monkeypatch.undo()
    assert note.read_bytes() == TEXT.encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


@pytest.mark.parametrize(("step", "code"), [("mkstemp", errno.EROFS), ("replace", errno.EACCES)])
def test_failing_create_or_rename_leaves_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, code: int
) -> None:
    """A read-only file system or a refused rename gives WriteError and no leftovers."""
    note = tmp_path / "note.md"
    note.write_text("old", encoding="utf-8")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile if step == "mkstemp" else os, step, refuse)
    with pytest.raises(WriteError, match=os.strerror(code)):
        write_file(note, "old", "new")
    monkeypatch.undo()
    assert note.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_raises_a_write_error(tmp_path: Path) -> None:
    """A folder without write permission gives WriteError and keeps the original."""
    note = tmp_path / "note.md"
    note.write_text("old", encoding="utf-8")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(WriteError, match="original is unchanged"):
            write_file(note, "old", "new")
    finally:
        tmp_path.chmod(0o755)
    assert note.read_text(encoding="utf-8") == "old"


# ------------------------------------------------------------------ diff and summary


def test_diff_keeps_crlf_and_marks_a_missing_final_newline() -> None:
    """The dry-run diff shows CRLF lines as they are and git's no-newline marker."""
    old = "a\r\n[1]: https://x.com/?utm_source=a"
    new = "a\r\n[1]: https://x.com/"
    assert unified_diff(Path("posts/n.md"), old, new) == (
        "--- a/posts/n.md\n"
        "+++ b/posts/n.md\n"
        "@@ -1,2 +1,2 @@\n"
        " a\r\n"
        "-[1]: https://x.com/?utm_source=a\n"
        "\\ No newline at end of file\n"
        "+[1]: https://x.com/\n"
        "\\ No newline at end of file\n"
    )


def test_diff_of_identical_texts_is_empty() -> None:
    """No change, no diff output."""
    assert unified_diff(NOTE, TEXT, TEXT) == ""


def test_summary_counts_per_reason_and_per_file() -> None:
    """The summary counts edits by reason and by file."""
    other = Path("other.md")
    summary = summarize([edit(0, "a", "b"), edit(5, "c", "", reason="duplicate"),
                         edit(0, "a", "b", path=other)])
    assert summary.total == 3
    assert summary.by_reason == {"tracking": 2, "duplicate": 1}
    assert summary.by_file == {NOTE: 2, other: 1}
