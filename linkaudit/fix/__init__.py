"""Cleanup mode: plan edits from what was found, then apply them to the files.

Entry points: ``plan_edits`` turns notes, cleaned links and network findings into a
``Plan`` of ``Edit``s and ``Skipped`` items (``plan``), which ``plan_document`` turns into
plain data for JSON (``document``); ``apply_edits`` applies a file's
edits to its text, ``write_file`` replaces the file atomically, ``unified_diff`` shows a
dry run and ``summarize`` counts the edits (``rewrite``); ``snapshot_requests`` and
``find_snapshots`` look up archived copies of dead links (``archive``). The planner's
helpers: ``duplicates`` (merging duplicate definitions), ``target`` (is a new URL fit to be
written), ``form`` (writing it in the link's form), ``structure`` (the note keeps its links).

The archive names are loaded on first use, so planning and rewriting never import the
HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from linkaudit.fix.document import plan_document
from linkaudit.fix.plan import SKIP_KINDS, FailureCounts, Plan, Skipped, plan_edits
from linkaudit.fix.rewrite import (
    EditSummary,
    OverlappingEditsError,
    StaleFileError,
    WriteOutcome,
    apply_edits,
    summarize,
    unified_diff,
    write_file,
)

if TYPE_CHECKING:
    from linkaudit.fix.archive import Snapshots, find_snapshots, note_date, snapshot_requests

_ARCHIVE_NAMES = frozenset({"Snapshots", "find_snapshots", "note_date", "snapshot_requests"})

__all__ = [
    "SKIP_KINDS",
    "EditSummary",
    "FailureCounts",
    "OverlappingEditsError",
    "Plan",
    "Skipped",
    "Snapshots",
    "StaleFileError",
    "WriteOutcome",
    "apply_edits",
    "find_snapshots",
    "note_date",
    "plan_document",
    "plan_edits",
    "snapshot_requests",
    "summarize",
    "unified_diff",
    "write_file",
]


def __getattr__(name: str) -> object:
    """Load the archive lookups (and httpx with them) only when one is asked for."""
    if name in _ARCHIVE_NAMES:
        return getattr(importlib.import_module("linkaudit.fix.archive"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
