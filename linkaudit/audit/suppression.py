"""Suppressions: which findings the user silenced, and why.

Two ways to silence, both owned here: comments in a note (``<!-- linkaudit-ignore-line -->``,
``-ignore-next-line``, ``-disable`` … ``-enable``), whose grammar is below and which the
scanner hands over as the HTML comments it met outside code; and the config's ``ignore``
rules (a URL pattern, optionally limited to some finding kinds). A suppressed finding is
kept, with its reason, so every report can say what was silenced.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from linkaudit.config import IgnoreRule
from linkaudit.models import Finding
from linkaudit.userregex import compile_user_regex

__all__ = ["COMMENT_REASON", "Suppressions", "ignored_lines"]

COMMENT_REASON = "linkaudit-ignore comment in the note"
_DIRECTIVE = re.compile(
    r"[ \t\r\n]*linkaudit-(ignore-next-line|ignore-line|disable|enable)(?=[\s:]|$)"
)


def ignored_lines(text: str, comments: Iterable[tuple[int, int]],
                  line_starts: Sequence[int]) -> frozenset[int]:
    """Lines silenced by the directives among ``comments`` (start, end of each one's content).

    ``line_starts`` are the offsets where the lines of ``text`` start; lines are 1-based.
    """
    def line_of(offset: int) -> int:
        return bisect_right(line_starts, offset)

    last_line = len(line_starts)
    if line_starts[-1] == len(text) and last_line > 1:
        last_line -= 1  # a final line ending does not start another line
    ignored: set[int] = set()
    disabled_from: int | None = None
    for content_start, content_end in sorted(comments):
        directive = _DIRECTIVE.match(text, content_start, content_end)
        if directive is None:
            continue
        first_line = line_of(content_start)
        end_line = line_of(content_end)
        action = directive.group(1)
        if action == "ignore-line":
            ignored.add(first_line)
        elif action == "ignore-next-line":
            following = _next_non_blank_line(text, line_starts, end_line + 1, last_line)
            if following is not None:
                ignored.add(following)
        elif action == "disable" and disabled_from is None:
            disabled_from = end_line + 1
        elif action == "enable" and disabled_from is not None:
            ignored.update(range(disabled_from, first_line))
            disabled_from = None
    if disabled_from is not None:
        ignored.update(range(disabled_from, last_line + 1))
    return frozenset(ignored)


def _next_non_blank_line(text: str, starts: Sequence[int], line: int,
                         last_line: int) -> int | None:
    while line <= last_line:
        line_end = starts[line] if line < len(starts) else len(text)
        if text[starts[line - 1]:line_end].strip():
            return line
        line += 1
    return None


class Suppressions:
    """The apply step: a finding's suppression reason, from note comments or ignore rules."""

    def __init__(self, ignore: Sequence[IgnoreRule],
                 lines: Mapping[Path, frozenset[int]] | None = None) -> None:
        self._rules = [(compile_user_regex(rule.pattern, f"ignore[{index}].pattern"), rule)
                       for index, rule in enumerate(ignore)]
        self._lines = lines or {}

    def reason(self, finding: Finding) -> str | None:
        """Why ``finding`` is silenced, or None when it is not."""
        if finding.line in self._lines.get(finding.path, frozenset()):
            return COMMENT_REASON
        if finding.url is not None:
            for pattern, rule in self._rules:
                if (not rule.kinds or finding.kind in rule.kinds) and pattern.search(finding.url):
                    return rule.reason or f"ignored by pattern {rule.pattern}"
        return None
