"""linkaudit: a citation and link auditor for Markdown notes.

The public API is ``__all__``: load a configuration, scan a tree, check URLs (alone, or a
whole check run with history), plan and apply fixes, render a report. Names load on first
use, so ``import linkaudit`` stays light and an offline scan never imports the HTTP client
or the store::

    import linkaudit
    config = linkaudit.load_config()
    report = linkaudit.run_scan(config, linkaudit.ScanOptions(paths=(Path("_posts"),)))
    print(linkaudit.render(report, "text"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "Config": "linkaudit.config",
    "load_config": "linkaudit.config",
    "LinkauditError": "linkaudit.errors",
    "ExitCode": "linkaudit.errors",
    "CheckResult": "linkaudit.models",
    "Edit": "linkaudit.models",
    "Finding": "linkaudit.models",
    "Report": "linkaudit.models",
    "GateOptions": "linkaudit.run.gate",
    "ScanOptions": "linkaudit.run.scan",
    "run_scan": "linkaudit.run.scan",
    "CheckOptions": "linkaudit.run.check",
    "CheckOutcome": "linkaudit.run.check",
    "check_urls": "linkaudit.run.check",
    "run_check": "linkaudit.run.check",
    "FixOptions": "linkaudit.run.fix",
    "FixPlan": "linkaudit.run.fix",
    "FixOutcome": "linkaudit.run.fix",
    "plan_fix": "linkaudit.run.fix",
    "apply_fix": "linkaudit.run.fix",
    "ReportOptions": "linkaudit.run.report",
    "history_report": "linkaudit.run.report",
    "render": "linkaudit.report",
}

__all__ = [
    "CheckOptions", "CheckOutcome", "CheckResult", "Config", "Edit", "ExitCode", "Finding",
    "FixOptions", "FixOutcome", "FixPlan", "GateOptions", "LinkauditError", "Report",
    "ReportOptions", "ScanOptions", "__version__", "apply_fix", "check_urls",
    "history_report", "load_config", "plan_fix", "render", "run_check", "run_scan",
]

if TYPE_CHECKING:
    from linkaudit.config import Config, load_config
    from linkaudit.errors import ExitCode, LinkauditError
    from linkaudit.models import CheckResult, Edit, Finding, Report
    from linkaudit.report import render
    from linkaudit.run.check import CheckOptions, CheckOutcome, check_urls, run_check
    from linkaudit.run.fix import FixOptions, FixOutcome, FixPlan, apply_fix, plan_fix
    from linkaudit.run.gate import GateOptions
    from linkaudit.run.report import ReportOptions, history_report
    from linkaudit.run.scan import ScanOptions, run_scan


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'linkaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
