"""Translation families: which notes are language versions of one post, and a note's language
as its path tells it (a language folder such as ``_posts/de/``, or the ``lang`` group of
``scan.family_pattern`` on the file name)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

from linkaudit.config import ScanConfig
from linkaudit.languages import ISO_639_1
from linkaudit.userregex import UserRegex, compile_user_regex

__all__ = ["family_key", "path_language"]

_LANGUAGE_FOLDER = re.compile(r"(?P<primary>[a-z]{2})(?:[-_][a-z0-9]{2,8})?|hant|hans")


def family_key(path: Path, config: ScanConfig) -> str:
    """The key shared by a post's translations: the pattern's ``family`` group, else the stem."""
    return _pattern_group(path, config, "family") or path.stem


def path_language(path: Path, config: ScanConfig) -> str | None:
    """The language the path gives: its folder when that is a language, else the pattern's."""
    return _folder_language(path) or _pattern_group(path, config, "lang")


def _pattern_group(path: Path, config: ScanConfig, group: str) -> str | None:
    value = _pattern_groups(config.family_pattern, path.stem).get(group)
    return value.lower() if value and group == "lang" else value or None


# Remembered per file name: grouping by family, reading the note and its language all ask,
# and forked scan workers inherit what the grouping found (RE2 with groups: ~15 us a call).
@functools.lru_cache(maxsize=1 << 16)
def _pattern_groups(pattern: str, stem: str) -> Mapping[str, str | None]:
    """The named groups of ``scan.family_pattern`` found in ``stem`` (empty: no match)."""
    regex = _compiled(pattern)
    match = regex.search(stem)
    return {} if match is None else {name: match.group(name) for name in regex.groupindex}


_DEFAULT_PATTERN = ScanConfig().family_pattern


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> UserRegex | re.Pattern[str]:
    """The project's own default runs on ``re`` (it is linear, and RE2's binding costs
    several times more per call); a pattern the user wrote runs on RE2."""
    if pattern == _DEFAULT_PATTERN:
        return re.compile(pattern)
    return compile_user_regex(pattern, "scan.family_pattern")


def _folder_language(path: Path) -> str | None:
    """The parent folder's name when it is a language code (``de``, ``pt-br``, ``hant``)."""
    name = path.parent.name.lower()
    match = _LANGUAGE_FOLDER.fullmatch(name)
    if match is None:
        return None
    primary = match.group("primary")
    return name if primary is None or primary in ISO_639_1 else None
