"""The public names of crmkit.targeting."""

from __future__ import annotations

import crmkit.targeting as targeting


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, every name exists, and every public attribute is listed."""
    assert targeting.__all__ == sorted(targeting.__all__)
    assert all(hasattr(targeting, n) for n in targeting.__all__)
    public = {n for n in vars(targeting) if not n.startswith("_")}
    assert public == set(targeting.__all__)
