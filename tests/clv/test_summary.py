"""The BTYD summary: definitions, merging, the split, duck-typed orders, bad input."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

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
            period="M",  # type: ignore[arg-type]
            unit="D",
        )


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


def _reference(
    ids: np.ndarray, days: np.ndarray, amounts: np.ndarray, end: int
) -> dict[Any, tuple[float, float, float, float]]:
    """Per-customer summary by a plain loop over a dict of {day: amount}."""
    out: dict[Any, dict[int, float]] = {}
    for c, d, a in zip(ids.tolist(), days.tolist(), amounts.tolist(), strict=True):
        out.setdefault(c, {}).setdefault(d, 0.0)
        out[c][d] += a
    rows: dict[Any, tuple[float, float, float, float]] = {}
    for c, per in out.items():
        ds = sorted(per)
        rep = [per[d] for d in ds[1:]]
        rows[c] = (len(ds) - 1, ds[-1] - ds[0], end - ds[0], sum(rep) / len(rep) if rep else 0.0)
    return rows


@pytest.mark.parametrize("kind", ["int", "sparse_int", "str", "sorted_str"])
def test_summary_matches_reference_loop(kind: str) -> None:
    """summarize and calibration_holdout equal a per-customer loop for every kind of id."""
    rng = np.random.default_rng(3)
    n = 3000
    raw = rng.integers(0, 300, n)
    ids: np.ndarray = {
        "int": raw,
        "sparse_int": raw * 10**12 - 7,
        "str": np.char.add("c", raw.astype(str)),
        "sorted_str": np.sort(np.char.add("c", raw.astype(str))),
    }[kind]
    days = rng.integers(0, 120, n)
    ts = np.datetime64("2024-01-01", "us") + days.astype("timedelta64[D]")
    ts = ts + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]")
    amounts = rng.integers(1, 500, n).astype(float)
    s = summarize(ids, ts, amounts, observation_end=np.datetime64("2024-05-01"))
    ref = _reference(ids, days, amounts, 121)
    assert s.customer_id.tolist() == sorted(ref)
    got = zip(s.frequency, s.recency, s.T, s.monetary, strict=True)
    for c, row in zip(s.customer_id.tolist(), got, strict=True):
        assert row == pytest.approx(ref[c], rel=1e-12)
    split = calibration_holdout(
        ids,
        ts,
        amounts,
        calibration_end=np.datetime64("2024-03-01"),
        observation_end=np.datetime64("2024-05-01"),
    )
    cal = days <= 60  # calibration_end is inclusive
    ref_cal = _reference(ids[cal], days[cal], amounts[cal], 60)
    ref_hold = _reference(ids[~cal], days[~cal], amounts[~cal], 121)
    c = split.calibration
    assert c.customer_id.tolist() == sorted(ref_cal)
    for i, cid in enumerate(c.customer_id.tolist()):
        assert (c.frequency[i], c.recency[i], c.T[i], c.monetary[i]) == pytest.approx(
            ref_cal[cid], rel=1e-12
        )
        if cid in ref_hold:
            h = ref_hold[cid]
            assert split.holdout_frequency[i] == h[0] + 1
            total = h[3] * h[0] + _first_day_amount(ids, days, amounts, cid, ~cal)
            assert split.holdout_monetary[i] == pytest.approx(total / (h[0] + 1), rel=1e-12)
        else:
            assert split.holdout_frequency[i] == 0


def _first_day_amount(
    ids: np.ndarray, days: np.ndarray, amounts: np.ndarray, cid: Any, mask: np.ndarray
) -> float:
    sel = mask & (ids == cid)
    first = days[sel].min()
    return float(amounts[sel & (days == first)].sum())
