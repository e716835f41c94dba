"""The machinery of the conformance kit: the one fixture, capability gates, expected failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

from crmkit.storage import Capabilities, Page, Store

__all__ = ["KIT_SETTINGS", "KitBase", "columns_equal", "requires", "scan_all", "seq", "utc"]

F = TypeVar("F", bound=Callable[..., Any])

#: Hypothesis settings of the kit's property checks: derandomized, quick, store-friendly.
KIT_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    # The store keeps state between examples, so shrinking cannot isolate a failure: skip it.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    # The kit runs each check once per adapter class, by design.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)


def requires(*capabilities: str) -> Callable[[F], F]:
    """Mark a check as needing capabilities; it skips on stores that do not declare them.

    Examples:
        >>> @requires("multi_process")
        ... def test_something(self, store): ...
        >>> test_something._crmkit_requires
        ('multi_process',)
    """
    for name in capabilities:
        Capabilities().has(name)  # unknown names fail at import, not at run time

    def mark(func: F) -> F:
        func._crmkit_requires = capabilities  # type: ignore[attr-defined]
        return func

    return mark


def seq(*items: Any) -> Any:
    """A tuple of ``items`` typed ``Any``: model fields converted with ``converter=tuple``
    (``Order.lines``, ``Customer.identifiers``...) are seen by type checkers as an unbound
    ``Iterable[_T_co]``, which a plain list or tuple does not satisfy."""
    return tuple(items)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    """``datetime(..., tzinfo=UTC)``, for short test data."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def columns_equal(a: Any, b: Any) -> bool:
    """Same column table type and equal columns, missing times (NaT) equal to each other."""
    if type(a) is not type(b):
        return False
    for name, x in a.arrays().items():
        y = getattr(b, name)
        if x.dtype.kind == "M":
            x, y = x.view(np.int64), y.view(np.int64)
        if not np.array_equal(x, y):
            return False
    return True


def scan_all(scan: Callable[..., Page[Any]], *, limit: int = 1000, **bounds: Any) -> list[Any]:
    """Every item of a paginated scan, following cursors to the end."""
    out: list[Any] = []
    cursor: str | None = None
    while True:
        page = scan(after=cursor, limit=limit, **bounds)
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


class KitBase:
    """The base of every check class: override ``store``; declare ``expected_failures``.

    ``expected_failures`` maps a check's name (the test method name) to the reason it fails on
    this adapter; the check then runs as a strict xfail, so it must fail, and passing is reported
    as an error: remove the entry once the adapter is fixed.

    Examples:
        >>> KitBase.expected_failures
        {}
    """

    expected_failures: ClassVar[Mapping[str, str]] = {}

    @pytest.fixture
    def store(self) -> Store:
        """Override: yield a fresh, empty store of your adapter (and close it afterwards)."""
        pytest.fail(
            "store: the conformance kit needs a store. Override the 'store' fixture in your "
            "subclass to yield a fresh, empty store of your adapter."
        )

    @pytest.fixture(autouse=True)
    def _crmkit_gates(self, request: pytest.FixtureRequest, store: Store) -> None:
        needed: tuple[str, ...] = getattr(request.function, "_crmkit_requires", ())
        missing = [name for name in needed if not store.capabilities.has(name)]
        if missing:
            pytest.skip(f"the store does not declare the capabilities {missing}")
        name = getattr(request.node, "originalname", request.node.name)
        reason = self.expected_failures.get(name)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
