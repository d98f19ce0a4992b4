"""The HTML report in a real headless Chromium: it renders, and its script runs cleanly.

Skipped when no ``chromium`` is on PATH (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import sample_report

from linkaudit.models import RunSummary
from linkaudit.report import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _history(runs: int) -> tuple[RunSummary, ...]:
    return tuple(
        RunSummary(n, 1_789_000_000.0 + n * 3 * 86_400, ok=40 + n % 3, redirected=3 + n % 2,
                   failing=2 + n % 4 // 2, dead=n // 4,
                   status="interrupted" if n == 6 else "finished")
        for n in range(1, runs + 1)
    )


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--window-size=1200,900", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    """The sample report with ten recorded runs, written to a file."""
    path = tmp_path / "report.html"
    report = dataclasses.replace(sample_report(), history=_history(10))
    path.write_text(render(report, "html"), encoding="utf-8")
    return path


def test_browser_renders_tables_and_chart_and_runs_the_script(report_file: Path,
                                                              tmp_path: Path) -> None:
    """Chromium builds the three tables and the chart, and the script reaches its end."""
    dom = _chromium(tmp_path, "--dump-dom", report_file.as_uri()).stdout
    assert re.search(r'<body[^>]*data-ready="true"', dom)
    for table in ("findings", "notes", "urls"):
        assert f'<table class="data" id="{table}"' in dom
    assert len(re.findall(r'<rect class="bar-', dom)) == 10 * 4
    assert 'id="findings-shown">6 of 6 shown<' in dom
    assert dom.count('tabindex="0"') == 7 + 6 + 6  # every sortable header got its handler


def test_browser_applies_the_filter_from_the_address(report_file: Path, tmp_path: Path) -> None:
    """A #filter=...&severity=... address hides the rows that do not match."""
    dom = _chromium(tmp_path, "--dump-dom", report_file.as_uri() + "#severity=error").stdout
    assert 'id="findings-shown">2 of 6 shown<' in dom
    assert 'id="notes-shown">2 of 3 shown<' in dom
    assert 'id="urls-shown">5 of 5 shown<' in dom
    dom = _chromium(tmp_path, "--dump-dom", report_file.as_uri() + "#filter=dead").stdout
    assert 'id="findings-shown">1 of 6 shown<' in dom
    assert 'id="urls-shown">1 of 5 shown<' in dom


def test_browser_screenshot(report_file: Path, tmp_path: Path) -> None:
    """A screenshot of the page is produced (look at it when the layout changes)."""
    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", report_file.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000
