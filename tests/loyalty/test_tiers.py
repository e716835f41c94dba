"""Tier scenarios for every window, upgrade and downgrade mode, written out with dates."""

from __future__ import annotations

import numpy as np
import pytest

import crmkit.loyalty as L
from crmkit.errors import InvalidInputError

TIERS = [
    L.Tier(name="Base", threshold=0),
    L.Tier(name="Silver", threshold=1000),
    L.Tier(name="Gold", threshold=5000, retain_threshold=4000),
]


def d(s: str) -> np.datetime64:
    return np.datetime64(s, "us")


def walk(
    policy: L.TierPolicy,
    joined: str,
    orders: list[tuple[str, int]],
    dates: list[str],
    *,
    floor: int = -1,
) -> list[tuple[int, str]]:
    """Evaluate one member at each date; returns (tier, reason) per date."""
    state = L.TierState.start(np.array([joined], "M8[us]"), floor=[floor])
    at = np.array([o[0] for o in orders], "M8[us]")
    values = [o[1] for o in orders]
    out = []
    for day in dates:
        mask = at <= d(day)
        st = L.evaluate_tiers(
            policy,
            state,
            d(day),
            codes=np.zeros(int(mask.sum()), np.int64),
            at=at[mask],
            values=np.array(values)[mask],
        )
        state = st.state
        out.append((int(st.tier[0]), L.Reason(int(st.reason[0])).name))
    return out


def test_rolling_window_automatic_downgrade_straight_to_qualifying() -> None:
    """Rolling 365 d, automatic: Gold on 2024-03-01, Base once the spend leaves the window."""
    p = L.TierPolicy(
        tiers=TIERS, window="rolling", window_days=365, downgrade="automatic", step="to_qualifying"
    )
    got = walk(
        p,
        "2024-01-01",
        [("2024-03-01", 6000)],
        ["2024-02-01", "2024-03-02", "2025-02-28", "2025-03-02"],
    )
    assert got == [(0, "UPGRADED"), (2, "UPGRADED"), (2, "UNCHANGED"), (0, "DOWNGRADED")]


def test_automatic_downgrade_one_tier_at_a_time() -> None:
    """one_tier: Gold drops to Silver, then to Base at the next evaluation."""
    p = L.TierPolicy(
        tiers=TIERS, window="rolling", window_days=30, downgrade="automatic", step="one_tier"
    )
    got = walk(p, "2024-01-01", [("2024-01-10", 6000)], ["2024-01-11", "2024-03-01", "2024-03-02"])
    assert [g[0] for g in got] == [2, 1, 0]


def test_calendar_year_downgrade_at_period_end_judges_the_completed_year() -> None:
    """Calendar year: Gold from 7000 spent in 2023; kept through 2024 (no early drop);
    at the 2025 review 4500 in 2024 retains Gold (retain 4000); 2026 review drops to Base."""
    p = L.TierPolicy(
        tiers=TIERS,
        window="calendar_year",
        downgrade="period_end",
        clock=L.ProgramClock(timezone="Europe/Berlin"),
    )
    orders = [("2023-05-01", 7000), ("2024-06-01", 4500)]
    got = walk(
        p,
        "2023-01-01",
        orders,
        ["2023-05-02", "2024-01-02", "2024-12-30", "2025-01-02", "2026-01-02"],
    )
    assert got == [
        (2, "UPGRADED"),
        (2, "RETAINED"),
        (2, "UNCHANGED"),
        (2, "RETAINED"),
        (0, "DOWNGRADED"),
    ]


def test_calendar_year_boundary_is_local_midnight() -> None:
    """A review at 2023-12-31T23:30 UTC is already 2024 in Berlin, so the year is closed."""
    p = L.TierPolicy(
        tiers=TIERS,
        window="calendar_year",
        downgrade="period_end",
        clock=L.ProgramClock(timezone="Europe/Berlin"),
    )
    got = walk(
        p,
        "2023-01-01",
        [("2023-03-01", 6000)],
        ["2023-03-02", "2023-12-31T22:30", "2024-12-31T23:30"],
    )
    assert got == [(2, "UPGRADED"), (2, "UNCHANGED"), (0, "DOWNGRADED")]


def test_upgrade_at_period_end_waits_for_the_review() -> None:
    """upgrade=period_end: the 2024-03-02 review of 2023 (no spend) gives Base; 6000 spent in
    March 2024 gives Gold only at the review on 2025-01-01."""
    p = L.TierPolicy(
        tiers=TIERS, window="calendar_year", upgrade="period_end", downgrade="period_end"
    )
    got = walk(p, "2023-06-01", [("2024-03-01", 6000)], ["2024-03-02", "2025-01-01"])
    assert [g[0] for g in got] == [0, 2]


def test_anniversary_window() -> None:
    """Membership year from 2023-07-15: spend before the anniversary counts for the review
    on 2024-07-15; a leap-day join reviews on Feb 28 in common years."""
    p = L.TierPolicy(
        tiers=TIERS, window="anniversary", downgrade="period_end", upgrade="period_end"
    )
    got = walk(p, "2023-07-15", [("2024-07-10", 1500)], ["2024-07-14", "2024-07-15"])
    assert [g[0] for g in got] == [-1, 1]
    got = walk(p, "2024-02-29", [("2024-05-01", 1500)], ["2025-02-27", "2025-02-28"])
    assert [g[0] for g in got] == [-1, 1]


def test_since_last_tier_change_window_with_review_cycle() -> None:
    """since_tier_change, 180-day review: metric counts from the last change."""
    p = L.TierPolicy(
        tiers=TIERS, window="since_tier_change", window_days=180, downgrade="period_end"
    )
    got = walk(
        p,
        "2024-01-01",
        [("2024-01-05", 1200), ("2024-02-01", 5500)],
        ["2024-01-06", "2024-02-02", "2024-07-30", "2024-08-01"],
    )
    # Silver on Jan 6 (1200 since joining); Gold on Feb 2 (5500 since the Jan 6 change);
    # the review 180 days after the Feb 2 change (Jul 31) finds 0 since then → Base.
    assert [g[0] for g in got] == [1, 2, 2, 0]


def test_downgrade_never() -> None:
    """downgrade=never: once Gold, always Gold, even with no spend for years."""
    p = L.TierPolicy(tiers=TIERS, window="rolling", window_days=30, downgrade="never")
    got = walk(p, "2024-01-01", [("2024-01-10", 6000)], ["2024-01-11", "2027-01-01"])
    assert [g[0] for g in got] == [2, 2]


def test_grace_period_then_downgrade_or_requalify() -> None:
    """30-day grace: the drop is announced on 2024-03-01 and happens on 2024-03-31; a member
    who spends during grace keeps the tier."""
    p = L.TierPolicy(
        tiers=TIERS, window="rolling", window_days=30, downgrade="automatic", grace_days=30
    )
    got = walk(
        p,
        "2024-01-01",
        [("2024-01-30", 1500)],
        ["2024-01-31", "2024-03-01", "2024-03-15", "2024-03-31"],
    )
    assert got == [(1, "UPGRADED"), (1, "GRACE_STARTED"), (1, "IN_GRACE"), (0, "DOWNGRADED")]
    got = walk(
        p,
        "2024-01-01",
        [("2024-01-30", 1500), ("2024-03-10", 1200)],
        ["2024-01-31", "2024-03-01", "2024-03-11", "2024-04-20"],
    )
    assert [g[0] for g in got] == [1, 1, 1, 1]


def test_manual_floor_and_lifetime_tiers() -> None:
    """A manual Silver floor holds a member with no spend; a lifetime Gold is never lost."""
    p = L.TierPolicy(tiers=TIERS, window="rolling", window_days=30, downgrade="automatic")
    assert walk(p, "2024-01-01", [], ["2024-02-01"], floor=1) == [(1, "FLOOR")]
    life = [*TIERS[:2], L.Tier(name="Gold", threshold=5000, lifetime=True)]
    p2 = L.TierPolicy(tiers=life, window="rolling", window_days=30, downgrade="automatic")
    got = walk(p2, "2024-01-01", [("2024-01-10", 6000)], ["2024-01-11", "2025-01-01"])
    assert got == [(2, "UPGRADED"), (2, "LIFETIME")]


def test_status_fields_next_tier_amounts_days_left_and_reason() -> None:
    """Silver member with 3000 in the calendar year: 2000 to Gold, 0 to retain, days left."""
    p = L.TierPolicy(tiers=TIERS, window="calendar_year")
    state = L.TierState.start(np.array(["2024-01-01"], "M8[us]"))
    st = L.evaluate_tiers(p, state, d("2024-12-01"), codes=[0], at=[d("2024-02-01")], values=[3000])
    assert (int(st.tier[0]), int(st.next_tier[0]), int(st.to_next[0])) == (1, 2, 2000)
    assert int(st.to_retain[0]) == 0
    assert int(st.days_left[0]) == 31
    assert "Upgraded from no tier to Silver" in st.explain(p, 0)
    assert st.distribution(p) == {"(none)": 0, "Base": 0, "Silver": 1, "Gold": 0}


def test_metrics_orders_and_active_points() -> None:
    """orders counts rows; active_points uses the balance snapshot, no window."""
    tiers = [L.Tier(name="A", threshold=0), L.Tier(name="B", threshold=3)]
    p = L.TierPolicy(tiers=tiers, metric="orders", window="rolling", window_days=90)
    state = L.TierState.start(np.array(["2024-01-01"] * 2, "M8[us]"))
    at = np.array(["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-04"], "M8[us]")
    st = L.evaluate_tiers(p, state, d("2024-03-01"), codes=[0, 0, 0, 1], at=at)
    assert st.tier.tolist() == [1, 0]
    p2 = L.TierPolicy(tiers=tiers, metric="active_points")
    st2 = L.evaluate_tiers(p2, state, d("2024-03-01"), active_points=[5, 2])
    assert st2.tier.tolist() == [1, 0]


def test_all_members_at_once_equals_one_member_at_a_time() -> None:
    """evaluate_tiers over 300 random members agrees with evaluate_member per member."""
    rng = np.random.default_rng(3)
    n = 300
    p = L.TierPolicy(
        tiers=TIERS,
        window="anniversary",
        downgrade="period_end",
        grace_days=20,
        clock=L.ProgramClock(timezone="America/New_York"),
    )
    joined = np.datetime64("2022-01-01", "us") + rng.integers(0, 700, n) * np.timedelta64(1, "D")
    state = L.TierState.start(joined)
    codes = rng.integers(0, n, 3000)
    at = np.datetime64("2022-01-01", "us") + rng.integers(0, 1100 * 86400, 3000) * np.timedelta64(
        1, "s"
    )
    values = rng.integers(100, 3000, 3000)
    for day in ["2023-06-01", "2024-01-15", "2024-12-31"]:
        mask = at <= d(day)
        full = L.evaluate_tiers(
            p, state, d(day), codes=codes[mask], at=at[mask], values=values[mask]
        )
        for i in range(0, n, 37):
            one = L.TierState(
                **{
                    k: getattr(state, k)[i : i + 1]
                    for k in (
                        "tier",
                        "since",
                        "evaluated_at",
                        "grace_until",
                        "floor",
                        "lifetime",
                        "joined_at",
                    )
                }
            )
            sel = mask & (codes == i)
            single = L.evaluate_member(p, one, d(day), at=at[sel], values=values[sel])
            assert int(single.tier[0]) == int(full.tier[i])
            assert int(single.to_next[0]) == int(full.to_next[i])
            assert int(single.reason[0]) == int(full.reason[i])
        state = full.state


def test_policy_validation() -> None:
    """Tiers must rise; retention cannot exceed the threshold; rolling needs window_days."""
    with pytest.raises(InvalidInputError, match="does not rise"):
        L.TierPolicy(tiers=[L.Tier(name="a", threshold=10), L.Tier(name="b", threshold=5)])
    with pytest.raises(InvalidInputError, match="cannot be harder"):
        L.Tier(name="a", threshold=10, retain_threshold=20)
    with pytest.raises(InvalidInputError, match="window_days"):
        L.TierPolicy(tiers=TIERS, window="rolling", window_days=0)
