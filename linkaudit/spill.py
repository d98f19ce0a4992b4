"""Items too many to hold in memory: kept on disk in sorted runs, merged back when read.

A report lists every link and finding of a tree, and a check needs every place a URL is
cited, while notes are read in family order by several processes. Holding them all would
cost memory in proportion to the tree. Instead each batch of items is sorted by a coarse
key (a note's path, a URL's check key) and pickled to a temporary file, a "run". Sorting
is stable, so reading the runs one after the other gives each key's items in the order
they were added (enough to count, or to sort again by a key that starts with the coarse
key); merging the runs brings each key's items together, and then any sort whose key
starts with the coarse key (path, line, column) gives exactly what sorting the items in
production order would, one coarse key at a time (``in_order``). Memory follows the size
of a batch and the number of runs, not the tree.

A run holds each coarse key's items together, as a ``(key, class, rows)`` group: the key
is worked out once per item, when the run is sorted, and reading, merging and grouping go
a group at a time (a note's links, say), never an item at a time. Items of a dataclass
are kept as rows, their fields' values, and built again only when asked for: a reader
that needs the values alone (a report) reads the rows (``row_groups``), and building a
frozen dataclass costs more than reading its values from disk (``models.maker`` builds
it). A writer may be given the rows themselves (``rows_of``): the scan has a link's
values, and building its record only for the spill to take it apart costs twice.

A writer may count its items by a key as they come (``counted``): a count of what was
spilled then needs no reading.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import gc
import heapq
import itertools
import operator
import os
import pickle
import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from linkaudit.models import maker

T = TypeVar("T")
SortKey = Callable[[Any], Any]

_RUN_ITEMS = 5_000  # items sorted in memory before a run is written
_MERGE_FAN_IN = 128  # runs read at once; more are merged a group at a time first
_BLOCK_ITEMS = 256  # items pickled together: fewer, larger reads; one block per run in memory


class SpillDir:
    """A private temporary folder for runs; removed when the last user lets go of it."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="linkaudit-spill-"))
        self._names = itertools.count()
        weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def new_run(self, tag: str) -> Path:
        """A fresh run file name; ``tag`` keeps names unique across forked workers."""
        return self.path / f"{tag}-{next(self._names):06d}.run"


@dataclass(frozen=True)
class Runs:
    """What a writer wrote: its run files in order and how many items they hold."""

    paths: tuple[Path, ...] = ()
    count: int = 0
    counts: Counter[Any] | None = None  # the items by the writer's ``counted``, if any


class SpillWriter(Generic[T]):
    """Collects items, writing each ``_RUN_ITEMS`` of them as one sorted run; with
    ``counted``, counts them by it too. With ``rows_of``, the items are given as rows of
    that dataclass (``row_of``'s form, sorted and counted as given) and read back as its
    items: a caller that has the values need not build an item only for it to be taken
    apart again."""

    def __init__(self, folder: SpillDir, tag: str, key: SortKey,
                 counted: SortKey | None = None, rows_of: type | None = None) -> None:
        self.folder, self.tag, self.key, self.counted = folder, tag, key, counted
        self.rows_of = rows_of
        self.runs: list[Path] = []
        self.count = 0
        self.counts: Counter[Any] | None = None if counted is None else Counter()
        self._pending: list[T] = []

    def add(self, item: T) -> None:
        self.extend((item,))

    def extend(self, items: Iterable[T]) -> None:
        source = iter(items)
        while chunk := list(itertools.islice(source, _RUN_ITEMS - len(self._pending))):
            self._pending += chunk
            self.count += len(chunk)
            if self.counts is not None:
                self.counts.update(map(self.counted, chunk))  # type: ignore[arg-type]
            if len(self._pending) >= _RUN_ITEMS:
                self.flush()

    def flush(self) -> None:
        """Write what is pending as one run (nothing when nothing is)."""
        if self._pending:
            keyed = sorted(zip(map(self.key, self._pending), self._pending, strict=True),
                           key=_KEY)
            cls, row = self._form()
            self._pending = []
            path = self.folder.new_run(self.tag)
            _write_run(path, ((key, cls, _stored(row, pairs))
                              for key, pairs in itertools.groupby(keyed, _KEY)))
            self.runs.append(path)

    def _form(self) -> tuple[type | None, Callable[[Any], tuple[Any, ...]] | None]:
        """The class the pending items are built back into (None: they are kept as they
        are), and what makes one a row (None: it is one, or is kept)."""
        if self.rows_of is not None:
            return self.rows_of, None
        kinds = set(map(type, self._pending))
        cls = kinds.pop() if len(kinds) == 1 else None
        row = None if cls is None else row_of(cls)
        return (cls, row) if row is not None else (None, None)

    def finish(self) -> Runs:
        """Flush, and tell what was written (picklable: a worker hands it to its parent)."""
        self.flush()
        return Runs(tuple(self.runs), self.count, self.counts)


# A coarse key, the class its rows are built back into (None: they are the items), rows
_Group = tuple[Any, type | None, list[Any]]
_KEY = operator.itemgetter(0)
_ITEM = operator.itemgetter(1)


def _stored(row: Callable[[Any], tuple[Any, ...]] | None, pairs: Iterable[Any]
            ) -> list[Any]:
    items = map(_ITEM, pairs)
    return list(items if row is None else map(row, items))


def row_of(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """What gives an item of ``cls`` as a row, its fields' values in order, when
    ``cls(*row)`` builds it back (a dataclass whose fields are all given to ``__init__``
    by position, without ``__post_init__``); None for any other type."""
    if cls in _ROWS:
        return _ROWS[cls]
    fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    row = None
    if fields and all(field.init and not field.kw_only for field in fields) \
            and not hasattr(cls, "__post_init__"):
        values = operator.attrgetter(*(field.name for field in fields))
        row = values if len(fields) > 1 else lambda item: (values(item),)
    _ROWS[cls] = row
    return row


_ROWS: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}


def _items(group: _Group) -> list[Any]:
    _key, cls, rows = group
    return rows if cls is None else list(itertools.starmap(_builder(cls), rows))


@functools.cache
def _builder(cls: Any) -> Callable[..., Any]:
    """What builds an item of ``cls`` back from its row: ``models.maker``'s for a frozen
    dataclass, whose ``__init__`` sets each field through ``object.__setattr__``, a call
    per field that costs more than reading the item; the class itself for another, or for
    one whose layout ``maker``'s twin would not have (a base class, other slots)."""
    names = tuple(field.name for field in dataclasses.fields(cls))
    if cls.__dataclass_params__.frozen and cls.__bases__ == (object,) \
            and tuple(cls.__dict__.get("__slots__", names)) == names:
        return maker(cls)
    return cls  # type: ignore[no-any-return]


def _rows(group: _Group) -> list[Any]:
    """A group's rows; items kept as they are (their run was not of one dataclass) are
    made rows here."""
    _key, cls, rows = group
    if cls is not None:
        return rows
    return [row(item) if (row := row_of(type(item))) is not None else item for item in rows]


def _write_run(path: Path, groups: Iterable[_Group]) -> None:
    # Pickled at most ``_BLOCK_ITEMS`` items at a time (the memo cleared; a larger group
    # is cut in pieces), so a reader holds one block of each run; objects go in their
    # cheapest form (``_Reducers``).
    with path.open("wb") as out:
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _REDUCERS
        block: list[_Group] = []
        size = 0
        for key, cls, items in groups:
            for start in range(0, len(items), _BLOCK_ITEMS):
                piece = items[start:start + _BLOCK_ITEMS] if len(items) > _BLOCK_ITEMS \
                    else items
                if size + len(piece) > _BLOCK_ITEMS:
                    pickler.dump(block)
                    pickler.clear_memo()
                    block, size = [], 0
                block.append((key, cls, piece))
                size += len(piece)
        if block:
            pickler.dump(block)


@functools.lru_cache(maxsize=4096)
def _path(text: str) -> Path:
    """A path read back from a run: parsed once and shared while recently seen."""
    return Path(text)


class _Reducers(dict[type, Callable[[Any], Any]]):
    """How a run pickles each type, worked out on first sight of the type.

    Paths go as text and come back shared (``_path``). A slotted dataclass goes as its
    field values, rebuilt by ``_build``: pickle's default for one goes through
    ``dataclasses``' ``__getstate__``/``__setstate__``, which look the fields up again for
    every object. An enum member goes by name (``getattr`` of its class), not
    through the enum's call by value. Anything else is pickled as pickle would.
    """

    def __missing__(self, cls: type) -> Callable[[Any], Any]:
        if issubclass(cls, type):
            raise KeyError(cls)  # a class, of a metaclass: pickle saves it by name
        reducer = _reducer(cls)
        self[cls] = reducer
        return reducer


def _reducer(cls: type) -> Callable[[Any], Any]:
    if cls is _PATH_TYPE:
        return lambda path: (_path, (str(path),))
    if issubclass(cls, enum.Enum) and not issubclass(cls, enum.Flag):
        return lambda member: (getattr, (cls, member._name_))
    row = row_of(cls) if "__slots__" in cls.__dict__ else None
    if row is not None:
        build = _build(cls)
        return lambda item: (build, row(item))
    return operator.methodcaller("__reduce_ex__", pickle.HIGHEST_PROTOCOL)


class _Build(functools.partial[Any]):
    """``_builder(cls)``, which pickle saves as ``_build(cls)``: a function made by
    ``maker`` cannot be saved, and a call of the class costs twice a call of it."""

    cls: type

    def __reduce__(self) -> tuple[Any, ...]:
        return _build, (self.cls,)


def _build(cls: type) -> _Build:
    build = _Build(_builder(cls))
    build.cls = cls
    return build


_PATH_TYPE = type(Path())
_REDUCERS = _Reducers()


def _read_run(path: Path) -> Iterator[_Group]:
    with path.open("rb") as source:
        while True:
            try:
                block = _load(source)
            except EOFError:
                return
            yield from block


def _load(source: BinaryIO) -> list[_Group]:
    """One block of our own file, written by this run.

    The garbage collector is paused meanwhile: a block is hundreds of new objects, none in
    a cycle, and collecting while they are made costs more than making them.
    """
    if not gc.isenabled():
        return pickle.load(source)  # type: ignore[no-any-return]
    gc.disable()
    try:
        return pickle.load(source)  # type: ignore[no-any-return]
    finally:
        gc.enable()


class Spilled(Collection[T]):
    """Items on disk, read back sorted by ``key`` (stable: runs in the order given); with
    ``counts``, how many by ``counted`` (what their writers counted by)."""

    def __init__(self, folder: SpillDir, key: SortKey, runs: Sequence[Path], count: int,
                 counted: SortKey | None = None, counts: Counter[Any] | None = None
                 ) -> None:
        self.folder, self.key, self.count = folder, key, count  # folder: kept alive with us
        self.counted, self.counts = counted, counts
        self.runs = list(runs)
        while len(self.runs) > _MERGE_FAN_IN:
            self.runs = [self._merge_runs(self.runs[start:start + _MERGE_FAN_IN])
                         for start in range(0, len(self.runs), _MERGE_FAN_IN)]

    @classmethod
    def of(cls, folder: SpillDir, key: SortKey, parts: Iterable[Runs],
           counted: SortKey | None = None) -> Spilled[T]:
        """The runs of ``parts``, in that order, as one collection; counted when every
        part's writer counted by ``counted``."""
        parts = list(parts)
        counts = None
        if counted is not None and all(part.counts is not None for part in parts):
            counts = sum((part.counts for part in parts if part.counts), Counter())
        return cls(folder, key, [path for part in parts for path in part.paths],
                   sum(part.count for part in parts), counted, counts)

    def plus(self, items: Iterable[T]) -> Spilled[T]:
        """These items and then ``items`` (as if added after them), as a new collection."""
        writer: SpillWriter[T] = SpillWriter(self.folder, "more", self.key, self.counted)
        writer.extend(items)
        mine = Runs(tuple(self.runs), self.count, self.counts)
        return Spilled.of(self.folder, self.key, [mine, writer.finish()], self.counted)

    def _merge_runs(self, runs: Sequence[Path]) -> Path:
        merged = self.folder.new_run("merged")
        _write_run(merged, heapq.merge(*map(_read_run, runs), key=_KEY))
        for run in runs:
            os.unlink(run)
        return merged

    def __iter__(self) -> Iterator[T]:
        """Run after run: each coarse key's items in the order they were added, but one
        key's items not necessarily together (``merged`` brings them together)."""
        groups = itertools.chain.from_iterable(map(_read_run, self.runs))
        return itertools.chain.from_iterable(map(_items, groups))

    def groups(self) -> Iterator[tuple[Any, Iterator[T]]]:
        """Each coarse key, in order, with its items in the order they were added."""
        merged = heapq.merge(*map(_read_run, self.runs), key=_KEY)
        for key, groups in itertools.groupby(merged, _KEY):
            yield key, itertools.chain.from_iterable(map(_items, groups))

    def row_groups(self) -> Iterator[tuple[Any, list[tuple[Any, ...]]]]:
        """``groups`` with each item as a row (``row_of``): the items are not built."""
        merged = heapq.merge(*map(_read_run, self.runs), key=_KEY)
        for key, groups in itertools.groupby(merged, _KEY):
            yield key, list(itertools.chain.from_iterable(map(_rows, groups)))

    def merged(self) -> Iterator[T]:
        """Sorted by the coarse key, stably: the runs merged."""
        merged = heapq.merge(*map(_read_run, self.runs), key=_KEY)
        return itertools.chain.from_iterable(map(_items, merged))

    def __len__(self) -> int:
        return self.count

    def __contains__(self, item: object) -> bool:
        return any(item == mine for mine in self)


def in_order(items: Collection[T], key: SortKey) -> Iterator[T]:
    """``items`` sorted by ``key``, whose first part is the coarse key a spill sorts by.

    A spill is read one coarse key at a time and only that key's items are sorted, so the
    whole collection is never in memory; anything else is simply sorted.
    """
    if not isinstance(items, Spilled):
        yield from sorted(items, key=key)
        return
    for _coarse, group in items.groups():
        yield from sorted(group, key=key)
