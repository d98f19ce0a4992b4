"""A plan as plain data, for ``fix --format json`` and anything else that reads plans.

Pure: dictionaries, lists, strings and numbers only, so ``json.dumps`` takes it as is.
Each edit gives where it starts (1-based line and column, the column in characters, as
everywhere in linkaudit), the text it replaces and the text it writes; each link left
alone gives where it is, its URL, a machine tag and the reason a person reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from linkaudit.fix.plan import Skipped
from linkaudit.models import Edit
from linkaudit.report.common import display_path


class PlanLike(Protocol):
    """What a document is made of: a ``Plan``, or a fix run's plan of the same shape."""

    @property
    def edits(self) -> Sequence[Edit]: ...

    @property
    def skipped(self) -> Sequence[Skipped]: ...


def plan_document(plan: PlanLike, texts: Mapping[Path, str]) -> dict[str, list[dict[str, Any]]]:
    """``{"edits": [...], "left_alone": [...]}`` for a plan over notes whose scanned texts
    are ``texts`` (by path); edits in file and offset order, as planned."""
    return {"edits": [_edit(edit, texts[edit.path]) for edit in plan.edits],
            "left_alone": [_skipped(item) for item in plan.skipped]}


def _edit(edit: Edit, text: str) -> dict[str, Any]:
    line_start = text.rfind("\n", 0, edit.span.start) + 1
    return {"file": display_path(edit.path),
            "line": text.count("\n", 0, edit.span.start) + 1,
            "column": edit.span.start - line_start + 1,
            "old": edit.old, "new": edit.new, "reason": edit.reason}


def _skipped(item: Skipped) -> dict[str, Any]:
    return {"file": display_path(item.path), "line": item.line, "column": item.column,
            "url": item.url, "kind": item.kind, "reason": item.message}
