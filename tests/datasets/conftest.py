"""Shops shared by the dataset tests: one small, one large enough for statistics."""

from __future__ import annotations

import pytest

from crmkit.datasets import SyntheticShop, synthetic_shop


@pytest.fixture(scope="session")
def small_shop() -> SyntheticShop:
    """A 500-person shop with default settings (seed 11)."""
    return synthetic_shop(500, rng=11)


@pytest.fixture(scope="session")
def big_shop() -> SyntheticShop:
    """A 20,000-person shop with default settings (seed 2024), for rates and means."""
    return synthetic_shop(20_000, rng=2024)
