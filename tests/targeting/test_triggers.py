"""Triggers: abandoned cart and browse, win-back, replenishment, anniversaries, tiers, points."""

from __future__ import annotations

import numpy as np
import pytest

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.targeting import (
    abandoned_browse,
    abandoned_cart,
    anniversary,
    points_expiring,
    replenishment,
    tier_near_miss,
    win_back,
)


def _t(values: list[str]) -> np.ndarray:
    return np.array(values, dtype="datetime64[us]")


def _events(rows: list[tuple[str, str, str]]) -> EventColumns:
    return EventColumns.from_arrays(
        event_id=[str(i) for i in range(len(rows))],
        customer_id=[c for c, _, _ in rows],
        type=[k for _, k, _ in rows],
        at=_t([t for _, _, t in rows]),
    )


def test_abandoned_cart_dedupes_waits_and_sums_the_open_cart() -> None:
    """One row per customer; only carts older than the wait; value = additions since checkout."""
    ev = _events([
        ("a", "add_to_cart", "2024-05-01T08:00"),
        ("a", "checkout_started", "2024-05-01T08:30"),
        ("a", "add_to_cart", "2024-05-01T09:00"),
        ("a", "add_to_cart", "2024-05-01T10:00"),
        ("b", "add_to_cart", "2024-05-01T15:00"),  # too recent
        ("c", "add_to_cart", "2024-05-01T09:00"),
        ("", "add_to_cart", "2024-05-01T09:00"),  # anonymous: cannot be contacted
    ])  # fmt: skip
    trig = abandoned_cart(
        ev, now=np.datetime64("2024-05-01T16:00"), wait_hours=4,
        cart_value=[10.0, 0.0, 20.0, 30.0, 5.0, 7.0, 1.0],
    )  # fmt: skip
    assert trig.customer_id.tolist() == ["a", "c"]
    assert trig.amount.tolist() == [50.0, 7.0]
    assert trig.due_at.tolist() == _t(["2024-05-01T14:00", "2024-05-01T13:00"]).tolist()


def test_an_order_closes_the_cart() -> None:
    """An order placed after the last addition means the cart was not abandoned."""
    ev = _events([("a", "add_to_cart", "2024-05-01T08:00")])
    orders = OrderColumns.from_arrays(
        order_id=["o"], customer_id=["a"], placed_at=_t(["2024-05-01T09:00"]),
        currency=["EUR"], total_minor=[100],
    )  # fmt: skip
    assert len(abandoned_cart(ev, now=np.datetime64("2024-05-02"), orders=orders)) == 0


def test_browse_abandonment_ignores_those_who_added_to_cart() -> None:
    """Viewing then adding to cart is not browse abandonment."""
    ev = _events([
        ("a", "product_view", "2024-05-01T08:00"),
        ("b", "product_view", "2024-05-01T08:00"),
        ("b", "add_to_cart", "2024-05-01T08:05"),
    ])  # fmt: skip
    assert abandoned_browse(ev, now=np.datetime64("2024-05-03")).customer_id.tolist() == ["a"]


def test_win_back_uses_own_cadence_and_p_alive() -> None:
    """Overdue against own cadence, or P(alive) below threshold; steady buyers are left alone."""
    o = OrderColumns.from_arrays(
        order_id=[str(i) for i in range(7)],
        customer_id=["fast", "fast", "fast", "slow", "slow", "one", "ok"],
        currency=["EUR"] * 7,
        total_minor=[1] * 7,
        placed_at=_t(["2024-01-01", "2024-01-08", "2024-01-15", "2023-05-01", "2024-01-01",
                      "2023-01-01", "2024-03-01"]),
    )  # fmt: skip
    t = win_back(o, now=np.datetime64("2024-03-01"))
    assert t.customer_id.tolist() == ["fast"]  # 46 days vs a 7-day cadence
    assert t.amount[0] == pytest.approx(46.0)
    t2 = win_back(o, now=np.datetime64("2024-03-01"), customer_id=["one", "ok"],
                  p_alive=[0.1, 0.9])  # fmt: skip
    assert t2.customer_id.tolist() == ["fast", "one"]


def test_replenishment_uses_the_products_median_cycle() -> None:
    """Due lead days before last purchase + the product's median repurchase gap."""
    rows = [
        (c, np.datetime64("2024-01-01") + start + 30 * k)
        for c, start in [("a", 0), ("b", 3), ("c", 5)]
        for k in range(3)
    ]
    lines = OrderLineColumns.from_arrays(
        order_id=[str(i) for i in range(len(rows))], line_no=[0] * len(rows),
        customer_id=[c for c, _ in rows], product_id=["coffee"] * len(rows),
        quantity=[1] * len(rows), unit_price_minor=[900] * len(rows),
        total_minor=[900] * len(rows), currency=["EUR"] * len(rows),
        placed_at=np.array([d for _, d in rows], dtype="datetime64[us]"),
    )  # fmt: skip
    # last purchases: a Mar 1, b Mar 4, c Mar 6; cycle 30 days; due 3 days earlier
    t = replenishment(lines, now=np.datetime64("2024-04-01"), lead_days=3, min_repeats=5)
    assert t.customer_id.tolist() == ["a", "b"]
    assert t.due_at.tolist() == _t(["2024-03-28", "2024-03-31"]).tolist()


def test_anniversary_handles_leap_day_and_year_end() -> None:
    """29 Feb falls on 28 Feb in common years; windows cross New Year."""
    d = np.array(["2000-02-29", "1990-01-02", "1990-06-01"], dtype="datetime64[D]")
    t = anniversary(["leap", "jan", "jun"], d, now=np.datetime64("2023-02-25"), within_days=7)
    assert t.customer_id.tolist() == ["leap"]
    assert str(t.due_at[0])[:10] == "2023-02-28"
    t2 = anniversary(["leap", "jan", "jun"], d, now=np.datetime64("2023-12-30"), within_days=7)
    assert t2.customer_id.tolist() == ["jan"]
    assert t2.amount.tolist() == [34.0]


def test_tier_near_miss_and_points_expiring() -> None:
    """Near-miss fires within the amount only; expiring points are summed per customer."""
    t = tier_near_miss(["a", "b", "c"], [10.0, np.nan, 0.0], now=np.datetime64("2024-05-01"),
                       max_amount=20.0)  # fmt: skip
    assert t.customer_id.tolist() == ["a"]
    p = points_expiring(
        ["a", "a", "b"], [60, 50, 500], _t(["2024-05-05", "2024-05-25", "2024-04-30"]),
        now=np.datetime64("2024-05-01"), within_days=30, min_points=100,
    )  # fmt: skip
    assert p.customer_id.tolist() == ["a"]
    assert p.amount.tolist() == [110.0]
    assert p.due_at.tolist() == _t(["2024-05-05"]).tolist()
