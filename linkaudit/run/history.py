"""The configured history store, opened the way every run needs it.

One place knows where the store lives (``store.path``, relative to the config), how long to
wait for another run's lock, and how many recorded runs a report shows.
"""

from __future__ import annotations

from linkaudit.config import Config
from linkaudit.history.store import DAY, Store

HISTORY_RUNS = 60  # recorded runs shown in the health chart


def open_store(config: Config, *, readonly: bool = False) -> Store:
    """The project's store; a writer takes the run lock, a reader never changes the file."""
    return Store.open(config.resolve(config.store.path), lock_timeout=config.store.lock_timeout,
                      readonly=readonly)


def dead_rule(config: Config) -> tuple[int, float]:
    """``dead_after`` as the store takes it: failures needed, and their spread in days."""
    return config.dead_after.failures, config.dead_after.days / DAY
