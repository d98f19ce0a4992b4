"""A fix run: plan the edits (a dry run shows them), then apply them file by file.

Verdicts come from the history store; with ``online`` a check run refreshes it first, as a
library call. Dead links are replaced only once the store confirms them dead; the plan
says which were left alone and why.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from linkaudit.check.client import make_client
from linkaudit.clean.keys import keys
from linkaudit.clean.strip import clean_url
from linkaudit.config import Config
from linkaudit.errors import StoreError, WriteError
from linkaudit.fix.archive import Snapshots, find_snapshots, snapshot_requests
from linkaudit.fix.plan import Skipped, plan_edits
from linkaudit.fix.rewrite import apply_edits, unified_diff, write_file
from linkaudit.history import Confirmation
from linkaudit.models import CheckResult, CleanedLink, Edit, Finding, Note
from linkaudit.run.check import CheckOptions, run_check
from linkaudit.run.gate import root_paths
from linkaudit.run.history import open_store
from linkaudit.run.scan import iter_cleaned, load_rule_set


@dataclass(frozen=True)
class FixOptions:
    """Which notes (default ``scan.roots``), and whether to check the links first."""

    paths: tuple[Path, ...] = ()
    online: bool = False  # run a check first, so the store's verdicts are fresh
    arguments: tuple[str, ...] = ()  # recorded with that check run (the command line)


@dataclass(frozen=True)
class FileChange:
    """One file's text as scanned and as it will be written."""

    path: Path
    old_text: str
    new_text: str

    def diff(self) -> str:
        return unified_diff(self.path, self.old_text, self.new_text)


@dataclass(frozen=True)
class FixPlan:
    """Every planned edit, the files they change, and what was left alone and why."""

    edits: tuple[Edit, ...]
    files: tuple[FileChange, ...]
    skipped: tuple[Skipped, ...]
    roots: tuple[Path, ...] = ()  # the scanned paths: nothing outside them is written
    # Why no check results were used (no store yet, or one that cannot be read): redirects
    # and dead links then stay as they are, which the user must be told, not left to guess.
    without_verdicts: str | None = None


@dataclass(frozen=True)
class FixOutcome:
    """What applying a plan did: files written, files left as they were, and failures."""

    written: tuple[Path, ...]
    unchanged: tuple[str, ...]  # why a file was not written (it changed since the scan, ...)
    failures: tuple[str, ...]  # files that could not be written (originals intact)


def plan_fix(config: Config, options: FixOptions = FixOptions(), *,
             transport: httpx.AsyncBaseTransport | None = None) -> FixPlan:
    """The edits that tracking removal, redirects, duplicates and archive links call for."""
    rules = load_rule_set(config)
    paths = root_paths(config, options.paths)
    items = [item for item in iter_cleaned(paths, config, rules)
             if not isinstance(item, Finding)]
    if options.online:
        run_check(config, CheckOptions(paths=options.paths, keep_links=False,
                                       arguments=options.arguments), transport=transport)
    try:
        results, dead, unconfirmed = stored_verdicts(config, items)
        without_verdicts = None
    except StoreError as exc:
        results, dead, unconfirmed = {}, set(), {}
        without_verdicts = str(exc)
    archived: Mapping[str, str] = {}
    missing: Mapping[str, str] = {}
    if config.fix.archive and dead:
        snapshots = asyncio.run(_snapshots(config, items, dead, transport))
        archived, missing = snapshots.found, snapshots.missing
    level = config.cleaning.level
    plan = plan_edits(items, options=config.fix, results=results, dead=dead,
                      archived=archived, archive_missing=missing,
                      clean=lambda url: clean_url(url, rules, level).url,
                      archive_host=config.archive.snapshot_host,
                      citation_key=lambda url: keys(url, rules).citation_key,
                      unconfirmed=unconfirmed if config.fix.archive else {},
                      dead_after=config.dead_after)
    by_file: dict[Path, list[Edit]] = defaultdict(list)
    for edit in plan.edits:
        by_file[edit.path].append(edit)
    texts = {note.path: note.text for note, _links in items}
    files = tuple(FileChange(path, texts[path], apply_edits(path, texts[path], edits))
                  for path, edits in sorted(by_file.items()))
    return FixPlan(plan.edits, files, plan.skipped, tuple(paths), without_verdicts)


def apply_fix(plan: FixPlan) -> FixOutcome:
    """Write every changed file atomically; one failure never stops the others."""
    written: list[Path] = []
    unchanged: list[str] = []
    failures: list[str] = []
    for change in plan.files:
        try:
            outcome = write_file(change.path, change.old_text, change.new_text,
                                 roots=plan.roots)
        except WriteError as exc:
            failures.append(str(exc))
            continue
        if outcome.written:
            written.append(change.path)
        else:
            unchanged.append(outcome.message)
    return FixOutcome(tuple(written), tuple(unchanged), tuple(failures))


def stored_verdicts(config: Config, items: Sequence[tuple[Note, Sequence[CleanedLink]]]
                    ) -> tuple[dict[str, CheckResult], set[str], dict[str, Confirmation]]:
    """What the history store says of the cited URLs: last successes (redirects among
    them), the keys confirmed dead, and those failing but not confirmed yet.

    Raises ``StoreError`` when there is no store yet or it cannot be read.
    """
    keys = {link.check_key for _note, links in items for link in links}
    with open_store(config, readonly=True) as store:
        results = store.cached_many(keys, math.inf)
        dead: set[str] = set()
        unconfirmed: dict[str, Confirmation] = {}
        for key in keys:
            seen = store.confirm(key)
            if seen.state == "dead":
                dead.add(key)
            elif seen.state == "failing":
                unconfirmed[key] = seen
    return results, dead, unconfirmed


async def _snapshots(config: Config, items: Sequence[tuple[Note, Sequence[CleanedLink]]],
                     dead: set[str], transport: httpx.AsyncBaseTransport | None) -> Snapshots:
    async with make_client(config.network, transport=transport) as client:
        return await find_snapshots(client, config.archive.endpoint,
                                    snapshot_requests(items, dead))
