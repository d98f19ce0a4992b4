"""What a gate run reports: the change, not the tree it lands in.

A gate reads the changed notes and every translation of their families (drift needs
them all), but shows only what the change is answerable for: findings in the changed
notes, and the cross-translation findings (drift, locale variants) the change caused.
With ``--changed-since`` "caused" is decided against the families as they were at the
base revision: a drift finding that was already there is old. With ``--files-from``
there is no base, so every cross-translation finding of the listed notes' families is
shown. What was already there in untouched notes is only counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from linkaudit.audit.findings import OfflineAudit
from linkaudit.clean.keys import LinkCleaner, locale_variant_key
from linkaudit.clean.rules import RuleSet
from linkaudit.config import Config
from linkaudit.models import Finding, Note
from linkaudit.run.gate import Selection
from linkaudit.scan.note import parse_note, read_note
from linkaudit.spill import Spilled, SpillWriter

CROSS_TRANSLATION = frozenset({"translation-drift", "locale-variant"})


def base_notes(paths: Sequence[Path], base: Mapping[str, str | None], config: Config
               ) -> Iterator[Note]:
    """The notes of ``paths`` as they were at the base: changed ones from ``base``
    (left out when they did not exist), the others as they are (untouched)."""
    for path in paths:
        key = os.path.abspath(path)
        if key in base:
            text = base[key]
            if text is not None:
                yield parse_note(path, text, config.scan)
            continue
        item = read_note(path, config.scan)
        if isinstance(item, Note):
            yield item


def _identity(finding: Finding) -> tuple[str, str | None, str]:
    """A cross-translation finding across two versions of a family (positions move)."""
    return finding.kind, finding.url, finding.message


def _drift_before(selection: Selection, base: Mapping[str, str | None], config: Config,
                  rules: RuleSet) -> set[tuple[str, str | None, str]]:
    audit = OfflineAudit(locale_variant_key)
    cleaner = LinkCleaner(rules, config.cleaning.level)
    for note in base_notes(selection.paths, base, config):
        audit.note(note, cleaner.clean(note.links))
    return {_identity(f) for f in audit.finish() if f.kind in CROSS_TRANSLATION}


def in_change(findings: Spilled[Finding], selection: Selection, config: Config,
              rules: RuleSet) -> tuple[Spilled[Finding], int | None]:
    """The findings a gate run shows (spilled again, as they came), and how many others
    (unsuppressed) it leaves out.

    Not a gate run: every finding, and None.
    """
    if selection.touched is None:
        return findings, None
    touched = {os.path.abspath(path) for path in selection.touched}
    before = (_drift_before(selection, selection.base, config, rules)
              if selection.base is not None else set())
    shown: SpillWriter[Finding] = SpillWriter(findings.folder, "change", findings.key,
                                              findings.counted)
    left_out = 0
    for finding in findings:
        if finding.kind in CROSS_TRANSLATION:
            caused = _identity(finding) not in before
        else:
            caused = os.path.abspath(finding.path) in touched
        if caused:
            shown.add(finding)
        elif finding.suppressed is None:
            left_out += 1
    return (Spilled.of(findings.folder, findings.key, [shown.finish()], findings.counted),
            left_out)
