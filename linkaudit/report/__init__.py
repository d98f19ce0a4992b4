"""Reporters: each writes a ``Report`` to a stream piece by piece (or renders it to a
string); the CLI decides where it goes.

The registry is an explicit mapping (no plugin discovery) so the list of formats is
visible in one place and an unknown name can be answered with the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol, TextIO

from linkaudit.errors import UsageError
from linkaudit.models import Report
from linkaudit.report.github import GithubReporter
from linkaudit.report.html import HtmlReporter
from linkaudit.report.json_report import JsonReporter
from linkaudit.report.junit import JunitReporter
from linkaudit.report.markdown import MarkdownReporter
from linkaudit.report.sarif import SarifReporter
from linkaudit.report.text import TextReporter


class Reporter(Protocol):
    """Writes a report to a stream as it goes (a spilled report's items are read from disk
    one at a time and never held whole), or renders it to a string; never prints, and the
    same report always gives the same text."""

    name: str
    lists_links: bool  # whether it shows every link (else a count is enough)

    def render(self, report: Report, *, color: bool = False) -> str: ...

    def write(self, report: Report, out: TextIO, *, color: bool = False) -> None: ...


def _registry(*reporters: Reporter) -> Mapping[str, Reporter]:
    return MappingProxyType({reporter.name: reporter for reporter in reporters})


REPORTERS: Mapping[str, Reporter] = _registry(
    TextReporter(),
    JsonReporter(),
    MarkdownReporter(),
    JunitReporter(),
    SarifReporter(),
    GithubReporter(),
    HtmlReporter(),
)


def _reporter(fmt: str) -> Reporter:
    reporter = REPORTERS.get(fmt)
    if reporter is None:
        known = ", ".join(REPORTERS)
        raise UsageError(f"unknown report format {fmt!r} (known formats: {known})")
    return reporter


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """Render ``report`` in format ``fmt``; an unknown format is a usage error."""
    return _reporter(fmt).render(report, color=color)


def write(report: Report, fmt: str, out: TextIO, *, color: bool = False) -> None:
    """Write ``report`` in format ``fmt`` to ``out``, piece by piece."""
    _reporter(fmt).write(report, out, color=color)


__all__ = ["REPORTERS", "Reporter", "render", "write"]
