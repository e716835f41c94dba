"""PostgreSQL collections: one generic table-backed collection, specialized per collection."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
from crmkit.storage.postgres import _columnar as columnar
from crmkit.storage.postgres._codecs import CONVERTER, Codec, dumps_json, opt, s, u

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

log = logging.getLogger("crmkit.storage")


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

    def _scan_columns(self, cols: Sequence[columnar.Col], start: Any, end: Any) -> dict[str, Any]:
        """Columns of the rows in ``[start, end)`` in scan order, one snapshot, chunk by chunk.

        Each chunk is one query that aggregates every column into one value on the server
        (see ``_binary``) over a subquery ordered by (time, key) and limited to the chunk; the
        next chunk starts past its last (time, key), and is read while a worker thread turns
        this one into arrays. Plain aggregates keep their ordered input's order in PostgreSQL,
        which each chunk checks; should one not, the scan runs again with ``ORDER BY`` inside
        every aggregate.
        """
        got = self._scan_chunks(cols, start, end, ordered=False)
        if got is None:
            log.warning("%s: aggregates lost their order; scanning again", self._codec.name)
            got = self._scan_chunks(cols, start, end, ordered=True)
        assert got is not None
        return got

    def _scan_chunks(
        self, cols: Sequence[columnar.Col], start: Any, end: Any, *, ordered: bool
    ) -> dict[str, Any] | None:
        c = self._codec
        t, k = c.time_column or "", c.key_column
        cols = [("_time", "int8", t), ("_key", "text", k), *cols]
        query = columnar.scan_sql(c.table, t, k, cols, ordered=ordered)
        where, params = self._range(start, end)
        pending: list[Future[dict[str, Any] | None]] = []
        after: tuple[int, str] | None = None
        size = columnar.SCAN_CHUNK
        with self._store._snapshot(), ThreadPoolExecutor(1, "crmkit-scan") as pool:
            while True:
                keyset = f" AND ({t}, {k}) > (%s, %s)" if after else ""
                row = self._store._aggregate(
                    query.format(where=where, keyset=keyset), (*params, *(after or ()), size)
                )
                decode = columnar.decode_chunk
                pending.append(pool.submit(decode, cols, row[1:], check=not ordered))
                if int(row[0]) < size:
                    break
                after = columnar.last_key(row[1], row[2], row[3])
            chunks = [f.result() for f in pending]
        if any(chunk is None for chunk in chunks):
            return None
        return columnar.join_chunks(cols, [chunk for chunk in chunks if chunk is not None])


class PostgresSourceRecords(PostgresCollection[Any]):
    """Source records; columns are built from the stored values."""

    def columns(self, start: Any = None, end: Any = None) -> SourceRecordColumns:
        rows = self._range_rows(", ".join(self._codec.columns), start, end)
        return SourceRecordColumns.from_records(self._codec.decode(r) for r in rows)


class PostgresOrders(PostgresCollection[Order]):
    """Orders, one row each with the lines as arrays; binary COPY in, aggregated columns out."""

    _ORDER_SCAN: tuple[columnar.Col, ...] = (
        ("customer_id", "text", "customer_id"),
        ("currency", "text", "currency"),
        ("total_minor", "int8", "total_minor"),
        ("shipping_minor", "int8", "coalesce(shipping_minor, 0)"),
        ("tax_minor", "int8", "coalesce(tax_minor, 0)"),
        ("status", "text", "status"),
        ("channel", "text", "channel"),
    )
    _LINE_SCAN: tuple[columnar.Col, ...] = (
        # One array of 3k numbers per order: sending one array costs less than three.
        ("numbers", "int8[]", "line_quantities || line_unit_prices || line_discounts"),
        ("product_id", "text[]", "line_products"),
        ("category", "text[]", "line_categories"),
    )

    def _order_table(self, cols: dict[str, Any]) -> OrderColumns:
        return OrderColumns(
            order_id=cols["_key"],
            customer_id=cols["customer_id"],
            placed_at=cols["_time"].view("datetime64[us]"),
            currency=cols["currency"],
            total_minor=cols["total_minor"],
            shipping_minor=cols["shipping_minor"],
            tax_minor=cols["tax_minor"],
            status=cols["status"],
            channel=cols["channel"],
        )

    def columns(self, start: Any = None, end: Any = None) -> OrderColumns:
        return self._order_table(self._scan_columns(self._ORDER_SCAN, start, end))

    def line_columns(self, start: Any = None, end: Any = None) -> OrderLineColumns:
        cols = self._scan_columns(self._ORDER_SCAN + self._LINE_SCAN, start, end)
        orders = self._order_table(cols)
        numbers, counts = cols["numbers"][0], cols["product_id"][1]
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        # Each order's numbers: its k quantities, then k unit prices, then k discounts.
        part = (np.arange(3 * total) - np.repeat(3 * starts, 3 * counts)) // np.repeat(
            counts, 3 * counts
        )
        quantity, unit, discount = (numbers[part == i] for i in range(3))
        return OrderLineColumns(
            order_id=np.repeat(orders.order_id, counts),
            line_no=np.arange(total, dtype=np.int64) - np.repeat(starts, counts),
            customer_id=np.repeat(orders.customer_id, counts),
            placed_at=np.repeat(orders.placed_at, counts),
            product_id=cols["product_id"][0],
            quantity=quantity,
            unit_price_minor=unit,
            discount_minor=discount,
            total_minor=quantity * unit - discount,
            currency=np.repeat(orders.currency, counts),
            category=cols["category"][0],
        )

    def upsert_columns(self, orders: OrderColumns, lines: OrderLineColumns) -> int:
        grouped = group_lines(orders, lines)
        n = len(orders)
        self._store._upsert(
            "orders",
            payload=columnar.order_payload(orders, grouped.lines, grouped.counts),
            count=n,
            payload_columns=columnar.ORDER_COPY,
        )
        return n


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
    """Behavioural events; binary COPY in, aggregated columns out."""

    _EVENT_SCAN: tuple[columnar.Col, ...] = (
        ("customer_id", "text", "coalesce(customer_id, '')"),
        ("anonymous_id", "text", "coalesce(anonymous_id, '')"),
        ("type", "text", "type"),
    )

    def columns(self, start: Any = None, end: Any = None) -> EventColumns:
        cols = self._scan_columns(self._EVENT_SCAN, start, end)
        return EventColumns(
            event_id=cols["_key"],
            customer_id=cols["customer_id"],
            anonymous_id=cols["anonymous_id"],
            type=cols["type"],
            at=cols["_time"].view("datetime64[us]"),
        )

    def upsert_columns(self, events: EventColumns) -> int:
        check_events(events)
        self._store._upsert(
            "events",
            payload=columnar.event_payload(events),
            count=len(events),
            payload_columns=columnar.EVENT_COPY,
        )
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


def _transpose(rows: list[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _str(values: Sequence[str]) -> npt.NDArray[np.str_]:
    return np.array(values, dtype=str) if len(values) else np.empty(0, dtype="U1")


def _ustr(values: Sequence[str]) -> npt.NDArray[np.str_]:
    return _str([u(x) for x in values])


def _int(values: Sequence[Any]) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64)
