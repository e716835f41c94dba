"""The conformance kit run against crmkit's own adapters: memory and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmkit.storage import Store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore
from crmkit.testing import StoreConformance


class TestMemoryStore(StoreConformance):
    """The reference adapter passes every check it declares capabilities for."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """A fresh in-memory store."""
        with MemoryStore() as store:
            yield store


class TestSQLiteStore(StoreConformance):
    """The embedded default passes every check, multi-process ones included."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        """A fresh SQLite file in the test's temporary directory."""
        with SQLiteStore(f"sqlite:///{tmp_path / 'kit.db'}") as store:
            yield store
