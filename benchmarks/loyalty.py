"""Loyalty at scale: earn + tier evaluation for 1M members / 10M orders, and one member's event.

Targets (issue 7): earn + tier evaluation within 5 s; one customer's event within 1 ms.
No peer library is named for this benchmark; the figures are absolute.

    python benchmarks/loyalty.py                 # 1M members, 10M orders
    python benchmarks/loyalty.py --members 100000 --orders 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Any

import numpy as np

import crmkit.loyalty as L
from crmkit.columns import OrderColumns
from crmkit.model import Money, Order, OrderLine


def _order(**kw: Any) -> Order:
    return Order(**kw)


def build(n_members: int, n_orders: int, seed: int) -> tuple[OrderColumns, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = np.sort(rng.integers(0, n_members, n_orders))
    start = np.datetime64("2022-01-01T00:00:00", "us").astype(np.int64)
    span = 3 * 365 * 86_400_000_000
    at = np.sort(rng.integers(start, start + span, n_orders)).astype("datetime64[us]")
    total = rng.gamma(2.0, 3000.0, n_orders).astype(np.int64) + 990
    ids = np.arange(n_orders).astype("U8")
    orders = OrderColumns(
        order_id=ids,
        customer_id=ids,  # string ids are not used on the hot path: codes are
        placed_at=at,
        currency=np.full(n_orders, "EUR"),
        total_minor=total,
        shipping_minor=np.where(total > 5000, 0, 490),
        tax_minor=np.zeros(n_orders, np.int64),
        status=np.full(n_orders, "completed"),
        channel=np.where(rng.random(n_orders) < 0.3, "app", "web"),
    )
    joined = np.datetime64("2021-01-01", "us") + rng.integers(
        0, 365 * 3, n_members
    ) * np.timedelta64(1, "D")
    return orders, codes, joined


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    clock = L.ProgramClock(timezone="Europe/Berlin")
    rule = L.EarnRule(
        rounding="half_up",
        points_per_unit=1,
        unit_minor=100,
        min_order_minor=500,
        tier_multipliers=[1, "1.25", "1.5"],
        campaigns=[
            L.Campaign(
                name="black-friday",
                multiplier=2,
                start=dt.datetime(2023, 11, 24, tzinfo=dt.UTC),
                end=dt.datetime(2023, 11, 28, tzinfo=dt.UTC),
                channels=("app",),
            )
        ],
        cap=L.EarnCap(points=2000, period="month"),
    )
    expiry = L.ExpiryRule(mode="end_of_month", offset=12)
    policy = L.TierPolicy(
        tiers=[
            L.Tier(name="Member", threshold=0),
            L.Tier(name="Silver", threshold=50_000, retain_threshold=40_000),
            L.Tier(name="Gold", threshold=150_000, retain_threshold=120_000),
        ],
        metric="spend",
        window="calendar_year",
        downgrade="period_end",
        grace_days=30,
        clock=clock,
    )

    t0 = time.perf_counter()
    orders, codes, joined = build(args.members, args.orders, args.seed)
    print(
        f"data: {args.members:,} members, {args.orders:,} orders "
        f"({time.perf_counter() - t0:.1f} s to build)"
    )
    state = L.TierState.start(joined)
    as_of = np.datetime64("2024-12-31T12:00", "us")
    order_tier = np.zeros(args.orders, np.int64)

    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        earned = L.earn_points(
            rule, orders, tiers=order_tier, codes=codes, clock=clock, expiry=expiry
        )
        expires = earned.expires_at
        assert expires is not None
        t1 = time.perf_counter()
        status = L.evaluate_tiers(
            policy, state, as_of, codes=codes, at=orders.placed_at, values=orders.total_minor
        )
        t2 = time.perf_counter()
        runs.append((t1 - t0, t2 - t1, t2 - t0))
    earn_s, tier_s, total_s = min(runs, key=lambda r: r[2])
    print(f"earn (points, cap, campaign, expiry of every lot): {earn_s:.2f} s")
    print(f"tier evaluation (all members, calendar year, period-end review): {tier_s:.2f} s")
    print(
        f"earn + tier evaluation: {total_s:.2f} s (target <= 5 s) -> "
        f"{'OK' if total_s <= 5 else 'MISSED'}"
    )
    last_expiry = None if earned.expires_at is None else earned.expires_at.max()
    print(f"  points issued: {int(earned.points.sum()):,}; lots expiring by: {last_expiry}")
    print(f"  tier distribution: {status.distribution(policy)}")

    # One member's event: an order arrives -> points -> ledger -> tier re-evaluation.
    ledger_policy = L.LedgerPolicy(clock=clock, expiry=expiry, burn_order="soonest_expiring")
    rng = np.random.default_rng(1)
    acct = L.MemberAccount.open("m-1")
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(40):  # a member with a history: 40 lots
        acct = L.apply(
            acct,
            L.Earn(
                key=f"h{i}",
                member_id="m-1",
                at=base + dt.timedelta(days=i),
                points=int(rng.integers(10, 300)),
            ),
            ledger_policy,
        ).account
    hist_at = np.datetime64("2024-01-01", "us") + np.arange(40) * np.timedelta64(1, "D")
    hist_val = rng.integers(1000, 20000, 40)
    one = L.TierState.start(np.array(["2023-05-01"], "datetime64[us]"))
    times = []
    for k in range(300):
        at = base + dt.timedelta(days=60, minutes=k)
        t0 = time.perf_counter()
        order = _order(
            order_id=f"o{k}",
            customer_id="m-1",
            currency="EUR",
            placed_at=at,
            lines=[
                OrderLine(
                    product_id="p", quantity=2, unit_price=Money(amount_minor=2450, currency="EUR")
                )
            ],
        )
        pts = L.points_for_order(rule, order, tier=1, earned_in_period=300)
        out = L.apply(
            acct,
            L.Earn(
                key=f"o{k}",
                member_id="m-1",
                at=at,
                points=pts,
                order_id=order.order_id,
                basis_minor=order.total.amount_minor,
            ),
            ledger_policy,
        )
        st = L.evaluate_member(
            policy,
            one,
            np.datetime64(at.replace(tzinfo=None), "us"),
            at=np.append(hist_at, np.datetime64(at.replace(tzinfo=None), "us")),
            values=np.append(hist_val, order.total.amount_minor),
        )
        times.append(time.perf_counter() - t0)
        assert out.entries
        assert st.tier.size == 1
    med = statistics.median(times) * 1000
    p95 = sorted(times)[int(0.95 * len(times))] * 1000
    print(
        f"one member's order event (earn + ledger + tier, 40 lots): median {med:.3f} ms, "
        f"p95 {p95:.3f} ms (target <= 1 ms) -> {'OK' if med <= 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
