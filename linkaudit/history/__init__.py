"""The history store: checks, runs, citations and findings across runs, and the dead rule.

Entry points: ``Store.open`` and ``Store.open_for(config)`` (``store``), the dead rule
``DeadRule`` and ``Confirmation`` (``dead_rule``), and what the store reads back:
``Changes`` and ``UrlState`` (``changes``). Tables and migrations are in ``schema``, the
run lock in ``lock``, refusals in ``failures``, batched check writes in ``batch``.
"""

from linkaudit.history.changes import Change, Changes, Citation, UrlState, fingerprint
from linkaudit.history.dead_rule import DAY, Confirmation, DeadRule, confirmation
from linkaudit.history.schema import SCHEMA_VERSION
from linkaudit.history.store import Store

__all__ = [
    "DAY",
    "SCHEMA_VERSION",
    "Change",
    "Changes",
    "Citation",
    "Confirmation",
    "DeadRule",
    "Store",
    "UrlState",
    "confirmation",
    "fingerprint",
]
