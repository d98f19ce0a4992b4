"""User-supplied regular expressions, run on a linear-time engine (RE2).

Every pattern a user writes (``ignore`` rules, ``scan.family_pattern``, ``scan.exclude``
globs, ``network.exclude``, ClearURLs rules files) is compiled here, never with ``re``:
Python's backtracking engine can spend hours on one catastrophic pattern such as
``(a+)+$``; RE2 matches in time linear in the text, and refuses what it cannot do that
way (back-references, look-around), which is reported as a configuration error.
"""

from __future__ import annotations

from typing import Protocol

import re2  # type: ignore[import-untyped]

from linkaudit.errors import ConfigError

__all__ = ["UserMatch", "UserRegex", "compile_user_regex"]


class UserMatch(Protocol):
    """What callers use of a match (the ``re.Match`` names, as RE2's binding gives them)."""

    @property
    def re(self) -> UserRegex: ...

    def group(self, group: int | str = 0, /) -> str | None: ...


class UserRegex(Protocol):
    """A compiled user pattern (the ``re.Pattern`` names, as RE2's binding gives them)."""

    @property
    def pattern(self) -> str: ...

    @property
    def groups(self) -> int: ...

    @property
    def groupindex(self) -> dict[str, int]: ...

    def search(self, text: str) -> UserMatch | None: ...

    def fullmatch(self, text: str) -> UserMatch | None: ...


class _Compiled:
    """An RE2 pattern that also takes text RE2 cannot encode: a file name read with
    ``surrogateescape`` holds lone surrogates for its undecodable bytes, which are matched
    as U+FFFD (the pattern sees a replacement character where the name had a bad byte)."""

    def __init__(self, compiled: UserRegex) -> None:
        self._compiled = compiled
        self.pattern, self.groups = compiled.pattern, compiled.groups
        self.groupindex = compiled.groupindex

    def search(self, text: str) -> UserMatch | None:
        return self._compiled.search(_encodable(text))

    def fullmatch(self, text: str) -> UserMatch | None:
        return self._compiled.fullmatch(_encodable(text))


def _encodable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged when it has none)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _options(case_sensitive: bool) -> object:
    options = re2.Options()
    options.log_errors = False  # errors become ConfigError, not lines on stderr
    options.case_sensitive = case_sensitive
    return options


_OPTIONS = {True: _options(True), False: _options(False)}


def compile_user_regex(pattern: str, where: str, *, ignore_case: bool = False) -> UserRegex:
    """``pattern`` compiled by RE2; a ``ConfigError`` naming ``where`` when it cannot be.

    ``where`` says where the pattern was written (``config.yaml:12:5: ignore[0].pattern``).
    """
    try:
        compiled: UserRegex = _Compiled(re2.compile(pattern, _OPTIONS[not ignore_case]))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ConfigError(f"{where}: bad regular expression {pattern!r}: {reason} (not a valid "
                          "regular expression in RE2 syntax, which has no back-references "
                          "or look-around)") from None
    return compiled

