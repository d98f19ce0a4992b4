"""The configured history store, opened the way every run needs it.

One place knows how a run opens the store (``Store.open_for``: where it lives, the lock
timeout, the dead rule) and how many recorded runs a report shows.
"""

from __future__ import annotations

from linkaudit.config import Config
from linkaudit.history import Store

HISTORY_RUNS = 60  # recorded runs shown in the health chart


def open_store(config: Config, *, readonly: bool = False) -> Store:
    """The project's store; a writer takes the run lock, a reader never changes the file."""
    return Store.open_for(config, readonly=readonly)
