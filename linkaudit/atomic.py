"""Replacing a file whole or not at all, for every file linkaudit writes (rewritten notes,
reports written with ``--output``).

The bytes go to a temporary file in the target's folder, are flushed to disk, and
``os.replace`` swaps the file in one step: a full disk or a crash leaves the old file
as it was, and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".linkaudit-tmp"


def replace_file(target: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` as ``target``; raise ``OSError`` with ``target`` untouched on failure.

    ``mode`` defaults to the existing file's permissions, or what the umask gives a new file.
    """
    temp_name: str | None = None
    try:
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=TEMP_SUFFIX)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp_name, _mode_for(target) if mode is None else mode)
        os.replace(temp_name, target)
        temp_name = None
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
    _sync_folder(target.parent)


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
