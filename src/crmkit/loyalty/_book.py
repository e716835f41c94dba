"""``LoyaltyBook``: the ledger, tiers, rewards and coupons of one program, kept in a store.

Every write loads the current values inside ``store.transaction()``, applies the pure function
(``apply``, ``apply_transfer``, ``claim_reward``, ``redeem_coupon``) and writes the results in
the same transaction: the account (lots and applied keys) is replaced and the new ledger entries
are appended together, so a retried operation writes nothing and a failure writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from crmkit import _validation as v
from crmkit.errors import ConflictError, InvalidInputError
from crmkit.loyalty._ledger import (
    LedgerOutcome,
    LedgerPolicy,
    MemberAccount,
    TransferOutcome,
    apply,
    apply_transfer,
    balance_at,
)
from crmkit.loyalty._rewards import (
    Coupon,
    CouponRedemption,
    CouponState,
    Reward,
    RewardClaim,
    claim_reward,
    redeem_coupon,
)
from crmkit.loyalty._store import (
    ACCOUNTS,
    COUPON_REDEMPTIONS,
    COUPONS,
    ERASED_MEMBER,
    LEDGER_ENTRIES,
    REWARD_CLAIMS,
    TIER_STATES,
    ClaimRecord,
    CouponRecord,
    CouponUse,
    tier_records,
    tier_state,
)
from crmkit.loyalty._tiers import TierState
from crmkit.loyalty._values import Balance, LedgerEntry, Operation, Transfer
from crmkit.storage import Store, documents
from crmkit.storage._keys import compound_key

__all__ = ["LoyaltyBook"]

log = logging.getLogger("crmkit.loyalty")


class LoyaltyBook:
    """One loyalty program's state in a store: accounts, ledger, tiers, claims and coupons.

    A thin service over the pure functions: each method reads what it needs, applies the
    function and writes the outcome atomically. The book holds no state of its own besides the
    store and the program's [`LedgerPolicy`][crmkit.loyalty.LedgerPolicy]; several books (and
    processes, with a multi-process store) may work on the same store.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.loyalty import Burn, Earn
        >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        >>> book = LoyaltyBook(MemoryStore(), LedgerPolicy())
        >>> _ = book.apply(Earn(key="earn:o-1", member_id="m-1", at=t, points=120))
        >>> _ = book.apply(Burn(key="burn:r-1", member_id="m-1", at=t, points=50))
        >>> book.apply(Burn(key="burn:r-1", member_id="m-1", at=t, points=50)).replayed
        True
        >>> book.balance("m-1", at=t).available, len(book.entries("m-1"))
        (70, 2)
    """

    def __init__(self, store: Store, policy: LedgerPolicy | None = None) -> None:
        self._store = store
        self._policy = policy or LedgerPolicy()
        self._accounts = documents(store, ACCOUNTS)
        self._entries = documents(store, LEDGER_ENTRIES)
        self._tiers = documents(store, TIER_STATES)
        self._coupons = documents(store, COUPONS)
        self._redemptions = documents(store, COUPON_REDEMPTIONS)
        self._claims = documents(store, REWARD_CLAIMS)

    @property
    def store(self) -> Store:
        """The store the book reads and writes."""
        return self._store

    @property
    def policy(self) -> LedgerPolicy:
        """The program's ledger policy."""
        return self._policy

    # -- ledger ------------------------------------------------------------------------------
    def account(self, member_id: str) -> MemberAccount:
        """The member's stored account (an empty one for a member never seen).

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> LoyaltyBook(MemoryStore()).account("m-9").balance
            0
        """
        found: MemberAccount | None = self._accounts.find(member_id)
        return found if found is not None else MemberAccount.open(member_id)

    def entries(self, member_id: str) -> list[LedgerEntry]:
        """The member's ledger entries in ``(at, key)`` order.

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> LoyaltyBook(MemoryStore()).entries("m-9")
            []
        """
        found: list[LedgerEntry] = self._entries.for_customer(member_id)
        return found

    def balance(self, member_id: str, *, at: dt.datetime | None = None) -> Balance:
        """Usable and pending points at ``at`` (default: now), replayed from the stored ledger.

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> LoyaltyBook(MemoryStore()).balance("m-9").total
            0
        """
        when = dt.datetime.now(dt.UTC) if at is None else at
        if when.tzinfo is None:
            raise InvalidInputError(f"at: naive datetime {when.isoformat()}. Pass a tz-aware one.")
        return balance_at(self.account(member_id).lots, self.entries(member_id), when)

    def apply(self, op: Operation) -> LedgerOutcome | TransferOutcome:
        """Apply one operation (a transfer included) and persist it atomically.

        A key the account has seen changes nothing and returns ``replayed=True``.

        Examples:
            >>> import datetime as dt
            >>> from crmkit.storage.memory import MemoryStore
            >>> from crmkit.loyalty import Earn, Transfer
            >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
            >>> book = LoyaltyBook(MemoryStore())
            >>> _ = book.apply(Earn(key="e1", member_id="a", at=t, points=100))
            >>> out = book.apply(Transfer(key="gift", member_id="a", to_member_id="b", at=t,
            ...                           points=30))
            >>> book.account("a").balance, book.account("b").balance
            (70, 30)
        """
        with self._store.transaction():
            return self._apply(op)

    def apply_all(self, ops: Iterable[Operation]) -> list[LedgerOutcome | TransferOutcome]:
        """Apply operations in order, all in one transaction: if one fails, none is kept.

        Examples:
            >>> import datetime as dt
            >>> from crmkit.storage.memory import MemoryStore
            >>> from crmkit.loyalty import Burn, Earn, InsufficientPointsError
            >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
            >>> book = LoyaltyBook(MemoryStore())
            >>> try:
            ...     book.apply_all([Earn(key="e1", member_id="a", at=t, points=10),
            ...                     Burn(key="b1", member_id="a", at=t, points=50)])
            ... except InsufficientPointsError:
            ...     pass
            >>> book.account("a").balance
            0
        """
        with self._store.transaction():
            return [self._apply(op) for op in ops]

    def _apply(self, op: Operation) -> LedgerOutcome | TransferOutcome:
        if isinstance(op, Transfer):
            out = apply_transfer(
                self.account(op.member_id), self.account(op.to_member_id), op, self._policy
            )
            if not out.replayed:
                self._write([out.source, out.target], out.entries)
            return out
        outcome = apply(self.account(op.member_id), op, self._policy)
        if not outcome.replayed:
            self._write([outcome.account], outcome.entries)
        return outcome

    def _write(self, accounts: Sequence[MemberAccount], entries: Sequence[LedgerEntry]) -> None:
        keys = [LEDGER_ENTRIES.key(e) for e in entries]
        clash = self._entries.get_many(keys)
        if clash:
            raise ConflictError(
                f"entries: {len(clash)} ledger entries already stored (first "
                f"{sorted(clash)[0]!r}); the ledger is append-only. The account and its ledger "
                "disagree: check that nothing else writes loyalty.accounts."
            )
        self._entries.upsert(entries)
        self._accounts.upsert(accounts)

    # -- rewards -----------------------------------------------------------------------------
    def claims(self, member_id: str) -> list[ClaimRecord]:
        """The rewards the member claimed, in time order.

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> LoyaltyBook(MemoryStore()).claims("m-9")
            []
        """
        found: list[ClaimRecord] = self._claims.for_customer(member_id)
        return found

    def claim_reward(
        self, reward: Reward, *, member_id: str, key: str, at: dt.datetime
    ) -> RewardClaim:
        """Buy ``reward`` with points under ``key``; a retry returns the first claim's code.

        The per-member limit counts the member's stored claims of the reward.

        Examples:
            >>> import datetime as dt
            >>> from crmkit.storage.memory import MemoryStore
            >>> from crmkit.loyalty import Earn
            >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
            >>> book = LoyaltyBook(MemoryStore())
            >>> _ = book.apply(Earn(key="e1", member_id="m", at=t, points=2000))
            >>> tote = Reward(reward_id="tote", name="Tote", cost_points=1500)
            >>> first = book.claim_reward(tote, member_id="m", key="c-1", at=t)
            >>> again = book.claim_reward(tote, member_id="m", key="c-1", at=t)
            >>> again.code == first.code, book.account("m").balance
            (True, 500)
        """
        with self._store.transaction():
            earlier: ClaimRecord | None = self._claims.find(compound_key(member_id, key))
            claimed = sum(c.reward_id == reward.reward_id for c in self.claims(member_id))
            claim = claim_reward(
                self.account(member_id),
                reward,
                key=key,
                at=at,
                policy=self._policy,
                claimed=claimed,
                code=None if earlier is None else earlier.code,
            )
            if not claim.ledger.replayed:
                self._write([claim.ledger.account], claim.ledger.entries)
                record = ClaimRecord(
                    reward_id=reward.reward_id,
                    member_id=member_id,
                    key=key,
                    code=claim.code,
                    at=at,
                )
                self._claims.upsert([record])
        return claim

    # -- coupons -----------------------------------------------------------------------------
    def add_coupons(self, coupons: Iterable[Coupon]) -> int:
        """Store coupons; a code already stored keeps its uses and takes the new terms.

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> LoyaltyBook(MemoryStore()).add_coupons([Coupon(code="A"), Coupon(code="B")])
            2
        """
        batch = list(coupons)
        with self._store.transaction():
            old = self._coupons.get_many(c.code for c in batch)
            records = [
                attrs.evolve(old[c.code], coupon=c) if c.code in old else CouponRecord(coupon=c)
                for c in batch
            ]
            return int(self._coupons.upsert(records))

    def coupon(self, code: str) -> CouponState:
        """A stored coupon with its redemptions (erased members show as ``ERASED_MEMBER``).

        Examples:
            >>> from crmkit.storage.memory import MemoryStore
            >>> book = LoyaltyBook(MemoryStore())
            >>> _ = book.add_coupons([Coupon(code="WELCOME", max_uses=5)])
            >>> book.coupon("WELCOME").uses
            0
        """
        record: CouponRecord = self._coupons.get(code)
        keys = [compound_key(code, u.key) for u in record.uses]
        found = self._redemptions.get_many(keys)
        redemptions = tuple(
            found.get(k) or CouponRedemption(code=code, member_id=ERASED_MEMBER, key=u.key, at=u.at)
            for k, u in zip(keys, record.uses, strict=True)
        )
        return CouponState(coupon=record.coupon, redemptions=redemptions)

    def redeem(self, code: str, *, member_id: str, key: str, at: dt.datetime) -> CouponState:
        """Redeem a stored coupon; the same key twice redeems once.

        Examples:
            >>> import datetime as dt
            >>> from crmkit.storage.memory import MemoryStore
            >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
            >>> book = LoyaltyBook(MemoryStore())
            >>> _ = book.add_coupons([Coupon(code="ONCE", max_uses=1)])
            >>> _ = book.redeem("ONCE", member_id="m", key="order-1", at=t)
            >>> book.redeem("ONCE", member_id="m", key="order-1", at=t).uses
            1
        """
        with self._store.transaction():
            before = self.coupon(code)
            after = redeem_coupon(before, member_id=member_id, key=key, at=at)
            if after is not before:
                new = after.redemptions[-1]
                record: CouponRecord = self._coupons.get(code)
                uses = (*record.uses, CouponUse(key=new.key, at=new.at))
                self._redemptions.upsert([new])
                self._coupons.upsert([attrs.evolve(record, uses=uses)])
        return after

    # -- tiers -------------------------------------------------------------------------------
    def save_tiers(self, member_id: Any, state: TierState) -> int:
        """Store each member's row of ``state`` (aligned with ``member_id``), atomically.

        Examples:
            >>> import numpy as np
            >>> from crmkit.storage.memory import MemoryStore
            >>> s = TierState.start(np.array(["2024-01-01", "2024-02-01"], "datetime64[us]"))
            >>> LoyaltyBook(MemoryStore()).save_tiers(["a", "b"], s)
            2
        """
        return int(self._tiers.upsert(tier_records(member_id, state)))

    def load_tiers(self, member_id: Any) -> TierState:
        """The stored tier state of each member, aligned with ``member_id``.

        A member without a stored state is an error: start new members with
        ``TierState.start`` and save them.

        Examples:
            >>> import numpy as np
            >>> from crmkit.storage.memory import MemoryStore
            >>> book = LoyaltyBook(MemoryStore())
            >>> s = TierState.start(np.array(["2024-01-01", "2024-02-01"], "datetime64[us]"))
            >>> _ = book.save_tiers(["a", "b"], s)
            >>> book.load_tiers(["b"]).joined_at.tolist() == s.joined_at[1:].tolist()
            True
        """
        ids = v.as_str_array("member_id", member_id, allow_empty=True).tolist()
        found = self._tiers.get_many(ids)
        missing = [i for i, m in enumerate(ids) if m not in found]
        if missing:
            raise InvalidInputError(
                f"member_id: {len(missing)} members without a stored tier state (first at index "
                f"{missing[0]}, {ids[missing[0]]!r}). Start them with TierState.start and "
                "save_tiers()."
            )
        return tier_state([found[m] for m in ids])
