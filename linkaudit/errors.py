"""Errors that end a run, each tied to the exit code the CLI returns for it.

Per-link and per-file failures are values (findings, check results), not exceptions;
only what stops the whole run is raised, and only the CLI turns it into an exit code.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # nothing at or above the failing severity
    FINDINGS = 1  # findings that fail the run
    USAGE = 2  # bad arguments or configuration
    RUNTIME = 3  # unreadable input, store failure, network down, interrupted, write failure


class LinkauditError(Exception):
    """Base for run-ending errors; ``str(error)`` is the message shown to the user."""

    exit_code = ExitCode.RUNTIME


class UsageError(LinkauditError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """Invalid configuration; the message names the key and its position in the file."""


class StoreError(LinkauditError):
    """The history store cannot be opened, is locked, corrupted or from a newer version."""


class NetworkUnavailable(LinkauditError):
    """Nothing at all resolved or connected: no verdict can be trusted."""


class WriteError(LinkauditError):
    """A rewrite could not be written; the original file is intact."""
