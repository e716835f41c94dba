"""Rewards and coupons: a catalog priced in points, unguessable codes, idempotent redemption."""

from __future__ import annotations

import datetime as dt
import secrets

import attrs

from crmkit.errors import ConflictError, InvalidInputError
from crmkit.loyalty._ledger import LedgerOutcome, LedgerPolicy, MemberAccount, apply
from crmkit.loyalty._values import Burn
from crmkit.model._checks import aware, non_empty, optional_aware

__all__ = [
    "Coupon",
    "CouponRedemption",
    "CouponState",
    "Reward",
    "RewardClaim",
    "claim_reward",
    "issue_codes",
    "redeem_coupon",
]

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: codes are read aloud and typed


def _positive(inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 1 (got {value!r})."
        )


def _optional_positive(inst: object, attr: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        _positive(inst, attr, value)  # type: ignore[arg-type]


def issue_codes(n: int, *, length: int = 12, prefix: str = "") -> tuple[str, ...]:
    """``n`` distinct, unguessable coupon codes drawn with ``secrets`` (5 bits per character).

    A 12-character code carries 60 bits: guessing one of a million live codes takes ~10^12
    tries on average. Codes use an alphabet without look-alike characters.

    Examples:
        >>> codes = issue_codes(3, prefix="SUMMER-")
        >>> len(set(codes)), all(c.startswith("SUMMER-") and len(c) == 19 for c in codes)
        (3, True)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"n: expected a whole number >= 0 (got {n!r}).")
    if length < 8:
        raise InvalidInputError(
            f"length: {length} characters (< 8) would be guessable. Use 8 or more."
        )
    out: set[str] = set()
    while len(out) < n:
        out.add(prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length)))
    return tuple(sorted(out))


@attrs.frozen(kw_only=True)
class Reward:
    """A catalog item members buy with points.

    Examples:
        >>> import datetime as dt
        >>> Reward(reward_id="tote", name="Tote bag", cost_points=1500, per_member_limit=1,
        ...        valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).cost_points
        1500
    """

    reward_id: str = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    cost_points: int = attrs.field(validator=_positive)
    valid_from: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    valid_until: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    per_member_limit: int | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen(kw_only=True)
class RewardClaim:
    """A reward bought with points: the ledger outcome and the coupon code handed out.

    Examples:
        >>> RewardClaim(reward_id="tote", member_id="m", key="k", code="ABCDEFGH2345",
        ...             ledger=LedgerOutcome(account=MemberAccount.open("m"), entries=())).code
        'ABCDEFGH2345'
    """

    reward_id: str
    member_id: str
    key: str
    code: str
    ledger: LedgerOutcome


def claim_reward(
    account: MemberAccount,
    reward: Reward,
    *,
    key: str,
    at: dt.datetime,
    policy: LedgerPolicy,
    claimed: int = 0,
    code: str | None = None,
) -> RewardClaim:
    """Buy ``reward`` with points: a burn keyed ``key`` plus a fresh code.

    ``claimed`` is how many times the member already claimed this reward (per-member limit).
    A retry with the same key burns nothing (the ledger replays); pass the code stored with
    the first claim as ``code`` to hand back the same one.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.loyalty import Earn
        >>> t = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        >>> p = LedgerPolicy()
        >>> acct = apply(MemberAccount.open("m"), Earn(key="e", member_id="m", at=t,
        ...              points=2000), p).account
        >>> claim = claim_reward(acct, Reward(reward_id="tote", name="Tote", cost_points=1500),
        ...                      key="claim-1", at=t, policy=p)
        >>> claim.ledger.account.balance, len(claim.code)
        (500, 12)
    """
    if key not in account.keys:
        if reward.valid_from is not None and at < reward.valid_from:
            raise InvalidInputError(
                f"at: reward {reward.reward_id!r} is valid from {reward.valid_from.isoformat()} "
                f"(claimed at {at.isoformat()})."
            )
        if reward.valid_until is not None and at >= reward.valid_until:
            raise InvalidInputError(
                f"at: reward {reward.reward_id!r} ended at {reward.valid_until.isoformat()} "
                f"(claimed at {at.isoformat()})."
            )
        if reward.per_member_limit is not None and claimed >= reward.per_member_limit:
            raise InvalidInputError(
                f"claimed: member {account.member_id!r} already claimed reward "
                f"{reward.reward_id!r} {claimed} times (limit {reward.per_member_limit})."
            )
    outcome = apply(
        account,
        Burn(
            key=key,
            member_id=account.member_id,
            at=at,
            points=reward.cost_points,
            reason=f"reward {reward.reward_id}",
        ),
        policy,
    )
    return RewardClaim(
        reward_id=reward.reward_id,
        member_id=account.member_id,
        key=key,
        code=code or issue_codes(1)[0],
        ledger=outcome,
    )


@attrs.frozen(kw_only=True)
class Coupon:
    """A coupon code: how often it may be used overall and per member, and when.

    ``max_uses=1`` is a single-use code; ``member_id`` binds a code to one member.

    Examples:
        >>> import datetime as dt
        >>> c = Coupon(code="WELCOME10", max_uses=1000, per_member_limit=1,
        ...            valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ...            valid_until=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
        >>> c.per_member_limit
        1
    """

    code: str = attrs.field(validator=non_empty)
    max_uses: int = attrs.field(default=1, validator=_positive)
    per_member_limit: int | None = attrs.field(default=None, validator=_optional_positive)
    valid_from: dt.datetime = attrs.field(
        default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), validator=aware
    )
    valid_until: dt.datetime | None = attrs.field(default=None, validator=optional_aware)
    member_id: str | None = None
    reward_id: str | None = None


@attrs.frozen(kw_only=True)
class CouponRedemption:
    """One use of a coupon, under an idempotency key.

    Examples:
        >>> import datetime as dt
        >>> CouponRedemption(code="X", member_id="m", key="order-7",
        ...                  at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC)).key
        'order-7'
    """

    code: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    key: str = attrs.field(validator=non_empty)
    at: dt.datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class CouponState:
    """A coupon and its redemptions so far (what a store keeps per code).

    Examples:
        >>> CouponState(coupon=Coupon(code="X")).uses
        0
    """

    coupon: Coupon
    redemptions: tuple[CouponRedemption, ...] = ()

    @property
    def uses(self) -> int:
        """How many times the coupon was redeemed."""
        return len(self.redemptions)

    def uses_by(self, member_id: str) -> int:
        """How many times ``member_id`` redeemed it."""
        return sum(r.member_id == member_id for r in self.redemptions)


def redeem_coupon(state: CouponState, *, member_id: str, key: str, at: dt.datetime) -> CouponState:
    """Redeem a coupon: a pure function; the same key twice redeems once.

    Examples:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        >>> s = CouponState(coupon=Coupon(code="X", max_uses=1))
        >>> s = redeem_coupon(s, member_id="m", key="order-7", at=t)
        >>> redeem_coupon(s, member_id="m", key="order-7", at=t).uses
        1
    """
    c = state.coupon
    for r in state.redemptions:
        if r.key == key:
            if r.member_id != member_id:
                raise ConflictError(
                    f"key: {key!r} already redeemed coupon {c.code!r} for member "
                    f"{r.member_id!r}, not {member_id!r}. Use a fresh key per redemption."
                )
            return state
    if at < c.valid_from or (c.valid_until is not None and at >= c.valid_until):
        raise InvalidInputError(
            f"at: coupon {c.code!r} is not valid at {at.isoformat()} (valid from "
            f"{c.valid_from.isoformat()} until "
            f"{c.valid_until.isoformat() if c.valid_until else 'no end'})."
        )
    if c.member_id is not None and member_id != c.member_id:
        raise InvalidInputError(
            f"member_id: coupon {c.code!r} belongs to another member. Only its owner can use it."
        )
    if state.uses >= c.max_uses:
        raise InvalidInputError(
            f"code: coupon {c.code!r} is used up ({state.uses} of {c.max_uses} uses)."
        )
    if c.per_member_limit is not None and state.uses_by(member_id) >= c.per_member_limit:
        raise InvalidInputError(
            f"member_id: {member_id!r} already used coupon {c.code!r} "
            f"{state.uses_by(member_id)} times (limit {c.per_member_limit})."
        )
    new = CouponRedemption(code=c.code, member_id=member_id, key=key, at=at)
    return attrs.evolve(state, redemptions=(*state.redemptions, new))
