"""The loyalty book in a store: atomic, idempotent ledger writes; tiers, claims and coupons."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import crmkit.loyalty as L
from crmkit.errors import ConflictError, InvalidInputError
from crmkit.serialization import dumps, loads, make_converter
from crmkit.storage import Store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
POLICY = L.LedgerPolicy(expiry=L.ExpiryRule(mode="after_days", days=30), pending_days=3)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh memory or SQLite store."""
    s: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "l.db")
    with s:
        yield s


def day(n: int, hour: int = 0) -> dt.datetime:
    """``n`` days after T0."""
    return T0 + dt.timedelta(days=n, hours=hour)


def live_sum(account: L.MemberAccount, at: dt.datetime) -> int:
    """Σ remaining of the lots not expired at ``at`` (pending ones included)."""
    return sum(lot.remaining for lot in account.lots if lot.live_at(at))


def test_records_round_trip_through_the_converter() -> None:
    """Every stored loyalty value survives make_converter's JSON round trip."""
    conv = make_converter()
    out = L.apply(
        L.MemberAccount.open("m"),
        L.Earn(key="e", member_id="m", at=T0, points=10, order_id="o-1", basis_minor=999),
        POLICY,
    )
    values: list[Any] = [
        out.account,
        *out.entries,
        L.MemberTier(member_id="m", tier=1, since=T0, joined_at=T0, grace_until=day(3)),
        L.CouponRecord(
            coupon=L.Coupon(code="X", member_id="m"), uses=[L.CouponUse(key="k", at=T0)]
        ),
        L.ClaimRecord(reward_id="r", member_id="m", key="k", code="C0DE", at=T0),
    ]
    for value in values:
        assert loads(dumps(value, converter=conv), type(value), converter=conv) == value


def test_retried_operations_write_nothing(store: Store) -> None:
    """Applying an earn, burn or transfer again (same key) adds no entry and keeps balances."""
    book = L.LoyaltyBook(store, POLICY)
    ops: list[L.Operation] = [
        L.Earn(key="e1", member_id="a", at=day(0), points=200),
        L.Burn(key="b1", member_id="a", at=day(4), points=50),
        L.Transfer(key="t1", member_id="a", to_member_id="b", at=day(5), points=30),
    ]
    for op in ops:
        book.apply(op)
    counts = {m: len(book.entries(m)) for m in "ab"}
    accounts = {m: book.account(m) for m in "ab"}
    for op in ops:
        assert book.apply(op).replayed
    assert {m: len(book.entries(m)) for m in "ab"} == counts
    assert {m: book.account(m) for m in "ab"} == accounts
    assert accounts["a"].balance == 120
    assert accounts["b"].balance == 30


def test_exception_inside_the_write_leaves_the_store_as_it_was(store: Store) -> None:
    """A failure after the entries are written but before the account is rolls both back."""
    book = L.LoyaltyBook(store, POLICY)
    book.apply(L.Earn(key="e1", member_id="a", at=day(0), points=100))
    before = (book.account("a"), book.entries("a"))

    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def upsert(self, values: Any) -> int:
            raise RuntimeError("disk full")

    book._accounts = Failing(book._accounts)  # inject a failure into the account write
    with pytest.raises(RuntimeError, match="disk full"):
        book.apply(L.Earn(key="e2", member_id="a", at=day(1), points=100))
    fresh = L.LoyaltyBook(store, POLICY)
    assert (fresh.account("a"), fresh.entries("a")) == before


def test_failed_transfer_and_batch_write_nothing(store: Store) -> None:
    """An overdrawing transfer, and a batch failing on its last operation, change nothing."""
    book = L.LoyaltyBook(store, POLICY)
    book.apply(L.Earn(key="e1", member_id="a", at=day(0), points=100))
    with pytest.raises(L.InsufficientPointsError):
        book.apply(L.Transfer(key="t", member_id="a", to_member_id="b", at=day(4), points=101))
    assert book.entries("b") == []
    before = book.entries("a")
    with pytest.raises(L.InsufficientPointsError):
        book.apply_all(
            [
                L.Earn(key="e2", member_id="a", at=day(5), points=10),
                L.Burn(key="b1", member_id="a", at=day(6), points=5000),
            ]
        )
    assert book.entries("a") == before
    assert book.account("a").keys == frozenset({"e1"})


def test_outer_transaction_failure_undoes_the_book(store: Store) -> None:
    """Book writes inside a host's failing transaction are undone with it."""
    book = L.LoyaltyBook(store, POLICY)
    with pytest.raises(RuntimeError), store.transaction():  # noqa: PT012 - the block is the unit
        book.apply(L.Earn(key="e1", member_id="a", at=day(0), points=100))
        raise RuntimeError("order rejected")
    assert book.entries("a") == []
    assert book.account("a").keys == frozenset()


def test_append_only_ledger_refuses_a_rewritten_account(store: Store) -> None:
    """If the account loses a key its ledger already holds, replaying raises ConflictError."""
    book = L.LoyaltyBook(store, POLICY)
    book.apply(L.Earn(key="e1", member_id="a", at=day(0), points=100))
    store.collection(L.ACCOUNTS).upsert([L.MemberAccount.open("a")])  # type: ignore[attr-defined]
    with pytest.raises(ConflictError, match="append-only"):
        book.apply(L.Earn(key="e1", member_id="a", at=day(0), points=100))
    assert len(book.entries("a")) == 1


step = st.tuples(
    st.sampled_from(["earn", "burn", "transfer", "return", "replay"]),
    st.sampled_from("abc"),
    st.integers(1, 200),
    st.integers(0, 12),
)


def _ops(steps: list[tuple[str, str, int, int]]) -> list[L.Operation]:
    ops: list[L.Operation] = []
    earns: list[L.Earn] = []
    now = T0
    for n, (kind, member, x, days) in enumerate(steps):
        now += dt.timedelta(days=days, hours=1)
        if kind == "earn" or (kind == "return" and not earns):
            earn = L.Earn(
                key=f"e{n}",
                member_id=member,
                at=now,
                points=x,
                order_id=f"o{n}",
                basis_minor=100 * x,
            )
            earns.append(earn)
            ops.append(earn)
        elif kind == "burn":
            ops.append(L.Burn(key=f"b{n}", member_id=member, at=now, points=x))
        elif kind == "transfer":
            to = "abc"[("abc".index(member) + 1) % 3]
            ops.append(L.Transfer(key=f"t{n}", member_id=member, to_member_id=to, at=now, points=x))
        elif kind == "return":
            e = earns[x % len(earns)]
            ops.append(
                L.Revoke(
                    key=f"r{n}",
                    member_id=e.member_id,
                    at=now,
                    order_id=e.order_id or "",
                    refund_minor=1 + e.basis_minor // 3,
                )
            )
        elif ops:
            old = ops[x % len(ops)]
            ops.append(old)
    return ops


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(steps=st.lists(step, min_size=8, max_size=30))
def test_book_equals_the_pure_ledger_under_random_interleavings(
    steps: list[tuple[str, str, int, int]],
) -> None:
    """Through the store, accounts and entries equal the pure functions' after any interleaving;
    retries write nothing; refused operations write nothing; the balance read back equals
    Σ remaining of live lots and the ledger's invariants hold."""
    with MemoryStore() as store:
        book = L.LoyaltyBook(store, POLICY)
        accounts = {m: L.MemberAccount.open(m) for m in "abc"}
        entries: dict[str, list[L.LedgerEntry]] = {m: [] for m in "abc"}
        for op in _ops(steps):
            try:
                if isinstance(op, L.Transfer):
                    out = L.apply_transfer(
                        accounts[op.member_id], accounts[op.to_member_id], op, POLICY
                    )
                    new = {op.member_id: out.source, op.to_member_id: out.target}
                    written = out.entries
                else:
                    res = L.apply(accounts[op.member_id], op, POLICY)
                    new, written = {op.member_id: res.account}, res.entries
            except InvalidInputError:
                with pytest.raises(InvalidInputError):
                    book.apply(op)
                continue
            book.apply(op)
            accounts.update(new)
            for e in written:
                entries[e.member_id].append(e)
            for m in new:
                stored = book.account(m)
                assert stored == accounts[m]
                when = stored.last_at or op.at
                assert book.balance(m, at=when).total == live_sum(stored, when)
        for m in "abc":
            got = book.entries(m)
            assert sorted(got, key=lambda e: e.entry_id) == sorted(
                entries[m], key=lambda e: e.entry_id
            )
            L.check_account(book.account(m), got, POLICY)


def test_sqlite_book_matches_memory_on_a_fixed_history(tmp_path: Path) -> None:
    """The same 60 operations through SQLite and memory give equal accounts and ledgers."""
    rng = np.random.default_rng(7)
    kinds = ["earn", "burn", "transfer", "return", "replay"]
    steps = [
        (
            str(rng.choice(kinds)),
            str(rng.choice(list("abc"))),
            int(rng.integers(1, 200)),
            int(rng.integers(0, 6)),
        )
        for _ in range(60)
    ]
    ops = _ops(steps)
    with MemoryStore() as mem, SQLiteStore(tmp_path / "s.db") as sql:
        books = [L.LoyaltyBook(mem, POLICY), L.LoyaltyBook(sql, POLICY)]
        for op in ops:
            for book in books:
                with contextlib.suppress(InvalidInputError):  # refused alike by both
                    book.apply(op)
        for m in "abc":
            assert books[0].account(m) == books[1].account(m)
            assert books[0].entries(m) == books[1].entries(m)
        assert books[1].account("a").lots  # the history did something


def test_tier_state_round_trips_after_an_evaluation(store: Store) -> None:
    """A TierState after evaluate_tiers (tiers, grace, NaT) is stored and read back equal."""
    policy = L.TierPolicy(
        tiers=[L.Tier(name="Silver", threshold=0), L.Tier(name="Gold", threshold=1000)],
    )
    joined = np.array(["2023-01-05", "2023-06-01T12:30:00.000007", "2024-01-02"], "datetime64[us]")
    state = L.TierState.start(joined, floor=[-1, 1, -1])
    status = L.evaluate_tiers(
        policy,
        state,
        np.datetime64("2024-02-01"),
        codes=np.array([0, 0, 2]),
        at=np.array(["2024-01-10", "2024-01-20", "2024-01-25"], "datetime64[us]"),
        values=[700, 600, 50],
    )
    book = L.LoyaltyBook(store, POLICY)
    assert book.save_tiers(["m0", "m1", "m2"], status.state) == 3
    back = book.load_tiers(["m0", "m1", "m2"])
    for name in ("tier", "since", "evaluated_at", "grace_until", "floor", "lifetime", "joined_at"):
        a, b = getattr(back, name), getattr(status.state, name)
        assert a.dtype == b.dtype, name
        assert a.view(np.int64).tolist() == b.view(np.int64).tolist(), name
    assert back.tier.tolist() == [1, 1, 0]
    with pytest.raises(InvalidInputError, match="m9"):
        book.load_tiers(["m0", "m9"])


def test_coupon_redemption_is_idempotent_and_bounded(store: Store) -> None:
    """A redemption key counts once, per-member limits and max uses hold across book objects."""
    L.LoyaltyBook(store, POLICY).add_coupons(
        [L.Coupon(code="SPRING", max_uses=3, per_member_limit=2)]
    )
    book = L.LoyaltyBook(store, POLICY)
    for key in ("o1", "o1", "o2"):
        book.redeem("SPRING", member_id="a", key=key, at=day(1))
    with pytest.raises(InvalidInputError, match="limit"):
        book.redeem("SPRING", member_id="a", key="o3", at=day(1))
    book.redeem("SPRING", member_id="b", key="o4", at=day(2))
    with pytest.raises(InvalidInputError, match="used up"):
        book.redeem("SPRING", member_id="c", key="o5", at=day(2))
    with pytest.raises(ConflictError):
        book.redeem("SPRING", member_id="c", key="o1", at=day(2))
    state = book.coupon("SPRING")
    assert [r.key for r in state.redemptions] == ["o1", "o2", "o4"]
    book.add_coupons([L.Coupon(code="SPRING", max_uses=5)])  # new terms keep the uses
    assert book.coupon("SPRING").uses == 3
