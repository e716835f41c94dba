"""The column tables the analytic modules consume: orders, lines, returns, events, consents..."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns._base import Columns, col
from crmkit.errors import CurrencyMismatchError
from crmkit.model import Address as _Address
from crmkit.model import (
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    Event,
    Order,
    OrderStatus,
    Return,
    SourceRecord,
)

__all__ = [
    "ConsentColumns",
    "ContactColumns",
    "EventColumns",
    "OrderColumns",
    "OrderLineColumns",
    "ReturnColumns",
    "SourceRecordColumns",
]


def _dt64(values: Iterable[dt.datetime]) -> npt.NDArray[np.datetime64]:
    return v.as_datetime_array("at", np.array(list(values), dtype=object))


@attrs.frozen(kw_only=True, eq=False)
class OrderColumns(Columns):
    """Orders as aligned columns: one row per order; amounts in int64 minor units.

    Examples:
        >>> import numpy as np
        >>> oc = OrderColumns.from_arrays(
        ...     order_id=["o1", "o2"], customer_id=["c1", "c1"],
        ...     placed_at=np.array(["2024-01-01T10:00", "2024-02-01T09:30"], "datetime64[us]"),
        ...     currency=["EUR", "EUR"], total_minor=[1999, 500])
        >>> len(oc), int(oc.total_minor.sum()), oc.single_currency()
        (2, 2499, 'EUR')
    """

    time_column: ClassVar[str] = "placed_at"

    order_id: npt.NDArray[np.str_] = col("id")
    customer_id: npt.NDArray[np.str_] = col("id")
    placed_at: npt.NDArray[np.datetime64] = col("time")
    currency: npt.NDArray[np.str_] = col("currency")
    total_minor: npt.NDArray[np.int64] = col("int")
    shipping_minor: npt.NDArray[np.int64] = col("int", default=0)
    tax_minor: npt.NDArray[np.int64] = col("int", default=0)
    status: npt.NDArray[np.str_] = col("str", default=OrderStatus.COMPLETED.value)
    channel: npt.NDArray[np.str_] = col("str", default="web")

    @classmethod
    def from_orders(cls, orders: Iterable[Order]) -> Self:
        """Columns from Order values (one validation pass; the values are already valid)."""
        orders = list(orders)
        return cls(
            order_id=np.array([o.order_id for o in orders], dtype=str),
            customer_id=np.array([o.customer_id for o in orders], dtype=str),
            placed_at=_dt64(o.placed_at for o in orders),
            currency=np.array([o.currency for o in orders], dtype=str),
            total_minor=np.array([o.total.amount_minor for o in orders], dtype=np.int64),
            shipping_minor=np.array(
                [0 if o.shipping is None else o.shipping.amount_minor for o in orders], np.int64
            ),
            tax_minor=np.array(
                [0 if o.tax is None else o.tax.amount_minor for o in orders], np.int64
            ),
            status=np.array([o.status.value for o in orders], dtype=str),
            channel=np.array([o.channel for o in orders], dtype=str),
        )

    def purchases(self) -> Self:
        """Orders that count as purchases (every status but cancelled)."""
        return self.take(self.status != OrderStatus.CANCELLED.value)

    def single_currency(self) -> str:
        """The one currency of all rows; raises CurrencyMismatchError if there are several."""
        return _single_currency(type(self).__name__, self.currency)


@attrs.frozen(kw_only=True, eq=False)
class OrderLineColumns(Columns):
    """Order lines as aligned columns, carrying their order's customer, time and currency.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.model import Money, Order, OrderLine
        >>> o = Order(order_id="o1", customer_id="c1", currency="EUR",
        ...           placed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ...           lines=[OrderLine(product_id="a", quantity=2, unit_price=Money.of("3", "EUR")),
        ...                  OrderLine(product_id="b", quantity=1, unit_price=Money.of("1", "EUR")),
        ...           ])
        >>> OrderLineColumns.from_orders([o]).total_minor.tolist()
        [600, 100]
    """

    time_column: ClassVar[str] = "placed_at"

    order_id: npt.NDArray[np.str_] = col("id")
    line_no: npt.NDArray[np.int64] = col("int")
    customer_id: npt.NDArray[np.str_] = col("id")
    placed_at: npt.NDArray[np.datetime64] = col("time")
    product_id: npt.NDArray[np.str_] = col("id")
    quantity: npt.NDArray[np.int64] = col("int")
    unit_price_minor: npt.NDArray[np.int64] = col("int")
    discount_minor: npt.NDArray[np.int64] = col("int", default=0)
    total_minor: npt.NDArray[np.int64] = col("int")
    currency: npt.NDArray[np.str_] = col("currency")
    category: npt.NDArray[np.str_] = col("str", default="")

    @classmethod
    def from_orders(cls, orders: Iterable[Order]) -> Self:
        """One row per line of each order, in order and line order."""
        rows: list[tuple[Any, ...]] = []
        for o in orders:
            for i, line in enumerate(o.lines):
                rows.append(
                    (
                        o.order_id,
                        i,
                        o.customer_id,
                        o.placed_at,
                        line.product_id,
                        line.quantity,
                        line.unit_price.amount_minor,
                        0 if line.discount is None else line.discount.amount_minor,
                        line.total.amount_minor,
                        o.currency,
                        line.category or "",
                    )
                )
        if not rows:
            return cls.empty()
        cols = list(zip(*rows, strict=True))
        return cls(
            order_id=np.array(cols[0], dtype=str),
            line_no=np.array(cols[1], dtype=np.int64),
            customer_id=np.array(cols[2], dtype=str),
            placed_at=_dt64(cols[3]),
            product_id=np.array(cols[4], dtype=str),
            quantity=np.array(cols[5], dtype=np.int64),
            unit_price_minor=np.array(cols[6], dtype=np.int64),
            discount_minor=np.array(cols[7], dtype=np.int64),
            total_minor=np.array(cols[8], dtype=np.int64),
            currency=np.array(cols[9], dtype=str),
            category=np.array(cols[10], dtype=str),
        )


@attrs.frozen(kw_only=True, eq=False)
class ReturnColumns(Columns):
    """Returns and refunds as aligned columns.

    Examples:
        >>> import numpy as np
        >>> rc = ReturnColumns.from_arrays(return_id=["r1"], order_id=["o1"], customer_id=["c1"],
        ...     at=np.array(["2024-01-09"], dtype="datetime64[us]"), refund_minor=[999],
        ...     currency=["EUR"])
        >>> int(rc.refund_minor[0])
        999
    """

    time_column: ClassVar[str] = "at"

    return_id: npt.NDArray[np.str_] = col("id")
    order_id: npt.NDArray[np.str_] = col("id")
    customer_id: npt.NDArray[np.str_] = col("id")
    at: npt.NDArray[np.datetime64] = col("time")
    refund_minor: npt.NDArray[np.int64] = col("int")
    currency: npt.NDArray[np.str_] = col("currency")

    @classmethod
    def from_returns(cls, returns: Iterable[Return]) -> Self:
        """Columns from Return values."""
        rs = list(returns)
        return cls(
            return_id=np.array([r.return_id for r in rs], dtype=str),
            order_id=np.array([r.order_id for r in rs], dtype=str),
            customer_id=np.array([r.customer_id for r in rs], dtype=str),
            at=_dt64(r.at for r in rs),
            refund_minor=np.array([r.refund.amount_minor for r in rs], dtype=np.int64),
            currency=np.array([r.refund.currency for r in rs], dtype=str),
        )


@attrs.frozen(kw_only=True, eq=False)
class EventColumns(Columns):
    """Events as aligned columns; ``customer_id`` is ``""`` for anonymous visitors.

    Examples:
        >>> import numpy as np
        >>> ec = EventColumns.from_arrays(event_id=["e1", "e2"], customer_id=["c1", ""],
        ...     anonymous_id=["", "ck-9"], type=["page_view", "add_to_cart"],
        ...     at=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[us]"))
        >>> ec.known().event_id.tolist()
        ['e1']
    """

    time_column: ClassVar[str] = "at"

    event_id: npt.NDArray[np.str_] = col("id")
    customer_id: npt.NDArray[np.str_] = col("str")
    anonymous_id: npt.NDArray[np.str_] = col("str", default="")
    type: npt.NDArray[np.str_] = col("id")
    at: npt.NDArray[np.datetime64] = col("time")

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Self:
        """Columns from Event values (missing ids become ``""``)."""
        es = list(events)
        return cls(
            event_id=np.array([e.event_id for e in es], dtype=str),
            customer_id=np.array([e.customer_id or "" for e in es], dtype=str),
            anonymous_id=np.array([e.anonymous_id or "" for e in es], dtype=str),
            type=np.array([e.type for e in es], dtype=str),
            at=_dt64(e.at for e in es),
        )

    def known(self) -> Self:
        """Events of known customers only."""
        return self.take(self.customer_id != "")


@attrs.frozen(kw_only=True, eq=False)
class ConsentColumns(Columns):
    """Consent events as aligned columns; ``expires_at`` is NaT when a grant does not expire.

    Examples:
        >>> import numpy as np
        >>> cc = ConsentColumns.from_arrays(customer_id=["a", "a", "b"],
        ...     channel=["email"] * 3, purpose=["marketing"] * 3,
        ...     status=["granted", "revoked", "granted"],
        ...     at=np.array(["2024-01-01", "2024-03-01", "2024-02-01"], dtype="datetime64[us]"))
        >>> cc.granted(["a", "b", "c"], channel="email", purpose="marketing",
        ...            at=np.datetime64("2024-02-15")).tolist()
        [True, True, False]
    """

    time_column: ClassVar[str] = "at"

    customer_id: npt.NDArray[np.str_] = col("id")
    channel: npt.NDArray[np.str_] = col("id")
    purpose: npt.NDArray[np.str_] = col("id")
    status: npt.NDArray[np.str_] = col("id")
    at: npt.NDArray[np.datetime64] = col("time")
    expires_at: npt.NDArray[np.datetime64] = col("opt_time", default=np.datetime64("NaT", "us"))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        known = {s.value for s in ConsentStatus}
        bad = ~np.isin(self.status, sorted(known))
        v.require(
            "ConsentColumns.status",
            bad,
            self.status,
            "unknown statuses",
            f"Use one of {sorted(known)}.",
        )
        channels = {c.value for c in Channel}
        bad = ~np.isin(self.channel, sorted(channels))
        v.require(
            "ConsentColumns.channel",
            bad,
            self.channel,
            "unknown channels",
            f"Use one of {sorted(channels)}.",
        )

    @classmethod
    def from_consents(cls, consents: Iterable[Consent]) -> Self:
        """Columns from Consent values."""
        cs = list(consents)
        return cls(
            customer_id=np.array([c.customer_id for c in cs], dtype=str),
            channel=np.array([c.channel.value for c in cs], dtype=str),
            purpose=np.array([c.purpose for c in cs], dtype=str),
            status=np.array([c.status.value for c in cs], dtype=str),
            at=_dt64(c.at for c in cs),
            expires_at=np.array(
                [
                    np.datetime64("NaT", "us")
                    if c.expires_at is None
                    else v.to_datetime64("expires_at", c.expires_at)
                    for c in cs
                ],
                dtype="datetime64[us]",
            ),
        )

    def granted(
        self, customer_id: Any, *, channel: Channel | str, purpose: str, at: Any
    ) -> npt.NDArray[np.bool_]:
        """Whether each of ``customer_id`` has consent for ``channel`` and ``purpose`` at ``at``.

        Vectorized form of [`consent_granted`][crmkit.model.consent_granted]: the latest event at
        or before ``at`` decides; at equal instants the most restrictive status wins; an expired
        grant is not a grant. Customers with no event are not granted.
        """
        ids = v.as_str_array("customer_id", customer_id)
        t = (
            v.to_datetime64("at", at)
            if not isinstance(at, np.datetime64)
            else at.astype("datetime64[us]")
        )
        sel = (self.channel == Channel(channel).value) & (self.purpose == purpose) & (self.at <= t)
        cust, when, status = self.customer_id[sel], self.at[sel], self.status[sel]
        expires = self.expires_at[sel]
        rank = np.select([status == "granted", status == "denied"], [0, 1], 2)
        order = np.lexsort((rank, when, cust))
        cust, status, expires = cust[order], status[order], expires[order]
        last = np.ones(cust.size, dtype=bool)
        last[:-1] = cust[1:] != cust[:-1]
        cust, status, expires = cust[last], status[last], expires[last]
        ok = (status == "granted") & (np.isnat(expires) | (expires > t))
        pos = np.searchsorted(cust, ids)
        pos_c = np.minimum(pos, max(cust.size - 1, 0))
        found = (pos < cust.size) & (cust[pos_c] == ids) if cust.size else np.zeros(ids.size, bool)
        out = np.zeros(ids.size, dtype=bool)
        out[found] = ok[pos_c[found]]
        return out


@attrs.frozen(kw_only=True, eq=False)
class ContactColumns(Columns):
    """Campaign contacts as aligned columns: what frequency caps count.

    Examples:
        >>> import numpy as np
        >>> kc = ContactColumns.from_arrays(contact_id=["k1"], campaign_id=["spring"],
        ...     customer_id=["c1"], channel=["email"],
        ...     at=np.array(["2024-04-01T09:00"], dtype="datetime64[us]"))
        >>> kc.outcome.tolist()
        ['sent']
    """

    time_column: ClassVar[str] = "at"

    contact_id: npt.NDArray[np.str_] = col("id")
    campaign_id: npt.NDArray[np.str_] = col("id")
    customer_id: npt.NDArray[np.str_] = col("id")
    channel: npt.NDArray[np.str_] = col("id")
    at: npt.NDArray[np.datetime64] = col("time")
    outcome: npt.NDArray[np.str_] = col("id", default="sent")

    @classmethod
    def from_contacts(cls, contacts: Iterable[Contact]) -> Self:
        """Columns from Contact values."""
        ks = list(contacts)
        return cls(
            contact_id=np.array([k.contact_id for k in ks], dtype=str),
            campaign_id=np.array([k.campaign_id for k in ks], dtype=str),
            customer_id=np.array([k.customer_id for k in ks], dtype=str),
            channel=np.array([k.channel.value for k in ks], dtype=str),
            at=_dt64(k.at for k in ks),
            outcome=np.array([k.outcome.value for k in ks], dtype=str),
        )


def _single_currency(owner: str, currency: npt.NDArray[np.str_]) -> str:
    codes = np.unique(currency)
    if codes.size == 0:
        raise CurrencyMismatchError(f"{owner}.currency: no rows, so no currency. Pass some rows.")
    if codes.size > 1:
        first_other = int(np.flatnonzero(currency != currency[0])[0])
        raise CurrencyMismatchError(
            f"{owner}.currency: {codes.size} currencies ({', '.join(codes.tolist()[:5])}; first "
            f"change at index {first_other}). Convert with a rate table or filter to one currency."
        )
    return str(codes[0])


@attrs.frozen(kw_only=True, eq=False)
class SourceRecordColumns(Columns):
    """Source records as aligned string columns; ``""`` marks a missing field.

    ``record_id`` is the record's shop-wide key (``"source:source_key"``); ``birth_date`` is an ISO
    date string. These are the columns ``crmkit.identity`` resolves.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.model import SourceRecord
        >>> r = SourceRecord(source="web", source_key="u1", email="a@x.org",
        ...                  observed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        >>> rc = SourceRecordColumns.from_records([r])
        >>> rc.record_id.tolist(), rc.phone.tolist()
        (['web:u1'], [''])
        >>> rc.to_records() == [r]
        True
    """

    time_column: ClassVar[str] = "observed_at"

    record_id: npt.NDArray[np.str_] = col("id")
    source: npt.NDArray[np.str_] = col("id")
    source_key: npt.NDArray[np.str_] = col("id")
    observed_at: npt.NDArray[np.datetime64] = col("time")
    email: npt.NDArray[np.str_] = col("str", default="")
    phone: npt.NDArray[np.str_] = col("str", default="")
    first_name: npt.NDArray[np.str_] = col("str", default="")
    last_name: npt.NDArray[np.str_] = col("str", default="")
    birth_date: npt.NDArray[np.str_] = col("str", default="")
    street: npt.NDArray[np.str_] = col("str", default="")
    city: npt.NDArray[np.str_] = col("str", default="")
    postcode: npt.NDArray[np.str_] = col("str", default="")
    country: npt.NDArray[np.str_] = col("str", default="")

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        expected = np.char.add(np.char.add(self.source, ":"), self.source_key)
        v.require(
            "SourceRecordColumns.record_id",
            self.record_id != expected,
            self.record_id,
            "record ids that are not 'source:source_key'",
            "Build ids as source + ':' + key.",
        )

    @classmethod
    def from_records(cls, records: Iterable[SourceRecord]) -> Self:
        """Columns from SourceRecord values (address parts flattened; missing → ``""``)."""
        rs = list(records)

        def text(get: Any) -> npt.NDArray[np.str_]:
            return np.array([get(r) or "" for r in rs], dtype=str)

        return cls(
            record_id=text(lambda r: r.key),
            source=text(lambda r: r.source),
            source_key=text(lambda r: r.source_key),
            observed_at=_dt64(r.observed_at for r in rs),
            email=text(lambda r: r.email),
            phone=text(lambda r: r.phone),
            first_name=text(lambda r: r.first_name),
            last_name=text(lambda r: r.last_name),
            birth_date=text(lambda r: r.birth_date and r.birth_date.isoformat()),
            street=text(lambda r: r.address and r.address.line1),
            city=text(lambda r: r.address and r.address.city),
            postcode=text(lambda r: r.address and r.address.postcode),
            country=text(lambda r: r.country),
        )

    def to_records(self) -> list[SourceRecord]:
        """The rows as SourceRecord values (attributes and identifiers are not columns)."""
        out: list[SourceRecord] = []
        cols = self.arrays()
        for i in range(len(self)):
            row = {k: a[i] for k, a in cols.items()}

            def opt(name: str, row: dict[str, Any] = row) -> str | None:
                return str(row[name]) or None

            has_address = any(row[k] for k in ("street", "city", "postcode"))
            out.append(
                SourceRecord(
                    source=str(row["source"]),
                    source_key=str(row["source_key"]),
                    observed_at=v.from_datetime64(row["observed_at"]),
                    email=opt("email"),
                    phone=opt("phone"),
                    first_name=opt("first_name"),
                    last_name=opt("last_name"),
                    birth_date=dt.date.fromisoformat(row["birth_date"])
                    if row["birth_date"]
                    else None,
                    address=_Address(
                        line1=opt("street"), city=opt("city"), postcode=opt("postcode")
                    )
                    if has_address
                    else None,
                    country=opt("country"),
                )
            )
        return out
