"""The conformance kit for storage adapters, and Hypothesis strategies (needs ``crmkit[test]``).

An adapter author subclasses [`StoreConformance`][crmkit.testing.StoreConformance] in a test
module and overrides one fixture, ``store``, to yield a fresh, empty store. Checks that need a
capability skip when the store does not declare it; known gaps are declared in
``expected_failures`` (``{check_name: reason}``) and run as strict xfail.

This package imports pytest and Hypothesis: install ``crmkit[test]`` to use it.

Examples:
    >>> import pytest
    >>> from crmkit.storage.memory import MemoryStore
    >>> class TestMemoryStore(StoreConformance):
    ...     @pytest.fixture
    ...     def store(self):
    ...         with MemoryStore() as store:
    ...             yield store
    >>> "test_orders_round_trip" in CHECKS
    True
"""

from crmkit.testing import strategies
from crmkit.testing._base import KIT_SETTINGS, requires
from crmkit.testing._behaviour import (
    BatchChecks,
    ErasureChecks,
    IngestChecks,
    ScanChecks,
    TransactionChecks,
)
from crmkit.testing._concurrency import ConcurrencyChecks
from crmkit.testing._identity import IdentityChecks
from crmkit.testing._modules import ModuleChecks
from crmkit.testing._values import ColumnChecks, RoundTripChecks

__all__ = [
    "CHECKS",
    "KIT_SETTINGS",
    "BatchChecks",
    "ColumnChecks",
    "ConcurrencyChecks",
    "ErasureChecks",
    "IdentityChecks",
    "IngestChecks",
    "ModuleChecks",
    "RoundTripChecks",
    "ScanChecks",
    "StoreConformance",
    "TransactionChecks",
    "requires",
    "strategies",
]


class StoreConformance(
    RoundTripChecks,
    ColumnChecks,
    BatchChecks,
    TransactionChecks,
    ScanChecks,
    ErasureChecks,
    IngestChecks,
    ConcurrencyChecks,
    IdentityChecks,
    ModuleChecks,
):
    """Every check of the kit: subclass it and override the ``store`` fixture.

    Set ``expected_failures = {"test_name": "why it fails here"}`` on the subclass for known
    gaps; they run as strict xfail. The names are those in ``crmkit.testing.CHECKS``.

    Examples:
        >>> issubclass(StoreConformance, ErasureChecks)
        True
    """


#: The names of every check, for ``expected_failures``.
CHECKS: tuple[str, ...] = tuple(sorted(n for n in dir(StoreConformance) if n.startswith("test_")))
