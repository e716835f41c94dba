"""Audiences, holdout assignments and the contact log, kept in a store.

An audience is one header (campaign, send time, the eligibility rules) plus one document per
customer (reason and next eligible time); a holdout is one header (salt, fractions) plus one
document per customer (group). Per-customer documents are owned by the customer, so
``store.erase(customer_id)`` removes the customer from every audience and holdout; they carry
their header's time, so reading one audience or holdout back is one time-window scan.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from crmkit import _validation as v
from crmkit.columns import ContactColumns, OrderColumns
from crmkit.errors import ConflictError, InvalidInputError, NotFoundError
from crmkit.model import Contact, ContactOutcome
from crmkit.model._checks import aware, non_empty, optional_aware
from crmkit.storage import CollectionSpec, DocumentCollection, Store, documents
from crmkit.storage._keys import compound_key
from crmkit.targeting._eligibility import Eligibility, EligibilityResult, SuppressionColumns
from crmkit.targeting._holdout import HoldoutAssignment

__all__ = [
    "AUDIENCES",
    "AUDIENCE_MEMBERS",
    "HOLDOUTS",
    "HOLDOUT_MEMBERS",
    "AudienceMember",
    "AudienceRecord",
    "HoldoutMember",
    "HoldoutRecord",
    "StoredAudience",
    "contact_log_start",
    "eligibility_from_store",
    "load_audience",
    "load_holdout",
    "log_contacts",
    "save_audience",
    "save_holdout",
]

log = logging.getLogger("crmkit.targeting")

_PAGE = 5000
_US = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAT = np.datetime64("NaT", "us")


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


@attrs.frozen(kw_only=True)
class AudienceRecord:
    """An audience's header: campaign, send time, the rules it was built with, counts.

    ``counts`` are the numbers per reason when the audience was saved (as
    ``EligibilityResult.counts()``); they are not updated by later erasures.

    Examples:
        >>> import datetime as dt
        >>> AudienceRecord(audience_id="winback-05", campaign_id="winback",
        ...                send_at=dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC),
        ...                rules=Eligibility(channel="email")).rules.channel
        'email'
    """

    audience_id: str = attrs.field(validator=non_empty)
    campaign_id: str = attrs.field(validator=non_empty)
    send_at: dt.datetime = attrs.field(validator=aware)
    rules: Eligibility
    counts: dict[str, int] = attrs.field(factory=dict, converter=_counts)


@attrs.frozen(kw_only=True)
class AudienceMember:
    """One customer of an audience: ``reason`` ``""`` when eligible, else why not and until when.

    Examples:
        >>> import datetime as dt
        >>> AudienceMember(audience_id="a", customer_id="c-1", reason="quiet_hours",
        ...                send_at=dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC),
        ...                next_eligible_at=dt.datetime(2024, 5, 6, 10, tzinfo=dt.UTC)).reason
        'quiet_hours'
    """

    audience_id: str = attrs.field(validator=non_empty)
    customer_id: str = attrs.field(validator=non_empty)
    send_at: dt.datetime = attrs.field(validator=aware)
    reason: str = ""
    next_eligible_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)


@attrs.frozen(kw_only=True)
class HoldoutRecord:
    """A campaign's holdout: the salt, the fractions, and when it was first saved.

    Examples:
        >>> import datetime as dt
        >>> HoldoutRecord(campaign_id="winback", salt="winback-2024-05",
        ...               fractions={"treatment": 0.9, "control": 0.1},
        ...               created_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC)).fractions["control"]
        0.1
    """

    campaign_id: str = attrs.field(validator=non_empty)
    salt: str
    fractions: dict[str, float]
    created_at: dt.datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class HoldoutMember:
    """One customer's group in a campaign's holdout.

    Examples:
        >>> import datetime as dt
        >>> HoldoutMember(campaign_id="winback", customer_id="c-1", group="control",
        ...               created_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC)).group
        'control'
    """

    campaign_id: str = attrs.field(validator=non_empty)
    customer_id: str = attrs.field(validator=non_empty)
    group: str = attrs.field(validator=non_empty)
    created_at: dt.datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True, eq=False)
class StoredAudience:
    """An audience read back: its header and the per-customer result (customers by id).

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC)
        >>> rules = Eligibility(channel="email")
        >>> res = rules.evaluate(["a", "b"], send_at=t, consents=store.consents.columns())
        >>> _ = save_audience(store, audience_id="aud-1", campaign_id="spring", rules=rules,
        ...                   result=res, send_at=t)
        >>> load_audience(store, "aud-1").result.reason.tolist()
        ['no_consent', 'no_consent']
    """

    record: AudienceRecord
    result: EligibilityResult


#: Audience headers by id, in send-time order.
AUDIENCES: CollectionSpec[AudienceRecord] = CollectionSpec(
    name="targeting.audiences",
    value_type=AudienceRecord,
    key=lambda a: a.audience_id,
    time=lambda a: a.send_at,
)
#: One document per customer of an audience, erased with the customer.
AUDIENCE_MEMBERS: CollectionSpec[AudienceMember] = CollectionSpec(
    name="targeting.audience_members",
    value_type=AudienceMember,
    key=lambda m: compound_key(m.audience_id, m.customer_id),
    customer=lambda m: m.customer_id,
    time=lambda m: m.send_at,
)
#: Holdout headers by campaign.
HOLDOUTS: CollectionSpec[HoldoutRecord] = CollectionSpec(
    name="targeting.holdouts",
    value_type=HoldoutRecord,
    key=lambda h: h.campaign_id,
)
#: One document per customer of a holdout, erased with the customer.
HOLDOUT_MEMBERS: CollectionSpec[HoldoutMember] = CollectionSpec(
    name="targeting.holdout_members",
    value_type=HoldoutMember,
    key=lambda m: compound_key(m.campaign_id, m.customer_id),
    customer=lambda m: m.customer_id,
    time=lambda m: m.created_at,
)


def _aware(name: str, value: Any) -> dt.datetime:
    if isinstance(value, np.datetime64):
        us = int(value.astype("datetime64[us]").astype(np.int64))
        return _EPOCH + dt.timedelta(microseconds=us)
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidInputError(f"{name}: expected a tz-aware datetime (got {value!r}).")
    return value.astimezone(dt.UTC)


def _scan(docs: DocumentCollection[Any], at: dt.datetime) -> list[Any]:
    out: list[Any] = []
    cursor: str | None = None
    while True:
        page = docs.scan(start=at, end=at + _US, after=cursor, limit=_PAGE)
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def _times_out(values: np.ndarray[Any, Any]) -> list[dt.datetime | None]:
    ints = values.astype("datetime64[us]").view(np.int64).tolist()
    nat = np.isnat(values).tolist()
    return [
        None if m else _EPOCH + dt.timedelta(microseconds=n) for n, m in zip(ints, nat, strict=True)
    ]


def _times_in(values: list[dt.datetime | None]) -> np.ndarray[Any, Any]:
    out = np.full(len(values), _NAT)
    for i, t in enumerate(values):
        if t is not None:
            out[i] = (t - _EPOCH) // _US
    return out


def save_audience(
    store: Store,
    *,
    audience_id: str,
    campaign_id: str,
    rules: Eligibility,
    result: EligibilityResult,
    send_at: Any,
) -> AudienceRecord:
    """Keep an audience (replacing one with the same id), atomically; returns its header.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC)
        >>> rules = Eligibility(channel="email")
        >>> res = rules.evaluate(["a"], send_at=t, consents=store.consents.columns())
        >>> save_audience(store, audience_id="aud-1", campaign_id="spring", rules=rules,
        ...               result=res, send_at=t).counts
        {'eligible': 0, 'no_consent': 1}
    """
    at = _aware("send_at", send_at)
    nxt = _times_out(result.next_eligible_at)
    members = [
        AudienceMember(
            audience_id=audience_id,
            customer_id=c,
            send_at=at,
            reason=r,
            next_eligible_at=n,
        )
        for c, r, n in zip(result.customer_id.tolist(), result.reason.tolist(), nxt, strict=True)
    ]
    record = AudienceRecord(
        audience_id=audience_id,
        campaign_id=campaign_id,
        send_at=at,
        rules=rules,
        counts=result.counts(),
    )
    headers, docs = documents(store, AUDIENCES), documents(store, AUDIENCE_MEMBERS)
    with store.transaction():
        old: AudienceRecord | None = headers.find(audience_id)
        if old is not None:
            stale = [m for m in _scan(docs, old.send_at) if m.audience_id == audience_id]
            docs.delete(AUDIENCE_MEMBERS.key(m) for m in stale)
        docs.upsert(members)
        headers.upsert([record])
    log.info("audience %r saved: %d customers", audience_id, len(members))
    return record


def load_audience(store: Store, audience_id: str) -> StoredAudience:
    """An audience read back: header and per-customer reasons (erased customers are gone).

    Examples:
        >>> from crmkit.storage.memory import MemoryStore
        >>> try:
        ...     load_audience(MemoryStore(), "nope")
        ... except NotFoundError as exc:
        ...     print(str(exc)[:31])
        audience_id: no audience 'nope'
    """
    record: AudienceRecord | None = documents(store, AUDIENCES).find(audience_id)
    if record is None:
        raise NotFoundError(
            f"audience_id: no audience {audience_id!r} in the store. Save it with "
            "save_audience() first."
        )
    docs = documents(store, AUDIENCE_MEMBERS)
    members = sorted(
        (m for m in _scan(docs, record.send_at) if m.audience_id == audience_id),
        key=lambda m: m.customer_id,
    )
    ids = np.array([m.customer_id for m in members], dtype=str)
    reason = np.array([m.reason for m in members], dtype="<U16")
    result = EligibilityResult(
        customer_id=ids if ids.size else np.empty(0, dtype="<U1"),
        reason=reason,
        next_eligible_at=_times_in([m.next_eligible_at for m in members]),
    )
    return StoredAudience(record=record, result=result)


def save_holdout(
    store: Store, campaign_id: str, assignment: HoldoutAssignment, *, at: dt.datetime
) -> int:
    """Keep a campaign's holdout assignment; returns how many customers were new.

    Saving again adds new customers; a customer keeps the group first stored (a different
    group, salt or fractions raises ``ConflictError``: a running experiment's split must not
    change).

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.targeting import assign_holdout
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        >>> a = assign_holdout(["a", "b", "c"], salt="s")
        >>> save_holdout(store, "winback", a, at=t), save_holdout(store, "winback", a, at=t)
        (3, 0)
    """
    created = _aware("at", at)
    headers, docs = documents(store, HOLDOUTS), documents(store, HOLDOUT_MEMBERS)
    fractions = {str(k): float(x) for k, x in assignment.fractions.items()}
    with store.transaction():
        old: HoldoutRecord | None = headers.find(campaign_id)
        if old is not None:
            if old.salt != assignment.salt or old.fractions != fractions:
                raise ConflictError(
                    f"assignment: campaign {campaign_id!r} was stored with salt {old.salt!r} "
                    f"and fractions {old.fractions}, not {assignment.salt!r} and {fractions}. "
                    "Keep the salt and fractions of a running holdout, or use a new campaign."
                )
            created = old.created_at
        else:
            headers.upsert(
                [
                    HoldoutRecord(
                        campaign_id=campaign_id,
                        salt=assignment.salt,
                        fractions=fractions,
                        created_at=created,
                    )
                ]
            )
        ids, groups = assignment.customer_id.tolist(), assignment.group.tolist()
        stored = docs.get_many(compound_key(campaign_id, c) for c in ids)
        fresh = []
        for c, g in zip(ids, groups, strict=True):
            prior = stored.get(compound_key(campaign_id, c))
            if prior is None:
                fresh.append(
                    HoldoutMember(
                        campaign_id=campaign_id, customer_id=c, group=g, created_at=created
                    )
                )
            elif prior.group != g:
                raise ConflictError(
                    f"assignment: customer {c!r} is stored in group {prior.group!r} of campaign "
                    f"{campaign_id!r}, not {g!r}. A customer keeps its first group."
                )
        docs.upsert(fresh)
    return len(fresh)


def load_holdout(store: Store, campaign_id: str) -> HoldoutAssignment:
    """A campaign's stored holdout, customers sorted by id (erased customers are gone).

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> from crmkit.targeting import assign_holdout
        >>> store = MemoryStore()
        >>> a = assign_holdout(["b", "a"], salt="s", fractions={"treatment": 1.0})
        >>> _ = save_holdout(store, "c1", a, at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
        >>> load_holdout(store, "c1").customer_id.tolist()
        ['a', 'b']
    """
    record: HoldoutRecord | None = documents(store, HOLDOUTS).find(campaign_id)
    if record is None:
        raise NotFoundError(
            f"campaign_id: no holdout for campaign {campaign_id!r} in the store. Save it with "
            "save_holdout() first."
        )
    members = sorted(
        (
            m
            for m in _scan(documents(store, HOLDOUT_MEMBERS), record.created_at)
            if m.campaign_id == campaign_id
        ),
        key=lambda m: m.customer_id,
    )
    return HoldoutAssignment(
        customer_id=np.array([m.customer_id for m in members], dtype=str),
        group=np.array([m.group for m in members], dtype=str),
        salt=record.salt,
        fractions=dict(record.fractions),
    )


def contact_log_start(rules: Eligibility, send_at: Any) -> dt.datetime | None:
    """The earliest contact time the rules' frequency caps look at (``None``: no caps).

    Examples:
        >>> import datetime as dt
        >>> from crmkit.targeting import FrequencyCap
        >>> rules = Eligibility(channel="email", caps=[FrequencyCap(max_contacts=2,
        ...                                                         window_hours=48)])
        >>> contact_log_start(rules, dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC)).isoformat()
        '2024-05-04T09:00:00+00:00'
    """
    if not rules.caps:
        return None
    t = _aware("send_at", send_at)
    hours = max(c.window_hours for c in rules.caps)
    # the caps count contacts with at > send_at - window: one microsecond of slack is harmless
    return t - dt.timedelta(hours=hours)


def eligibility_from_store(
    rules: Eligibility,
    store: Store,
    customer_id: Any,
    *,
    send_at: Any,
    suppressions: SuppressionColumns | None = None,
    time_zone: Any = "UTC",
) -> EligibilityResult:
    """Evaluate ``rules`` reading consents, the caps' contact log and recent orders from a store.

    Reads only what the rules need: consent events up to ``send_at``, contacts in the widest
    cap window (``store.contacts.columns(start=contact_log_start(...))``), and orders in the
    cooldown window. Suppressions come from the host (e.g.
    ``suppressions_from_contacts(store.contacts.columns())``).

    Examples:
        >>> import datetime as dt
        >>> from crmkit.model import Consent
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC)
        >>> _ = store.consents.upsert([Consent(customer_id="a", channel="email",
        ...     purpose="marketing", status="granted", at=t - dt.timedelta(days=30))])
        >>> eligibility_from_store(Eligibility(channel="email"), store, ["a", "b"],
        ...                        send_at=t).reason.tolist()
        ['', 'no_consent']
    """
    t = _aware("send_at", send_at)
    end = t + _US
    start = contact_log_start(rules, t)
    contacts: ContactColumns | None = (
        None if start is None else store.contacts.columns(start=start, end=end)
    )
    orders: OrderColumns | None = None
    if rules.cooldown_hours > 0:
        orders = store.orders.columns(start=t - dt.timedelta(hours=rules.cooldown_hours), end=end)
    return rules.evaluate(
        customer_id,
        send_at=np.datetime64(int((t - _EPOCH) // _US), "us"),
        consents=store.consents.columns(end=end),
        suppressions=suppressions,
        contacts=contacts,
        orders=orders,
        time_zone=time_zone,
    )


def log_contacts(
    store: Store,
    *,
    campaign_id: str,
    customer_id: Any,
    channel: str,
    at: dt.datetime,
    outcome: ContactOutcome | str = ContactOutcome.SENT,
    variant: str | None = None,
) -> int:
    """Append one contact per customer to ``store.contacts``; a repeat writes nothing new.

    The contact id is ``compound_key(campaign_id, channel, customer_id, at)``, so logging the
    same send twice keeps one contact each.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.storage.memory import MemoryStore
        >>> store = MemoryStore()
        >>> t = dt.datetime(2024, 5, 6, 9, tzinfo=dt.UTC)
        >>> for _ in range(2):
        ...     _ = log_contacts(store, campaign_id="spring", customer_id=["a", "b"],
        ...                      channel="email", at=t)
        >>> store.contacts.count()
        2
    """
    when = _aware("at", at)
    ids = v.as_str_array("customer_id", customer_id, allow_empty=True).tolist()
    contacts = [
        Contact(
            contact_id=compound_key(campaign_id, str(channel), c, when),
            campaign_id=campaign_id,
            customer_id=c,
            channel=channel,
            at=when,
            outcome=outcome,
            variant=variant,
        )
        for c in ids
    ]
    return int(store.contacts.upsert(contacts))
