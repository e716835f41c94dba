"""Eligibility: consent at send time, suppression, cooldown, frequency caps, send windows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit.columns import ConsentColumns, ContactColumns, OrderColumns
from crmkit.errors import InvalidInputError
from crmkit.model import Consent, consent_granted
from crmkit.targeting import (
    Eligibility,
    FrequencyCap,
    SendWindow,
    SuppressionColumns,
    select_offers,
    suppressions_from_contacts,
)

T0 = np.datetime64("2024-03-01T00:00", "us")
HOUR = np.timedelta64(3600 * 10**6, "us")


def _ts(hours: list[float]) -> np.ndarray:
    return T0 + np.array([int(h * 3600 * 10**6) for h in hours], dtype="timedelta64[us]")


def _granted(ids: list[str]) -> ConsentColumns:
    return ConsentColumns.from_arrays(
        customer_id=ids,
        channel=["email"] * len(ids),
        purpose=["marketing"] * len(ids),
        status=["granted"] * len(ids),
        at=np.full(len(ids), T0 - 1000 * HOUR),
    )


def _contacts(cust: list[str], hours: list[float], channel: str = "email") -> ContactColumns:
    return ContactColumns.from_arrays(
        contact_id=[f"k{i}" for i in range(len(cust))],
        campaign_id=["camp"] * len(cust),
        customer_id=cust,
        channel=[channel] * len(cust),
        at=_ts(hours),
    )


def test_consent_is_judged_at_send_time() -> None:
    """A grant counts only before the send time and a revocation by it removes the customer."""
    cc = ConsentColumns.from_arrays(
        customer_id=["a", "b", "b", "c"],
        channel=["email"] * 4,
        purpose=["marketing"] * 4,
        status=["granted", "granted", "revoked", "granted"],
        at=_ts([-10, -10, -1, 5]),
    )
    res = Eligibility(channel="email").evaluate(["a", "b", "c", "d"], send_at=T0, consents=cc)
    assert res.reason.tolist() == ["", "no_consent", "no_consent", "no_consent"]
    assert res.counts() == {"eligible": 1, "no_consent": 3}


def test_consent_for_another_channel_or_purpose_does_not_count() -> None:
    """Consent is per channel and purpose: an SMS or service grant allows no marketing email."""
    cc = ConsentColumns.from_arrays(
        customer_id=["a", "b"],
        channel=["sms", "email"],
        purpose=["marketing", "service"],
        status=["granted", "granted"],
        at=_ts([-5, -5]),
    )
    res = Eligibility(channel="email").evaluate(["a", "b"], send_at=T0, consents=cc)
    assert res.reason.tolist() == ["no_consent", "no_consent"]


def test_suppression_reasons_and_precedence() -> None:
    """A suppressed customer gets the most binding active reason; expired entries do not count."""
    sup = SuppressionColumns.from_arrays(
        customer_id=["a", "a", "b", "c", "d"],
        reason=["bounced", "legal_hold", "manual", "complained", "unsubscribed"],
        at=_ts([-5, -5, -5, -5, -5]),
        channel=["email", "", "sms", "", "email"],
        until=np.array([T0 + HOUR, T0 + HOUR, T0 + HOUR, T0 - HOUR, T0 + HOUR]),
    )
    ids = ["a", "b", "c", "d"]
    res = Eligibility(channel="email").evaluate(
        ids, send_at=T0, consents=_granted(ids), suppressions=sup
    )
    assert res.reason.tolist() == ["legal_hold", "", "", "unsubscribed"]
    assert not res.deferred.any()


def test_contact_outcomes_become_suppressions() -> None:
    """A complaint in the contact log suppresses that customer's channel from then on."""
    k = ContactColumns.from_arrays(
        contact_id=["k1"],
        campaign_id=["x"],
        customer_id=["a"],
        channel=["email"],
        at=_ts([-3]),
        outcome=["complained"],
    )
    res = Eligibility(channel="email").evaluate(
        ["a"], send_at=T0, consents=_granted(["a"]), suppressions=suppressions_from_contacts(k)
    )
    assert res.reason.tolist() == ["complained"]


def test_cooldown_defers_until_it_ends() -> None:
    """A purchase within the cooldown defers the customer to purchase time + cooldown."""
    orders = OrderColumns.from_arrays(
        order_id=["o1", "o2"],
        customer_id=["a", "b"],
        placed_at=_ts([-10, -100]),
        currency=["EUR", "EUR"],
        total_minor=[100, 100],
    )
    res = Eligibility(channel="email", cooldown_hours=48).evaluate(
        ["a", "b"], send_at=T0, consents=_granted(["a", "b"]), orders=orders
    )
    assert res.reason.tolist() == ["cooldown", ""]
    assert res.next_eligible_at[0] == T0 + 38 * HOUR


def test_frequency_cap_defers_to_when_a_slot_frees() -> None:
    """With 2 per 7 days and contacts 1 and 3 days ago, the slot frees 4 days from now."""
    ids = ["a", "b"]
    contacts = _contacts(["a", "a", "b"], [-24, -72, -24])
    rules = Eligibility(channel="email", caps=[FrequencyCap(max_contacts=2, window_hours=168)])
    res = rules.evaluate(ids, send_at=T0, consents=_granted(ids), contacts=contacts)
    assert res.reason.tolist() == ["frequency_cap", ""]
    assert res.next_eligible_at[0] == T0 + (168 - 72) * HOUR
    dropped = Eligibility(
        channel="email", caps=[FrequencyCap(max_contacts=2, window_hours=168)], cap_policy="drop"
    ).evaluate(ids, send_at=T0, consents=_granted(ids), contacts=contacts)
    assert dropped.reason.tolist() == ["frequency_cap", ""]
    assert np.isnat(dropped.next_eligible_at[0])


def test_cap_per_channel_and_across_channels() -> None:
    """An SMS contact counts against a cross-channel cap but not against an email-only cap."""
    contacts = _contacts(["a"], [-1], channel="sms")
    for cap_channel, expected in [("email", ""), (None, "frequency_cap")]:
        rules = Eligibility(
            channel="email",
            caps=[FrequencyCap(max_contacts=1, window_hours=24, channel=cap_channel)],
        )
        res = rules.evaluate(["a"], send_at=T0, consents=_granted(["a"]), contacts=contacts)
        assert res.reason.tolist() == [expected]


def test_caps_need_a_contact_log() -> None:
    """Caps without a contact log are an error, not a silent pass."""
    rules = Eligibility(channel="email", caps=[FrequencyCap(max_contacts=1, window_hours=24)])
    with pytest.raises(InvalidInputError, match="contacts"):
        rules.evaluate(["a"], send_at=T0, consents=_granted(["a"]))


def test_quiet_hours_in_the_customers_time_zone() -> None:
    """At 06:00 UTC Berlin (08:00) is open, New York (02:00) is deferred to 08:00 local."""
    ids = ["berlin", "ny"]
    send = np.datetime64("2024-07-15T06:00", "us")
    rules = Eligibility(channel="email", send_window=SendWindow(start=dt.time(8), end=dt.time(21)))
    res = rules.evaluate(
        ids,
        send_at=send,
        consents=_granted(ids),
        time_zone=["Europe/Berlin", "America/New_York"],
    )
    assert res.reason.tolist() == ["", "quiet_hours"]
    assert res.next_eligible_at[1] == np.datetime64("2024-07-15T12:00", "us")  # 08:00 EDT


def test_weekday_window_skips_to_monday() -> None:
    """A weekdays-only window defers a Saturday send to Monday's opening."""
    send = np.datetime64("2024-05-04T10:00", "us")  # Saturday
    window = SendWindow(start=dt.time(9), end=dt.time(17), weekdays=(0, 1, 2, 3, 4))
    res = Eligibility(channel="email", send_window=window).evaluate(
        ["a"], send_at=send, consents=_granted(["a"])
    )
    assert res.next_eligible_at[0] == np.datetime64("2024-05-06T09:00", "us")


def test_deferred_customers_are_also_moved_into_the_window() -> None:
    """A cooldown ending at night defers to the next opening after it, not to the night."""
    orders = OrderColumns.from_arrays(
        order_id=["o1"],
        customer_id=["a"],
        placed_at=np.array(["2024-05-06T22:00"], dtype="datetime64[us]"),
        currency=["EUR"],
        total_minor=[100],
    )
    res = Eligibility(
        channel="email",
        cooldown_hours=24,
        send_window=SendWindow(start=dt.time(8), end=dt.time(20)),
    ).evaluate(
        ["a"],
        send_at=np.datetime64("2024-05-07T10:00", "us"),
        consents=_granted(["a"]),
        orders=orders,
    )
    assert res.reason.tolist() == ["cooldown"]
    assert res.next_eligible_at[0] == np.datetime64("2024-05-08T08:00", "us")


def test_duplicate_audience_ids_are_rejected() -> None:
    """An audience lists each customer once."""
    with pytest.raises(InvalidInputError, match="duplicate"):
        Eligibility(channel="email").evaluate(["a", "a"], send_at=T0, consents=_granted(["a"]))


_events = st.lists(
    st.tuples(
        st.integers(0, 5),  # customer
        st.integers(-200, 10),  # hours relative to the send
        st.sampled_from(["granted", "revoked", "denied"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(events=_events, send_hour=st.integers(-5, 5))
def test_property_no_customer_without_consent_is_selected(
    events: list[tuple[int, int, str]], send_hour: int
) -> None:
    """Whatever the consent history, nobody without consent at send time is ever selected."""
    ids = [f"c{i}" for i in range(6)]
    send = T0 + send_hour * HOUR
    cc = ConsentColumns.from_arrays(
        customer_id=[f"c{c}" for c, _, _ in events] or np.empty(0, str),
        channel=["email"] * len(events),
        purpose=["marketing"] * len(events),
        status=[s for _, _, s in events],
        at=T0 + np.array([h for _, h, _ in events], dtype=np.int64) * HOUR,
    )
    res = Eligibility(channel="email").evaluate(ids, send_at=send, consents=cc)
    sel = select_offers(np.ones(len(ids)), available=res.eligible, customer_id=ids)
    send_dt = dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=send_hour)
    for cid, chosen in zip(sel.customer_id.tolist(), sel.selected.tolist(), strict=True):
        log = [
            Consent(
                customer_id=cid,
                channel="email",
                purpose="marketing",
                status=s,
                at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=h),
            )
            for c, h, s in events
            if f"c{c}" == cid
        ]
        if chosen:
            assert consent_granted(log, channel="email", purpose="marketing", at=send_dt)


@settings(max_examples=40, deadline=None)
@given(
    send_gaps=st.lists(st.integers(1, 30), min_size=1, max_size=25),
    max_contacts=st.integers(1, 3),
    window=st.integers(5, 60),
)
def test_property_caps_are_never_exceeded(
    send_gaps: list[int], max_contacts: int, window: int
) -> None:
    """Sending to the eligible, campaign after campaign, keeps every rolling window in the cap."""
    ids = ["a", "b", "c"]
    rules = Eligibility(
        channel="email", caps=[FrequencyCap(max_contacts=max_contacts, window_hours=window)]
    )
    log_c: list[str] = []
    log_t: list[np.datetime64] = []
    t = T0
    for gap in send_gaps:
        t = t + gap * HOUR
        contacts = ContactColumns.from_arrays(
            contact_id=[f"k{i}" for i in range(len(log_c))] or np.empty(0, str),
            campaign_id=["x"] * len(log_c),
            customer_id=log_c or np.empty(0, str),
            channel=["email"] * len(log_c),
            at=np.array(log_t, dtype="datetime64[us]"),
        )
        res = rules.evaluate(ids, send_at=t, consents=_granted(ids), contacts=contacts)
        for cid in res.customer_id[res.eligible].tolist():
            log_c.append(cid)
            log_t.append(t)
    times = np.array(log_t, dtype="datetime64[us]")
    cust = np.array(log_c)
    w = window * HOUR
    for cid in ids:
        mine = np.sort(times[cust == cid])
        for end in mine:  # every window ending at a contact (the binding ones)
            assert int(((mine > end - w) & (mine <= end)).sum()) <= max_contacts
