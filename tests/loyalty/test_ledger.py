"""Scenario tests of the points ledger, written out with dates."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest

import crmkit.loyalty as L
from crmkit.errors import InvalidInputError

UTC = dt.UTC
BERLIN = L.ProgramClock(timezone="Europe/Berlin")


def t(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=UTC)


def run(
    policy: L.LedgerPolicy, *ops: L.Operation, member: str = "m"
) -> tuple[L.MemberAccount, list[L.LedgerEntry]]:
    acct = L.MemberAccount.open(member)
    entries: list[L.LedgerEntry] = []
    for op in ops:
        out = L.apply(acct, op, policy)
        acct = out.account
        entries.extend(out.entries)
        L.check_account(acct, entries, policy)
    return acct, entries


def earn(key: str, at: dt.datetime, points: int, **kw: object) -> L.Earn:
    return L.Earn(key=key, member_id="m", at=at, points=points, **kw)  # type: ignore[arg-type]


def burn(key: str, at: dt.datetime, points: int) -> L.Burn:
    return L.Burn(key=key, member_id="m", at=at, points=points)


# -- expiry modes, in the program's time zone -------------------------------------------------


def test_expiry_after_days_rounds_to_end_of_local_day() -> None:
    """after_days: points earned late on Jan 10 in Berlin stay valid through Jan 20 (local)."""
    rule = L.ExpiryRule(mode="after_days", days=10)
    at = dt.datetime(2024, 1, 10, 22, 30, tzinfo=UTC)  # 23:30 in Berlin, still Jan 10
    assert rule.expires_at(at, BERLIN) == dt.datetime(2024, 1, 20, 23, 0, tzinfo=UTC)
    at2 = dt.datetime(2024, 1, 10, 23, 30, tzinfo=UTC)  # 00:30 Jan 11 in Berlin
    assert rule.expires_at(at2, BERLIN) == dt.datetime(2024, 1, 21, 23, 0, tzinfo=UTC)


def test_expiry_end_of_month_and_year_across_dst() -> None:
    """end_of_month (March, DST starts) and end_of_year end at local midnight in UTC terms."""
    eom = L.ExpiryRule(mode="end_of_month")
    # Earned 2024-03-05; March 31 ends at 2024-04-01 00:00 CEST = 2024-03-31 22:00 UTC.
    assert eom.expires_at(t(2024, 3, 5), BERLIN) == dt.datetime(2024, 3, 31, 22, tzinfo=UTC)
    eom12 = L.ExpiryRule(mode="end_of_month", offset=12)
    assert eom12.expires_at(t(2024, 2, 29), BERLIN) == dt.datetime(2025, 2, 28, 23, tzinfo=UTC)
    eoy = L.ExpiryRule(mode="end_of_year", offset=1)
    assert eoy.expires_at(t(2024, 6, 1), BERLIN) == dt.datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert L.ExpiryRule(mode="never").expires_at(t(2024, 6, 1), BERLIN) is None


@pytest.mark.parametrize(
    "rule",
    [
        L.ExpiryRule(mode="after_days", days=45),
        L.ExpiryRule(mode="end_of_month", offset=3),
        L.ExpiryRule(mode="end_of_year"),
        L.ExpiryRule(mode="never"),
    ],
)
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "UTC"])
def test_vectorized_expiry_matches_scalar(rule: L.ExpiryRule, zone: str) -> None:
    """expires_at_array agrees with expires_at for instants spread over DST changes."""
    clock = L.ProgramClock(timezone=zone)
    rng = np.random.default_rng(7)
    us = rng.integers(1_700_000_000, 1_780_000_000, 400) * 1_000_000
    # add instants right around the 2024 DST changes
    extra = np.array(
        [
            "2024-03-31T00:59:59",
            "2024-03-31T01:00:00",
            "2024-03-10T06:59:59",
            "2024-03-10T07:00:00",
            "2024-11-03T05:30:00",
        ],
        "datetime64[us]",
    )
    arr = np.concatenate([us.astype("datetime64[us]"), extra])
    got = rule.expires_at_array(arr, clock)
    for a, g in zip(arr, got, strict=True):
        d = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=int(a.astype(np.int64)))
        want = rule.expires_at(d, clock)
        if want is None:
            assert np.isnat(g)
        else:
            assert g == np.datetime64(want.replace(tzinfo=None), "us")


def test_points_expire_at_expiry_and_balance_drops() -> None:
    """A lot earned 2024-01-15 with end_of_month expiry is gone on Feb 1 (Berlin)."""
    policy = L.LedgerPolicy(clock=BERLIN, expiry=L.ExpiryRule(mode="end_of_month"))
    acct, _ = run(policy, earn("e1", t(2024, 1, 15), 100))
    assert acct.balance_at(t(2024, 1, 31, 22, 59)).available == 100
    assert acct.balance_at(t(2024, 1, 31, 23, 0)).available == 0
    acct, entries2 = run(
        policy, earn("e1", t(2024, 1, 15), 100), L.Expire(key="x", member_id="m", at=t(2024, 2, 2))
    )
    assert acct.balance == 0
    expiry = [e for e in entries2 if e.kind is L.EntryKind.EXPIRE]
    assert [(e.points, e.at) for e in expiry] == [(-100, dt.datetime(2024, 1, 31, 23, tzinfo=UTC))]


def test_expired_lots_are_expired_before_a_burn() -> None:
    """A burn on Feb 3 cannot use January points that expired on Jan 31 (end of month)."""
    policy = L.LedgerPolicy(expiry=L.ExpiryRule(mode="end_of_month"))
    with pytest.raises(L.InsufficientPointsError, match="0 usable"):
        run(policy, earn("e1", t(2024, 1, 15), 100), burn("b1", t(2024, 2, 3), 10))


# -- burn orders --------------------------------------------------------------------------------


def _two_lots(order: str) -> list[L.LedgerEntry]:
    policy = L.LedgerPolicy(expiry=L.ExpiryRule(mode="never"), burn_order=order)
    _, entries = run(
        policy,
        earn("old", t(2024, 1, 1), 100, expires_at=t(2025, 1, 1)),
        earn("soon", t(2024, 2, 1), 100, expires_at=t(2024, 6, 1)),
        earn("forever", t(2023, 12, 1) + dt.timedelta(days=70), 100, never_expires=True),
        burn("b", t(2024, 3, 1), 150),
    )
    return [e for e in entries if e.kind is L.EntryKind.BURN]


def test_burn_oldest_first() -> None:
    """oldest_first: 150 points come from the lot earned Jan 1, then the one earned Feb 1."""
    burns = _two_lots("oldest_first")
    assert [(e.lot_id, e.points) for e in burns] == [("old", -100), ("soon", -50)]


def test_burn_soonest_expiring_first_non_expiring_last() -> None:
    """soonest_expiring: the lot expiring Jun 1 goes first, non-expiring points last."""
    burns = _two_lots("soonest_expiring")
    assert [(e.lot_id, e.points) for e in burns] == [("soon", -100), ("old", -50)]


# -- pending points -----------------------------------------------------------------------------


def test_pending_points_become_usable_after_the_lock() -> None:
    """With a 14-day pending period, points earned Mar 1 are usable from Mar 15."""
    policy = L.LedgerPolicy(pending_days=14)
    acct, _ = run(policy, earn("e1", t(2024, 3, 1), 100))
    assert acct.balance_at(t(2024, 3, 10)) == L.Balance(available=0, pending=100)
    assert acct.balance_at(t(2024, 3, 15)) == L.Balance(available=100, pending=0)
    with pytest.raises(L.InsufficientPointsError):
        run(policy, earn("e1", t(2024, 3, 1), 100), burn("b", t(2024, 3, 10), 1))


# -- idempotency --------------------------------------------------------------------------------


def test_retried_operations_change_nothing() -> None:
    """Re-applying an earn or a burn with the same key returns the account unchanged."""
    policy = L.LedgerPolicy()
    acct, _ = run(policy, earn("e1", t(2024, 1, 1), 100), burn("b1", t(2024, 1, 2), 30))
    for op in (earn("e1", t(2024, 1, 1), 100), burn("b1", t(2024, 1, 2), 30)):
        out = L.apply(acct, op, policy)
        assert out.replayed
        assert out.entries == ()
        assert out.account is acct


def test_operations_must_come_in_time_order() -> None:
    """An operation dated before the account's last one is refused."""
    with pytest.raises(InvalidInputError, match="time order"):
        run(L.LedgerPolicy(), earn("e1", t(2024, 1, 5), 100), burn("b1", t(2024, 1, 2), 30))


# -- returns ------------------------------------------------------------------------------------


def test_partial_returns_revoke_in_proportion_and_sum_exactly() -> None:
    """Order of 100.00 earned 100 pts; refunds of 33.33, 33.33, 33.34 revoke 33, 33, 34."""
    policy = L.LedgerPolicy()
    ops: list[L.Operation] = [earn("e", t(2024, 1, 1), 100, order_id="o1", basis_minor=10_000)]
    for i, (refund, day) in enumerate([(3333, 2), (3333, 3), (3334, 4)]):
        ops.append(
            L.Revoke(
                key=f"r{i}", member_id="m", at=t(2024, 1, day), order_id="o1", refund_minor=refund
            )
        )
    acct, entries = run(policy, *ops)
    revokes = [e.points for e in entries if e.kind is L.EntryKind.REVOKE]
    assert revokes == [-33, -33, -34]
    assert acct.balance == 0


def test_return_after_spending_takes_other_points_or_records_shortfall() -> None:
    """Points of a returned order already spent come from other lots, else are a shortfall."""
    policy = L.LedgerPolicy()
    acct, _ = run(
        policy,
        earn("e1", t(2024, 1, 1), 100, order_id="o1", basis_minor=5000),
        earn("e2", t(2024, 1, 2), 40),
        burn("b", t(2024, 1, 3), 100),
    )
    out = L.apply(
        acct,
        L.Revoke(key="r", member_id="m", at=t(2024, 1, 4), order_id="o1", refund_minor=5000),
        policy,
    )
    assert out.account.balance == 0
    assert out.shortfall == 60
    neg = L.LedgerPolicy(allow_negative=True)
    acct2, _ = run(
        neg,
        earn("e1", t(2024, 1, 1), 100, order_id="o1", basis_minor=5000),
        burn("b", t(2024, 1, 3), 100),
        L.Revoke(key="r", member_id="m", at=t(2024, 1, 4), order_id="o1", refund_minor=5000),
        earn("e3", t(2024, 1, 5), 30),
    )
    assert acct2.balance == -70  # the deficit of 100 was settled by 30 new points


def test_return_of_unknown_order_is_an_error() -> None:
    """A return for an order that earned nothing in this account is refused, not ignored."""
    with pytest.raises(InvalidInputError, match="no points were earned"):
        run(
            L.LedgerPolicy(),
            L.Revoke(key="r", member_id="m", at=t(2024, 1, 1), order_id="x", refund_minor=10),
        )


# -- transfers, adjustments, negative balances --------------------------------------------------


def test_transfer_keeps_each_lots_expiry() -> None:
    """Points moved on Mar 1 keep the Apr 30 and Dec 31 expiries of the lots they came from."""
    policy = L.LedgerPolicy(burn_order="soonest_expiring")
    a, _ = run(
        policy,
        earn("e1", t(2024, 1, 1), 50, expires_at=t(2024, 12, 31)),
        earn("e2", t(2024, 2, 1), 50, expires_at=t(2024, 4, 30)),
        member="m",
    )
    out = L.apply_transfer(
        a,
        L.MemberAccount.open("n"),
        L.Transfer(key="tr", member_id="m", to_member_id="n", at=t(2024, 3, 1), points=70),
        policy,
    )
    lots = {lot.lot_id: lot for lot in out.target.lots}
    assert lots["tr/e2"].expires_at == t(2024, 4, 30)
    assert lots["tr/e2"].remaining == 50
    assert lots["tr/e1"].expires_at == t(2024, 12, 31)
    assert lots["tr/e1"].remaining == 20
    assert out.source.balance == 30
    assert sum(e.points for e in out.entries) == 0
    assert len({e.entry_id for e in out.entries}) == len(out.entries)
    again = L.apply_transfer(
        out.source,
        out.target,
        L.Transfer(key="tr", member_id="m", to_member_id="n", at=t(2024, 3, 1), points=70),
        policy,
    )
    assert again.replayed


def test_adjustments_need_a_reason_and_respect_the_floor() -> None:
    """A negative adjustment beyond the balance is refused unless negatives are allowed."""
    with pytest.raises(InvalidInputError):
        L.Adjust(key="a", member_id="m", at=t(2024, 1, 1), points=5, reason="")
    policy = L.LedgerPolicy()
    acct, entries = run(
        policy, L.Adjust(key="a", member_id="m", at=t(2024, 1, 1), points=25, reason="goodwill")
    )
    assert acct.balance == 25
    assert entries[0].reason == "goodwill"
    with pytest.raises(L.InsufficientPointsError):
        run(policy, L.Adjust(key="a", member_id="m", at=t(2024, 1, 1), points=-5, reason="fix"))
    acct2, _ = run(
        L.LedgerPolicy(allow_negative=True),
        L.Adjust(key="a", member_id="m", at=t(2024, 1, 1), points=-5, reason="fix"),
    )
    assert acct2.balance == -5


def test_balance_as_of_past_times() -> None:
    """balance_at replays the entries: Jan 10 → 100, Jan 20 → 40, Feb 5 (expired) → 0."""
    policy = L.LedgerPolicy(expiry=L.ExpiryRule(mode="end_of_month"))
    acct, entries = run(
        policy,
        earn("e1", t(2024, 1, 5), 100),
        burn("b", t(2024, 1, 15), 60),
        earn("e2", t(2024, 2, 10), 10),
    )
    assert L.balance_at(acct.lots, entries, t(2024, 1, 10)).available == 100
    assert L.balance_at(acct.lots, entries, t(2024, 1, 20)).available == 40
    assert L.balance_at(acct.lots, entries, t(2024, 2, 5)).available == 0
    assert L.balance_at(acct.lots, entries, t(2024, 2, 11)).available == 10


def test_values_reject_bad_input() -> None:
    """Lots with remaining above amount, naive datetimes and self-transfers are refused."""
    with pytest.raises(InvalidInputError):
        L.PointsLot(
            lot_id="x",
            member_id="m",
            amount=5,
            remaining=6,
            earned_at=t(2024, 1, 1),
            available_from=t(2024, 1, 1),
        )
    with pytest.raises(InvalidInputError):
        L.Earn(key="k", member_id="m", at=dt.datetime(2024, 1, 1), points=1)
    with pytest.raises(InvalidInputError):
        L.Transfer(key="k", member_id="m", to_member_id="m", at=t(2024, 1, 1), points=1)
    with pytest.raises(InvalidInputError):
        L.ProgramClock(timezone="Mars/Olympus")
    lot = L.PointsLot(
        lot_id="x",
        member_id="m",
        amount=5,
        remaining=5,
        earned_at=t(2024, 1, 1),
        available_from=t(2024, 1, 1),
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        lot.remaining = 1  # type: ignore[misc]
