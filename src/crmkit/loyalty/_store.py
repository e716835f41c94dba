"""The loyalty program's module collections: what a store keeps, and how it is keyed.

Every collection holding a member's data is owned by that member (``customer=``), so
``store.erase(member_id)`` deletes the member's account, ledger, tier state, claims and coupon
redemptions. A coupon keeps the keys and times of its uses (not who used it), so its use count
survives the erasure of a member who redeemed it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.loyalty._ledger import MemberAccount
from crmkit.loyalty._rewards import Coupon, CouponRedemption
from crmkit.loyalty._tiers import TierState
from crmkit.loyalty._values import LedgerEntry
from crmkit.model._checks import aware, non_empty, optional_aware
from crmkit.storage import CollectionSpec, documents
from crmkit.storage._keys import compound_key

__all__ = [
    "ACCOUNTS",
    "COUPONS",
    "COUPON_REDEMPTIONS",
    "ERASED_MEMBER",
    "LEDGER_ENTRIES",
    "REWARD_CLAIMS",
    "TIER_STATES",
    "ClaimRecord",
    "CouponRecord",
    "CouponUse",
    "MemberTier",
    "documents",
    "tier_records",
    "tier_state",
]

#: The member id that stands in for an erased member in a coupon's redemptions.
ERASED_MEMBER = "<erased>"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAT = np.datetime64("NaT", "us")


@attrs.frozen(kw_only=True)
class MemberTier:
    """One member's row of a [`TierState`][crmkit.loyalty.TierState], as a store keeps it.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> MemberTier(member_id="m-1", tier=2, since=t, joined_at=t).floor
        -1
    """

    member_id: str = attrs.field(validator=non_empty)
    tier: int
    since: dt.datetime = attrs.field(validator=aware)
    joined_at: dt.datetime = attrs.field(validator=aware)
    evaluated_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    grace_until: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    floor: int = -1
    lifetime: int = -1


@attrs.frozen(kw_only=True)
class CouponUse:
    """One use of a coupon: its idempotency key and time, without the member.

    Examples:
        >>> import datetime as dt
        >>> CouponUse(key="order-7", at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC)).key
        'order-7'
    """

    key: str = attrs.field(validator=non_empty)
    at: dt.datetime = attrs.field(validator=aware)


def _uses(values: Iterable[CouponUse]) -> tuple[CouponUse, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class CouponRecord:
    """A coupon and the uses made of it, as a store keeps them (who used it is kept apart).

    Examples:
        >>> CouponRecord(coupon=Coupon(code="WELCOME10")).uses
        ()
    """

    coupon: Coupon
    uses: tuple[CouponUse, ...] = attrs.field(default=(), converter=_uses)


@attrs.frozen(kw_only=True)
class ClaimRecord:
    """A reward a member bought with points: which, under which key, when, and the code.

    Examples:
        >>> import datetime as dt
        >>> ClaimRecord(reward_id="tote", member_id="m-1", key="claim-1", code="ABCD2345EFGH",
        ...             at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC)).code
        'ABCD2345EFGH'
    """

    reward_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    key: str = attrs.field(validator=non_empty)
    code: str = attrs.field(validator=non_empty)
    at: dt.datetime = attrs.field(validator=aware)


#: Each member's account: lots and the idempotency keys already applied.
ACCOUNTS: CollectionSpec[MemberAccount] = CollectionSpec(
    name="loyalty.accounts",
    value_type=MemberAccount,
    key=lambda a: a.member_id,
    customer=lambda a: a.member_id,
)
#: The append-only ledger, by ``(member, entry id)``, in time order.
LEDGER_ENTRIES: CollectionSpec[LedgerEntry] = CollectionSpec(
    name="loyalty.entries",
    value_type=LedgerEntry,
    key=lambda e: compound_key(e.member_id, e.entry_id),
    customer=lambda e: e.member_id,
    time=lambda e: e.at,
)
#: Each member's tier state between evaluations.
TIER_STATES: CollectionSpec[MemberTier] = CollectionSpec(
    name="loyalty.tiers",
    value_type=MemberTier,
    key=lambda t: t.member_id,
    customer=lambda t: t.member_id,
)
#: Coupons by code with their uses; a member-bound coupon is owned by its member.
COUPONS: CollectionSpec[CouponRecord] = CollectionSpec(
    name="loyalty.coupons",
    value_type=CouponRecord,
    key=lambda c: c.coupon.code,
    customer=lambda c: c.coupon.member_id,
)
#: Who redeemed which coupon, by ``(code, key)``.
COUPON_REDEMPTIONS: CollectionSpec[CouponRedemption] = CollectionSpec(
    name="loyalty.coupon_redemptions",
    value_type=CouponRedemption,
    key=lambda r: compound_key(r.code, r.key),
    customer=lambda r: r.member_id,
    time=lambda r: r.at,
)
#: Rewards claimed, by ``(member, key)``.
REWARD_CLAIMS: CollectionSpec[ClaimRecord] = CollectionSpec(
    name="loyalty.reward_claims",
    value_type=ClaimRecord,
    key=lambda c: compound_key(c.member_id, c.key),
    customer=lambda c: c.member_id,
    time=lambda c: c.at,
)


def _to_datetimes(values: np.ndarray[Any, Any]) -> list[dt.datetime | None]:
    us = values.astype("datetime64[us]")
    nat = np.isnat(us)
    ints = us.view(np.int64).tolist()
    return [
        None if missing else _EPOCH + dt.timedelta(microseconds=n)
        for n, missing in zip(ints, nat.tolist(), strict=True)
    ]


def _to_times(values: list[dt.datetime | None]) -> np.ndarray[Any, Any]:
    out = np.full(len(values), _NAT)
    for i, t in enumerate(values):
        if t is not None:
            out[i] = (t - _EPOCH) // dt.timedelta(microseconds=1)
    return out


def tier_records(member_id: Any, state: TierState) -> list[MemberTier]:
    """One [`MemberTier`][crmkit.loyalty.MemberTier] per row of ``state``, for ``member_id``.

    Examples:
        >>> import numpy as np
        >>> s = TierState.start(np.array(["2024-01-01"], "datetime64[us]"))
        >>> tier_records(["m-1"], s)[0].tier
        -1
    """
    ids = v.as_str_array("member_id", member_id, allow_empty=True)
    v.same_length(member_id=ids, state=state.tier)
    cols = {
        name: _to_datetimes(getattr(state, name))
        for name in ("since", "joined_at", "evaluated_at", "grace_until")
    }
    tier, floor, life = state.tier.tolist(), state.floor.tolist(), state.lifetime.tolist()
    missing = [
        i for i in range(ids.size) if cols["since"][i] is None or cols["joined_at"][i] is None
    ]
    if missing:
        raise InvalidInputError(
            f"state: {len(missing)} members without 'since' or 'joined_at' (first at index "
            f"{missing[0]}). Every tier state has both."
        )
    return [
        MemberTier(
            member_id=str(ids[i]),
            tier=tier[i],
            since=cols["since"][i],  # type: ignore[arg-type]
            joined_at=cols["joined_at"][i],  # type: ignore[arg-type]
            evaluated_at=cols["evaluated_at"][i],
            grace_until=cols["grace_until"][i],
            floor=floor[i],
            lifetime=life[i],
        )
        for i in range(ids.size)
    ]


def tier_state(records: list[MemberTier]) -> TierState:
    """The [`TierState`][crmkit.loyalty.TierState] with one row per record, in their order.

    Examples:
        >>> import numpy as np
        >>> s = TierState.start(np.array(["2024-01-01"], "datetime64[us]"))
        >>> tier_state(tier_records(["m-1"], s)).joined_at.tolist() == s.joined_at.tolist()
        True
    """

    def ints(name: str) -> np.ndarray[Any, Any]:
        return np.array([getattr(r, name) for r in records], dtype=np.int64)

    def times(name: str) -> np.ndarray[Any, Any]:
        return _to_times([getattr(r, name) for r in records])

    return TierState(
        tier=ints("tier"),
        since=times("since"),
        evaluated_at=times("evaluated_at"),
        grace_until=times("grace_until"),
        floor=ints("floor"),
        lifetime=ints("lifetime"),
        joined_at=times("joined_at"),
    )
