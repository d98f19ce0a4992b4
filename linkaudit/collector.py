"""Fewer cycle collections during bulk work: one policy for the whole package.

A run makes millions of short-lived objects (links, findings, requests, unpickled
records) and almost no cyclic garbage (``check.fetch`` breaks httpx's response cycle).
At CPython's default threshold (700 net allocations) the collector ran every few notes or
URLs and traversed everything alive each time: a quarter of a check's network CPU, about
a tenth of a scan's. While ``fewer_collections`` is in force, the youngest generation is
collected every ``YOUNG_GENERATION`` allocations instead (still bounded garbage), and what
exists at each entry (imported modules; at a nested entry, a scanned tree's records) is
frozen out of the collector's sight. It nests and is process-wide; the last one to leave
restores the settings.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_GENERATION = 100_000  # CPython's default is 700

_depth = 0
_saved = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect rarely, and never traverse what existed on entry, until the block ends."""
    global _depth, _saved
    if _depth == 0:
        _saved = gc.get_threshold()
        young, *older = _saved  # 0: the caller turned collection off, and it stays off
        gc.set_threshold(young and max(young, YOUNG_GENERATION), *older)
    gc.freeze()  # nested too: what the outer block made meanwhile (a scanned tree) joins
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
            gc.set_threshold(*_saved)
