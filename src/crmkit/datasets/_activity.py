"""Consents and behavioural events: order sessions, abandoned carts, browsing, e-mail engagement."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._commerce import GUEST, WEB_ACCOUNT, OrderDraft
from crmkit.datasets._config import ShopBehaviour

__all__ = ["EVENT_TYPES", "ConsentDraft", "EventDraft", "draft_consents", "draft_events"]

Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I8 = npt.NDArray[np.int8]

EVENT_TYPES = (
    "page_view",
    "search",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "email_open",
    "email_click",
)
PAGE, SEARCH, VIEW, ADD, REMOVE, CHECKOUT, OPEN, CLICK = range(len(EVENT_TYPES))
CHANNELS = ("email", "sms", "push")
_MINUTE = 1.0 / 1440.0
#: No order within this many days after an abandoned cart.
ABANDONED_GAP_DAYS = 1.0


@attrs.frozen(kw_only=True)
class ConsentDraft:
    """Consent events: the record (row in the record draft) that holds them, channel, status."""

    record: Int
    channel: Int  # index into CHANNELS
    status: Int  # 0 granted, 1 denied, 2 revoked
    day: Flt


def _revocations(
    record: Int, channel: Int, day: Flt, window_days: float, rate: float, rng: np.random.Generator
) -> tuple[Int, Int, Flt]:
    revoked = rng.random(record.size) < rate
    at = day + rng.random(record.size) * (window_days - day)
    keep = revoked & (at < window_days) & (at > day)
    return record[keep], channel[keep], at[keep]


def draft_consents(
    web_record: Int,
    web_day: Flt,
    loyalty_record: Int,
    loyalty_day: Flt,
    *,
    window_days: float,
    behaviour: ShopBehaviour,
    rng: np.random.Generator,
) -> ConsentDraft:
    """E-mail (granted or denied at signup) and push consents of web accounts, SMS of cards."""
    email_ok = rng.random(web_record.size) < behaviour.email_consent
    push = rng.random(web_record.size) < behaviour.push_consent
    push_day = web_day + rng.exponential(30.0, web_record.size)
    push = push & (push_day < window_days)
    sms = rng.random(loyalty_record.size) < behaviour.sms_consent
    grant_record = np.concatenate([web_record[email_ok], web_record[push], loyalty_record[sms]])
    grant_channel = np.concatenate(
        [
            np.zeros(int(email_ok.sum()), dtype=np.int64),
            np.full(int(push.sum()), 2, dtype=np.int64),
            np.ones(int(sms.sum()), dtype=np.int64),
        ]
    )
    grant_day = np.concatenate([web_day[email_ok], push_day[push], loyalty_day[sms]])
    rev_record, rev_channel, rev_day = _revocations(
        grant_record, grant_channel, grant_day, window_days, behaviour.revoked, rng
    )
    denied = ~email_ok
    record = np.concatenate([grant_record, web_record[denied], rev_record])
    channel = np.concatenate([grant_channel, np.zeros(int(denied.sum()), np.int64), rev_channel])
    status = np.concatenate(
        [
            np.zeros(grant_record.size, np.int64),
            np.ones(int(denied.sum()), np.int64),
            np.full(rev_record.size, 2, np.int64),
        ]
    )
    day = np.concatenate([grant_day, web_day[denied], rev_day])
    order = np.lexsort((status, channel, record, day))
    return ConsentDraft(
        record=record[order], channel=channel[order], status=status[order], day=day[order]
    )


@attrs.frozen(kw_only=True)
class EventDraft:
    """Events in time order: person, type, day and whether the visitor was logged in."""

    person: Int
    type: I8  # index into EVENT_TYPES
    day: Flt
    logged_in: Bool
    abandoned_carts: int


def _sessions(
    person: Int, end_day: Flt, kinds: list[int], spacing_days: float
) -> tuple[Int, I8, Flt]:
    """Events of the given kinds per session, one ``spacing_days`` apart, ending at ``end_day``."""
    k = len(kinds)
    p = np.repeat(person, k)
    t = np.tile(np.asarray(kinds, dtype=np.int8), person.size)
    offsets = (np.arange(k)[::-1] * spacing_days)[None, :]
    d: Flt = (end_day[:, None] - offsets).ravel()
    return p, t, d


def _active_spans(
    acquired: Flt, active_until: Flt, per_year: float, rng: np.random.Generator
) -> tuple[Int, Flt]:
    span = np.maximum(active_until - acquired, 0.0)
    count = rng.poisson(per_year * span / 365.25)
    person = np.repeat(np.arange(acquired.size), count)
    day = acquired[person] + rng.random(person.size) * span[person]
    return person, day


def draft_events(
    orders: OrderDraft,
    *,
    acquired: Flt,
    active_until: Flt,
    has_web: Bool,
    email_grants: tuple[Int, Flt, Flt],
    window_days: float,
    behaviour: ShopBehaviour,
    rng: np.random.Generator,
) -> EventDraft:
    """Sessions before online orders (view, add to cart, checkout), abandoned carts, browsing, mail.

    ``email_grants`` holds, per e-mail grant, the person and the days the grant starts and ends.
    An abandoned cart is an ``add_to_cart`` after which its person orders nothing for at least
    ``ABANDONED_GAP_DAYS``.
    """
    persons, types, days, logged = [], [], [], []
    # sessions of online orders: product views, add to cart, checkout, completion
    online = np.flatnonzero((orders.how == WEB_ACCOUNT) | (orders.how == GUEST))
    online = online[rng.random(online.size) < behaviour.tracked]
    p, t, d = _sessions(
        orders.person[online], orders.day[online], [VIEW, ADD, CHECKOUT], 3.0 * _MINUTE
    )
    persons.append(p)
    types.append(t)
    days.append(d - (1.0 + np.repeat(rng.random(online.size), 3)) * _MINUTE)
    logged.append(np.repeat(orders.how[online] == WEB_ACCOUNT, 3))
    # abandoned carts: no order within ABANDONED_GAP_DAYS afterwards
    cart_person, cart_day = _active_spans(
        acquired, active_until, behaviour.abandoned_carts_per_year, rng
    )
    key = orders.person * (window_days + 10.0) + orders.day  # any order, cancelled ones too
    key.sort()
    cart_key = cart_person * (window_days + 10.0) + cart_day
    nxt = np.searchsorted(key, cart_key, side="left")
    nxt_key = np.concatenate([key, [np.inf]])[nxt]
    ok = (nxt_key - cart_key) >= ABANDONED_GAP_DAYS
    ok &= cart_day < window_days - 10.0 * _MINUTE
    ok &= rng.random(ok.size) < behaviour.tracked
    cart_person, cart_day = cart_person[ok], cart_day[ok]
    with_checkout = rng.random(cart_person.size) < 0.3
    with_remove = rng.random(cart_person.size) < 0.2
    cart_logged = has_web[cart_person] & (rng.random(cart_person.size) < 0.6)
    for checkout in (False, True):
        for remove in (False, True):
            sel = (with_checkout == checkout) & (with_remove == remove)
            kinds = [VIEW, ADD] + ([REMOVE] if remove else []) + ([CHECKOUT] if checkout else [])
            p, t, d = _sessions(cart_person[sel], cart_day[sel], kinds, 2.0 * _MINUTE)
            d = d + (len(kinds) - 1) * 2.0 * _MINUTE  # the session starts at cart_day
            persons.append(p)
            types.append(t)
            days.append(d)
            logged.append(np.repeat(cart_logged[sel], len(kinds)))
    # browsing sessions
    b_person, b_day = _active_spans(acquired, active_until, behaviour.browse_sessions_per_year, rng)
    seen = rng.random(b_person.size) < behaviour.tracked
    b_person, b_day = b_person[seen], b_day[seen]
    b_day = np.minimum(b_day, window_days - 10.0 * _MINUTE)
    p, t, d = _sessions(b_person, b_day, [PAGE, SEARCH, VIEW], -1.5 * _MINUTE)
    persons.append(p)
    types.append(t)
    days.append(d)
    logged.append(np.repeat(has_web[b_person] & (rng.random(b_person.size) < 0.5), 3))
    # e-mail opens and clicks while the e-mail grant holds
    g_person, g_start, g_end = email_grants
    span = np.maximum(g_end - g_start, 0.0)
    n_open = rng.poisson(behaviour.email_opens_per_year * span / 365.25)
    o_grant = np.repeat(np.arange(g_person.size), n_open)
    o_day = g_start[o_grant] + rng.random(o_grant.size) * span[o_grant]
    click = rng.random(o_grant.size) < behaviour.email_click
    c_day = o_day[click] + (1.0 + rng.random(int(click.sum())) * 29.0) * _MINUTE
    c_ok = c_day < g_end[o_grant[click]]
    persons += [g_person[o_grant], g_person[o_grant[click]][c_ok]]
    types += [np.full(o_grant.size, OPEN, np.int8), np.full(int(c_ok.sum()), CLICK, np.int8)]
    days += [o_day, c_day[c_ok]]
    logged += [np.ones(o_grant.size, bool), np.ones(int(c_ok.sum()), bool)]
    day = np.concatenate(days)
    del days
    inside = np.flatnonzero((day >= 0) & (day < window_days))
    order = inside[np.argsort(day[inside], kind="stable")]
    del inside
    day = day[order]
    person = np.concatenate(persons)[order]
    del persons
    kind: I8 = np.concatenate(types)[order]
    is_logged = np.concatenate(logged)[order]
    return EventDraft(
        person=person,
        type=kind,
        day=day,
        logged_in=is_logged,
        abandoned_carts=int(cart_person.size),
    )
