"""Cleaning rules: which query parameters are tracking, and which URLs are never rewritten.

The rules come from three places, merged into one frozen ``RuleSet``: the project-owned
data file ``linkaudit/data/tracking.yaml``, the user's ``cleaning`` section of
``config.yaml``, and optionally a ClearURLs-format file the user points to. Matching lives
here; deciding what to do with a URL is the cleaner's job (``linkaudit.clean.strip``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from linkaudit.config import CleaningConfig, SiteRule, read_config_text
from linkaudit.errors import ConfigError
from linkaudit.hosts import HostIndex, host_matches
from linkaudit.userregex import UserRegex, compile_user_regex

LEVELS = ("safe", "aggressive")
# libyaml's safe loader when PyYAML has it: the rules file is read at the start of every run.
_SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = (
    yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
_REMEMBERED_NAMES = 4096  # parameter names whose global verdicts are kept


def _canonical_host(host: str) -> str:
    return host.strip().strip(".").lower()


@dataclass(frozen=True)
class NameSet:
    """Parameter-name patterns (``*`` is a wildcard), matched case-insensitively."""

    patterns: tuple[str, ...]
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, patterns: Iterable[str]) -> NameSet:
        unique = tuple(dict.fromkeys(patterns))
        if not unique:
            return cls((), None)
        alternatives = "|".join(re.escape(p).replace(r"\*", ".*") for p in unique)
        return cls(unique, re.compile(f"(?:{alternatives})", re.IGNORECASE | re.DOTALL))

    def matches(self, name: str) -> bool:
        return self.regex is not None and self.regex.fullmatch(name) is not None


@dataclass(frozen=True)
class SiteRules:
    """Parameters of one site (host and subdomains): removed at safe, at aggressive, kept."""

    host: str
    params: NameSet
    aggressive: NameSet
    keep: NameSet


@dataclass(frozen=True)
class Place:
    """A host (with subdomains) and an optional path prefix: where archives and wrappers live."""

    host: str
    path: str = ""

    def matches(self, host: str, path: str) -> bool:
        return host_matches(host, self.host) and path.startswith(self.path)


@dataclass(frozen=True)
class Wrapper:
    """A redirect or URL-defence wrapper; ``targets`` name the parameters holding the target."""

    place: Place
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClearUrlsProvider:
    """One ClearURLs provider; its rules match whole parameter names, case-insensitively."""

    name: str
    url_pattern: UserRegex
    rules: tuple[UserRegex, ...]
    referral: tuple[UserRegex, ...]
    exceptions: tuple[UserRegex, ...]
    redirections: tuple[UserRegex, ...]

    def applies_to(self, url: str) -> bool:
        return self.url_pattern.search(url) is not None and not any(
            exception.search(url) for exception in self.exceptions)


@dataclass(frozen=True)
class RuleSet:
    """Every cleaning rule in force for a run."""

    tracking: NameSet  # removed at safe on every host
    referral: NameSet  # removed at aggressive on every host
    keep: NameSet  # config ``remove_params``: never removed anywhere
    sites: tuple[SiteRules, ...]
    signed: tuple[frozenset[str], ...]  # lower-cased name sets that mark a signed URL
    archives: tuple[Place, ...]
    wrappers: tuple[Wrapper, ...]
    clearurls: tuple[ClearUrlsProvider, ...] = ()

    @cached_property
    def name_rules(self) -> Callable[[str], tuple[bool, bool, bool]]:
        """Whether the rules for every host keep a name, remove it at safe, at aggressive.

        Remembered per name (a bounded memo): a tree repeats a few names many times.
        """

        def judged(name: str) -> tuple[bool, bool, bool]:
            return (self.keep.matches(name), self.tracking.matches(name),
                    self.referral.matches(name))

        return lru_cache(maxsize=_REMEMBERED_NAMES)(judged)

    def sites_for(self, host: str) -> tuple[SiteRules, ...]:
        """Every site rule whose host is ``host`` or a parent domain of it."""
        return self._site_index.lookup(host)

    def archive_at(self, host: str, path: str) -> Place | None:
        """The first archive place holding ``host`` and ``path``, if any."""
        return next((place for place in self._archive_index.lookup(host)
                     if place.matches(host, path)), None)

    def wrapper_at(self, host: str, path: str) -> Wrapper | None:
        """The first wrapper (in the rules' order) whose place holds ``host`` and ``path``."""
        return next((wrapper for wrapper in self._wrapper_index.lookup(host)
                     if wrapper.place.matches(host, path)), None)

    # Host indexes, built on first use: each link's host is looked up by its label
    # suffixes instead of being compared with every rule.
    @cached_property
    def _site_index(self) -> HostIndex[SiteRules]:
        return HostIndex((site.host, site) for site in self.sites)

    @cached_property
    def _archive_index(self) -> HostIndex[Place]:
        return HostIndex((place.host, place) for place in self.archives)

    @cached_property
    def _wrapper_index(self) -> HostIndex[Wrapper]:
        return HostIndex((wrapper.place.host, wrapper) for wrapper in self.wrappers)


# ---------------------------------------------------------------- building


def load_rules(config: CleaningConfig, base_dir: Path) -> RuleSet:
    """The built-in rules plus the config's additions and its ClearURLs file, if any."""
    builtin = _builtin_data()
    sites = [_site_rules(host, SiteRule(**rule)) for host, rule in builtin["sites"].items()]
    sites += [_site_rules(host, rule) for host, rule in config.sites.items()]
    clearurls: tuple[ClearUrlsProvider, ...] = ()
    if config.clearurls_file is not None:
        path = Path(config.clearurls_file).expanduser()
        clearurls = load_clearurls(path if path.is_absolute() else base_dir / path)
    return RuleSet(
        tracking=NameSet.of([*builtin["tracking"], *config.add_params]),
        referral=NameSet.of(builtin["referral"]),
        keep=NameSet.of(config.remove_params),
        sites=tuple(sites),
        signed=tuple(frozenset(name.lower() for name in names) for names in builtin["signed"]),
        archives=tuple(Place(**entry) for entry in builtin["archives"]),
        wrappers=tuple(
            Wrapper(Place(entry["host"], entry.get("path", "")), tuple(entry.get("target", ())))
            for entry in builtin["wrappers"]),
        clearurls=clearurls,
    )


def _builtin_data() -> dict[str, Any]:
    text = resources.files("linkaudit").joinpath("data/tracking.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=_SAFE_LOADER)
    return data


def _site_rules(host: str, rule: SiteRule) -> SiteRules:
    return SiteRules(_canonical_host(host), NameSet.of(rule.params),
                     NameSet.of(rule.aggressive), NameSet.of(rule.keep))


# ---------------------------------------------------------------- ClearURLs


def load_clearurls(path: Path) -> tuple[ClearUrlsProvider, ...]:
    """Providers of a ClearURLs ``data.min.json`` file; any problem is a ``ConfigError``.

    ``rawRules`` (path rewrites) and ``completeProvider`` (URL blocking) are ignored:
    linkaudit only removes query parameters (see docs/cleaning.md).
    """
    data = _read_json(path)
    providers = data.get("providers") if isinstance(data, dict) else None
    if not isinstance(providers, dict):
        raise ConfigError(f"{path}: not a ClearURLs rules file: expected an object with "
                          f"a 'providers' object")
    return tuple(_provider(path, str(name), body) for name, body in providers.items())


def _read_json(path: Path) -> Any:
    text = read_config_text(path, "ClearURLs rules file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def _provider(path: Path, name: str, body: Any) -> ClearUrlsProvider:
    where = f"{path}: provider {name!r}"
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where}: expected an object")
    pattern = body.get("urlPattern")
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: 'urlPattern' must be a string")

    def patterns(key: str) -> tuple[UserRegex, ...]:
        values = body.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{where}: {key!r} must be a list of strings")
        return tuple(_compile(where, key, value) for value in values)

    return ClearUrlsProvider(
        name=name,
        url_pattern=_compile(where, "urlPattern", pattern),
        rules=patterns("rules"),
        referral=patterns("referralMarketing"),
        exceptions=patterns("exceptions"),
        redirections=patterns("redirections"),
    )


def _compile(where: str, key: str, pattern: str) -> UserRegex:
    return compile_user_regex(pattern, f"{where}: {key}", ignore_case=True)
