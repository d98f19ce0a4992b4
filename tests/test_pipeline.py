"""The offline pipeline: the parallel scan gives exactly what the serial one gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from linkaudit.config import Config, ScanConfig
from linkaudit.run import scan as pipeline


def make_tree(root: Path) -> None:
    for family in range(6):
        for lang in ("en", "de", "ja"):
            folder = root / "_posts" / lang
            folder.mkdir(parents=True, exist_ok=True)
            extra = f"[9]: https://only-{lang}.example/{family}\n" if family % 2 else ""
            (folder / f"2025-01-0{family + 1}-post{family}-{lang}.md").write_text(
                f"---\nlang: {lang}\n---\nSee [a][1], [b][2] and [c][9].\n\n"
                f"[1]: https://a.example/{family}?utm_source=chatgpt.com \"A\"\n"
                f"[2]: https://b.example/x\n{extra}", encoding="utf-8")


def scan(root: Path, workers: int) -> pipeline.ScanOutcome:
    config = Config(scan=dataclasses.replace(ScanConfig(), workers=workers))
    return pipeline.scan_tree([root], config, keep_links=True, keep_citations=True)


def test_parallel_scan_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers reading batches of families give the same findings, links and citations."""
    make_tree(tmp_path)
    monkeypatch.setattr(pipeline, "_BATCH_NOTES", 4)
    serial, parallel = scan(tmp_path, 1), scan(tmp_path, 2)
    assert serial.notes_scanned == parallel.notes_scanned == 18
    assert list(serial.findings) == list(parallel.findings)
    assert sorted(serial.links, key=str) == sorted(parallel.links, key=str)
    assert serial.citations.places() == parallel.citations.places()
    assert {f.kind for f in serial.findings} >= {"tracking", "translation-drift"}


def test_batches_keep_families_whole() -> None:
    """A family is never split across batches: drift needs all of its notes together."""
    groups = [[Path(f"{g}-{i}") for i in range(3)] for g in range(5)]
    batches = pipeline._batches(groups)
    assert [group for batch in batches for group in batch] == groups
