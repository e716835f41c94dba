"""The PostgreSQL adapter's bulk paths: binary COPY in, aggregated columns out.

Batches here carry the text that stresses the layout (U+0000, U+0001, multi-byte and astral
characters, empty categories), orders with more lines than the exact slot groups (over 16),
and scans cut into many small chunks; every one must read back exactly what went in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError
from crmkit.storage import orders_from_columns
from crmkit.storage.postgres import PostgresStore
from crmkit.storage.postgres import _columnar as columnar
from crmkit.storage.postgres import _store as pg_store
from crmkit.storage.postgres._binary import Records, segment_sums, strings, utf8
from crmkit.storage.postgres._testing import drop_schema, server_url
from crmkit.storage.postgres._text import stuff

TEXTS = ["tea", "\x00x", "a\x01b", "é", "😀z", "ß\x00\x01", "", "x" * 40]


@pytest.fixture
def url() -> Iterator[str]:
    """The test server's URL with a fresh schema, dropped after the test."""
    fresh = server_url("crmkit_bin")
    yield fresh
    drop_schema(fresh)


def batch(
    n: int, seed: int = 3, *, customer: str | None = None
) -> tuple[OrderColumns, OrderLineColumns]:
    """n orders with 1-40 lines, awkward text everywhere, some times shared by several orders."""
    rng = np.random.default_rng(seed)
    k = rng.choice([1, 2, 3, 17, 40], n)
    m = int(k.sum())
    text = np.array(TEXTS)
    ids = np.char.add(np.char.add("o", text[rng.integers(0, 6, n)]), np.arange(n).astype(str))
    customers = np.char.add("c", text[rng.integers(0, len(TEXTS), n)])
    if customer is not None:
        customers[-1] = customer
    placed = np.datetime64("2024-01-01", "us") + rng.integers(0, 5, n).astype("timedelta64[s]")
    row = np.repeat(np.arange(n), k)
    starts = np.cumsum(k) - k
    qty = rng.integers(1, 4, m)
    unit = rng.integers(0, 10_000, m)
    discount = np.where(rng.random(m) < 0.5, (qty * unit) // 10, 0)
    line_total = qty * unit - discount
    shipping = np.where(rng.random(n) < 0.5, 490, 0)
    tax = np.where(rng.random(n) < 0.3, 7, 0)
    orders = OrderColumns.from_arrays(
        order_id=ids,
        customer_id=customers,
        placed_at=placed,
        currency=np.full(n, "EUR"),
        total_minor=np.add.reduceat(line_total, starts) + shipping + tax,
        shipping_minor=shipping,
        tax_minor=tax,
    )
    lines = OrderLineColumns.from_arrays(
        order_id=ids[row],
        line_no=np.arange(m) - np.repeat(starts, k),
        customer_id=customers[row],
        placed_at=placed[row],
        product_id=np.char.add("p", text[rng.integers(0, len(TEXTS), m)]),
        quantity=qty,
        unit_price_minor=unit,
        discount_minor=discount,
        total_minor=line_total,
        currency=np.full(m, "EUR"),
        category=text[rng.integers(0, len(TEXTS), m)],
    )
    return orders, lines


def _expected(
    orders: OrderColumns, lines: OrderLineColumns
) -> tuple[OrderColumns, OrderLineColumns]:
    """What a scan returns: orders by (time, id), each order's lines after it in line order."""
    perm = np.lexsort((orders.order_id, orders.placed_at))
    rank = np.empty(len(perm), np.int64)
    rank[perm] = np.arange(len(perm))
    by_id = dict(zip(orders.order_id.tolist(), range(len(orders)), strict=True))
    owner = rank[[by_id[x] for x in lines.order_id.tolist()]]
    return orders.take(perm), lines.take(np.lexsort((lines.line_no, owner)))


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-load", "staged-merge"])
def test_awkward_batches_round_trip(url: str, bulk: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Binary COPY in and aggregated scans out return every column exactly, both write paths."""
    monkeypatch.setattr(pg_store, "BULK_LOAD_ROWS", 10 if bulk else 10**9)
    monkeypatch.setattr(columnar, "CHUNK", 7)
    orders, lines = batch(60)
    want_orders, want_lines = _expected(orders, lines)
    with PostgresStore(url) as store:
        assert store.orders.upsert_columns(orders, lines) == 60
        assert store.orders.columns().equals(want_orders)
        assert store.orders.line_columns().equals(want_lines)
        values = orders_from_columns(orders, lines)
        assert store.orders.get_many([o.order_id for o in values]) == {
            o.order_id: o for o in values
        }


def test_bulk_load_leaves_planner_statistics(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load into an empty table analyzes the indexed columns, so scans can walk an index."""
    monkeypatch.setattr(pg_store, "BULK_LOAD_ROWS", 10)
    orders, lines = batch(30)
    with PostgresStore(url) as store:
        store.orders.upsert_columns(orders, lines)
        rows = store._fetch(
            "SELECT attname FROM pg_stats WHERE schemaname = %s AND tablename = 'orders'",
            (store.schema,),
        )
    assert sorted(r[0] for r in rows) == ["customer_id", "order_id", "placed_at"]


def test_scans_in_many_chunks_equal_one_chunk(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 4 rows continue after each other's last (time, id), ties and windows included."""
    orders, lines = batch(45, seed=5)
    with PostgresStore(url) as store:
        store.orders.upsert_columns(orders, lines)
        whole = store.orders.line_columns()
        start = orders.placed_at.min().item().replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1)
        window = store.orders.columns(start=start)
        monkeypatch.setattr(columnar, "SCAN_CHUNK", 4)
        assert store.orders.line_columns().equals(whole)
        assert store.orders.columns(start=start).equals(window)
        assert 0 < len(window) < 45


def test_scan_falls_back_to_ordered_aggregates(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk found out of order makes the scan run again with ORDER BY in every aggregate."""
    orders, lines = batch(30, seed=7)
    want_orders, want_lines = _expected(orders, lines)
    decode = columnar.decode_chunk

    def unordered(cols: Any, values: Any, *, check: bool) -> Any:
        return None if check else decode(cols, values, check=False)

    with PostgresStore(url) as store:
        store.orders.upsert_columns(orders, lines)
        monkeypatch.setattr(columnar, "SCAN_CHUNK", 8)
        monkeypatch.setattr(columnar, "decode_chunk", unordered)
        assert store.orders.line_columns().equals(want_lines)
        assert store.orders.columns().equals(want_orders)
    assert "lost their order" in caplog.text


def test_events_round_trip_with_awkward_text(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Event columns with NUL, astral characters and empty ids (NULL) come back as written."""
    monkeypatch.setattr(columnar, "CHUNK", 5)
    n = 23
    rng = np.random.default_rng(1)
    text = np.array(TEXTS)
    events = EventColumns.from_arrays(
        event_id=np.char.add("e", np.arange(n).astype(str)),
        customer_id=text[rng.integers(0, len(TEXTS), n)],  # "" is stored as NULL
        anonymous_id=np.where(rng.random(n) < 0.5, "anon\x00x", "c"),
        type=np.array(["page_view", "add_to_cart", "purchase"])[rng.integers(0, 3, n)],
        at=np.datetime64("2024-01-01", "us") + np.arange(n).astype("timedelta64[s]"),
    )
    with PostgresStore(url) as store:
        store.events.upsert_columns(events)
        monkeypatch.setattr(columnar, "SCAN_CHUNK", 6)
        assert store.events.columns().equals(events)


def test_lone_surrogate_in_columns_writes_nothing(url: str) -> None:
    """A string UTF-8 cannot carry raises InvalidInputError and the batch leaves no row."""
    orders, lines = batch(5, customer="c\ud800")
    with PostgresStore(url) as store:
        with pytest.raises(InvalidInputError, match="Unicode"):
            store.orders.upsert_columns(orders, lines)
        assert store.orders.count() == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8), max_size=12)
)
def test_utf8_layout_matches_python(words: list[str]) -> None:
    """Each padded row holds the stuffed UTF-8 of its string, as str.encode gives it."""
    words = [w.rstrip("\x00") for w in words]  # numpy strings cannot end with U+0000
    table, sizes = utf8(np.array(words, dtype=str))
    got = [bytes(row[:s]) for row, s in zip(table, sizes.tolist(), strict=True)]
    assert got == [stuff(w).encode() for w in words]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8), max_size=12)
)
def test_strings_invert_the_stuffed_concatenation(words: list[str]) -> None:
    """strings() splits a stuffed concatenation by lengths and unstuffs every piece."""
    words = [w.rstrip("\x00") for w in words]
    stuffed = [stuff(w) for w in words]
    got = strings("".join(stuffed), np.array([len(w) for w in stuffed], np.int64))
    assert got.tolist() == words


def test_records_join_parts_row_by_row() -> None:
    """Fixed, variable and masked parts concatenate per record, padding dropped."""
    r = Records(3).fixed(np.array([1, 2, 3], ">i2"))
    r.var(np.array([[97, 98], [99, 0], [0, 0]], np.uint8), np.array([2, 1, 0]))
    r.masked(np.array([[1, 2], [3, 4], [5, 6]], np.uint8), np.array([[0, 1], [1, 1], [0, 0]], bool))
    assert r.build() == b"\x00\x01ab\x02" + b"\x00\x02c\x03\x04" + b"\x00\x03"
    assert segment_sums(np.array([5]), np.array([0, 1, 0])).tolist() == [0, 5, 0]
