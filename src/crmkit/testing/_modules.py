"""Kit checks on the module collections of segmentation, loyalty and targeting.

These run crmkit's own persistence code (segment snapshots, the loyalty book, audiences and
holdouts) against the adapter, through the generic ``store.collection(spec)`` path: what an
adapter must get right is the atomicity of transactions, ``(time, key)`` scans of a time window,
``for_customer`` and erasure of documents by customer.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from crmkit.errors import NotFoundError
from crmkit.loyalty import (
    Burn,
    Coupon,
    Earn,
    ExpiryRule,
    InsufficientPointsError,
    LedgerPolicy,
    LoyaltyBook,
    Reward,
    TierState,
    Transfer,
    check_account,
)
from crmkit.model import Consent, Contact
from crmkit.segmentation import (
    Compare,
    MembershipSnapshot,
    SegmentDefinition,
    definition_history,
    load_definition,
    load_snapshot,
    save_definition,
    save_snapshot,
    snapshot_transitions,
)
from crmkit.storage import Store, connect
from crmkit.targeting import (
    Eligibility,
    FrequencyCap,
    assign_holdout,
    eligibility_from_store,
    load_audience,
    load_holdout,
    save_audience,
    save_holdout,
)
from crmkit.testing._base import KitBase, requires, utc

__all__ = ["ModuleChecks"]

#: Ids that need escaping in compound keys, or that SQL and JSON treat specially.
_ODD_IDS = ("c/1", "c%2F1", "c'1", 'c"1', "c 1", "ç-1")

_POLICY = LedgerPolicy(expiry=ExpiryRule(mode="after_days", days=30))


def _live_sum(book: LoyaltyBook, member_id: str, at: Any) -> int:
    return sum(lot.remaining for lot in book.account(member_id).lots if lot.usable_at(at))


def _module_data(store: Store, customer_id: str, *, partner: str) -> None:
    """A snapshot, ledger (with a transfer to ``partner``), tiers, claim, coupon use,
    audience and holdout for ``customer_id``."""
    t = utc(2024, 3, 1)
    save_snapshot(
        store,
        MembershipSnapshot(
            segment=f"seg-{customer_id}", as_of=t, customer_ids=(customer_id, partner)
        ),
    )
    book = LoyaltyBook(store, _POLICY)
    book.apply(Earn(key=f"e-{customer_id}", member_id=customer_id, at=t, points=500))
    book.apply(
        Transfer(
            key=f"t-{customer_id}", member_id=customer_id, to_member_id=partner, at=t, points=10
        )
    )
    book.save_tiers([customer_id], TierState.start(np.array(["2024-03-01"], "datetime64[us]")))
    book.claim_reward(
        Reward(reward_id="mug", name="Mug", cost_points=100),
        member_id=customer_id,
        key=f"claim-{customer_id}",
        at=t,
    )
    book.add_coupons(
        [
            Coupon(code="SHARED", max_uses=10),
            Coupon(code=f"own-{customer_id}", member_id=customer_id),
        ]
    )
    book.redeem("SHARED", member_id=customer_id, key=f"o-{customer_id}", at=t)
    rules = Eligibility(channel="email")
    res = rules.evaluate([customer_id, partner], send_at=t, consents=store.consents.columns())
    save_audience(
        store, audience_id=f"aud-{customer_id}", campaign_id="x", rules=rules, result=res, send_at=t
    )
    save_holdout(
        store,
        f"camp-{customer_id}",
        assign_holdout([customer_id, partner], salt="s", fractions={"treatment": 1.0}),
        at=t,
    )


class ModuleChecks(KitBase):
    """Segment snapshots, the loyalty book, audiences and holdouts work on the adapter.

    Examples:
        >>> "test_erase_removes_module_data" in dir(ModuleChecks)
        True
    """

    @requires("documents")
    def test_segment_definitions_keep_versions(self, store: Store) -> None:
        """Saving a changed definition adds a version; saving it unchanged adds none."""
        t = utc(2024, 1, 1)
        d1 = SegmentDefinition(name="vip/€", condition=Compare(field="n", cmp="ge", value=10))
        d2 = SegmentDefinition(name="vip/€", condition=Compare(field="n", cmp="ge", value=12))
        assert save_definition(store, d1, at=t) == 1
        assert save_definition(store, d1, at=t) == 1
        assert save_definition(store, d2, at=utc(2024, 2, 1)) == 2
        assert load_definition(store, "vip/€").definition == d2
        assert load_definition(store, "vip/€", version=1).definition == d1
        assert [s.version for s in definition_history(store, "vip/€")] == [1, 2]

    @requires("documents")
    def test_membership_snapshots_round_trip(self, store: Store) -> None:
        """Snapshots come back by instant and latest-first, replaced whole, and compared."""
        t0, t1 = utc(2024, 1, 1), utc(2024, 2, 1)
        ids = tuple(f"c{i:03d}" for i in range(30)) + _ODD_IDS
        labels = tuple("Loyal" if i % 3 else "New" for i in range(len(ids)))
        before = MembershipSnapshot(segment="rfm", as_of=t0, customer_ids=ids, labels=labels)
        save_snapshot(store, before)
        save_snapshot(store, MembershipSnapshot(segment="other", as_of=t0, customer_ids=ids[:3]))
        moved = tuple("At risk" if i % 5 == 0 else lab for i, lab in enumerate(labels))
        save_snapshot(
            store, MembershipSnapshot(segment="rfm", as_of=t1, customer_ids=ids, labels=moved)
        )
        # replacing the latest snapshot drops customers left out of the new one
        save_snapshot(
            store,
            MembershipSnapshot(segment="rfm", as_of=t1, customer_ids=ids[1:], labels=moved[1:]),
        )
        got = load_snapshot(store, "rfm", t0)
        order = np.argsort(np.array(ids))
        assert got.customer_ids == tuple(np.array(ids)[order])
        assert got.labels == tuple(np.array(labels)[order])
        latest = load_snapshot(store, "rfm")
        assert latest.as_of == t1
        assert ids[0] not in latest.customer_ids
        assert len(latest.customer_ids) == len(ids) - 1
        assert load_snapshot(store, "other").customer_ids == tuple(sorted(ids[:3]))
        tr = snapshot_transitions(store, "rfm")
        want = sorted(ids[i] for i in range(1, len(ids)) if i % 5 == 0 and labels[i] == "Loyal")
        assert tr.who("Loyal", "At risk").tolist() == want
        assert tr.count("New", "") == 1
        with pytest.raises(NotFoundError):
            load_snapshot(store, "rfm", utc(2024, 3, 1))

    @requires("documents")
    def test_loyalty_ledger_is_atomic_and_idempotent(self, store: Store) -> None:
        """Retries write nothing, a failed batch nothing, and balances equal live lots."""
        book = LoyaltyBook(store, _POLICY)
        t = utc(2024, 1, 10)
        earn = Earn(key="e1", member_id="a", at=t, points=300)
        book.apply(earn)
        book.apply(Burn(key="b1", member_id="a", at=utc(2024, 1, 11), points=120))
        n_entries = len(book.entries("a"))
        assert book.apply(earn).replayed
        assert len(book.entries("a")) == n_entries
        book.apply(
            Transfer(key="t1", member_id="a", to_member_id="b", at=utc(2024, 1, 12), points=80)
        )
        before = (book.account("a"), book.account("b"), book.entries("a"), book.entries("b"))
        with pytest.raises(InsufficientPointsError):
            book.apply_all(
                [
                    Earn(key="e2", member_id="b", at=utc(2024, 1, 13), points=50),
                    Transfer(
                        key="t2", member_id="b", to_member_id="a", at=utc(2024, 1, 13), points=10
                    ),
                    Burn(key="b2", member_id="a", at=utc(2024, 1, 14), points=10_000),
                ]
            )
        after = (book.account("a"), book.account("b"), book.entries("a"), book.entries("b"))
        assert after == before
        at = utc(2024, 1, 20)
        for member, want in (("a", 100), ("b", 80)):
            check_account(book.account(member), book.entries(member), _POLICY)
            assert book.balance(member, at=at).total == want == _live_sum(book, member, at)
        # past the 30-day expiry every lot is dead, and the replayed balance says so
        assert book.balance("a", at=utc(2024, 3, 1)).total == 0
        assert book.balance("a", at=utc(2024, 1, 10, 12)).available == 300

    @requires("documents", "thread_safe")
    def test_loyalty_concurrent_earns_lose_nothing(self, store: Store) -> None:
        """Four threads earning for one member at once: every earn is in account and ledger."""
        book = LoyaltyBook(store, _POLICY)
        t = utc(2024, 1, 10)

        def earn(tag: str) -> None:
            for i in range(10):
                book.apply(Earn(key=f"{tag}-{i}", member_id="m", at=t, points=5))

        threads = [threading.Thread(target=earn, args=(f"w{k}",)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert book.account("m").balance == 200
        assert len(book.entries("m")) == 40

    @requires("documents")
    def test_loyalty_rewards_coupons_and_tiers_round_trip(self, store: Store) -> None:
        """Claims, coupon uses and tier states come back equal; retries change nothing."""
        book = LoyaltyBook(store, _POLICY)
        t = utc(2024, 2, 1)
        book.apply(Earn(key="e", member_id="m", at=t, points=1000))
        mug = Reward(reward_id="mug", name="Mug", cost_points=300, per_member_limit=2)
        first = book.claim_reward(mug, member_id="m", key="k1", at=t)
        assert book.claim_reward(mug, member_id="m", key="k1", at=t).code == first.code
        book.claim_reward(mug, member_id="m", key="k2", at=t)
        with pytest.raises(ValueError, match="limit"):
            book.claim_reward(mug, member_id="m", key="k3", at=t)
        assert [c.key for c in book.claims("m")] == ["k1", "k2"]
        assert book.account("m").balance == 400
        book.add_coupons([Coupon(code="TWICE", max_uses=2)])
        book.redeem("TWICE", member_id="m", key="o1", at=t)
        book.redeem("TWICE", member_id="m", key="o1", at=t)
        state = book.redeem("TWICE", member_id="n", key="o2", at=t)
        assert book.coupon("TWICE") == state
        assert state.uses == 2
        with pytest.raises(ValueError, match="used up"):
            book.redeem("TWICE", member_id="n", key="o3", at=t)
        joined = np.array(["2023-05-01T10:00:00.000001", "2024-01-01"], "datetime64[us]")
        tiers = TierState.start(joined, floor=[1, -1])
        book.save_tiers(["m", "n"], tiers)
        got = book.load_tiers(["n", "m"])
        assert got.floor.tolist() == [-1, 1]
        assert got.joined_at.tolist() == joined[::-1].tolist()
        assert np.isnat(got.evaluated_at).all()

    @requires("documents")
    def test_audiences_and_holdouts_round_trip(self, store: Store) -> None:
        """An audience's reasons and next times, and a holdout's groups, come back equal."""
        t = utc(2024, 5, 6, 9)
        ids = [f"c{i}" for i in range(20)] + list(_ODD_IDS)
        store.consents.upsert(
            [
                Consent(
                    customer_id=c,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    at=utc(2024, 1, 1),
                )
                for c in ids[::2]
            ]
        )
        store.contacts.upsert(
            [
                Contact(
                    contact_id=f"k{i}",
                    campaign_id="x",
                    customer_id=c,
                    channel="email",
                    at=utc(2024, 5, 5, 9 + i % 3),
                )
                for i, c in enumerate(ids[:8])
            ]
        )
        rules = Eligibility(channel="email", caps=[FrequencyCap(max_contacts=1, window_hours=48)])
        res = eligibility_from_store(rules, store, ids, send_at=t)
        assert res.counts() == {"eligible": 9, "no_consent": 13, "frequency_cap": 4}
        save_audience(store, audience_id="a/1", campaign_id="x", rules=rules, result=res, send_at=t)
        save_audience(
            store,
            audience_id="a/2",
            campaign_id="x",
            rules=rules,
            result=rules.evaluate(
                ids[:3],
                send_at=t,
                consents=store.consents.columns(),
                contacts=store.contacts.columns(),
            ),
            send_at=t,
        )
        back = load_audience(store, "a/1")
        order = np.argsort(res.customer_id)
        assert back.record.rules == rules
        assert back.record.send_at == t
        assert back.result.customer_id.tolist() == res.customer_id[order].tolist()
        assert back.result.reason.tolist() == res.reason[order].tolist()
        assert back.result.next_eligible_at.tolist() == res.next_eligible_at[order].tolist()
        assert len(load_audience(store, "a/2").result.customer_id) == 3
        split = assign_holdout(ids, salt="spring", fractions={"treatment": 0.5, "control": 0.5})
        assert save_holdout(store, "spring", split, at=t) == len(ids)
        assert save_holdout(store, "spring", split, at=utc(2024, 6, 1)) == 0
        got = load_holdout(store, "spring")
        order = np.argsort(split.customer_id)
        assert got.customer_id.tolist() == split.customer_id[order].tolist()
        assert got.group.tolist() == split.group[order].tolist()
        assert got.fractions == split.fractions
        assert got.salt == "spring"

    @requires("documents")
    def test_erase_removes_module_data(self, store: Store) -> None:
        """Erasure deletes a customer from snapshots, ledger, tiers, claims, coupons, audiences
        and holdouts, keeps other customers whole, and keeps coupon use counts."""
        for cid, other in (("c-1", "c-2"), ("c-2", "c-1")):
            _module_data(store, cid, partner=other)
        book = LoyaltyBook(store, _POLICY)
        before = {
            "entries": book.entries("c-2"),
            "account": book.account("c-2"),
            "snapshot": load_snapshot(store, "seg-c-2").customer_ids,
        }
        report = store.erase("c-1")
        assert report.deleted["loyalty.accounts"] == 1
        assert book.account("c-1").lots == ()
        assert book.entries("c-1") == []
        assert book.claims("c-1") == []
        with pytest.raises(ValueError, match="tier state"):
            book.load_tiers(["c-1"])
        with pytest.raises(NotFoundError):
            book.coupon("own-c-1")
        shared = book.coupon("SHARED")
        assert shared.uses == 2
        assert sorted(r.member_id for r in shared.redemptions) == ["<erased>", "c-2"]
        for seg in ("seg-c-1", "seg-c-2"):
            assert "c-1" not in load_snapshot(store, seg).customer_ids
        for aud in ("aud-c-1", "aud-c-2"):
            assert load_audience(store, aud).result.customer_id.tolist() == ["c-2"]
        for camp in ("camp-c-1", "camp-c-2"):
            assert load_holdout(store, camp).customer_id.tolist() == ["c-2"]
        assert book.entries("c-2") == before["entries"]
        assert book.account("c-2") == before["account"]
        assert before["snapshot"] == ("c-1", "c-2")
        assert load_snapshot(store, "seg-c-2").customer_ids == ("c-2",)
        assert book.load_tiers(["c-2"]).tier.tolist() == [-1]

    @requires("documents", "persistent")
    def test_module_data_survives_reopening(self, store: Store) -> None:
        """Ledger, snapshot and audience written through one handle are read by a new one."""
        _module_data(store, "c-1", partner="c-2")
        want = LoyaltyBook(store, _POLICY).entries("c-1")
        with connect(store.url) as again:
            book = LoyaltyBook(again, _POLICY)
            assert book.entries("c-1") == want
            assert book.balance("c-1", at=utc(2024, 3, 2)).total == 390
            assert load_snapshot(again, "seg-c-1").customer_ids == ("c-1", "c-2")
            assert load_audience(again, "aud-c-1").record.campaign_id == "x"
