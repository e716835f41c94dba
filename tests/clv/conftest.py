"""Reference data for the CLV tests, read from the Lifetimes 0.11.3 wheel (never committed)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest

from tests import refdata


def _table(text: str) -> np.ndarray:
    return np.genfromtxt(io.StringIO(text), delimiter=",", names=True)


@pytest.fixture(scope="session")
def cdnow_summary(fetch_text: Callable[..., str]) -> np.ndarray:
    """The 2,357-customer CDNOW calibration summary (weeks, rounded to 0.01)."""
    return _table(fetch_text(refdata.LIFETIMES, "datasets/cdnow_customers_summary.csv"))


@pytest.fixture(scope="session")
def cdnow_spend(fetch_text: Callable[..., str]) -> np.ndarray:
    """CDNOW summary with mean repeat spend ``zbar`` (dollars, rounded to cents)."""
    return _table(
        fetch_text(refdata.LIFETIMES, "datasets/cdnow_customers_summary_with_transactions.csv")
    )


@pytest.fixture(scope="session")
def donations(fetch_text: Callable[..., str]) -> np.ndarray:
    """The BG/BB donations table (frequency, recency, periods, weights)."""
    return _table(fetch_text(refdata.LIFETIMES, "datasets/donations.csv"))


@pytest.fixture(scope="session")
def cdnow_transactions(fetch_text: Callable[..., str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW_sample.txt as (customer id, date as datetime64[us], amount)."""
    text = fetch_text(refdata.LIFETIMES, "datasets/CDNOW_sample.txt")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    ids = np.array([int(r[1]) for r in rows])  # the 1..2357 index the summary file uses
    dates = np.array(
        [f"{r[2][:4]}-{r[2][4:6]}-{r[2][6:]}" for r in rows], dtype="datetime64[D]"
    ).astype("datetime64[us]")
    amounts = np.array([float(r[4]) for r in rows])
    return ids, dates, amounts
