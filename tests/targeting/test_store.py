"""Audiences, holdouts and the contact log in a store; caps read from the stored log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import crmkit.targeting as T
from crmkit.columns import ContactColumns
from crmkit.errors import ConflictError, NotFoundError
from crmkit.model import Consent, Contact, Money, Order, OrderLine
from crmkit.serialization import dumps, loads, make_converter
from crmkit.storage import Store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore

T0 = dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC)
RULES = T.Eligibility(
    channel="email",
    caps=[
        T.FrequencyCap(max_contacts=2, window_hours=7 * 24),
        T.FrequencyCap(max_contacts=1, window_hours=24, campaign_id="daily"),
    ],
    cooldown_hours=12,
    send_window=T.SendWindow(start=dt.time(8), end=dt.time(20, 30), weekdays=(0, 1, 2, 3, 4)),
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh memory or SQLite store."""
    s: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "t.db")
    with s:
        yield s


def shop(store: Store, n: int, seed: int) -> list[str]:
    """``n`` customers, about 80% with email consent, some recent orders and contacts."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:04d}" for i in range(n)]
    store.consents.upsert(
        Consent(
            customer_id=c,
            channel="email",
            purpose="marketing",
            status="granted" if rng.random() < 0.8 else "denied",
            at=T0 - dt.timedelta(days=int(rng.integers(1, 400))),
        )
        for c in ids
    )
    # Order converts lines with tuple(), which type checkers see as an unbound Iterable
    lines: Any = (OrderLine(product_id="tea", quantity=1, unit_price=Money.of("5", "EUR")),)
    store.orders.upsert(
        Order(
            order_id=f"o{i}",
            customer_id=ids[int(rng.integers(n))],
            placed_at=T0 - dt.timedelta(hours=float(rng.uniform(0, 72))),
            currency="EUR",
            lines=lines,
        )
        for i in range(n // 4)
    )
    store.contacts.upsert(
        Contact(
            contact_id=f"k{i}",
            campaign_id=str(rng.choice(["daily", "weekly"])),
            customer_id=ids[int(rng.integers(n))],
            channel=str(rng.choice(["email", "sms"])),
            at=T0 - dt.timedelta(hours=float(rng.uniform(0, 24 * 30))),
        )
        for i in range(n)
    )
    return ids


def test_stored_values_round_trip_through_the_converter() -> None:
    """Audience and holdout records, rules with caps and a send window included, survive JSON."""
    conv = make_converter()
    values: list[object] = [
        T.AudienceRecord(
            audience_id="a", campaign_id="c", send_at=T0, rules=RULES, counts={"eligible": 3}
        ),
        T.AudienceMember(
            audience_id="a", customer_id="x", send_at=T0, reason="cooldown", next_eligible_at=T0
        ),
        T.HoldoutRecord(campaign_id="c", salt="s", fractions={"t": 0.9, "c": 0.1}, created_at=T0),
        T.HoldoutMember(campaign_id="c", customer_id="x", group="t", created_at=T0),
    ]
    for value in values:
        assert loads(dumps(value, converter=conv), type(value), converter=conv) == value


def test_eligibility_from_store_equals_evaluating_every_column(store: Store) -> None:
    """Reading only the windows the rules need gives the result of passing whole tables."""
    ids = shop(store, 600, seed=3)
    for hours in (0, 30, 80):
        t = T0 + dt.timedelta(hours=hours)
        got = T.eligibility_from_store(RULES, store, ids, send_at=t, time_zone="Europe/Berlin")
        want = RULES.evaluate(
            ids,
            send_at=np.datetime64(t.replace(tzinfo=None), "us"),
            consents=store.consents.columns(),
            contacts=store.contacts.columns(),
            orders=store.orders.columns(),
            time_zone="Europe/Berlin",
        )
        assert got.reason.tolist() == want.reason.tolist()
        assert got.next_eligible_at.tolist() == want.next_eligible_at.tolist()
        assert len(got.counts()) >= 3  # the data exercise several reasons


def test_caps_hold_over_sends_logged_to_the_store(store: Store) -> None:
    """Sending every 6 hours for 10 days to whoever the stored log allows never exceeds a cap."""
    ids = shop(store, 150, seed=5)
    rules = T.Eligibility(channel="email", caps=RULES.caps, cap_policy="drop")
    sends = 0
    for k in range(40):
        t = T0 + dt.timedelta(hours=6 * k)
        res = T.eligibility_from_store(rules, store, ids, send_at=t)
        chosen = res.customer_id[res.eligible]
        sends += T.log_contacts(
            store, campaign_id="daily", customer_id=chosen, channel="email", at=t
        )
    assert sends > 150
    log: ContactColumns = store.contacts.columns(start=T0)
    email = log.channel == "email"
    for cap in rules.caps:
        sel = email & (log.campaign_id == cap.campaign_id if cap.campaign_id else True)
        w = np.timedelta64(int(cap.window_hours * 3600), "s")
        whole = store.contacts.columns()
        wsel = whole.channel == "email"
        if cap.campaign_id:
            wsel &= whole.campaign_id == cap.campaign_id
        for c, at in zip(log.customer_id[sel], log.at[sel], strict=True):
            # contacts of that customer in the window ending at this send, this send included
            n = int(
                ((whole.customer_id == c) & wsel & (whole.at > at - w) & (whole.at <= at)).sum()
            )
            assert n <= cap.max_contacts, (c, at, cap)


def test_audience_round_trip_and_replacement(store: Store) -> None:
    """An audience comes back equal; saving the same id again replaces its customers."""
    ids = shop(store, 200, seed=9)
    t = T0 + dt.timedelta(hours=30)
    res = T.eligibility_from_store(RULES, store, ids, send_at=t, time_zone="America/New_York")
    rec = T.save_audience(
        store, audience_id="winback/may", campaign_id="winback", rules=RULES, result=res, send_at=t
    )
    assert rec.counts == res.counts()
    back = T.load_audience(store, "winback/may")
    assert back.record == rec
    assert back.result.customer_id.tolist() == res.customer_id.tolist()  # ids were sorted
    assert back.result.reason.tolist() == res.reason.tolist()
    assert back.result.next_eligible_at.tolist() == res.next_eligible_at.tolist()
    smaller = T.eligibility_from_store(RULES, store, ids[:10], send_at=t + dt.timedelta(hours=1))
    T.save_audience(
        store,
        audience_id="winback/may",
        campaign_id="winback",
        rules=RULES,
        result=smaller,
        send_at=np.datetime64("2024-05-02T16:00"),
    )
    again = T.load_audience(store, "winback/may")
    assert again.result.customer_id.tolist() == ids[:10]
    assert again.record.send_at == t + dt.timedelta(hours=1)
    with pytest.raises(NotFoundError):
        T.load_audience(store, "nope")


def test_holdouts_are_stable_and_guarded(store: Store) -> None:
    """A stored holdout grows with the audience, keeps groups, and refuses a changed split."""
    ids = [f"c{i}" for i in range(3000)]
    strata = ["vip" if i % 10 == 0 else "rest" for i in range(3000)]
    first = T.assign_holdout(ids[:2000], salt="wb-05", strata=strata[:2000])
    assert T.save_holdout(store, "winback", first, at=T0) == 2000
    grown = T.assign_holdout(ids, salt="wb-05")
    stored = T.load_holdout(store, "winback")
    same = np.isin(grown.customer_id, stored.customer_id)
    pos = np.searchsorted(stored.customer_id, grown.customer_id[same])
    if (stored.group[pos] != grown.group[same]).any():  # strata moved some across a cut
        with pytest.raises(ConflictError, match="keeps its first group"):
            T.save_holdout(store, "winback", grown, at=T0)
    new = T.assign_holdout(ids[2000:], salt="wb-05")
    assert T.save_holdout(store, "winback", new, at=T0 + dt.timedelta(days=3)) == 1000
    back = T.load_holdout(store, "winback")
    assert len(back.customer_id) == 3000
    check = back.check()
    assert check.p_value > 0.001  # a fair 90/10 split of 3,000 passes the sample-ratio test
    with pytest.raises(ConflictError, match="salt"):
        T.save_holdout(store, "winback", T.assign_holdout(ids, salt="other"), at=T0)
    with pytest.raises(NotFoundError):
        T.load_holdout(store, "spring")


def test_erase_removes_audience_and_holdout_members(store: Store) -> None:
    """After erase, the customer is in no stored audience or holdout; contacts are renamed."""
    ids = shop(store, 50, seed=1)
    res = T.eligibility_from_store(RULES, store, ids, send_at=T0)
    T.save_audience(store, audience_id="a", campaign_id="x", rules=RULES, result=res, send_at=T0)
    T.save_holdout(store, "x", T.assign_holdout(ids, salt="s"), at=T0)
    T.log_contacts(store, campaign_id="x", customer_id=["c0001"], channel="email", at=T0)
    report = store.erase("c0001")
    assert report.deleted[T.AUDIENCE_MEMBERS.name] == 1
    assert report.deleted[T.HOLDOUT_MEMBERS.name] == 1
    assert "c0001" not in T.load_audience(store, "a").result.customer_id.tolist()
    assert "c0001" not in T.load_holdout(store, "x").customer_id.tolist()
    assert len(T.load_holdout(store, "x").customer_id) == 49
    assert store.contacts.for_customer("c0001") == []


def test_contact_log_start_covers_the_widest_cap() -> None:
    """The log is read from send time minus the longest cap window; no caps, no log."""
    assert T.contact_log_start(RULES, T0) == T0 - dt.timedelta(days=7)
    assert T.contact_log_start(T.Eligibility(channel="sms"), T0) is None
