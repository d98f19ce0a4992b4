"""Which files are notes: walk the roots, keep what the include globs name, drop the excludes
and what git ignores.

Only names, folders and git's ignore files are read here; reading a note is
``linkaudit.scan.note``'s job.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from linkaudit.config import ScanConfig
from linkaudit.userregex import UserRegex, compile_user_regex

if TYPE_CHECKING:  # imported when a repository is found: a scan outside git never pays for it
    import pathspec

__all__ = ["iter_note_paths"]


def iter_note_paths(paths: Sequence[Path], config: ScanConfig) -> Iterator[Path]:
    """Note files under ``paths``, in a stable order, each once.

    A file named directly is always taken (the user asked for it), whatever its name.
    Folders are walked recursively, sorted, without following symlinked folders: a file
    is taken when an ``include`` glob matches its name, no ``exclude`` glob matches its
    path relative to the walked folder and, with ``scan.gitignore``, git does not ignore
    it. A path that does not exist is passed on, so ``read_note`` reports it.
    """
    includes = _glob_set(config.include)
    excludes = _glob_set(config.exclude)
    seen: set[str] = set()
    for root in paths:
        if root.is_dir():
            ignore = GitIgnore.for_folder(root) if config.gitignore else None
            candidates = _walk(root, includes, excludes, ignore)
        else:
            candidates = iter((root,))
        for path in candidates:
            key = os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                yield path


def _walk(root: Path, includes: UserRegex | None, excludes: UserRegex | None,
          ignore: GitIgnore | None) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        relative_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        if ignore is not None and ".gitignore" in filenames:
            ignore.add_file(Path(folder) / ".gitignore", prefix)
        dirnames[:] = sorted(
            name for name in dirnames if not _excluded_folder(prefix + name, excludes)
            and not (ignore is not None and ignore.ignored(prefix + name + "/"))
        )
        for name in sorted(filenames):
            if includes is None or not includes.fullmatch(name):
                continue
            if excludes is not None and excludes.fullmatch(prefix + name):
                continue
            if ignore is None or not ignore.ignored(prefix + name):
                yield Path(folder) / name


class GitIgnore:
    """What git ignores under one walked folder: ``.git/info/exclude`` and ``.gitignore`` files.

    Each ``.gitignore`` applies below its own folder and a deeper one wins over a higher
    one, as in git; within one file the last matching line wins (``!`` re-includes). The
    files between the repository root and the walked folder count too, unless they ignore
    the walked folder itself: a folder named on the command line is scanned as asked.
    """

    def __init__(self, offset: str) -> None:
        self._offset = offset  # the walked folder from the repository root, "" or "a/b/"
        # By folder from the repository root; in one folder, .git/info/exclude comes first
        # and the folder's .gitignore after it, and the later one wins.
        self._specs: dict[str, list[pathspec.GitIgnoreSpec]] = {}

    @classmethod
    def for_folder(cls, root: Path) -> GitIgnore | None:
        """The rules for a walk of ``root``; None outside a git repository."""
        folder = root.resolve()
        repository = next((f for f in (folder, *folder.parents) if (f / ".git").exists()), None)
        if repository is None:
            return None
        parts = folder.relative_to(repository).parts
        rules = cls("".join(part + "/" for part in parts))
        rules._add(repository / ".git" / "info" / "exclude", "")
        for depth in range(len(parts)):
            rules._add(repository.joinpath(*parts[:depth], ".gitignore"),
                       "".join(part + "/" for part in parts[:depth]))
        if parts and rules._ignored(rules._offset):
            rules._specs.clear()  # the walked folder is ignored: it was asked for by name
        return rules

    def add_file(self, path: Path, prefix: str) -> None:
        """The rules of the ignore file ``path``, for what lies below ``prefix`` (``a/``)."""
        self._add(path, self._offset + prefix)

    def ignored(self, relative: str) -> bool:
        """Whether git ignores ``relative`` (from the walked folder; a folder ends in ``/``)."""
        return self._ignored(self._offset + relative)

    def _add(self, path: Path, base: str) -> None:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return  # no such file: no rules
        if lines:
            import pathspec  # here, not above: see TYPE_CHECKING

            self._specs.setdefault(base, []).append(pathspec.GitIgnoreSpec.from_lines(lines))

    def _ignored(self, path: str) -> bool:
        end = len(path.rstrip("/"))
        while True:
            end = path.rfind("/", 0, end)
            for spec in reversed(self._specs.get(path[:end + 1], ())):
                verdict = spec.check_file(path[end + 1:]).include
                if verdict is not None:
                    return verdict
            if end < 0:
                return False


def _excluded_folder(relative: str, excludes: UserRegex | None) -> bool:
    """A folder is skipped when a glob matches it or anything inside it (``x/**``)."""
    return excludes is not None and (excludes.fullmatch(relative) is not None
                                     or excludes.fullmatch(relative + "/") is not None)


@functools.lru_cache(maxsize=16)
def _glob_set(patterns: tuple[str, ...]) -> UserRegex | None:
    """One regex for several globs (one RE2 pass per path, not one per glob); None: no glob.

    RE2 runs it, so no glob (``**/**/**/…``) can make matching a long path slow.
    """
    if not patterns:
        return None
    alternatives = "|".join(f"(?:{_glob_regex(pattern)})" for pattern in patterns)
    return compile_user_regex(alternatives, f"scan globs {list(patterns)}")


def _glob_regex(pattern: str) -> str:
    """A path glob as a regex: ``**/`` spans folders (or none), ``*`` and ``?`` stay in one."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2:]:
            close = pattern.index("]", index + 2)
            body = pattern[index + 1:close]
            negated = body.startswith("!")
            body = re.escape(body[1:] if negated else body).replace("\\-", "-")
            parts.append(f"[{'^' if negated else ''}{body}]")
            index = close + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return "".join(parts)
