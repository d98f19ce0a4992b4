"""Host names and their parent domains: the one "this host or a parent domain" lookup.

Cleaning rules (``clean.rules``) and per-host network settings (``check.hosts``) both
apply to a host and every subdomain of it; both find theirs here, by the host's label
suffixes (``a.b.c``, ``b.c``, ``c``) instead of comparing the host with every entry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

_Item = TypeVar("_Item")
_REMEMBERED_HOSTS = 4096  # per index: a few hundred KB at most


def host_matches(host: str, rule_host: str) -> bool:
    """True when ``host`` is ``rule_host`` or one of its subdomains (label boundaries)."""
    return host == rule_host or host.endswith("." + rule_host)


def host_suffixes(host: str) -> Iterator[str]:
    """``host`` and what follows each of its dots, nearest first: every ``rule_host`` that
    ``host_matches``."""
    yield host
    dot = host.find(".")
    while dot >= 0:
        yield host[dot + 1:]
        dot = host.find(".", dot + 1)


def nearest(entries: Mapping[str, _Item], host: str) -> _Item | None:
    """The entry for ``host`` or, failing that, for its nearest parent domain."""
    return next((entries[suffix] for suffix in host_suffixes(host) if suffix in entries), None)


class HostIndex(Generic[_Item]):
    """Items keyed by rule host, found for a host by its label suffixes instead of a scan.

    Answers are remembered per host (a bounded memo): a tree cites a few hosts many times.
    """

    def __init__(self, entries: Iterable[tuple[str, _Item]]) -> None:
        self._by_host: dict[str, list[tuple[int, _Item]]] = {}
        for order, (rule_host, item) in enumerate(entries):
            self._by_host.setdefault(rule_host, []).append((order, item))
        self.lookup = functools.lru_cache(maxsize=_REMEMBERED_HOSTS)(self._lookup)
        # Every suffix of a host ends with the host's last label: others cannot match.
        self._last_labels = {rule_host.rpartition(".")[2] for rule_host in self._by_host}

    def _lookup(self, host: str) -> tuple[_Item, ...]:
        """Every item whose rule host ``host_matches`` ``host``, in the order given."""
        if host.rpartition(".")[2] not in self._last_labels:
            return ()
        found = [entry for suffix in host_suffixes(host) for entry in self._by_host.get(suffix, ())]
        if len(found) > 1:
            found.sort(key=lambda entry: entry[0])
        return tuple(item for _, item in found)
