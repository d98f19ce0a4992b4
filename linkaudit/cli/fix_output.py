"""How a fix plan is shown: a unified diff or JSON, and the summary line on stderr.

The JSON lists every edit (file, line, column, old, new, reason; line and column of the
edit's start, 1-based, column in characters) and everything left alone with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from linkaudit.fix.document import plan_document
from linkaudit.fix.rewrite import summarize
from linkaudit.report.common import display_path, plural
from linkaudit.run.fix import FixPlan

JSON_VERSION = 1


def render_plan(plan: FixPlan, fmt: str, *, applied: bool) -> str:
    """The plan as a diff (``text``; empty when nothing changes) or as JSON."""
    if fmt == "json":
        return plan_json(plan, applied=applied)
    return "".join(change.diff() for change in plan.files)


def plan_json(plan: FixPlan, *, applied: bool) -> str:
    texts = {change.path: change.old_text for change in plan.files}
    summary = summarize(plan.edits)
    document: dict[str, Any] = {
        "version": JSON_VERSION,
        "applied": applied,
        **plan_document(plan, texts),
        "summary": {"edits": summary.total, "files": len(summary.by_file),
                    "by_reason": dict(sorted(summary.by_reason.items())),
                    "left_alone": len(plan.skipped)},
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def left_alone_lines(plan: FixPlan) -> Iterable[str]:
    """``path:line:col: url: why`` for every link a fix was wanted for and not made."""
    for item in plan.skipped:
        yield f"{display_path(item.path)}:{item.line}:{item.column}: {item.url}: {item.message}"


def summary_line(plan: FixPlan, mode: str) -> str:
    """``linkaudit fix: 3 edits in 2 files planned ...; 1 link left alone``."""
    summary = summarize(plan.edits)
    verbs: Mapping[str, str] = {"write": "applied", "check": "pending (--check)",
                                "dry-run": "planned (dry run; --write applies them)"}
    kinds = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.by_reason.items()))
    left = plural(len(plan.skipped), "link")
    return (f"linkaudit fix: {plural(summary.total, 'edit')} in "
            f"{plural(len(summary.by_file), 'file')} {verbs[mode]}"
            f"{': ' + kinds if kinds else ''}; {left} left alone"
            f"{' (listed above)' if plan.skipped else ''}")
