"""How each built-in collection maps to its PostgreSQL table: columns, row encode and decode.

Rows carry stuffed strings (see ``_text``), integer microseconds and minor units, JSON text for
``json`` columns and lists for arrays. Reads get ``json`` columns already parsed by the driver.
"""

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
from crmkit.storage.postgres._schema import TABLES
from crmkit.storage.postgres._text import stuff, unstuff

__all__ = ["CODECS", "CONVERTER", "Codec", "dumps_json", "opt", "s", "u"]

V = TypeVar("V")

CONVERTER = make_converter()


def dumps_json(value: Any) -> str:
    """Compact JSON text, keys sorted, non-ASCII kept (control characters are escaped)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def s(text: str) -> str:
    """A string for a ``text`` column (stuffed)."""
    return stuff(text)


def opt(text: str | None) -> str | None:
    """An optional string for a ``text`` column."""
    return None if text is None else stuff(text)


def u(text: str | None) -> Any:
    """A string read from a ``text`` column (unstuffed; None stays None)."""
    return None if text is None else unstuff(text)


@attrs.frozen(kw_only=True)
class Codec(Generic[V]):
    """A table holding one collection: its key, time and customer columns, and the row codec."""

    name: str
    table: str
    cls: type[Any]
    key_column: str
    time_column: str | None
    customer_column: str | None
    key: Callable[[V], str]
    encode: Callable[[V], Sequence[Any]]
    decode: Callable[[Sequence[Any]], V]

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns, in row order."""
        return tuple(name for name, _ in TABLES[self.table])


def _body(cls: type[Any]) -> tuple[Callable[[Any], str], Callable[[Any], Any]]:
    return (
        lambda value: dumps_json(dump(value, converter=CONVERTER)),
        lambda data: load(data, cls, converter=CONVERTER),
    )


_enc_customer, _dec_customer = _body(Customer)
_enc_record, _dec_record = _body(SourceRecord)
_enc_product, _dec_product = _body(Product)


def _seq(items: Iterable[Any]) -> Any:
    # converter=tuple fields are typed as an unbound Iterable; an Any-typed tuple passes.
    return tuple(items)


def _minor(m: Money | None) -> int | None:
    return None if m is None else m.amount_minor


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount_minor=amount, currency=currency)


def _encode_order(o: Order) -> tuple[Any, ...]:
    lines = o.lines
    return (
        s(o.order_id),
        s(o.customer_id),
        micros(o.placed_at),
        s(o.currency),
        o.total.amount_minor,
        _minor(o.shipping),
        _minor(o.tax),
        s(o.status.value),
        s(o.channel),
        dumps_json(o.attributes),
        len(lines),
        [s(x.product_id) for x in lines],
        [x.quantity for x in lines],
        [x.unit_price.amount_minor for x in lines],
        [_minor(x.discount) for x in lines],
        [opt(x.category) for x in lines],
    )


def _decode_order(row: Sequence[Any]) -> Order:
    cur = u(row[3])
    return Order(
        order_id=u(row[0]),
        customer_id=u(row[1]),
        placed_at=from_micros(row[2]),
        currency=cur,
        shipping=_money(row[5], cur),
        tax=_money(row[6], cur),
        status=u(row[7]),
        channel=u(row[8]),
        attributes=row[9],
        lines=_seq(
            OrderLine(
                product_id=u(p),
                quantity=q,
                unit_price=Money(amount_minor=up, currency=cur),
                discount=_money(d, cur),
                category=u(c),
            )
            for p, q, up, d, c in zip(*row[11:16], strict=True)
        ),
    )


def _encode_return(r: Return) -> tuple[Any, ...]:
    return (
        s(r.return_id),
        s(r.order_id),
        s(r.customer_id),
        micros(r.at),
        r.refund.amount_minor,
        s(r.refund.currency),
        opt(r.reason),
        dumps_json([[x.product_id, x.quantity] for x in r.lines]),
    )


def _decode_return(row: Sequence[Any]) -> Return:
    return Return(
        return_id=u(row[0]),
        order_id=u(row[1]),
        customer_id=u(row[2]),
        at=from_micros(row[3]),
        refund=Money(amount_minor=row[4], currency=u(row[5])),
        reason=u(row[6]),
        lines=_seq(ReturnLine(product_id=p, quantity=q) for p, q in row[7]),
    )


def _encode_event(e: Event) -> tuple[Any, ...]:
    return (
        s(e.event_id),
        opt(e.customer_id),
        opt(e.anonymous_id),
        s(e.type),
        micros(e.at),
        dumps_json(e.properties),
    )


def _decode_event(row: Sequence[Any]) -> Event:
    return Event(
        event_id=u(row[0]),
        customer_id=u(row[1]),
        anonymous_id=u(row[2]),
        type=u(row[3]),
        at=from_micros(row[4]),
        properties=row[5],
    )


def _encode_consent(c: Consent) -> tuple[Any, ...]:
    return (
        s(consent_key(c)),
        s(c.customer_id),
        s(c.channel.value),
        s(c.purpose),
        s(c.status.value),
        micros(c.at),
        opt(c.source),
        None if c.expires_at is None else micros(c.expires_at),
    )


def _decode_consent(row: Sequence[Any]) -> Consent:
    return Consent(
        customer_id=u(row[1]),
        channel=u(row[2]),
        purpose=u(row[3]),
        status=u(row[4]),
        at=from_micros(row[5]),
        source=u(row[6]),
        expires_at=None if row[7] is None else from_micros(row[7]),
    )


def _encode_contact(k: Contact) -> tuple[Any, ...]:
    return (
        s(k.contact_id),
        s(k.campaign_id),
        s(k.customer_id),
        s(k.channel.value),
        micros(k.at),
        s(k.outcome.value),
        opt(k.variant),
    )


def _decode_contact(row: Sequence[Any]) -> Contact:
    return Contact(
        contact_id=u(row[0]),
        campaign_id=u(row[1]),
        customer_id=u(row[2]),
        channel=u(row[3]),
        at=from_micros(row[4]),
        outcome=u(row[5]),
        variant=u(row[6]),
    )


def _codec(name: str, cls: type[Any], time: str | None, customer: str | None, **kw: Any) -> Any:
    return Codec(
        name=name,
        table=name,
        cls=cls,
        key_column=TABLES[name][0][0],
        time_column=time,
        customer_column=customer,
        **kw,
    )


#: The built-in collections by attribute name of the store.
CODECS: dict[str, Codec[Any]] = {
    "customers": _codec(
        "customers",
        Customer,
        "created_at",
        None,
        key=lambda c: c.customer_id,
        encode=lambda c: (s(c.customer_id), micros(c.created_at), _enc_customer(c)),
        decode=lambda row: _dec_customer(row[2]),
    ),
    "source_records": _codec(
        "source_records",
        SourceRecord,
        "observed_at",
        None,
        key=lambda r: r.key,
        encode=lambda r: (s(r.key), micros(r.observed_at), _enc_record(r)),
        decode=lambda row: _dec_record(row[2]),
    ),
    "products": _codec(
        "products",
        Product,
        None,
        None,
        key=lambda p: p.product_id,
        encode=lambda p: (s(p.product_id), _enc_product(p)),
        decode=lambda row: _dec_product(row[1]),
    ),
    "orders": _codec(
        "orders",
        Order,
        "placed_at",
        "customer_id",
        key=lambda o: o.order_id,
        encode=_encode_order,
        decode=_decode_order,
    ),
    "returns": _codec(
        "returns",
        Return,
        "at",
        "customer_id",
        key=lambda r: r.return_id,
        encode=_encode_return,
        decode=_decode_return,
    ),
    "events": _codec(
        "events",
        Event,
        "at",
        "customer_id",
        key=lambda e: e.event_id,
        encode=_encode_event,
        decode=_decode_event,
    ),
    "consents": _codec(
        "consents",
        Consent,
        "at",
        "customer_id",
        key=consent_key,
        encode=_encode_consent,
        decode=_decode_consent,
    ),
    "contacts": _codec(
        "contacts",
        Contact,
        "at",
        "customer_id",
        key=lambda k: k.contact_id,
        encode=_encode_contact,
        decode=_decode_contact,
    ),
}
