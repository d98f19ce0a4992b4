"""Finding and reading configuration files.

linkaudit's own file names (``linkaudit.yaml``, ``.linkaudit.yaml``) and a
``[tool.linkaudit]`` table in ``pyproject.toml`` are searched from the current folder up to
the repository root; a plain ``config.yaml`` is read only when named. Every failure to
read or parse is a ``ConfigError`` that says which file and where.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from linkaudit.errors import ConfigError

CONFIG_NAMES = ("linkaudit.yaml", ".linkaudit.yaml")  # searched for, in this order
PYPROJECT = "pyproject.toml"  # searched for a [tool.linkaudit] table, after CONFIG_NAMES


def find_config(start: Path | None = None) -> Path | None:
    """linkaudit's own configuration nearest to ``start`` (default: the current folder).

    In each folder from ``start`` up: ``linkaudit.yaml``, ``.linkaudit.yaml``, then a
    ``pyproject.toml`` holding a ``[tool.linkaudit]`` table. The search stops at the
    repository root (the folder holding ``.git``); outside a repository it goes up to the
    file system's root. A plain ``config.yaml`` is never taken: a site's own config file
    (Hugo's, for one) must not be read as linkaudit's; name it with ``--config``.
    """
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            if (candidate / name).is_file():
                return candidate / name
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and tool_table(pyproject) is not None:
            return pyproject
        if (candidate / ".git").exists():
            return None
    return None


def tool_table(path: Path) -> dict[str, Any] | None:
    """The ``[tool.linkaudit]`` table of a pyproject.toml, or None when it has none."""
    try:
        data = tomllib.loads(read_config_text(path, "pyproject.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("linkaudit") if isinstance(data.get("tool"), dict) \
        else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.linkaudit] must be a table")
    return table


def read_config_text(path: Path, what: str) -> str:
    """A file the user named in configuration; every failure is a ConfigError saying why."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The file's data, and its node tree (positions for error messages)."""
    text = read_config_text(path, "config file")
    node = parse_yaml(lambda source: yaml.compose(source, Loader=yaml.SafeLoader), text,
                       str(path))
    return parse_yaml(yaml.safe_load, text, str(path)), node


def parse_yaml(step: Callable[[str], Any], text: str, source: str) -> Any:
    """Compose or safely load YAML; every failure a ConfigError that says where.

    Values YAML parses but cannot build (``!!float abc``, a 30 February) raise ValueError
    or OverflowError from the constructors, not YAMLError.
    """
    try:
        return step(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{position}: invalid YAML: {problem}") from None
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: invalid YAML value: {exc}") from None
