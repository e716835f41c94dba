"""Hypothesis: ledger invariants and idempotency under random interleavings of operations."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
from hypothesis import given, settings

import crmkit.loyalty as L
from crmkit.errors import InvalidInputError

MEMBERS = ("a", "b", "c")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

step = st.tuples(
    st.sampled_from(["earn", "burn", "expire", "return", "transfer", "adjust", "replay"]),
    st.sampled_from(MEMBERS),
    st.integers(1, 300),  # points / refund percent
    st.integers(0, 20),  # days to advance
    st.integers(0, 10),  # which earlier order / op
)

policies = st.builds(
    L.LedgerPolicy,
    clock=st.sampled_from([L.ProgramClock(), L.ProgramClock(timezone="America/New_York")]),
    expiry=st.sampled_from(
        [
            L.ExpiryRule(mode="never"),
            L.ExpiryRule(mode="after_days", days=30),
            L.ExpiryRule(mode="end_of_month", offset=1),
            L.ExpiryRule(mode="end_of_year"),
        ]
    ),
    burn_order=st.sampled_from(list(L.BurnOrder)),
    pending_days=st.sampled_from([0, 7]),
    allow_negative=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(policy=policies, steps=st.lists(step, min_size=1, max_size=40))
def test_random_interleavings_keep_the_ledger_consistent(
    policy: L.LedgerPolicy, steps: list[tuple[str, str, int, int, int]]
) -> None:
    """After every operation: entries sum to each lot's remaining, balances never dip below
    zero unless allowed, points are conserved across transfers, retries change nothing, and
    balance_at replays every past balance."""
    accounts = {m: L.MemberAccount.open(m) for m in MEMBERS}
    entries: dict[str, list[L.LedgerEntry]] = {m: [] for m in MEMBERS}
    applied: list[L.Operation] = []
    orders: list[tuple[str, str, int]] = []  # (member, order id, basis)
    snapshots: list[tuple[dt.datetime, dict[str, L.Balance]]] = []
    now = T0
    for n, (kind, member, x, days, pick) in enumerate(steps):
        now = now + dt.timedelta(days=days, hours=1)
        key = f"k{n}"
        op: L.Operation | None = None
        if kind == "earn":
            order_id = f"o{n}"
            op = L.Earn(
                key=key, member_id=member, at=now, points=x, order_id=order_id, basis_minor=x * 100
            )
            orders.append((member, order_id, x * 100))
        elif kind == "burn":
            op = L.Burn(key=key, member_id=member, at=now, points=x)
        elif kind == "expire":
            op = L.Expire(key=key, member_id=member, at=now)
        elif kind == "adjust":
            op = L.Adjust(
                key=key, member_id=member, at=now, points=x if pick % 2 else -x, reason="correction"
            )
        elif kind == "return" and orders:
            owner, order_id, basis = orders[pick % len(orders)]
            refund = max(1, basis * (x % 100 + 1) // 100)
            op = L.Revoke(key=key, member_id=owner, at=now, order_id=order_id, refund_minor=refund)
        elif kind == "replay" and applied:
            old = applied[pick % len(applied)]
            out = L.apply(accounts[old.member_id], old, policy)
            assert out.replayed
            assert out.entries == ()
            continue
        elif kind == "transfer":
            other = MEMBERS[(MEMBERS.index(member) + 1 + pick % 2) % 3]
            tr = L.Transfer(key=key, member_id=member, to_member_id=other, at=now, points=x)
            try:
                res = L.apply_transfer(accounts[member], accounts[other], tr, policy)
            except L.InsufficientPointsError:
                continue
            moved = (L.EntryKind.TRANSFER_IN, L.EntryKind.TRANSFER_OUT, L.EntryKind.SETTLE)
            assert sum(e.points for e in res.entries if e.kind in moved) == 0  # conservation
            accounts[member], accounts[other] = res.source, res.target
            for e in res.entries:
                entries[e.member_id].append(e)
            again = L.apply_transfer(accounts[member], accounts[other], tr, policy)
            assert again.replayed
        if op is not None:
            try:
                out = L.apply(accounts[op.member_id], op, policy)
            except L.InsufficientPointsError:
                assert not policy.allow_negative
                continue
            except InvalidInputError:
                raise
            accounts[op.member_id] = out.account
            entries[op.member_id].extend(out.entries)
            applied.append(op)
            assert out.shortfall == 0 or not policy.allow_negative
        for m in MEMBERS:
            L.check_account(accounts[m], entries[m], policy)
            live = sum(
                lot.remaining for lot in accounts[m].lots if lot.remaining > 0 or lot.is_deficit
            )
            assert accounts[m].balance == live
        snapshots.append((now, {m: accounts[m].balance_at(now) for m in MEMBERS}))
    for at, balances in snapshots:
        for m in MEMBERS:
            replayed = L.balance_at(accounts[m].lots, entries[m], at)
            assert replayed == balances[m], (at, m)
