"""Replacing a file whole or not at all, for every file linkaudit writes (rewritten notes,
reports written with ``--output``).

The bytes go to a temporary file in the target's folder, are flushed to disk, and
``os.replace`` swaps the file in one step: a full disk or a crash leaves the old file
as it was, and no temporary file behind. A target that exists and is not a regular file
(``--output /dev/null``, ``/dev/stdout``, a named pipe, a shell's ``>(...)``) cannot be
swapped, and must never be: it is written to as it is.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TEMP_SUFFIX = ".linkaudit-tmp"


def replace_file(target: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` as ``target``; raise ``OSError`` with ``target`` untouched on failure.

    ``mode`` defaults to the existing file's permissions, or what the umask gives a new file.
    """
    with replacing(target, mode) as out:
        out.write(data)


@contextlib.contextmanager
def replacing(target: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """A file to write ``target``'s new content into, piece by piece (a streamed report).

    It replaces ``target`` when the block ends; an error in the block or while writing
    leaves ``target`` untouched and no temporary file behind (the error is raised). A device
    or a pipe is written to directly.
    """
    if _is_device_or_pipe(target):
        with open(target, "wb") as out:
            yield out
        return
    temp_name: str | None = None
    try:
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=TEMP_SUFFIX)
        raw = _Descriptor(fd)
        try:
            out = io.BufferedWriter(raw)
            yield out
            out.flush()
            os.fsync(fd)
        finally:
            raw.close()  # what a failed block left buffered is dropped, never written later
            os.close(fd)
        os.chmod(temp_name, _mode_for(target) if mode is None else mode)
        os.replace(temp_name, target)
        temp_name = None
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
    _sync_folder(target.parent)


class _Descriptor(io.RawIOBase):
    """A file descriptor as a raw stream, written through ``os.write`` (partial writes are
    completed by the buffered writer on top)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        return os.write(self.fd, data)


def _is_device_or_pipe(target: Path) -> bool:
    """True for an existing target (links followed) that is neither a file nor a folder."""
    try:
        kind = os.stat(target).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(kind) or stat.S_ISDIR(kind))


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows opening a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
