"""Writing a report piece by piece, so a spilled report is never whole in memory as text.

A format whose whole output goes through one escape (``without_commands``, which works
line by line) applies it to whole lines as they are written (``LineWriter``). A format
that shows items grouped other than by note (a finding in every note citing its URL)
spills the regrouped entries like the items (``regrouped``); a section that comes
before another but is filled in the same pass is kept in a file until its turn
(``section``).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable
from typing import IO, TextIO, TypeVar

from linkaudit.models import Report
from linkaudit.spill import SortKey, Spilled, SpillWriter

U = TypeVar("U")

_PENDING_CHARS = 1 << 16  # text gathered before it is escaped and written
_SECTION_IN_MEMORY = 1 << 20  # characters of a section kept in memory before it is a file


class LineWriter:
    """Writes to ``out`` through ``transform``, a whole number of lines at a time.

    ``transform`` must act on each line alone (as ``without_commands`` and the escapes
    do): it then gives the same text as applied to the whole output at once.
    """

    def __init__(self, out: TextIO, transform: Callable[[str], str]) -> None:
        self._out, self._transform = out, transform
        self._pending: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._size += len(text)
        if self._size >= _PENDING_CHARS:
            text = "".join(self._pending)
            end = text.rfind("\n") + 1
            self._out.write(self._transform(text[:end]))
            self._pending, self._size = [text[end:]], len(text) - end

    def close(self) -> None:
        """Write what is left (the end of the output: its last line may be unfinished)."""
        self._out.write(self._transform("".join(self._pending)))
        self._pending, self._size = [], 0


class Streamed:
    """A reporter that writes to a stream; rendering to a string is writing to one."""

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None:
        raise NotImplementedError

    def render(self, report: Report, *, color: bool = False) -> str:
        text = io.StringIO(newline="")
        self.write(report, text, color=color)
        return text.getvalue()


def regrouped(like: Collection[object], entries: Iterable[U], coarse: SortKey
              ) -> Collection[U]:
    """``entries`` as a collection ``spill.in_order`` reads by ``coarse`` first: spilled
    beside ``like``'s items when those are spilled, else a list."""
    if not isinstance(like, Spilled):
        return list(entries)
    writer: SpillWriter[U] = SpillWriter(like.folder, "regrouped", coarse)
    writer.extend(entries)
    return Spilled.of(like.folder, coarse, [writer.finish()])


def section() -> IO[str]:
    """Text written now and copied out later (``copy_section``), in memory while small."""
    return tempfile.SpooledTemporaryFile(_SECTION_IN_MEMORY, mode="w+", encoding="utf-8",
                                         errors="surrogatepass", newline="")


def copy_section(source: IO[str], out: TextIO | LineWriter) -> None:
    source.seek(0)
    shutil.copyfileobj(source, out)
    source.close()
