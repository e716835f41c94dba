"""PostgreSQL collections: one generic table-backed collection, specialized per collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from crmkit.columns import (
    ConsentColumns,
    ContactColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.errors import InvalidInputError, NotFoundError
from crmkit.model import Consent, Contact, Event, Order, Return
from crmkit.serialization import dump, load
from crmkit.storage._batch import (
    check_events,
    check_key,
    check_limit,
    check_values,
    group_lines,
    last_wins,
    time_bounds,
)
from crmkit.storage._page import Page, decode_cursor, encode_cursor, micros
from crmkit.storage._spec import CollectionSpec
from crmkit.storage.postgres._codecs import CONVERTER, Codec, dumps_json, opt, s, u
from crmkit.storage.postgres._text import array_literals, copy_payload, copy_text, parse_copy

if TYPE_CHECKING:
    from crmkit.storage.postgres._store import PostgresStore

__all__ = [
    "PostgresCollection",
    "PostgresConsents",
    "PostgresContacts",
    "PostgresDocuments",
    "PostgresEvents",
    "PostgresOrders",
    "PostgresReturns",
    "PostgresSourceRecords",
]

V = TypeVar("V")

#: Orders per chunk of a COPY payload.
_CHUNK = 50_000


class PostgresCollection(Generic[V]):
    """A collection in one table, described by a codec; every value goes as a parameter."""

    def __init__(self, store: PostgresStore, codec: Codec[V]) -> None:
        self._store = store
        self._codec = codec
        self._scope = ""  # extra condition, e.g. "collection = %s AND "
        self._scope_params: tuple[Any, ...] = ()
        c = codec
        self._select = f"SELECT {', '.join(c.columns)} FROM {c.table}"
        self._order = f"{c.time_column}, {c.key_column}" if c.time_column else c.key_column

    def _rows(self, values: Iterable[V]) -> list[Sequence[Any]]:
        batch = check_values(f"{self._codec.name}.upsert(values)", values, self._codec.cls)
        return [self._codec.encode(x) for x in last_wins(batch, self._codec.key).values()]

    def upsert(self, values: Iterable[V]) -> int:
        rows = self._rows(values)
        self._store._upsert(self._codec.table, rows)
        return len(rows)

    def get(self, key: str) -> V:
        found = self.find(key)
        if found is None:
            raise NotFoundError(
                f"key: {key!r:.80} is not in {self._codec.name}. Check the key, or use find()."
            )
        return found

    def find(self, key: str) -> V | None:
        check_key("key", key)
        rows = self._store._fetch(
            f"{self._select} WHERE {self._scope}{self._codec.key_column} = %s",
            (*self._scope_params, s(key)),
        )
        return self._codec.decode(rows[0]) if rows else None

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        wanted = list(dict.fromkeys(check_key("keys", k) for k in keys))
        if not wanted:
            return {}
        out: dict[str, V] = {}
        for row in self._store._fetch(
            f"{self._select} WHERE {self._scope}{self._codec.key_column} = ANY(%s)",
            (*self._scope_params, [s(k) for k in wanted]),
        ):
            value = self._codec.decode(row)
            out[self._codec.key(value)] = value
        return {k: out[k] for k in wanted if k in out}

    def count(self) -> int:
        where = f" WHERE {self._scope[:-5]}" if self._scope else ""
        rows = self._store._fetch(
            f"SELECT count(*) FROM {self._codec.table}{where}", self._scope_params
        )
        return int(rows[0][0])

    def delete(self, keys: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(check_key("keys", k) for k in keys))
        if not wanted:
            return 0
        with self._store.transaction():
            return self._store._execute(
                f"DELETE FROM {self._codec.table} WHERE {self._scope}"
                f"{self._codec.key_column} = ANY(%s)",
                (*self._scope_params, [s(k) for k in wanted]),
            )

    def scan(
        self,
        *,
        start: Any = None,
        end: Any = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> Page[V]:
        check_limit(limit)
        c = self._codec
        timed = c.time_column is not None
        conditions = [self._scope[:-5]] if self._scope else []
        params: list[Any] = list(self._scope_params)
        if timed:
            lo, hi = time_bounds(start, end)
            if start is not None:
                conditions.append(f"{c.time_column} >= %s")
                params.append(lo)
            if end is not None:
                conditions.append(f"{c.time_column} < %s")
                params.append(hi)
        elif start is not None or end is not None:
            raise InvalidInputError(
                f"start/end: {c.name} has no time; scan it by key without start and end."
            )
        if after is not None:
            at, key = decode_cursor(after, timed=timed)
            if timed:
                conditions.append(f"({c.time_column}, {c.key_column}) > (%s, %s)")
                params += [at, s(key)]
            else:
                conditions.append(f"{c.key_column} > %s")
                params.append(s(key))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._store._fetch(
            f"{self._select}{where} ORDER BY {self._order} LIMIT %s", (*params, limit + 1)
        )
        items = tuple(c.decode(r) for r in rows[:limit])
        cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            key = u(last[c.columns.index(c.key_column)])
            at = last[c.columns.index(c.time_column)] if c.time_column else None
            cursor = encode_cursor(key, at)
        return Page(items=items, next_cursor=cursor)

    def for_customer(self, customer_id: str) -> list[V]:
        check_key("customer_id", customer_id)
        column = self._codec.customer_column
        if column is None:
            raise InvalidInputError(f"customer_id: {self._codec.name} has no customer column.")
        rows = self._store._fetch(
            f"{self._select} WHERE {self._scope}{column} = %s ORDER BY {self._order}",
            (*self._scope_params, s(customer_id)),
        )
        return [self._codec.decode(r) for r in rows]

    def _range(self, start: Any, end: Any) -> tuple[str, tuple[int, int]]:
        lo, hi = time_bounds(start, end)
        t = self._codec.time_column
        return f"{t} >= %s AND {t} < %s", (lo, hi)

    def _range_rows(self, columns: str, start: Any, end: Any) -> list[Sequence[Any]]:
        where, params = self._range(start, end)
        return self._store._fetch(
            f"SELECT {columns} FROM {self._codec.table} WHERE {where} ORDER BY {self._order}",
            params,
        )

    def _copy_columns(
        self, columns: Sequence[str], texts: Sequence[int], start: Any, end: Any
    ) -> list[list[str]]:
        where, params = self._range(start, end)
        data = self._store._copy_out(
            f"SELECT {', '.join(columns)} FROM {self._codec.table} WHERE {where} "
            f"ORDER BY {self._order}",
            params,
        )
        return parse_copy(data, len(columns), texts=texts)


class PostgresSourceRecords(PostgresCollection[Any]):
    """Source records; columns are built from the stored values."""

    def columns(self, start: Any = None, end: Any = None) -> SourceRecordColumns:
        rows = self._range_rows(", ".join(self._codec.columns), start, end)
        return SourceRecordColumns.from_records(self._codec.decode(r) for r in rows)


class PostgresOrders(PostgresCollection[Order]):
    """Orders, one row each with the lines as arrays; COPY in for ingest, COPY out for scans."""

    _ORDER_COLUMNS = (
        "order_id",
        "customer_id",
        "placed_at",
        "currency",
        "total_minor",
        "coalesce(shipping_minor, 0)",
        "coalesce(tax_minor, 0)",
        "status",
        "channel",
        "n_lines",
    )

    def _order_table(self, start: Any, end: Any) -> tuple[OrderColumns, npt.NDArray[np.int64]]:
        cols = self._copy_columns(self._ORDER_COLUMNS, (0, 1, 3, 7, 8), start, end)
        table = OrderColumns(
            order_id=_str(cols[0]),
            customer_id=_str(cols[1]),
            placed_at=_int(cols[2]).view("datetime64[us]"),
            currency=_str(cols[3]),
            total_minor=_int(cols[4]),
            shipping_minor=_int(cols[5]),
            tax_minor=_int(cols[6]),
            status=_str(cols[7]),
            channel=_str(cols[8]),
        )
        return table, _int(cols[9])

    def columns(self, start: Any = None, end: Any = None) -> OrderColumns:
        return self._order_table(start, end)[0]

    def line_columns(self, start: Any = None, end: Any = None) -> OrderLineColumns:
        where, params = self._range(start, end)
        with self._store._snapshot():
            orders, counts = self._order_table(start, end)
            data = self._store._copy_out(
                "SELECT l.p, l.q, l.up, coalesce(l.d, 0), coalesce(l.c, '') FROM "
                f"(SELECT * FROM orders WHERE {where} ORDER BY placed_at, order_id) o "
                "CROSS JOIN LATERAL unnest(o.line_products, o.line_quantities, "
                "o.line_unit_prices, o.line_discounts, o.line_categories) "
                "WITH ORDINALITY AS l(p, q, up, d, c, i) ORDER BY o.placed_at, o.order_id, l.i",
                params,
            )
        cols = parse_copy(data, 5, texts=(0, 4))
        total = int(counts.sum())
        quantity, unit, discount = _int(cols[1]), _int(cols[2]), _int(cols[3])
        starts = np.cumsum(counts) - counts
        return OrderLineColumns(
            order_id=np.repeat(orders.order_id, counts),
            line_no=np.arange(total, dtype=np.int64) - np.repeat(starts, counts),
            customer_id=np.repeat(orders.customer_id, counts),
            placed_at=np.repeat(orders.placed_at, counts),
            product_id=_str(cols[0]),
            quantity=quantity,
            unit_price_minor=unit,
            discount_minor=discount,
            total_minor=quantity * unit - discount,
            currency=np.repeat(orders.currency, counts),
            category=_str(cols[4]),
        )

    def upsert_columns(self, orders: OrderColumns, lines: OrderLineColumns) -> int:
        grouped = group_lines(orders, lines)
        n = len(orders)
        self._store._upsert(
            "orders", payload=_order_payload(orders, grouped.lines, grouped.counts), count=n
        )
        return n


def _order_payload(
    orders: OrderColumns, lines: OrderLineColumns, counts: npt.NDArray[np.int64]
) -> Iterator[bytes]:
    """COPY data of a validated batch, in chunks: the server loads one while the next is built."""
    ends = np.cumsum(counts)
    for lo in range(0, len(orders), _CHUNK):
        hi = min(lo + _CHUNK, len(orders))
        o = orders.take(np.arange(lo, hi))
        first = int(ends[lo - 1]) if lo else 0
        g = lines.take(np.arange(first, int(ends[hi - 1])))
        c = counts[lo:hi].tolist()
        yield copy_payload(
            [
                copy_text(o.order_id.tolist()),
                copy_text(o.customer_id.tolist()),
                _ints(o.placed_at.astype(np.int64)),
                copy_text(o.currency.tolist()),
                _ints(o.total_minor),
                [str(x) if x else "\\N" for x in o.shipping_minor.tolist()],
                [str(x) if x else "\\N" for x in o.tax_minor.tolist()],
                copy_text(o.status.tolist()),
                copy_text(o.channel.tolist()),
                ["{}"] * (hi - lo),
                list(map(str, c)),
                array_literals(g.product_id.tolist(), c, quoted=True),
                array_literals(_ints(g.quantity), c, quoted=False),
                array_literals(_ints(g.unit_price_minor), c, quoted=False),
                array_literals(_ints(g.discount_minor), c, quoted=False, null="0"),
                array_literals(g.category.tolist(), c, quoted=True, null=""),
            ]
        )


class PostgresReturns(PostgresCollection[Return]):
    """Returns and refunds."""

    def for_order(self, order_id: str) -> list[Return]:
        check_key("order_id", order_id)
        rows = self._store._fetch(
            f"{self._select} WHERE order_id = %s ORDER BY {self._order}", (s(order_id),)
        )
        return [self._codec.decode(r) for r in rows]

    def columns(self, start: Any = None, end: Any = None) -> ReturnColumns:
        rows = self._range_rows(
            "return_id, order_id, customer_id, at, refund_minor, currency", start, end
        )
        cols = _transpose(rows, 6)
        return ReturnColumns(
            return_id=_ustr(cols[0]),
            order_id=_ustr(cols[1]),
            customer_id=_ustr(cols[2]),
            at=_int(cols[3]).view("datetime64[us]"),
            refund_minor=_int(cols[4]),
            currency=_ustr(cols[5]),
        )


class PostgresEvents(PostgresCollection[Event]):
    """Behavioural events; COPY in for ingest, COPY out for scans."""

    _EVENT_COLUMNS = (
        "event_id",
        "coalesce(customer_id, '')",
        "coalesce(anonymous_id, '')",
        "type",
        "at",
    )

    def columns(self, start: Any = None, end: Any = None) -> EventColumns:
        cols = self._copy_columns(self._EVENT_COLUMNS, (0, 1, 2, 3), start, end)
        return EventColumns(
            event_id=_str(cols[0]),
            customer_id=_str(cols[1]),
            anonymous_id=_str(cols[2]),
            type=_str(cols[3]),
            at=_int(cols[4]).view("datetime64[us]"),
        )

    def upsert_columns(self, events: EventColumns) -> int:
        check_events(events)
        payload = copy_payload(
            [
                copy_text(events.event_id.tolist()),
                copy_text(events.customer_id.tolist(), empty_is_null=True),
                copy_text(events.anonymous_id.tolist(), empty_is_null=True),
                copy_text(events.type.tolist()),
                _ints(events.at.astype(np.int64)),
                ["{}"] * len(events),
            ]
        )
        self._store._upsert("events", payload=[payload], count=len(events))
        return len(events)


class PostgresConsents(PostgresCollection[Consent]):
    """Consent events."""

    def columns(self, start: Any = None, end: Any = None) -> ConsentColumns:
        rows = self._range_rows("customer_id, channel, purpose, status, at, expires_at", start, end)
        cols = _transpose(rows, 6)
        expires = np.array([-(2**63) if x is None else x for x in cols[5]], dtype=np.int64)
        return ConsentColumns(
            customer_id=_ustr(cols[0]),
            channel=_ustr(cols[1]),
            purpose=_ustr(cols[2]),
            status=_ustr(cols[3]),
            at=_int(cols[4]).view("datetime64[us]"),
            expires_at=expires.view("datetime64[us]"),
        )


class PostgresContacts(PostgresCollection[Contact]):
    """Campaign contacts."""

    def columns(self, start: Any = None, end: Any = None) -> ContactColumns:
        rows = self._range_rows(
            "contact_id, campaign_id, customer_id, channel, at, outcome", start, end
        )
        cols = _transpose(rows, 6)
        return ContactColumns(
            contact_id=_ustr(cols[0]),
            campaign_id=_ustr(cols[1]),
            customer_id=_ustr(cols[2]),
            channel=_ustr(cols[3]),
            at=_int(cols[4]).view("datetime64[us]"),
            outcome=_ustr(cols[5]),
        )


class PostgresDocuments(PostgresCollection[V]):
    """A module collection from a spec: JSON documents in the shared ``documents`` table."""

    def __init__(self, store: PostgresStore, spec: CollectionSpec[V]) -> None:
        time_of, customer_of = spec.time, spec.customer

        def encode(value: V) -> tuple[Any, ...]:
            return (
                spec.name,
                s(spec.key(value)),
                None if customer_of is None else opt(customer_of(value)),
                None if time_of is None else micros(time_of(value)),
                dumps_json(dump(value, converter=CONVERTER)),
            )

        def decode(row: Sequence[Any]) -> V:
            return load(row[4], spec.value_type, converter=CONVERTER)

        codec: Codec[V] = Codec(
            name=spec.name,
            table="documents",
            cls=spec.value_type,
            key_column="key",
            time_column="at" if time_of is not None else None,
            customer_column="customer_id" if customer_of is not None else None,
            key=spec.key,
            encode=encode,
            decode=decode,
        )
        super().__init__(store, codec)
        self._spec = spec
        self._scope = "collection = %s AND "
        self._scope_params = (spec.name,)

    @property
    def spec(self) -> CollectionSpec[V]:
        """The spec the collection was opened with."""
        return self._spec


def _ints(values: npt.NDArray[np.int64]) -> list[str]:
    return list(map(str, values.tolist()))


def _transpose(rows: list[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _str(values: Sequence[str]) -> npt.NDArray[np.str_]:
    return np.array(values, dtype=str) if len(values) else np.empty(0, dtype="U1")


def _ustr(values: Sequence[str]) -> npt.NDArray[np.str_]:
    return _str([u(x) for x in values])


def _int(values: Sequence[Any]) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64)
