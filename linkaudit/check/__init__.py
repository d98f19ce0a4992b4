"""check: the network check of distinct URLs, each to a ``CheckResult``, failures as values.

Entry points: ``make_client`` (the one httpx client, guarded transport), ``Checker`` (its
``results``/``check_all``/``check``), ``network_unavailable`` (a run's "network down"
test) and ``check_address`` (the private-address pre-check). Modules: ``client``,
``guard``, ``errors``, ``retry``, ``hosts``, ``head``, ``scheduler``, ``fetch``,
``decoding``, ``verdicts``, ``checker``.
"""

from linkaudit.check.checker import Checker
from linkaudit.check.client import make_client
from linkaudit.check.errors import NO_NETWORK_REASONS, describe_error, network_unavailable
from linkaudit.check.guard import check_address

__all__ = [
    "NO_NETWORK_REASONS",
    "Checker",
    "check_address",
    "describe_error",
    "make_client",
    "network_unavailable",
]
