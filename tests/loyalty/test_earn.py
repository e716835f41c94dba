"""Earn rules: rounding, multipliers, exclusions, caps and bonuses; vectorized = scalar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmkit.loyalty as L
from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError
from crmkit.model import Money, Order, OrderLine

UTC = dt.UTC


def eur(minor: int) -> Money:
    return Money(amount_minor=minor, currency="EUR")


def _order(**kw: Any) -> Order:
    return Order(**kw)


def one(total: int, **kw: object) -> OrderColumns:
    return OrderColumns.from_arrays(
        order_id=["o"],
        customer_id=["c"],
        placed_at=np.array(["2024-05-01T10:00"], "M8[us]"),
        currency=["EUR"],
        total_minor=[total],
        **kw,
    )


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        ("floor", [12, 12, 12]),
        ("ceil", [13, 13, 13]),
        ("half_up", [12, 13, 13]),
        ("half_even", [12, 12, 13]),
    ],
)
def test_rounding_modes_are_exact(rounding: str, expected: list[int]) -> None:
    """12.49, 12.50 and 12.99 EUR at 1 point per EUR round per the explicit mode."""
    oc = OrderColumns.from_arrays(
        order_id=["a", "b", "c"],
        customer_id=["c"] * 3,
        placed_at=np.array(["2024-05-01"] * 3, "M8[us]"),
        currency=["EUR"] * 3,
        total_minor=[1249, 1250, 1299],
    )
    assert L.earn_points(L.EarnRule(rounding=rounding), oc).points.tolist() == expected


def test_shipping_and_tax_are_excluded_unless_asked() -> None:
    """A 50.00 order with 5.00 shipping and 8.00 tax earns on 37.00 by default, 50 if not."""
    oc = one(5000, shipping_minor=[500], tax_minor=[800])
    assert L.earn_points(L.EarnRule(rounding="floor"), oc).points.tolist() == [37]
    rule = L.EarnRule(rounding="floor", exclude_shipping=False, exclude_tax=False)
    assert L.earn_points(rule, oc).points.tolist() == [50]


def test_minimum_order_value_and_cancelled_orders_earn_nothing() -> None:
    """Below the 20.00 minimum, or cancelled, an order earns 0."""
    rule = L.EarnRule(rounding="floor", min_order_minor=2000, points_per_order=5)
    assert L.earn_points(rule, one(1999)).points.tolist() == [0]
    assert L.earn_points(rule, one(2000)).points.tolist() == [25]
    assert L.earn_points(rule, one(5000, status=["cancelled"])).points.tolist() == [0]


def test_multipliers_tier_campaign_category_and_discounted_lines() -> None:
    """Category ×2 on shoes, discounted line excluded, Gold ×1.5, app campaign ×3 (no stack)."""
    placed = dt.datetime(2024, 11, 29, 10, tzinfo=UTC)
    order = _order(
        order_id="o1",
        customer_id="c",
        currency="EUR",
        placed_at=placed,
        channel="app",
        lines=[
            OrderLine(product_id="s", quantity=1, unit_price=eur(4000), category="shoes"),
            OrderLine(product_id="t", quantity=2, unit_price=eur(1000), category="tees"),
            OrderLine(
                product_id="u", quantity=1, unit_price=eur(3000), discount=eur(500), category="tees"
            ),
        ],
    )
    rule = L.EarnRule(
        rounding="floor",
        tier_multipliers=[1, "1.5"],
        category_multipliers={"shoes": 2},
        exclude_discounted_lines=True,
        points_per_item=1,
        campaigns=[
            L.Campaign(
                name="bf",
                multiplier=3,
                start=dt.datetime(2024, 11, 29, tzinfo=UTC),
                end=dt.datetime(2024, 12, 2, tzinfo=UTC),
                channels=("app",),
            ),
            L.Campaign(
                name="all",
                multiplier=2,
                start=dt.datetime(2024, 11, 1, tzinfo=UTC),
                end=dt.datetime(2024, 12, 31, tzinfo=UTC),
            ),
        ],
    )
    # shoes: (40 + 1 item) × 2 = 82; tees: 20 + 2 items = 22; → 104 × 1.5 × 3 = 468
    assert L.points_for_order(rule, order, tier=1) == 468
    got = L.earn_points(
        rule,
        OrderColumns.from_orders([order]),
        lines=OrderLineColumns.from_orders([order]),
        tiers=[1],
    )
    assert got.points.tolist() == [468]
    assert got.basis_minor.tolist() == [6000]


def test_floats_are_refused_as_multipliers() -> None:
    """Multipliers must be exact: a float is an error, a string or Fraction is fine."""
    with pytest.raises(InvalidInputError, match="inexact"):
        L.EarnRule(rounding="floor", tier_multipliers=[1.5])
    with pytest.raises(InvalidInputError, match="lines"):
        L.earn_points(L.EarnRule(rounding="floor", points_per_item=1), one(100))


def test_monthly_cap_is_consumed_in_time_order_in_local_months() -> None:
    """Cap 100/month (Berlin): orders 60, 60, 60 in May earn 60, 40, 0; June starts afresh."""
    oc = OrderColumns.from_arrays(
        order_id=["a", "b", "c", "d", "e"],
        customer_id=["x", "x", "x", "x", "y"],
        # 'c' is at 22:30 UTC on May 31 = June 1 in Berlin
        placed_at=np.array(
            ["2024-05-20", "2024-05-02", "2024-05-31T22:30", "2024-05-10", "2024-05-10"], "M8[us]"
        ),
        currency=["EUR"] * 5,
        total_minor=[6000] * 5,
    )
    rule = L.EarnRule(rounding="floor", cap=L.EarnCap(points=100, period="month"))
    got = L.earn_points(rule, oc, clock=L.ProgramClock(timezone="Europe/Berlin"))
    assert got.points.tolist() == [0, 60, 60, 40, 60]
    assert got.uncapped.tolist() == [60] * 5


def test_bonus_events_with_limits() -> None:
    """Signup once ever, birthday once a year, reviews at most 2 a month; other types nothing."""
    ev = EventColumns.from_arrays(
        event_id=[f"e{i}" for i in range(7)],
        customer_id=["a", "a", "a", "a", "a", "a", ""],
        type=["signup", "signup", "birthday", "review", "review", "review", "review"],
        at=np.array(
            [
                "2024-01-01",
                "2024-02-01",
                "2024-03-03",
                "2024-03-04",
                "2024-03-05",
                "2024-03-06",
                "2024-03-06",
            ],
            "M8[us]",
        ),
    )
    rules = [
        L.BonusRule(event_type="signup", points=500),
        L.BonusRule(event_type="birthday", points=200, period="year"),
        L.BonusRule(event_type="review", points=50, limit=2, period="month"),
    ]
    assert L.bonus_points(rules, ev).points.tolist() == [500, 0, 200, 50, 50, 0, 0]


orders_strategy = st.lists(
    st.tuples(
        st.lists(
            st.tuples(
                st.integers(1, 5),
                st.integers(0, 20_000),
                st.booleans(),
                st.sampled_from(["a", "b", "c"]),
            ),
            min_size=1,
            max_size=4,
        ),
        st.integers(0, 2000),  # shipping
        st.integers(0, 86_400 * 60),  # seconds after start
        st.integers(-1, 2),  # tier
        st.sampled_from(["web", "app"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(orders=orders_strategy, rounding=st.sampled_from(list(L.Rounding)))
def test_vectorized_earn_equals_the_single_order_path(
    orders: list[tuple[list[tuple[int, int, bool, str]], int, int, int, str]],
    rounding: L.Rounding,
) -> None:
    """earn_points over columns gives exactly points_for_order for each order (no cap)."""
    start = dt.datetime(2024, 10, 1, tzinfo=UTC)
    rule = L.EarnRule(
        rounding=rounding,
        points_per_unit=3,
        unit_minor=250,
        points_per_item=2,
        points_per_order=1,
        min_order_minor=500,
        tier_multipliers=["1", "5/4", "3/2"],
        category_multipliers={"a": "2", "b": "1/3"},
        exclude_discounted_lines=True,
        exclude_shipping=False,
        campaigns=[
            L.Campaign(
                name="x",
                multiplier="7/5",
                start=start + dt.timedelta(days=10),
                end=start + dt.timedelta(days=20),
                channels=("app",),
            )
        ],
    )
    objs = []
    for i, (lines, ship, secs, _tier, channel) in enumerate(orders):
        ls = [
            OrderLine(
                product_id=f"p{j}",
                quantity=q,
                unit_price=eur(price),
                category=cat,
                discount=eur(1) if disc and price > 0 else None,
            )
            for j, (q, price, disc, cat) in enumerate(lines)
        ]
        objs.append(
            _order(
                order_id=f"o{i}",
                customer_id="c",
                currency="EUR",
                lines=ls,
                placed_at=start + dt.timedelta(seconds=secs),
                channel=channel,
                shipping=eur(ship),
            )
        )
    tiers = [o[3] for o in orders]
    vec = L.earn_points(
        rule, OrderColumns.from_orders(objs), lines=OrderLineColumns.from_orders(objs), tiers=tiers
    )
    scalar = [L.points_for_order(rule, o, tier=tr) for o, tr in zip(objs, tiers, strict=True)]
    assert vec.points.tolist() == scalar


def test_earn_gives_each_lot_its_expiry_in_the_same_pass() -> None:
    """earn_points(expiry=...) returns the same expiries as ExpiryRule.expires_at_array."""
    clock = L.ProgramClock(timezone="America/New_York")
    oc = OrderColumns.from_arrays(
        order_id=["a", "b"],
        customer_id=["x", "y"],
        placed_at=np.array(["2024-03-10T06:30", "2024-12-31T23:00"], "M8[us]"),
        currency=["EUR"] * 2,
        total_minor=[1000, 2000],
    )
    rule = L.ExpiryRule(mode="end_of_month", offset=1)
    got = L.earn_points(L.EarnRule(rounding="floor"), oc, clock=clock, expiry=rule).expires_at
    assert got is not None
    assert np.array_equal(got, rule.expires_at_array(oc.placed_at, clock))
