"""The BTYD summary: definitions, merging, the split, duck-typed orders, bad input."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

import crmkit.clv
from crmkit.clv import calibration_holdout, summarize, summary_from_orders
from crmkit.errors import CurrencyMismatchError, InvalidInputError


def _ts(*days: str) -> np.ndarray:
    return np.array(days, dtype="datetime64[us]")


def test_btyd_definitions_not_marketing_rfm() -> None:
    """frequency counts repeats, recency runs first→last, T first→end, monetary averages repeats."""
    s = summarize(
        ["a", "a", "a", "b"],
        _ts("2024-01-01", "2024-01-04", "2024-01-11", "2024-01-05"),
        [100.0, 20.0, 40.0, 7.0],
        observation_end=np.datetime64("2024-01-21"),
    )
    assert s.customer_id.tolist() == ["a", "b"]
    assert s.frequency.tolist() == [2.0, 0.0]
    assert s.recency.tolist() == [10.0, 0.0]
    assert s.T.tolist() == [20.0, 16.0]
    assert s.monetary.tolist() == [30.0, 0.0]
    with pytest.raises(ValueError, match="read-only"):
        s.frequency[0] = 1.0


def test_same_period_purchases_merge_and_weeks() -> None:
    """Purchases in one period merge (amounts add); weeks start on Monday."""
    ts = _ts("2024-01-01T08:00", "2024-01-07T23:00", "2024-01-08T01:00")  # Mon, Sun, next Mon
    s = summarize([1, 1, 1], ts, [1, 2, 4], observation_end=np.datetime64("2024-01-15"), period="W")
    assert s.frequency.tolist() == [1.0]
    assert s.monetary.tolist() == [4.0]
    assert s.T.tolist() == [2.0]
    d = summarize(
        [1, 1, 1], ts, [1, 2, 4], observation_end=np.datetime64("2024-01-15"), period="D", unit="W"
    )
    assert d.frequency.tolist() == [2.0]
    assert d.recency[0] == pytest.approx(1.0)


def test_timezone_aware_datetimes() -> None:
    """Aware datetimes are converted to UTC before periods are cut."""
    tz = dt.timezone(dt.timedelta(hours=-5))
    ts = [dt.datetime(2024, 1, 1, 20, tzinfo=tz), dt.datetime(2024, 1, 2, 1, tzinfo=dt.UTC)]
    s = summarize(["x", "x"], ts, [1.0, 1.0], observation_end=np.datetime64("2024-01-03"))
    assert s.frequency.tolist() == [0.0]  # both on 2024-01-02 UTC


def test_calibration_holdout_split() -> None:
    """Holdout counts purchase periods after calibration_end; late first-timers are excluded."""
    ts = _ts("2024-01-01", "2024-01-02", "2024-01-20", "2024-01-20", "2024-01-25")
    split = calibration_holdout(
        ["a", "a", "a", "a", "b"],
        ts,
        [1, 2, 3, 4, 5],
        calibration_end=np.datetime64("2024-01-10"),
        observation_end=np.datetime64("2024-01-31"),
    )
    assert split.calibration.customer_id.tolist() == ["a"]
    assert split.calibration.frequency.tolist() == [1.0]
    assert split.holdout_frequency.tolist() == [1.0]
    assert split.holdout_monetary.tolist() == [7.0]
    assert split.duration_holdout == 21.0


def test_late_transactions_and_bad_period_raise() -> None:
    """A transaction after observation_end and an unknown period are input errors."""
    with pytest.raises(InvalidInputError, match="after observation_end"):
        summarize([1], _ts("2024-02-01"), [1.0], observation_end=np.datetime64("2024-01-01"))
    with pytest.raises(InvalidInputError, match="period"):
        summarize(
            [1],
            _ts("2024-01-01"),
            [1.0],
            observation_end=np.datetime64("2024-01-02"),
            period="M",
            unit="D",
        )  # type: ignore[arg-type]


def test_orders_duck_typed_and_currency_checked() -> None:
    """summary_from_orders reads the order columns; two currencies raise CurrencyMismatchError."""
    orders = SimpleNamespace(
        customer_id=np.array(["c", "c"]),
        placed_at=_ts("2024-03-01", "2024-03-04"),
        total_minor=np.array([1999, 2500], dtype=np.int64),
        currency=np.array(["EUR", "EUR"]),
    )
    s = summary_from_orders(orders, observation_end=np.datetime64("2024-03-10"))
    assert s.monetary.tolist() == [2500.0]
    orders.currency = np.array(["EUR", "USD"])
    with pytest.raises(CurrencyMismatchError):
        summary_from_orders(orders, observation_end=np.datetime64("2024-03-10"))


def test_all_is_sorted_and_honest() -> None:
    """crmkit.clv.__all__ is sorted and every name in it exists."""
    names = crmkit.clv.__all__
    assert list(names) == sorted(names)
    assert all(hasattr(crmkit.clv, n) for n in names)


def test_summary_from_order_columns() -> None:
    """summary_from_orders works on crmkit.columns.OrderColumns."""
    from crmkit.columns import OrderColumns

    oc = OrderColumns.from_arrays(
        order_id=["o1", "o2", "o3"],
        customer_id=["c1", "c1", "c2"],
        placed_at=np.array(
            ["2024-01-01T10:00", "2024-02-01T09:30", "2024-02-03"], "datetime64[us]"
        ),
        currency=["EUR", "EUR", "EUR"],
        total_minor=[1999, 500, 700],
    )
    s = summary_from_orders(oc, observation_end=np.datetime64("2024-03-01"))
    assert s.customer_id.tolist() == ["c1", "c2"]
    assert s.frequency.tolist() == [1.0, 0.0]
    assert s.monetary.tolist() == [500.0, 0.0]
