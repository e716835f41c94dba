"""The domain values of crmkit: frozen, validated at construction, free of I/O.

Change a value with ``attrs.evolve``; every field is checked again.

Examples:
    >>> import attrs, datetime as dt
    >>> from crmkit.model import Money, Order, OrderLine
    >>> o = Order(order_id="o-1", customer_id="c-1", currency="EUR",
    ...           placed_at=dt.datetime(2024, 1, 5, tzinfo=dt.UTC),
    ...           lines=[OrderLine(product_id="p", quantity=1, unit_price=Money.of("5", "EUR"))])
    >>> attrs.evolve(o, channel="app").channel
    'app'
"""

from crmkit.model._activity import Contact, ContactOutcome, Event, EventType
from crmkit.model._commerce import Order, OrderLine, OrderStatus, Product, Return, ReturnLine
from crmkit.model._currencies import MINOR_UNITS
from crmkit.model._money import Money
from crmkit.model._people import (
    Address,
    Channel,
    Consent,
    ConsentStatus,
    Customer,
    Identifier,
    SourceRecord,
    consent_granted,
)

__all__ = [
    "MINOR_UNITS",
    "Address",
    "Channel",
    "Consent",
    "ConsentStatus",
    "Contact",
    "ContactOutcome",
    "Customer",
    "Event",
    "EventType",
    "Identifier",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "Return",
    "ReturnLine",
    "SourceRecord",
    "consent_granted",
]
