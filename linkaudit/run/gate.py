"""Which notes a run reads: the roots, or for a pre-publish gate the changed notes, their
families, and the changed notes' text at the base revision.

Git is asked through its command line without a shell. Family lookup reads file names
only (no note is opened), so a 5-note change in a 10,000-note tree scans a handful of
files.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from linkaudit.config import Config, ScanConfig
from linkaudit.errors import UsageError
from linkaudit.scan import family_key, iter_note_paths


@dataclass(frozen=True)
class GateOptions:
    """A gate run: notes changed since a git revision, or the files of a list; else neither."""

    changed_since: str | None = None
    files: tuple[Path, ...] | None = None  # ``--files-from``: the listed paths (must exist)

    @property
    def active(self) -> bool:
        return self.changed_since is not None or self.files is not None


@dataclass(frozen=True)
class Selection:
    """The notes to read; for a gate run also the changed notes among them."""

    paths: list[Path]
    touched: list[Path] | None = None  # None: not a gate run
    # --changed-since: each changed note's text at the base revision (None: it was not
    # there), keyed by absolute path. None without a base (not a gate, or --files-from).
    base: Mapping[str, str | None] | None = None


def root_paths(config: Config, paths: Sequence[Path] = ()) -> list[Path]:
    """The paths given, else ``scan.roots``; every one must exist (a usage error otherwise)."""
    chosen = list(paths) or [_relative(config.resolve(root)) for root in config.scan.roots]
    missing = [str(path) for path in chosen if not path.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return chosen


def _relative(path: Path) -> Path:
    """Paths under the current folder are shown relative to it, as a user would type them."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def select(config: Config, paths: Sequence[Path], gate: GateOptions) -> Selection:
    """What a run reads: the roots, or the changed notes under them with their families."""
    roots = root_paths(config, paths)
    if gate.changed_since is not None:
        root = repository_root(Path.cwd())
        touched, notes = with_families(changed_since(gate.changed_since, root), roots,
                                       config.scan)
        base = {os.path.abspath(path): text_at(gate.changed_since, path, root)
                for path in touched}
        return Selection(notes, touched, base)
    if gate.files is not None:
        missing = [str(path) for path in gate.files if not path.exists()]
        if missing:  # a typo would pass the gate having checked nothing
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                              if len(missing) > 5 else "")
            raise UsageError(f"--files-from: no such file: {shown}")
        changed = list(gate.files)
    else:
        return Selection(roots)
    touched, notes = with_families(changed, roots, config.scan)
    return Selection(notes, touched)


def _git(args: Sequence[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def repository_root(cwd: Path) -> Path:
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    except UsageError:
        raise UsageError(f"--changed-since: {cwd} is not inside a git repository") from None


def changed_since(ref: str, root: Path) -> list[Path]:
    """Files of the repository at ``root`` changed between ``ref`` and the working tree
    (untracked ones included; deleted ones left out)."""
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    except UsageError:
        raise UsageError(f"--changed-since: unknown git revision {ref!r}") from None
    changed = _git(["diff", "--name-only", "--diff-filter=d", "-z", ref, "--"], root)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    names = {name for name in (changed + untracked).split("\0") if name}
    return sorted(root / name for name in names)


def read_file_list(source: Iterable[str]) -> list[Path]:
    """``--files-from``: one path per line; blank lines and ``#`` comments ignored."""
    return [Path(line.strip()) for line in source
            if line.strip() and not line.lstrip().startswith("#")]


def with_families(changed: Iterable[Path], roots: Sequence[Path], config: ScanConfig
                  ) -> tuple[list[Path], list[Path]]:
    """The changed notes under ``roots``, and those plus every note of their families.

    Only file names are looked at: a changed file counts when it is a note (include and
    exclude globs) under one of the roots.
    """
    changed_set = {os.path.abspath(path) for path in changed}
    notes = list(iter_note_paths(roots, config))
    touched = [path for path in notes if os.path.abspath(path) in changed_set]
    wanted = {family_key(path, config) for path in touched}
    return touched, [path for path in notes if family_key(path, config) in wanted]


def text_at(ref: str, path: Path, root: Path) -> str | None:
    """The note's text at ``ref`` in the repository at ``root``; None when not there."""
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    try:
        return _git(["show", f"{ref}:{relative}"], root)
    except UsageError:
        return None
