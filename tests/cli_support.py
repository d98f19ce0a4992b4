"""Test support for command-line tests: run the CLI in-process and keep the user's
environment out of it."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from linkaudit.cli.main import main


def run(*argv: str, transport: Any = None) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one command."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, transport=transport)
    return code, out.getvalue(), err.getvalue()


def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LINKAUDIT_* variable of the person running the tests reaches the command."""
    for name in list(os.environ):
        if name.startswith("LINKAUDIT_"):
            monkeypatch.delenv(name)
