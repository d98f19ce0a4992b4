"""Configuration: one schema (the dataclasses below), validated with positions.

Precedence, highest first: command-line flag > environment variable > config file >
built-in default. Flags and environment variables are both turned into dotted-key
overrides (``network.allow_private=true``) and validated by the same code as the file,
so there is one place that knows what a valid value is.

Environment variables: ``LINKAUDIT_CONFIG`` names the file; ``LINKAUDIT_<SECTION>__<KEY>``
sets a key (``LINKAUDIT_REPORT__FAIL_ON=warning``), its value read as YAML.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linkaudit.config_files import (
    PYPROJECT,
    find_config,
    parse_yaml,
    read_yaml,
    tool_table,
)
from linkaudit.config_files import read_config_text as read_config_text  # for rule files
from linkaudit.errors import ConfigError
from linkaudit.userregex import compile_user_regex

ENV_PREFIX = "LINKAUDIT_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _doc(text: str, **constraints: Any) -> dict[str, Any]:
    return {"doc": text, **constraints}


def _field(default: Any, doc: str, **constraints: Any) -> Any:
    return field(default=default, metadata=_doc(doc, **constraints))


def _mapping_field(doc: str) -> Any:
    return field(default_factory=dict, metadata=_doc(doc))


class Duration(float):
    """Seconds; written in config as a number of seconds or ``30s``, ``15m``, ``12h``, ``3d``."""


@dataclass(frozen=True)
class ScanConfig:
    roots: tuple[str, ...] = _field((".",), "folders scanned when no path is given")
    include: tuple[str, ...] = _field(("*.md", "*.markdown"), "file-name globs that are notes")
    exclude: tuple[str, ...] = _field(
        ("**/.git/**", "**/node_modules/**", "**/_site/**", "**/.linkaudit/**", "**/.venv/**",
         "**/vendor/**", "**/.jekyll-cache/**", "**/public/**", "**/resources/**",
         "**/themes/*/exampleSite/**"),
        "path globs (relative to the scanned root) never scanned",
    )
    bare_urls: bool = _field(True, "report bare https://... URLs in running text")
    html: bool = _field(True, "report href/src attributes of HTML tags outside code")
    family_pattern: str = _field(
        r"^(?P<family>.+)-(?P<lang>[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?|hant|hans)$",
        "regex on the file name without extension; group 'family' is the family key",
        regex=True,
    )
    lang_key: str = _field("lang", "front-matter key holding the note's language")
    workers: int = _field(0, "processes reading a large tree (0: one per CPU; 1: none)",
                          min=0, max=64)
    max_note_size: int = _field(4_000_000, "bytes; a larger note is reported and not read",
                                min=1, max=1_000_000_000)
    max_links_per_note: int = _field(10_000, "links audited in one note; a note with more is "
                                     "reported and the links past it are not audited",
                                     min=1, max=100_000_000)
    follow_symlinks: bool = _field(False, "read symlinked notes whose target is outside the "
                                   "scanned folders")
    gitignore: bool = _field(True, "skip what git ignores (.gitignore files, .git/info/exclude); "
                             "--include-ignored turns it off")


@dataclass(frozen=True)
class SiteRule:
    params: tuple[str, ...] = _field((), "tracking parameters on this site (removed at safe)")
    aggressive: tuple[str, ...] = _field((), "parameters removed only at the aggressive level")
    keep: tuple[str, ...] = _field((), "parameters never removed on this site (always win)")


@dataclass(frozen=True)
class CleaningConfig:
    level: str = _field("safe", "how much to strip", choices=("safe", "aggressive"))
    add_params: tuple[str, ...] = _field((), "extra tracking parameter names (* wildcard)")
    remove_params: tuple[str, ...] = _field((), "built-in names no longer treated as tracking")
    sites: Mapping[str, SiteRule] = _mapping_field("per-host rules, host matched with subdomains")
    clearurls_file: str | None = _field(None, "extra rules in ClearURLs data.min.json format")


@dataclass(frozen=True)
class HostConfig:
    concurrency: int | None = _field(None, "requests in flight to this host", min=1)
    interval: Duration | None = _field(None, "minimum time between requests", min=0)
    headers: Mapping[str, str] = _mapping_field(
        "headers sent to the cited URL's own origin only (scheme, host, port)")


@dataclass(frozen=True)
class NetworkConfig:
    concurrency: int = _field(128, "requests in flight overall", min=1, max=1024)
    per_host_concurrency: int = _field(2, "requests in flight to one host", min=1, max=64)
    per_host_interval: Duration = _field(Duration(0.2), "minimum time between two requests "
                                         "to one host", min=0)
    connect_timeout: Duration = _field(Duration(10), "time to connect", min=0.01)
    read_timeout: Duration = _field(Duration(15), "time between bytes", min=0.01)
    total_timeout: Duration = _field(Duration(45), "deadline for one URL, retries included",
                                     min=0.01)
    retries: int = _field(2, "extra attempts after a transient failure", min=0, max=10)
    backoff: Duration = _field(Duration(1), "first retry delay (doubles, with jitter)", min=0)
    max_retry_after: Duration = _field(Duration(60), "cap on a server's Retry-After", min=0)
    max_redirects: int = _field(10, "redirect hops followed", min=0, max=50)
    body_cap: int = _field(65536, "bytes of a body read at most", min=0, max=10_000_000)
    user_agent: str = _field("linkaudit/0.1 (link checker; "
                             "+https://github.com/linkaudit-md/linkaudit)",
                             "User-Agent header")
    allow_private: bool = _field(False, "allow loopback, private and link-local addresses")
    exclude: tuple[str, ...] = _field((), "regexes; matching URLs are skipped", regex=True)
    hosts: Mapping[str, HostConfig] = _mapping_field("per-host overrides")


@dataclass(frozen=True)
class StoreConfig:
    path: str = _field(".linkaudit/history.sqlite", "history database, relative to config")
    lock_timeout: Duration = _field(Duration(30), "wait for another run's lock", min=0)
    keep: Duration = _field(Duration(365 * 86400), "checks older than this are deleted after "
                            "each check run (0: keep all; a bare number means days)",
                            min=0, unit="d")


@dataclass(frozen=True)
class CacheConfig:
    max_age: Duration = _field(Duration(86400), "reuse a success younger than this", min=0)


@dataclass(frozen=True)
class DeadAfterConfig:
    failures: int = _field(3, "failed checks before a link is dead", min=1, max=100)
    days: Duration = _field(Duration(3 * 86400), "first to last failure at least this long "
                            "(a bare number here means days)", min=0, unit="d")


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str = _field("", "regex matched against the URL", regex=True)
    reason: str = _field("", "shown in the report")
    kinds: tuple[str, ...] = _field((), "finding kinds it applies to (empty: all)")


@dataclass(frozen=True)
class ReportConfig:
    format: str = _field("text", "output format", choices=(
        "text", "json", "markdown", "junit", "sarif", "github", "html"))
    fail_on: str = _field("error", "lowest severity that fails the run",
                          choices=("error", "warning", "info", "never"))
    severities: Mapping[str, str] = _mapping_field("per finding kind: error|warning|info")


@dataclass(frozen=True)
class ArchiveConfig:
    endpoint: str = _field("https://archive.org/wayback/available",
                           "Wayback availability API")
    snapshot_host: str = _field("web.archive.org", "the only host whose snapshots `fix` "
                                "writes (https://<host>/web/<time>/<url>)")


@dataclass(frozen=True)
class FixConfig:
    tracking: bool = _field(True, "strip tracking parameters")
    redirects: bool = _field(True, "update permanent redirects whose target is ok")
    duplicates: bool = _field(True, "merge duplicate reference definitions")
    archive: bool = _field(True, "replace confirmed-dead links with an archived copy")


@dataclass(frozen=True)
class SiteConfig:
    root: str = _field("", "site root for /root-relative links, relative to this file (empty: "
                       "the nearest folder above a note holding _config.yml, hugo.toml, "
                       "config.toml or .git, else the scanned folder)")
    engine: str = _field("kramdown-gfm", "Markdown engine whose heading ids #fragments must "
                         "match", choices=("kramdown-gfm", "kramdown", "github"))
    permalink: str = _field("date", "Jekyll post permalink: date, pretty, ordinal, weekdate, "
                            "none, or a pattern such as /:categories/:year/:title/")
    baseurl: str = _field("", "path prefix the site is served under (Jekyll baseurl), "
                          "taken off /root-relative links")
    local_links: bool = _field(True, "check relative, /root-relative and #fragment links and "
                               "post_url tags offline")


@dataclass(frozen=True)
class Config:
    scan: ScanConfig = field(default_factory=ScanConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    dead_after: DeadAfterConfig = field(default_factory=DeadAfterConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    ignore: tuple[IgnoreRule, ...] = field(default=(), metadata=_doc("URLs not reported"))
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    fix: FixConfig = field(default_factory=FixConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    # Where the file was found (None: built-in defaults); relative paths resolve from here.
    source: Path | None = field(default=None, metadata={"internal": True})

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Where:
    """Human position of a value: file, line and column when known."""

    source: str
    node: yaml.Node | None

    def __str__(self) -> str:
        if self.node is None:
            return self.source
        mark = self.node.start_mark
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}"

    def child(self, node: yaml.Node | None) -> _Where:
        return _Where(self.source, node if node is not None else self.node)


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _mapping_nodes(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k, v) for k, v in node.value}


def _sequence_nodes(node: yaml.Node | None) -> list[yaml.Node | None]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _fail(key: str, where: _Where, message: str) -> ConfigError:
    return ConfigError(f"{where}: {key}: {message}")


def _parse_duration(value: Any, unit: str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value) * _DURATION_UNITS[unit]
        except OverflowError:  # an integer beyond any float
            return math.inf
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _DURATION_UNITS[match.group(2) or unit]
    return None


def _convert(tp: Any, value: Any, key: str, where: _Where, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key, where, meta)
    if dataclasses.is_dataclass(tp):
        return _build(typing.cast(type, tp), value, key, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(key, where, f"expected a list, got {_describe(value)}")
        items = _sequence_nodes(where.node)
        return tuple(
            _convert(args[0], item, f"{key}[{i}]",
                     where.child(items[i] if i < len(items) else None), meta)
            for i, item in enumerate(value)
        )
    if origin is Mapping:
        if not isinstance(value, dict):
            raise _fail(key, where, f"expected a mapping, got {_describe(value)}")
        nodes = _mapping_nodes(where.node)
        return types.MappingProxyType({
            str(k): _convert(args[1], v, f"{key}.{k}",
                             where.child(nodes.get(str(k), (None, None))[1]), meta)
            for k, v in value.items()
        })
    if tp is Duration:
        seconds = _parse_duration(value, meta.get("unit", "s"))
        if seconds is None:
            raise _fail(key, where, f"expected a duration such as 30s, 15m, 12h or 3d, "
                                    f"got {_describe(value)}")
        _check_range(seconds / _DURATION_UNITS[meta.get("unit", "s")], key, where, meta)
        return Duration(seconds)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(key, where, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(key, where, f"expected a whole number, got {_describe(value)}")
        _check_range(value, key, where, meta)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(key, where, f"expected a number, got {_describe(value)}")
        _check_range(value, key, where, meta)
        return float(value)
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise _fail(key, where, f"expected a string, got {_describe(value)}")
        text = value if isinstance(value, str) else str(value)
        choices = meta.get("choices")
        if choices and text not in choices:
            hint = _suggest(text, choices)
            raise _fail(key, where, f"{text!r} is not one of {', '.join(choices)}{hint}")
        if meta.get("regex"):
            compile_user_regex(text, f"{where}: {key}")
        return text
    raise TypeError(f"unsupported config type {tp!r}")  # a bug in the schema, not user input


def _check_range(value: float, key: str, where: _Where, meta: Mapping[str, Any]) -> None:
    if isinstance(value, float) and not math.isfinite(value):  # .nan, .inf
        raise _fail(key, where, f"expected a finite number, got {value!r}")
    low, high = meta.get("min"), meta.get("max")
    shown = f"{value:g}" if isinstance(value, float) else f"{value}"
    if low is not None and value < low:
        raise _fail(key, where, f"{shown} is below the minimum {low}")
    if high is not None and value > high:
        raise _fail(key, where, f"{shown} is above the maximum {high}")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    kind = {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string"}.get(
        type(value), f"a {type(value).__name__}")
    return f"{kind} ({value!r})" if not isinstance(value, (dict, list)) else kind


def _suggest(word: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _build(cls: type, data: Any, key: str, where: _Where) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(key or "config", where, f"expected a mapping, got {_describe(data)}")
    known = _fields(cls)
    nodes = _mapping_nodes(where.node)
    values: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        full = f"{key}.{name}" if key else str(name)
        key_node, value_node = nodes.get(str(name), (None, None))
        if name not in known:
            raise _fail(full, where.child(key_node),
                        f"unknown key{_suggest(str(name), known)}")
        values[name] = _convert(hints[name], value, full, where.child(value_node),
                                known[name].metadata)
    return cls(**values)


# ---------------------------------------------------------------- loading


def env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """``LINKAUDIT_SECTION__KEY=value`` variables as dotted overrides (values still raw)."""
    overrides = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
            overrides[dotted] = value
    return overrides


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    search_from: Path | None = None,
) -> Config:
    """Load and validate the configuration with the documented precedence.

    ``path`` comes from ``--config`` (any YAML file, or a pyproject.toml with a
    ``[tool.linkaudit]`` table); without it ``LINKAUDIT_CONFIG``, then ``find_config``,
    then built-in defaults. ``overrides`` are dotted keys from flags.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"])
    if path is None:
        path = find_config(search_from)
    data: Any = {}
    node: yaml.Node | None = None
    if path is not None and path.name == PYPROJECT:
        data = tool_table(path)
        if data is None:
            raise ConfigError(f"{path}: no [tool.linkaudit] table")
    elif path is not None:
        data, node = read_yaml(path)
        data = {} if data is None else data
    where = _Where(str(path) if path else "defaults", node)
    if not isinstance(data, dict):
        raise _fail("config", where, f"expected a mapping of sections, got {_describe(data)}")
    config: Config = _build(Config, data, "", where)
    config = dataclasses.replace(config, source=path.resolve() if path else None)
    for origin, layer in (("environment", env_overrides(environ)), ("flag", overrides or {})):
        for dotted, raw in layer.items():
            value = parse_yaml(yaml.safe_load, raw, f"environment {dotted}") \
                if origin == "environment" and isinstance(raw, str) else raw
            config = with_override(config, dotted, value, origin)
    return config


def with_override(config: Config, dotted: str, value: Any, origin: str = "flag") -> Config:
    """A copy of ``config`` with one dotted key set, validated like the file."""
    parts = dotted.split(".")
    where = _Where(origin, None)

    def apply(obj: Any, cls: type, index: int) -> Any:
        known = _fields(cls)
        name = parts[index]
        key = ".".join(parts[: index + 1])
        if name not in known:
            raise _fail(key, where, f"unknown key{_suggest(name, known)}")
        hint = typing.get_type_hints(cls)[name]
        if index == len(parts) - 1:
            new = _convert(hint, value, key, where, known[name].metadata)
        elif dataclasses.is_dataclass(hint):
            new = apply(getattr(obj, name), typing.cast(type, hint), index + 1)
        else:
            raise _fail(key, where, "is not a section")
        return dataclasses.replace(obj, **{name: new})

    result: Config = apply(config, Config, 0)
    return result


def describe_schema() -> list[tuple[str, str, Any]]:
    """Every key with its doc and default: used by tests to keep config.yaml complete."""
    rows: list[tuple[str, str, Any]] = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for name, f in _fields(cls).items():
            tp = hints[name]
            if dataclasses.is_dataclass(tp) and f.default_factory is not dataclasses.MISSING:
                walk(typing.cast(type, tp), f"{prefix}{name}.")
            else:
                default = f.default if f.default is not dataclasses.MISSING else None
                rows.append((prefix + name, f.metadata.get("doc", ""), default))

    walk(Config, "")
    return rows
