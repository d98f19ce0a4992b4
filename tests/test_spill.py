"""Spilled collections and streamed reports: flat memory without changing a byte of output."""

from __future__ import annotations

import dataclasses
import enum
import gc
import io
from pathlib import Path, PureWindowsPath

import pytest

from linkaudit import spill
from linkaudit.atomic import replacing
from linkaudit.config import Config, ScanConfig
from linkaudit.models import (
    CheckResult,
    Finding,
    Hop,
    LinkKind,
    LinkRecord,
    Location,
    Report,
    Severity,
    Verdict,
)
from linkaudit.report import render, stream, write
from linkaudit.report.common import count
from linkaudit.run import scan as pipeline
from linkaudit.spill import SpillDir, Spilled, SpillWriter, in_order
from linkaudit.textsafe import without_commands
from tests.test_pipeline import make_tree


def first(item: tuple[str, int]) -> str:
    return item[0]


def spilled(items: list[tuple[str, int]], per_writer: int) -> Spilled[tuple[str, int]]:
    folder = SpillDir()
    writers = []
    for start in range(0, len(items), per_writer):
        writer: SpillWriter[tuple[str, int]] = SpillWriter(folder, f"w{start}", first)
        writer.extend(items[start:start + per_writer])
        writers.append(writer.finish())
    return Spilled.of(folder, first, writers)


ITEMS = [(name, n) for n, name in enumerate("cabcabbacbca" * 3)]


def test_spill_reads_back_stably_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Merged, items come back sorted by the coarse key, equal keys in the order they were
    added; run after run, each key's items keep that order too."""
    monkeypatch.setattr(spill, "_RUN_ITEMS", 4)
    items = spilled(ITEMS, per_writer=7)
    assert len(items) == len(ITEMS)
    assert list(items.merged()) == sorted(ITEMS, key=first)
    assert [item for item in items if item[0] == "b"] == [i for i in ITEMS if i[0] == "b"]
    assert ("b", 2) in items and ("a", 2) not in items


def test_in_order_matches_a_full_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorting a spill one coarse key at a time gives what sorting all the items gives."""
    monkeypatch.setattr(spill, "_RUN_ITEMS", 5)

    def key(item: tuple[str, int]) -> tuple[str, int]:
        return item[0], -item[1] % 4

    assert list(in_order(spilled(ITEMS, per_writer=9), key)) == sorted(ITEMS, key=key)
    assert list(in_order(tuple(ITEMS), key)) == sorted(ITEMS, key=key)


def test_many_runs_are_merged_a_group_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """More runs than can be read at once are merged first, and the order stays the same."""
    monkeypatch.setattr(spill, "_RUN_ITEMS", 1)
    monkeypatch.setattr(spill, "_MERGE_FAN_IN", 3)
    items = spilled(ITEMS, per_writer=2)
    assert len(items.runs) <= 3
    assert list(items.plus([("a", 99)]).merged()) == sorted([*ITEMS, ("a", 99)], key=first)


class _Flags(enum.Flag):
    A = 1
    B = 2


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """A slotted dataclass with a ``__post_init__``: pickled as pickle would."""

    value: int

    def __post_init__(self) -> None:
        assert self.value >= 0


def test_runs_give_back_equal_items_of_the_same_types() -> None:
    """Items written in their compact form (slotted dataclasses as field values, enum
    members by name, paths as text) come back equal, of the same types, members the same
    objects; anything else comes back as pickle gives it."""
    path = Path("notes/a.md")
    link = LinkRecord(path, 3, 4, LinkKind.INLINE, "u?x=1", "u", "u", "a", None, "l")
    finding = Finding("tracking", Severity.WARNING, path, 3, 4, "m", url="u",
                      related=(Location(Path("b.md"), 1, 2),))
    items = [link, finding, ("key", path, 1, 2), _Flags.A | _Flags.B, _Checked(1),
             PureWindowsPath("c:/x/y.md"), Hop("h", 301), None]
    writer: SpillWriter[object] = SpillWriter(SpillDir(), "mixed", str)
    writer.extend(items)
    back = list(Spilled.of(writer.folder, str, [writer.finish()]))
    assert sorted(map(repr, back)) == sorted(map(repr, items))
    by_type = {type(item): item for item in back}
    assert set(by_type) == {type(item) for item in items}
    assert by_type[LinkRecord] == link and by_type[LinkRecord].kind is LinkKind.INLINE
    assert by_type[Finding] == finding and by_type[Finding].severity is Severity.WARNING
    assert by_type[_Flags] is _Flags.A | _Flags.B


def test_rows_and_counts_of_a_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spill of one dataclass gives its items back equal, or as rows (their fields'
    values) without building them; a run of mixed types gives rows too. Counts kept as
    items are written follow ``plus``, and are left out when a part was not counted."""
    monkeypatch.setattr(spill, "_RUN_ITEMS", 3)
    paths = [Path("b.md"), Path("a.md")]
    links = [LinkRecord(paths[n % 2], n, 1, LinkKind.INLINE, f"u{n}", f"u{n}", f"k{n}", "f",
                        None if n % 3 else "en") for n in range(8)]
    row = spill.row_of(LinkRecord)
    assert row is not None and spill.row_of(tuple) is None
    folder = SpillDir()
    writer: SpillWriter[object] = SpillWriter(folder, "links", _path, counted=_path)
    writer.extend(links)
    items: Spilled[object] = Spilled.of(folder, _path, [writer.finish()], counted=_path)
    assert list(items.merged()) == sorted(links, key=_path)
    assert [(key, rows) for key, rows in items.row_groups()] == [
        (str(path), [row(link) for link in links if link.path == path])
        for path in sorted(paths)]
    more = items.plus([("c.md", 1), links[0]])  # mixed: kept as they are
    assert more.counts == {"a.md": 4, "b.md": 5, "c.md": 1}
    assert list(more.row_groups())[-1] == ("c.md", [("c.md", 1)])
    assert list(more.row_groups())[1][1][-1] == row(links[0])
    uncounted = SpillWriter(folder, "none", _path)
    uncounted.extend(links)
    assert Spilled.of(folder, _path, [writer.finish(), uncounted.finish()],
                      counted=_path).counts is None


def _path(item: object) -> str:
    return item[0] if isinstance(item, tuple) else str(item.path)  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
class _Weak:
    """A frozen dataclass of another layout than ``models.maker``'s twin: built by its class."""

    path: Path
    line: int


@dataclasses.dataclass(frozen=True)
class _Derived(_Weak):
    extra: int = 0


def test_items_given_as_rows_come_back_as_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer given rows of a dataclass (``rows_of``) spills what one given the items
    does; items come back equal and of their class, whatever its layout."""
    monkeypatch.setattr(spill, "_RUN_ITEMS", 3)
    paths = [Path("b.md"), Path("a.md")]
    links = [LinkRecord(paths[n % 2], n, 1, LinkKind.INLINE, f"u{n}", f"u{n}", f"k{n}", "f",
                        None if n % 3 else "en") for n in range(8)]
    row = spill.row_of(LinkRecord)
    assert row is not None
    folder = SpillDir()
    given: SpillWriter[object] = SpillWriter(folder, "items", _path)
    given.extend(links)
    as_rows: SpillWriter[tuple[object, ...]] = SpillWriter(
        folder, "rows", lambda values: str(values[0]), rows_of=LinkRecord)
    as_rows.extend(map(row, links))
    items, rows = (Spilled.of(folder, _path, [writer.finish()]) for writer in (given, as_rows))
    assert list(rows.merged()) == list(items.merged()) == sorted(links, key=_path)
    assert list(rows.row_groups()) == list(items.row_groups())
    assert {type(link) for link in rows} == {LinkRecord}
    others = [_Weak(Path("a.md"), 1), _Derived(Path("a.md"), 2, 3)]
    for other in others:
        writer: SpillWriter[object] = SpillWriter(folder, "other", _path)
        writer.extend([other])
        assert list(Spilled.of(folder, _path, [writer.finish()])) == [other]


def test_spill_folder_goes_with_its_last_user() -> None:
    """The temporary folder is removed once nothing refers to the spilled items."""
    items = spilled(ITEMS, per_writer=5)
    folder = items.folder.path
    assert any(folder.iterdir())
    del items
    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_spilled_report_renders_like_one_in_memory(tmp_path: Path, workers: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format gives the same bytes for a spilled report (many small runs, workers)
    as for the same items held in memory in reading order."""
    make_tree(tmp_path)
    monkeypatch.setattr(spill, "_RUN_ITEMS", 3)
    monkeypatch.setattr(pipeline, "_BATCH_NOTES", 3)
    config = Config(scan=dataclasses.replace(ScanConfig(), workers=workers))
    report = pipeline.run_scan(config, pipeline.ScanOptions(paths=(tmp_path,)))
    assert isinstance(report.findings, Spilled)
    keys = sorted({link.check_key for link in report.links})  # the URLs table cites links
    report = dataclasses.replace(report, results=tuple(
        CheckResult(key, key, Verdict.OK, "200 OK") for key in [*keys[::2], "zz:none"]))
    held = dataclasses.replace(report, links=tuple(report.links),
                               findings=tuple(report.findings))
    for fmt in ("json", "text", "markdown", "junit", "sarif", "github", "html"):
        streamed = io.StringIO()
        write(report, fmt, streamed)
        assert streamed.getvalue() == render(held, fmt), fmt


def test_exit_code_and_counts_read_a_spill_once(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The exit decision and the counts (every format shows them) need no pass over
    findings counted as they were spilled, and share one pass over others; either way
    they give what the findings held in memory give."""
    make_tree(tmp_path)
    report = pipeline.run_scan(Config(), pipeline.ScanOptions(paths=(tmp_path,)))
    findings = report.findings
    assert isinstance(findings, Spilled) and findings.counts is not None
    uncounted = dataclasses.replace(report, findings=Spilled(
        findings.folder, findings.key, findings.runs, findings.count))
    held = dataclasses.replace(report, findings=tuple(findings))
    passes = []
    read = Spilled.__iter__
    monkeypatch.setattr(Spilled, "__iter__", lambda self: passes.append(self) or read(self))
    for spilled in (report, uncounted):
        assert pipeline.exit_code(spilled) == pipeline.exit_code(held)
        assert count(spilled) == count(held) == count(spilled)
    assert passes == [uncounted.findings]


def test_replacing_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    """A streamed write that fails half-way leaves the target as it was and no temp file."""
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replacing(target) as out:
        out.write(b"new, half")
        raise RuntimeError("failed while writing")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    with replacing(target) as out:
        out.write(b"new")
    assert target.read_text(encoding="utf-8") == "new"


def test_empty_report_streams_like_it_renders() -> None:
    """A report with no items writes empty lists, as the rendered string has them."""
    report = Report(command="scan", notes_scanned=0, links=(), findings=())
    streamed = io.StringIO()
    write(report, "json", streamed)
    assert streamed.getvalue() == render(report, "json")
    assert '"links": []' in streamed.getvalue()


@pytest.mark.parametrize("pending", [1, 2, 5, 64])
def test_line_writer_escapes_as_the_whole_text_would(pending: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Escaping a streamed output a whole number of lines at a time gives what escaping
    the whole output gives, wherever the pieces were cut."""
    monkeypatch.setattr(stream, "_PENDING_CHARS", pending)
    pieces = ["::error", " x\n", "  :", ":warning\r::no", "te\n#", "#[group]\n", ":", ":\n",
              "last ::line"]
    out = io.StringIO()
    lines = stream.LineWriter(out, without_commands)
    for piece in pieces:
        lines.write(piece)
    lines.close()
    assert out.getvalue() == without_commands("".join(pieces))
