"""SQLite collections: one generic table-backed collection, specialized per built-in collection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from crmkit.columns import (
    Columns,
    ConsentColumns,
    ContactColumns,
    EventColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.errors import InvalidInputError, NotFoundError
from crmkit.model import Consent, Contact, Event, Return
from crmkit.serialization import dump, load
from crmkit.storage._batch import (
    check_events,
    check_key,
    check_limit,
    check_values,
    last_wins,
    time_bounds,
)
from crmkit.storage._page import Page, decode_cursor, encode_cursor, micros
from crmkit.storage._spec import CollectionSpec
from crmkit.storage.sqlite import _bulk, _cache
from crmkit.storage.sqlite._codecs import _CONVERTER, Codec, dumps_json

if TYPE_CHECKING:
    from crmkit.storage.sqlite._store import SQLiteStore

__all__ = [
    "SQLiteCollection",
    "SQLiteConsents",
    "SQLiteContacts",
    "SQLiteDocuments",
    "SQLiteEvents",
    "SQLiteReturns",
    "SQLiteSourceRecords",
]

V = TypeVar("V")
C = TypeVar("C", bound=Columns)
_CHUNK = 500


class SQLiteCollection(Generic[V]):
    """A collection in one SQLite table, described by a codec; all SQL is parametrized."""

    def __init__(self, store: SQLiteStore, codec: Codec[V]) -> None:
        self._store = store
        self._codec = codec
        self._scope = ""  # extra condition, e.g. "collection = ? AND "
        self._scope_params: tuple[Any, ...] = ()
        c = codec
        self._select = f"SELECT {', '.join(c.columns)} FROM {c.table}"
        placeholders = ", ".join("?" * len(c.columns))
        self._insert = (
            f"INSERT OR REPLACE INTO {c.table} ({', '.join(c.columns)}) VALUES ({placeholders})"
        )
        self._order = f"{c.time_column}, {c.key_column}" if c.time_column else c.key_column
        self._versioned = c.table in _cache.CACHED_TABLES

    def _rows(self, values: Iterable[V]) -> list[Sequence[Any]]:
        batch = check_values(f"{self._codec.name}.upsert(values)", values, self._codec.cls)
        return [self._codec.encode(x) for x in last_wins(batch, self._codec.key).values()]

    def upsert(self, values: Iterable[V]) -> int:
        rows = self._rows(values)
        with self._store.transaction():
            self._store._executemany(self._insert, rows)
            if self._versioned:
                self._store._touch(self._codec.table)
            self._after_write()
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
        rows = self._fetch_rows(
            f"{self._select} WHERE {self._scope}{self._codec.key_column} = ?",
            (*self._scope_params, key),
        )
        return self._decode_rows(rows)[0] if rows else None

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        wanted = list(dict.fromkeys(check_key("keys", k) for k in keys))
        out: dict[str, V] = {}
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(part))
            for value in self._decode_rows(
                self._fetch_rows(
                    f"{self._select} WHERE {self._scope}{self._codec.key_column} IN ({marks})",
                    (*self._scope_params, *part),
                )
            ):
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
        with self._store.transaction():
            deleted = self._store._executemany(
                f"DELETE FROM {self._codec.table} WHERE {self._scope}{self._codec.key_column} = ?",
                [(*self._scope_params, k) for k in wanted],
            )
            if deleted and self._versioned:
                self._store._touch(self._codec.table)
            if deleted:
                self._after_write()
            return deleted

    def _after_write(self) -> None:
        """Inside the transaction of a value upsert or delete: upkeep of the table."""

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
            conditions.append(f"{c.time_column} >= ? AND {c.time_column} < ?")
            params += [lo, hi]
        elif start is not None or end is not None:
            raise InvalidInputError(
                f"start/end: {c.name} has no time; scan it by key without start and end."
            )
        if after is not None:
            at, key = decode_cursor(after, timed=timed)
            if timed:
                conditions.append(f"({c.time_column}, {c.key_column}) > (?, ?)")
                params += [at, key]
            else:
                conditions.append(f"{c.key_column} > ?")
                params.append(key)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._fetch_rows(
            f"{self._select}{where} ORDER BY {self._order} LIMIT ?", (*params, limit + 1)
        )
        items = tuple(self._decode_rows(rows[:limit]))
        cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            key = last[c.columns.index(c.key_column)]
            at = last[c.columns.index(c.time_column)] if c.time_column else None
            cursor = encode_cursor(key, at)
        return Page(items=items, next_cursor=cursor)

    def for_customer(self, customer_id: str) -> list[V]:
        check_key("customer_id", customer_id)
        column = self._codec.customer_column
        if column is None:
            raise InvalidInputError(f"customer_id: {self._codec.name} has no customer column.")
        rows = self._fetch_rows(
            f"{self._select} WHERE {self._scope}{column} = ? ORDER BY {self._order}",
            (*self._scope_params, customer_id),
        )
        return self._decode_rows(rows)

    def _fetch_rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of a query over the collection's columns, ready to decode."""
        return self._store._fetch(sql, params)

    def _decode_rows(self, rows: Sequence[Sequence[Any]]) -> list[V]:
        """Values from fetched rows."""
        return [self._codec.decode(r) for r in rows]

    def _concat(
        self, columns: Sequence[tuple[str, bool]], start: Any, end: Any
    ) -> _bulk.Concatenated:
        lo, hi = time_bounds(start, end)
        t = self._codec.time_column
        return self._store._concat(
            self._codec.table, columns, f"{t} >= ? AND {t} < ?", self._order, (lo, hi)
        )

    def _range_rows(self, columns: str, start: Any, end: Any) -> list[Sequence[Any]]:
        lo, hi = time_bounds(start, end)
        t = self._codec.time_column
        return self._store._fetch(
            f"SELECT {columns} FROM {self._codec.table} WHERE {t} >= ? AND {t} < ? "
            f"ORDER BY {self._order}",
            (lo, hi),
        )


class SQLiteSourceRecords(SQLiteCollection[Any]):
    """Source records; columns are built from the stored values."""

    def columns(self, start: Any = None, end: Any = None) -> SourceRecordColumns:
        rows = self._range_rows(", ".join(self._codec.columns), start, end)
        return SourceRecordColumns.from_records(self._codec.decode(r) for r in rows)


class SQLiteReturns(SQLiteCollection[Return]):
    """Returns and refunds."""

    def for_order(self, order_id: str) -> list[Return]:
        check_key("order_id", order_id)
        rows = self._store._fetch(
            f"{self._select} WHERE order_id = ? ORDER BY {self._order}", (order_id,)
        )
        return [self._codec.decode(r) for r in rows]

    def columns(self, start: Any = None, end: Any = None) -> ReturnColumns:
        rows = self._range_rows(
            "return_id, order_id, customer_id, at, refund_minor, currency", start, end
        )
        cols = _transpose(rows, 6)
        return ReturnColumns(
            return_id=_str(cols[0]),
            order_id=_str(cols[1]),
            customer_id=_str(cols[2]),
            at=_time(cols[3]),
            refund_minor=_int(cols[4]),
            currency=_str(cols[5]),
        )


class SQLiteEvents(SQLiteCollection[Event]):
    """Behavioural events; columnar scans (cached) and bulk ingest."""

    _EVENT_COLUMNS = (
        ("event_id", False),
        ("coalesce(customer_id, '')", False),
        ("coalesce(anonymous_id, '')", False),
        ("type", False),
        ("at", True),
    )

    def columns(self, start: Any = None, end: Any = None) -> EventColumns:
        lo, hi = time_bounds(start, end)
        with self._store._snapshot() as con:
            at, found = self._store._cache_load(con, "events", ("events",), lo, hi)
            got = found["events"]
            if got is not None:
                return _events_window(got, lo, hi)
            table = self._scan_columns(start, end)
        if start is None and end is None:
            segs, _ = _cache.segments(table.at)
            self._store._cache_store("events", at, {"events": (table.arrays(), segs)})
        return table

    def _scan_columns(self, start: Any, end: Any) -> EventColumns:
        got = self._concat(self._EVENT_COLUMNS, start, end)
        split = [got.strs(i) for i in range(4)]
        texts: list[Sequence[Any]]
        if any(t is None for t in split):  # a value holds U+001F: read row by row
            rows = self._range_rows(", ".join(e for e, _ in self._EVENT_COLUMNS), start, end)
            cols = _transpose(rows, 5)
            texts, at = list(cols[:4]), _int(cols[4])
        else:
            texts, at = [t for t in split if t is not None], got.ints(4)
        table = EventColumns(
            event_id=_str(texts[0]),
            customer_id=_str(texts[1]),
            anonymous_id=_str(texts[2]),
            type=_str(texts[3]),
            at=at.view("datetime64[us]"),
        )
        return _in_order(table, "at", "event_id")

    def upsert_columns(self, events: EventColumns) -> int:
        check_events(events)
        rows = _bulk.BulkRows(
            head=self._insert.partition(" VALUES ")[0] + " VALUES",
            terms=("?", "?", "?", "?", "?", "'{}'"),
            columns=_bulk.event_rows(events),
        )
        with self._store.transaction():
            empty = self._store._bulk_insert("events", rows)
            self._store._touch("events")
            if empty:  # the batch is the whole collection: cache its columns now
                order = _time_key_order(events.at, events.event_id)
                kept = events.arrays() if order is None else events.take(order).arrays()
                segs, _ = _cache.segments(kept["at"])
                self._store._cache_store("events", None, {"events": (kept, segs)})
        return len(events)


class SQLiteConsents(SQLiteCollection[Consent]):
    """Consent events."""

    def columns(self, start: Any = None, end: Any = None) -> ConsentColumns:
        rows = self._range_rows("customer_id, channel, purpose, status, at, expires_at", start, end)
        cols = _transpose(rows, 6)
        expires = np.array([-(2**63) if x is None else x for x in cols[5]], dtype=np.int64).view(
            "datetime64[us]"
        )
        return ConsentColumns(
            customer_id=_str(cols[0]),
            channel=_str(cols[1]),
            purpose=_str(cols[2]),
            status=_str(cols[3]),
            at=_time(cols[4]),
            expires_at=expires,
        )


class SQLiteContacts(SQLiteCollection[Contact]):
    """Campaign contacts."""

    def columns(self, start: Any = None, end: Any = None) -> ContactColumns:
        rows = self._range_rows(
            "contact_id, campaign_id, customer_id, channel, at, outcome", start, end
        )
        cols = _transpose(rows, 6)
        return ContactColumns(
            contact_id=_str(cols[0]),
            campaign_id=_str(cols[1]),
            customer_id=_str(cols[2]),
            channel=_str(cols[3]),
            at=_time(cols[4]),
            outcome=_str(cols[5]),
        )


class SQLiteDocuments(SQLiteCollection[V]):
    """A module collection from a spec: JSON documents in the shared ``documents`` table."""

    def __init__(self, store: SQLiteStore, spec: CollectionSpec[V]) -> None:
        time_of, customer_of = spec.time, spec.customer

        def encode(value: V) -> tuple[Any, ...]:
            return (
                spec.name,
                spec.key(value),
                None if customer_of is None else customer_of(value),
                None if time_of is None else micros(time_of(value)),
                dumps_json(dump(value, converter=_CONVERTER)),
            )

        def decode(row: Sequence[Any]) -> V:
            return load(json.loads(row[4]), spec.value_type, converter=_CONVERTER)

        codec: Codec[V] = Codec(
            name=spec.name,
            table="documents",
            cls=spec.value_type,
            key_column="key",
            time_column="at" if time_of is not None else None,
            customer_column="customer_id" if customer_of is not None else None,
            columns=("collection", "key", "customer_id", "at", "body"),
            key=spec.key,
            encode=encode,
            decode=decode,
        )
        super().__init__(store, codec)
        self._spec = spec
        self._scope = "collection = ? AND "
        self._scope_params = (spec.name,)

    @property
    def spec(self) -> CollectionSpec[V]:
        """The spec the collection was opened with."""
        return self._spec


_Arrays = dict[str, np.ndarray[Any, Any]]


def _time_key_order(
    t: np.ndarray[Any, Any], k: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any] | None:
    """The permutation sorting rows by (time, key); None when they already are."""
    if t.size < 2:
        return None
    step, ties = t[1:] >= t[:-1], t[1:] == t[:-1]
    if step.all() and (k[1:][ties] > k[:-1][ties]).all():
        return None
    order = np.argsort(t, kind="stable")
    ts = t[order]
    if not (ts[1:] == ts[:-1]).any():
        return order
    return np.lexsort((k, t))


def _window(t: np.ndarray[Any, Any], lo: int, hi: int) -> tuple[int, int]:
    """The row range of sorted times ``t`` within ``[lo, hi)`` µs."""
    ti = t.view(np.int64)
    return int(np.searchsorted(ti, lo, "left")), int(np.searchsorted(ti, hi, "left"))


def _events_window(got: _Arrays, lo: int, hi: int) -> EventColumns:
    if not got:
        return EventColumns.empty()
    i, j = _window(got["at"], lo, hi)
    return EventColumns(**{k: a[i:j] for k, a in got.items()})


def _in_order(table: C, time: str, key: str) -> C:
    # The aggregate normally sees rows in ORDER BY order; verify, and sort if it did not.
    t, k = getattr(table, time), getattr(table, key)
    if t.size < 2:
        return table
    step = t[1:] >= t[:-1]
    ties = t[1:] == t[:-1]
    if step.all() and (k[1:][ties] > k[:-1][ties]).all():
        return table
    return table.sort(time, key)


def _transpose(rows: list[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _str(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    return np.array(values, dtype=str) if len(values) else np.empty(0, dtype="U1")


def _int(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    return np.fromiter(values, dtype=np.int64, count=len(values))


def _time(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    return _int(values).view("datetime64[us]")
