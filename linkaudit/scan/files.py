"""Which files are notes: walk the roots, keep what the include globs name, drop the excludes.

Only names and folders are looked at here; reading a file is ``linkaudit.scan.note``'s job.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from linkaudit.config import ScanConfig
from linkaudit.userregex import UserRegex, compile_user_regex

__all__ = ["iter_note_paths"]


def iter_note_paths(paths: Sequence[Path], config: ScanConfig) -> Iterator[Path]:
    """Note files under ``paths``, in a stable order, each once.

    A file named directly is always taken (the user asked for it), whatever its name.
    Folders are walked recursively, sorted, without following symlinked folders: a file
    is taken when an ``include`` glob matches its name and no ``exclude`` glob matches its
    path relative to the walked folder. A path that does not exist is passed on, so
    ``read_note`` reports it.
    """
    includes = tuple(_glob_regex(pattern) for pattern in config.include)
    excludes = tuple(_glob_regex(pattern) for pattern in config.exclude)
    seen: set[str] = set()
    for root in paths:
        candidates = _walk(root, includes, excludes) if root.is_dir() else iter((root,))
        for path in candidates:
            key = os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                yield path


def _walk(
    root: Path, includes: Sequence[UserRegex], excludes: Sequence[UserRegex]
) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        relative_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        dirnames[:] = sorted(
            name for name in dirnames if not _excluded_folder(prefix + name, excludes)
        )
        for name in sorted(filenames):
            if not any(regex.fullmatch(name) for regex in includes):
                continue
            if not any(regex.fullmatch(prefix + name) for regex in excludes):
                yield Path(folder) / name


def _excluded_folder(relative: str, excludes: Sequence[UserRegex]) -> bool:
    """A folder is skipped when a glob matches it or anything inside it (``x/**``)."""
    return any(regex.fullmatch(relative) or regex.fullmatch(relative + "/") for regex in excludes)


@functools.lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> UserRegex:
    """A path glob as a regex: ``**/`` spans folders (or none), ``*`` and ``?`` stay in one.

    RE2 runs it, so no glob (``**/**/**/…``) can make matching a long path slow.
    """
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
    return compile_user_regex("".join(parts), f"scan glob {pattern!r}")
