"""How each built-in collection maps to its SQLite table: columns, encode and decode."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from crmkit.model import (
    Consent,
    Contact,
    Customer,
    Event,
    Money,
    Order,
    OrderLine,
    Product,
    Return,
    ReturnLine,
    SourceRecord,
)
from crmkit.serialization import dump, load, make_converter
from crmkit.storage._page import consent_key, from_micros, micros

__all__ = ["CODECS", "Codec", "dumps_json"]

V = TypeVar("V")

_CONVERTER = make_converter()


def dumps_json(value: Any) -> str:
    """Compact JSON text, keys sorted, non-ASCII kept (control characters are escaped)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@attrs.frozen(kw_only=True)
class Codec(Generic[V]):
    """A table holding one collection: its key, time and customer columns, and the row codec."""

    name: str
    table: str
    cls: type[Any]
    key_column: str
    time_column: str | None
    customer_column: str | None
    columns: tuple[str, ...]
    key: Callable[[V], str]
    encode: Callable[[V], Sequence[Any]]
    decode: Callable[[Sequence[Any]], V]


def _body(cls: type[Any]) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    return (
        lambda value: dumps_json(dump(value, converter=_CONVERTER)),
        lambda text: load(json.loads(text), cls, converter=_CONVERTER),
    )


_enc_customer, _dec_customer = _body(Customer)
_enc_record, _dec_record = _body(SourceRecord)
_enc_product, _dec_product = _body(Product)


def _seq(items: Iterable[Any]) -> Any:
    # The model converts sequences with ``converter=tuple``, which type checkers see as an
    # unbound Iterable[_T_co]; an Any-typed tuple passes.
    return tuple(items)


def _minor(m: Money | None) -> int | None:
    return None if m is None else m.amount_minor


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount_minor=amount, currency=currency)


def _encode_order(o: Order) -> tuple[Any, ...]:
    lines = o.lines
    return (
        o.order_id,
        o.customer_id,
        micros(o.placed_at),
        o.currency,
        o.total.amount_minor,
        _minor(o.shipping),
        _minor(o.tax),
        o.status.value,
        o.channel,
        dumps_json(o.attributes),
        len(lines),
        dumps_json([x.product_id for x in lines]),
        dumps_json([x.quantity for x in lines]),
        dumps_json([x.unit_price.amount_minor for x in lines]),
        dumps_json([_minor(x.discount) for x in lines]),
        dumps_json([x.category for x in lines]),
        None,
        None,
    )


def _cells(cell: Any) -> Any:
    # A JSON array, or a list already read from a line block (see _lines).
    return json.loads(cell) if isinstance(cell, str) else cell


def _decode_order(row: Sequence[Any]) -> Order:
    cur = row[3]
    parts = zip(*(_cells(row[i]) for i in range(11, 16)), strict=True)
    return Order(
        order_id=row[0],
        customer_id=row[1],
        placed_at=from_micros(row[2]),
        currency=cur,
        shipping=_money(row[5], cur),
        tax=_money(row[6], cur),
        status=row[7],
        channel=row[8],
        attributes=json.loads(row[9]),
        lines=_seq(
            OrderLine(
                product_id=p,
                quantity=q,
                unit_price=Money(amount_minor=u, currency=cur),
                discount=_money(d, cur),
                category=c,
            )
            for p, q, u, d, c in parts
        ),
    )


def _encode_return(r: Return) -> tuple[Any, ...]:
    return (
        r.return_id,
        r.order_id,
        r.customer_id,
        micros(r.at),
        r.refund.amount_minor,
        r.refund.currency,
        r.reason,
        dumps_json([[x.product_id, x.quantity] for x in r.lines]),
    )


def _decode_return(row: Sequence[Any]) -> Return:
    return Return(
        return_id=row[0],
        order_id=row[1],
        customer_id=row[2],
        at=from_micros(row[3]),
        refund=Money(amount_minor=row[4], currency=row[5]),
        reason=row[6],
        lines=_seq(ReturnLine(product_id=p, quantity=q) for p, q in json.loads(row[7])),
    )


def _encode_event(e: Event) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.customer_id,
        e.anonymous_id,
        e.type,
        micros(e.at),
        dumps_json(e.properties),
    )


def _decode_event(row: Sequence[Any]) -> Event:
    return Event(
        event_id=row[0],
        customer_id=row[1],
        anonymous_id=row[2],
        type=row[3],
        at=from_micros(row[4]),
        properties=json.loads(row[5]),
    )


def _encode_consent(c: Consent) -> tuple[Any, ...]:
    return (
        consent_key(c),
        c.customer_id,
        c.channel.value,
        c.purpose,
        c.status.value,
        micros(c.at),
        c.source,
        None if c.expires_at is None else micros(c.expires_at),
    )


def _decode_consent(row: Sequence[Any]) -> Consent:
    return Consent(
        customer_id=row[1],
        channel=row[2],
        purpose=row[3],
        status=row[4],
        at=from_micros(row[5]),
        source=row[6],
        expires_at=None if row[7] is None else from_micros(row[7]),
    )


def _encode_contact(k: Contact) -> tuple[Any, ...]:
    return (
        k.contact_id,
        k.campaign_id,
        k.customer_id,
        k.channel.value,
        micros(k.at),
        k.outcome.value,
        k.variant,
    )


def _decode_contact(row: Sequence[Any]) -> Contact:
    return Contact(
        contact_id=row[0],
        campaign_id=row[1],
        customer_id=row[2],
        channel=row[3],
        at=from_micros(row[4]),
        outcome=row[5],
        variant=row[6],
    )


#: The built-in collections by attribute name of the store.
CODECS: dict[str, Codec[Any]] = {
    "customers": Codec(
        name="customers",
        table="customers",
        cls=Customer,
        key_column="customer_id",
        time_column="created_at",
        customer_column=None,
        columns=("customer_id", "created_at", "body"),
        key=lambda c: c.customer_id,
        encode=lambda c: (c.customer_id, micros(c.created_at), _enc_customer(c)),
        decode=lambda row: _dec_customer(row[2]),
    ),
    "source_records": Codec(
        name="source_records",
        table="source_records",
        cls=SourceRecord,
        key_column="record_key",
        time_column="observed_at",
        customer_column=None,
        columns=("record_key", "observed_at", "body"),
        key=lambda r: r.key,
        encode=lambda r: (r.key, micros(r.observed_at), _enc_record(r)),
        decode=lambda row: _dec_record(row[2]),
    ),
    "products": Codec(
        name="products",
        table="products",
        cls=Product,
        key_column="product_id",
        time_column=None,
        customer_column=None,
        columns=("product_id", "body"),
        key=lambda p: p.product_id,
        encode=lambda p: (p.product_id, _enc_product(p)),
        decode=lambda row: _dec_product(row[1]),
    ),
    "orders": Codec(
        name="orders",
        table="orders",
        cls=Order,
        key_column="order_id",
        time_column="placed_at",
        customer_column="customer_id",
        columns=(
            "order_id",
            "customer_id",
            "placed_at",
            "currency",
            "total_minor",
            "shipping_minor",
            "tax_minor",
            "status",
            "channel",
            "attributes",
            "n_lines",
            "line_products",
            "line_quantities",
            "line_unit_prices",
            "line_discounts",
            "line_categories",
            "line_block",
            "line_offset",
        ),
        key=lambda o: o.order_id,
        encode=_encode_order,
        decode=_decode_order,
    ),
    "returns": Codec(
        name="returns",
        table="returns",
        cls=Return,
        key_column="return_id",
        time_column="at",
        customer_column="customer_id",
        columns=(
            "return_id",
            "order_id",
            "customer_id",
            "at",
            "refund_minor",
            "currency",
            "reason",
            "lines",
        ),
        key=lambda r: r.return_id,
        encode=_encode_return,
        decode=_decode_return,
    ),
    "events": Codec(
        name="events",
        table="events",
        cls=Event,
        key_column="event_id",
        time_column="at",
        customer_column="customer_id",
        columns=("event_id", "customer_id", "anonymous_id", "type", "at", "properties"),
        key=lambda e: e.event_id,
        encode=_encode_event,
        decode=_decode_event,
    ),
    "consents": Codec(
        name="consents",
        table="consents",
        cls=Consent,
        key_column="consent_key",
        time_column="at",
        customer_column="customer_id",
        columns=(
            "consent_key",
            "customer_id",
            "channel",
            "purpose",
            "status",
            "at",
            "source",
            "expires_at",
        ),
        key=consent_key,
        encode=_encode_consent,
        decode=_decode_consent,
    ),
    "contacts": Codec(
        name="contacts",
        table="contacts",
        cls=Contact,
        key_column="contact_id",
        time_column="at",
        customer_column="customer_id",
        columns=("contact_id", "campaign_id", "customer_id", "channel", "at", "outcome", "variant"),
        key=lambda k: k.contact_id,
        encode=_encode_contact,
        decode=_decode_contact,
    ),
}
