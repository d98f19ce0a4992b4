"""What can be wrong with the store file, and SQLite or OS failures as clear StoreErrors.

Every refusal leaves the file as it is (never repaired, replaced or deleted) and says what
to do; the CLI turns a StoreError into exit code 3.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar, cast

from linkaudit.errors import StoreError

_SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # an SQLite file is never shorter than its header


class _AtPath(Protocol):
    @property
    def path(self) -> Path: ...


_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound=_AtPath)


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Turn any SQLite failure inside a store method into a StoreError with a message."""

    def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise sqlite_failure(self.path, exc) from exc

    return cast("Callable[Concatenate[_S, _P], _R]", functools.wraps(method)(wrapper))


def sqlite_failure(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return StoreError(
            f"{path}: the history store is damaged ({text}); it was left as it is: move it "
            "aside to start a new history, or restore a backup"
        )
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: the history store stayed busy ({text}); try again")
    return StoreError(f"{path}: history store failure: {text}")


def os_failure(path: Path, doing: str, exc: OSError) -> StoreError:
    return StoreError(f"{path}: cannot {doing}: {exc.strerror or exc}")


def check_file(path: Path) -> bool:
    """True when a database file exists; refuse anything that is not an SQLite file."""
    try:
        with path.open("rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except (FileNotFoundError, NotADirectoryError):
        return False  # opening creates it (or says why its folder cannot be made)
    except IsADirectoryError:
        raise StoreError(f"{path}: is a folder, not a history store; point store.path at "
                         "a file") from None
    except OSError as exc:
        raise os_failure(path, "read the history store", exc) from None
    if header and (len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_HEADER)
                   or _claimed_size(header) > path.stat().st_size):
        raise StoreError(f"{path}: not a linkaudit history store (not an SQLite database, or "
                         "truncated); it was left as it is: move it aside or point store.path "
                         "elsewhere")
    return bool(header)


def _claimed_size(header: bytes) -> int:
    """File size the SQLite header promises (0 when that field is not trustworthy)."""
    page_size = int.from_bytes(header[16:18], "big")
    pages, change_counter, valid_for = (
        int.from_bytes(header[start:start + 4], "big") for start in (28, 24, 92))
    if valid_for != change_counter:
        return 0
    return pages * (65536 if page_size == 1 else page_size)


def cannot_share(exc: BaseException | None) -> bool:
    """True when SQLite could not open a store for shared reading: it needs to create or
    write its shared-memory index (``-shm``) beside a WAL store, and the folder or the
    file is read-only."""
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
        sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)


def refuse_unmerged_log(path: Path) -> None:
    """Before reading a store as immutable: refuse when its write-ahead log holds writes.

    An immutable read sees the database file alone; commits still in ``-wal`` (a run
    killed before it could merge them) would be missing from the report without a word.
    """
    log = path.with_name(path.name + "-wal")
    try:
        pending = log.stat().st_size > 0
    except FileNotFoundError:
        return
    except OSError as exc:
        raise os_failure(log, "read the history store's log", exc) from None
    if pending:
        raise StoreError(f"{path}: cannot read the history store where it is: its folder or "
                         f"file is read-only and {log.name} holds writes not merged yet; run "
                         "`linkaudit check` once where it can write, or copy the folder")
