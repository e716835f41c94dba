"""Rewards and coupons: unguessable codes, limits, validity, idempotent redemption."""

from __future__ import annotations

import datetime as dt

import pytest

import crmkit.loyalty as L
from crmkit.errors import ConflictError, InvalidInputError

T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def test_codes_are_distinct_and_use_the_safe_alphabet() -> None:
    """10,000 codes are distinct, 12 chars, and avoid look-alikes (0, O, 1, I)."""
    codes = L.issue_codes(10_000)
    assert len(set(codes)) == 10_000
    assert all(len(c) == 12 and not set(c) & set("01OI") for c in codes)
    with pytest.raises(InvalidInputError, match="guessable"):
        L.issue_codes(1, length=6)


def test_reward_claim_burns_points_once_and_respects_limits() -> None:
    """A claim burns the cost; its retry burns nothing; limits and windows are enforced."""
    policy = L.LedgerPolicy()
    acct = L.apply(
        L.MemberAccount.open("m"), L.Earn(key="e", member_id="m", at=T, points=5000), policy
    ).account
    reward = L.Reward(
        reward_id="tote",
        name="Tote",
        cost_points=1500,
        per_member_limit=1,
        valid_until=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
    )
    claim = L.claim_reward(acct, reward, key="c1", at=T, policy=policy)
    assert claim.ledger.account.balance == 3500
    retry = L.claim_reward(
        claim.ledger.account, reward, key="c1", at=T, policy=policy, claimed=1, code=claim.code
    )
    assert retry.ledger.replayed
    assert retry.code == claim.code
    assert retry.ledger.account.balance == 3500
    with pytest.raises(InvalidInputError, match="limit 1"):
        L.claim_reward(claim.ledger.account, reward, key="c2", at=T, policy=policy, claimed=1)
    with pytest.raises(InvalidInputError, match="ended"):
        L.claim_reward(
            acct, reward, key="c3", at=dt.datetime(2024, 7, 1, tzinfo=dt.UTC), policy=policy
        )


def test_coupon_limits_validity_and_idempotency() -> None:
    """Multi-use code: 2 uses overall, 1 per member, within its window; retries count once."""
    c = L.Coupon(
        code="SPRING",
        max_uses=2,
        per_member_limit=1,
        valid_from=T,
        valid_until=T + dt.timedelta(days=30),
    )
    s = L.CouponState(coupon=c)
    s = L.redeem_coupon(s, member_id="a", key="o1", at=T)
    s = L.redeem_coupon(s, member_id="a", key="o1", at=T)  # retry
    assert s.uses == 1
    with pytest.raises(InvalidInputError, match="limit 1"):
        L.redeem_coupon(s, member_id="a", key="o2", at=T)
    with pytest.raises(ConflictError):
        L.redeem_coupon(s, member_id="b", key="o1", at=T)
    s = L.redeem_coupon(s, member_id="b", key="o3", at=T)
    with pytest.raises(InvalidInputError, match="used up"):
        L.redeem_coupon(s, member_id="c", key="o4", at=T)
    with pytest.raises(InvalidInputError, match="not valid"):
        L.redeem_coupon(
            L.CouponState(coupon=c), member_id="a", key="x", at=T + dt.timedelta(days=31)
        )
    mine = L.CouponState(coupon=L.Coupon(code="ONLYYOU", member_id="a"))
    with pytest.raises(InvalidInputError, match="another member"):
        L.redeem_coupon(mine, member_id="b", key="x", at=T)


def test_exported_names_are_sorted_and_public() -> None:
    """crmkit.loyalty.__all__ is sorted (constants, classes, functions, as ruff's RUF022 keeps
    it), complete and every name is documented."""

    def isort_key(name: str) -> tuple[int, str]:
        if name.isupper() and len(name) > 1:
            return (0, name)
        return (1, name) if name[:1].isupper() else (2, name)

    assert L.__all__ == sorted(L.__all__, key=isort_key)
    for name in L.__all__:
        obj = getattr(L, name)
        assert getattr(obj, "__doc__", None), name
    public = {n for n in dir(L) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(L.__all__)
