"""What customers do (events) and what the shop sends them (contacts)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from crmkit.errors import InvalidInputError
from crmkit.model._checks import (
    Scalar,
    aware,
    freeze_mapping,
    non_empty,
    optional_text,
    scalars,
    snake_case,
)
from crmkit.model._people import Channel

__all__ = ["Contact", "ContactOutcome", "Event", "EventType"]


class EventType(enum.StrEnum):
    """The standard event types; any other lower snake_case type is accepted as well.

    Examples:
        >>> EventType.ADD_TO_CART.value
        'add_to_cart'
    """

    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    SEARCH = "search"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    CHECKOUT_STARTED = "checkout_started"
    ORDER_COMPLETED = "order_completed"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    SMS_CLICK = "sms_click"
    PUSH_OPEN = "push_open"
    REVIEW = "review"
    SUPPORT_TICKET = "support_ticket"
    SIGNUP = "signup"
    LOGIN = "login"


def _event_type(value: Any) -> str:
    return value.value if isinstance(value, EventType) else value


@attrs.frozen(kw_only=True)
class Event:
    """A behavioural event of a known customer or an anonymous visitor (at least one id is set).

    Examples:
        >>> import datetime as dt
        >>> Event(event_id="e-1", anonymous_id="cookie-9", type=EventType.ADD_TO_CART,
        ...       at=dt.datetime(2024, 2, 2, tzinfo=dt.UTC), properties={"sku": "sku-1"}).type
        'add_to_cart'
    """

    event_id: str = attrs.field(validator=non_empty)
    type: str = attrs.field(converter=_event_type, validator=snake_case)
    at: dt.datetime = attrs.field(validator=aware)
    customer_id: str | None = attrs.field(default=None, validator=optional_text)
    anonymous_id: str | None = attrs.field(default=None, validator=optional_text)
    properties: dict[str, Scalar] = attrs.field(
        factory=dict, converter=freeze_mapping, validator=scalars, hash=False
    )

    def __attrs_post_init__(self) -> None:
        if self.customer_id is None and self.anonymous_id is None:
            raise InvalidInputError(
                f"Event.customer_id: event {self.event_id!r} has neither customer_id nor "
                "anonymous_id. Set at least one."
            )


class ContactOutcome(enum.StrEnum):
    """What became of a message sent to a customer.

    Examples:
        >>> ContactOutcome("bounced").is_delivery_failure
        True
    """

    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    CONVERTED = "converted"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"

    @property
    def is_delivery_failure(self) -> bool:
        """True for bounced and failed sends."""
        return self in (ContactOutcome.BOUNCED, ContactOutcome.FAILED)


@attrs.frozen(kw_only=True)
class Contact:
    """One campaign message to one customer, the unit that frequency caps count.

    Examples:
        >>> import datetime as dt
        >>> Contact(contact_id="k-1", campaign_id="winback-2024-05", customer_id="c-1",
        ...         channel="email", at=dt.datetime(2024, 5, 3, 9, tzinfo=dt.UTC)).outcome
        <ContactOutcome.SENT: 'sent'>
    """

    contact_id: str = attrs.field(validator=non_empty)
    campaign_id: str = attrs.field(validator=non_empty)
    customer_id: str = attrs.field(validator=non_empty)
    channel: Channel = attrs.field(converter=Channel)
    at: dt.datetime = attrs.field(validator=aware)
    outcome: ContactOutcome = attrs.field(default=ContactOutcome.SENT, converter=ContactOutcome)
    variant: str | None = attrs.field(default=None, validator=optional_text)
