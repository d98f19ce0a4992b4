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
        base = texts_at(gate.changed_since, touched, root)
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


def _git(args: Sequence[str], cwd: Path, stdin: bytes = b"") -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              check=False)
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed") from None
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip() or "failed"
        raise UsageError(f"git {' '.join(args)}: {problem}")
    return done.stdout


def _git_text(args: Sequence[str], cwd: Path) -> str:
    return _git(args, cwd).decode("utf-8", "replace")


def repository_root(cwd: Path) -> Path:
    try:
        return Path(_git_text(["rev-parse", "--show-toplevel"], cwd).strip())
    except UsageError:
        raise UsageError(f"--changed-since: {cwd} is not inside a git repository") from None


def changed_since(ref: str, root: Path) -> list[Path]:
    """Files of the repository at ``root`` changed between ``ref`` and the working tree
    (untracked ones included; deleted ones left out)."""
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    except UsageError:
        raise UsageError(f"--changed-since: unknown git revision {ref!r}") from None
    changed = _git_text(["diff", "--name-only", "--diff-filter=d", "-z", ref, "--"], root)
    untracked = _git_text(["ls-files", "--others", "--exclude-standard", "-z"], root)
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


def texts_at(ref: str, paths: Sequence[Path], root: Path) -> dict[str, str | None]:
    """Each note's text at ``ref`` (None when it was not there), by absolute path.

    One ``git cat-file --batch`` for all of them: a gate's changed notes cost one process.
    """
    names = [path.resolve().relative_to(root.resolve()).as_posix() for path in paths]
    if any("\n" in name for name in names):  # the batch protocol is one name per line
        return {os.path.abspath(path): _text_at(ref, name, root)
                for path, name in zip(paths, names, strict=True)}
    answer = _git(["cat-file", "--batch"], root,
                  "".join(f"{ref}:{name}\n" for name in names).encode("utf-8"))
    texts: dict[str, str | None] = {}
    position = 0
    for path in paths:
        header_end = answer.index(b"\n", position)
        header = answer[position:header_end].split()
        position = header_end + 1
        text = None
        if len(header) == 3 and header[1] != b"missing" and header[2].isdigit():
            size = int(header[2])
            if header[1] == b"blob":
                text = answer[position:position + size].decode("utf-8", "replace")
            position += size + 1  # the contents, then a newline
        texts[os.path.abspath(path)] = text
    return texts


def _text_at(ref: str, name: str, root: Path) -> str | None:
    try:
        return _git(["show", f"{ref}:{name}"], root).decode("utf-8", "replace")
    except UsageError:
        return None
