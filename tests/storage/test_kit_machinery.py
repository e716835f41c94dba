"""The kit's own machinery: declared expected failures run as strict xfail; names are checked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from crmkit.storage import ErasureReport, Store
from crmkit.storage.memory import MemoryStore
from crmkit.testing import CHECKS, ErasureChecks, StoreConformance


class _ForgetfulStore(MemoryStore):
    """A deliberately broken adapter: erase() forgets the events."""

    def erase(
        self,
        customer_id: str,
        *,
        source_record_keys: Iterable[str] = (),
        pseudonym: str | None = None,
    ) -> ErasureReport:
        kept = self.events.for_customer(customer_id)
        report = super().erase(
            customer_id, source_record_keys=source_record_keys, pseudonym=pseudonym
        )
        self.events.upsert(kept)
        return report


class TestDeclaredGapRunsAsStrictXfail(ErasureChecks):
    """A known gap declared in expected_failures is reported xfail (and would fail on XPASS)."""

    expected_failures = {  # noqa: RUF012 - the kit's documented class attribute
        "test_erase_removes_personal_data": "this adapter keeps events on erase",
    }

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """The broken store."""
        with _ForgetfulStore() as store:
            yield store


def test_check_names_are_listed() -> None:
    """CHECKS lists every check of StoreConformance, for use in expected_failures."""
    assert "test_erase_removes_personal_data" in CHECKS
    assert all(hasattr(StoreConformance, name) for name in CHECKS)
    assert len(CHECKS) == len(set(CHECKS)) > 40
