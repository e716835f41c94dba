"""People as the shop sees them: source records, customer profiles, identifiers, consents."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable

import attrs

from crmkit.errors import InvalidInputError
from crmkit.model._checks import (
    Scalar,
    aware,
    country,
    freeze_mapping,
    non_empty,
    optional_aware,
    optional_date,
    optional_text,
    scalars,
    snake_case,
)

__all__ = [
    "Address",
    "Channel",
    "Consent",
    "ConsentStatus",
    "Customer",
    "Identifier",
    "SourceRecord",
    "consent_granted",
]


class Channel(enum.StrEnum):
    """A channel through which a shop contacts a customer.

    Examples:
        >>> Channel("sms") is Channel.SMS
        True
    """

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    PHONE = "phone"
    POST = "post"


class ConsentStatus(enum.StrEnum):
    """The state a consent record sets.

    Examples:
        >>> ConsentStatus.GRANTED.value
        'granted'
    """

    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


@attrs.frozen(kw_only=True)
class Address:
    """A postal address as given; normalization lives in ``crmkit.identity``.

    Examples:
        >>> Address(line1="1 High Street", city="Leeds", postcode="LS1 1AA", country="GB").country
        'GB'
    """

    line1: str | None = attrs.field(default=None, validator=optional_text)
    line2: str | None = attrs.field(default=None, validator=optional_text)
    city: str | None = attrs.field(default=None, validator=optional_text)
    postcode: str | None = attrs.field(default=None, validator=optional_text)
    region: str | None = attrs.field(default=None, validator=optional_text)
    country: str | None = attrs.field(default=None, validator=country)


@attrs.frozen(kw_only=True)
class Identifier:
    """A typed identifier of a person: ``kind`` such as email, phone, loyalty_card, customer_id.

    Examples:
        >>> Identifier(kind="loyalty_card", value="LC-0042").kind
        'loyalty_card'
    """

    kind: str = attrs.field(validator=snake_case)
    value: str = attrs.field(validator=non_empty)


def _identifiers(items: Iterable[Identifier]) -> tuple[Identifier, ...]:
    return tuple(items)


@attrs.frozen(kw_only=True)
class SourceRecord:
    """A customer as one channel saw them: one signup, checkout, loyalty card or ticket.

    ``key`` (``"source:source_key"``) identifies the record across the whole shop.

    Examples:
        >>> import datetime as dt
        >>> r = SourceRecord(source="web", source_key="u-17", email="Ann.Lee+shop@gmail.com",
        ...                  first_name="Ann", observed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
        >>> r.key
        'web:u-17'
    """

    source: str = attrs.field(validator=snake_case)
    source_key: str = attrs.field(validator=non_empty)
    observed_at: dt.datetime = attrs.field(validator=aware)
    email: str | None = attrs.field(default=None, validator=optional_text)
    phone: str | None = attrs.field(default=None, validator=optional_text)
    first_name: str | None = attrs.field(default=None, validator=optional_text)
    last_name: str | None = attrs.field(default=None, validator=optional_text)
    birth_date: dt.date | None = attrs.field(default=None, validator=optional_date)
    address: Address | None = None
    country: str | None = attrs.field(default=None, validator=country)
    identifiers: tuple[Identifier, ...] = attrs.field(default=(), converter=_identifiers)
    attributes: dict[str, Scalar] = attrs.field(
        factory=dict, converter=freeze_mapping, validator=scalars, hash=False
    )

    @property
    def key(self) -> str:
        """The shop-wide record key, ``"source:source_key"``."""
        return f"{self.source}:{self.source_key}"


@attrs.frozen(kw_only=True)
class Customer:
    """A customer profile: the golden record of one person, keyed by ``customer_id``.

    Examples:
        >>> import datetime as dt
        >>> c = Customer(customer_id="c-1", email="ann@example.com", tags=frozenset({"vip"}),
        ...              created_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
        >>> "vip" in c.tags
        True
    """

    customer_id: str = attrs.field(validator=non_empty)
    created_at: dt.datetime = attrs.field(validator=aware)
    identifiers: tuple[Identifier, ...] = attrs.field(default=(), converter=_identifiers)
    first_name: str | None = attrs.field(default=None, validator=optional_text)
    last_name: str | None = attrs.field(default=None, validator=optional_text)
    email: str | None = attrs.field(default=None, validator=optional_text)
    phone: str | None = attrs.field(default=None, validator=optional_text)
    address: Address | None = None
    birth_date: dt.date | None = attrs.field(default=None, validator=optional_date)
    time_zone: str | None = attrs.field(default=None, validator=optional_text)
    tags: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    attributes: dict[str, Scalar] = attrs.field(
        factory=dict, converter=freeze_mapping, validator=scalars, hash=False
    )

    @tags.validator
    def _check_tags(
        self, attribute: attrs.Attribute[frozenset[str]], value: frozenset[str]
    ) -> None:
        for tag in value:
            if not isinstance(tag, str) or not tag:
                raise InvalidInputError(
                    f"Customer.tags: tags must be non-empty strings (got {tag!r})."
                )


@attrs.frozen(kw_only=True)
class Consent:
    """One consent event: a customer granted, denied or revoked a channel for a purpose at a time.

    The consent state at time *t* is the status of the latest event at or before *t*; see
    [`consent_granted`][crmkit.model.consent_granted].

    Examples:
        >>> import datetime as dt
        >>> Consent(customer_id="c-1", channel=Channel.EMAIL, purpose="marketing",
        ...         status=ConsentStatus.GRANTED, at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).status
        <ConsentStatus.GRANTED: 'granted'>
    """

    customer_id: str = attrs.field(validator=non_empty)
    channel: Channel = attrs.field(converter=Channel)
    purpose: str = attrs.field(validator=snake_case)
    status: ConsentStatus = attrs.field(converter=ConsentStatus)
    at: dt.datetime = attrs.field(validator=aware)
    source: str | None = attrs.field(default=None, validator=optional_text)
    expires_at: dt.datetime | None = attrs.field(default=None, validator=optional_aware)


def consent_granted(
    consents: Iterable[Consent], *, channel: Channel | str, purpose: str, at: dt.datetime
) -> bool:
    """Whether the consents of one customer grant ``channel`` for ``purpose`` at time ``at``.

    Granted at *t* means: the latest event at or before *t* for that channel and purpose is a grant
    that has not expired by *t*. Ties at the same instant resolve to the most restrictive status
    (revoked, then denied, then granted), so a simultaneous revoke always wins.

    Examples:
        >>> import datetime as dt
        >>> t = lambda d: dt.datetime(2024, 1, d, tzinfo=dt.UTC)
        >>> log = [Consent(customer_id="c", channel="email", purpose="marketing", status="granted",
        ...                at=t(1)),
        ...        Consent(customer_id="c", channel="email", purpose="marketing", status="revoked",
        ...                at=t(10))]
        >>> consent_granted(log, channel="email", purpose="marketing", at=t(5))
        True
        >>> consent_granted(log, channel="email", purpose="marketing", at=t(10))
        False
    """
    if at.tzinfo is None:
        raise InvalidInputError(f"at: naive datetime ({at.isoformat()}). Attach a time zone.")
    channel = Channel(channel)
    rank = {ConsentStatus.GRANTED: 0, ConsentStatus.DENIED: 1, ConsentStatus.REVOKED: 2}
    relevant = [c for c in consents if c.channel == channel and c.purpose == purpose and c.at <= at]
    if not relevant:
        return False
    latest = max(relevant, key=lambda c: (c.at, rank[c.status]))
    if latest.status is not ConsentStatus.GRANTED:
        return False
    return latest.expires_at is None or latest.expires_at > at
