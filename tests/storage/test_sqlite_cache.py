"""The SQLite columnar scan cache: exact encodings, and never a stale column after any write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.model import Event, Order, OrderLine
from crmkit.storage.sqlite import MIGRATIONS, SQLiteStore, _cache
from crmkit.testing._base import seq, utc
from crmkit.testing._behaviour import eur, event, order


def _orders(n: int, first_day: int = 1) -> list[Order]:
    """n orders of three customers, one per day, with 1-3 lines (some discounted, some tagged)."""
    return [
        Order(
            order_id=f"o{i:03d}",
            customer_id=f"c{i % 3}",
            placed_at=utc(2024, 1, 1) + (first_day - 1 + i) * (utc(2024, 1, 2) - utc(2024, 1, 1)),
            currency="EUR",
            shipping=eur("4.90") if i % 2 else None,
            lines=seq(
                *(
                    OrderLine(
                        product_id=f"p{j}",
                        quantity=j + 1,
                        unit_price=eur("2.50"),
                        discount=eur("0.50") if j else None,
                        category="tea" if j % 2 else None,
                    )
                    for j in range(1 + i % 3)
                )
            ),
        )
        for i in range(n)
    ]


def _truth(store: SQLiteStore) -> tuple[OrderColumns, OrderLineColumns]:
    """Orders and lines as columns built from every stored value, in scan order."""
    values: list[Order] = []
    cursor = None
    while True:
        page = store.orders.scan(after=cursor, limit=50)
        values += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return OrderColumns.from_orders(values), OrderLineColumns.from_orders(values)


def _assert_fresh(store: SQLiteStore) -> None:
    """Columnar scans (cached or rebuilt, whole or windowed) equal the stored values."""
    want, want_lines = _truth(store)
    for _ in range(2):  # the first call may rebuild the cache, the second reads it
        assert store.orders.columns().equals(want)
        assert store.orders.line_columns().equals(want_lines)
    start, end = utc(2024, 1, 5), utc(2024, 1, 20)
    assert store.orders.columns(start, end).equals(want.between(start, end))
    assert store.orders.line_columns(start, end).equals(want_lines.between(start, end))


def _ingest(store: SQLiteStore, values: list[Order]) -> None:
    store.orders.upsert_columns(
        OrderColumns.from_orders(values), OrderLineColumns.from_orders(values)
    )


def _cache_rows(path: Path, entry: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(
            con.execute("SELECT count(*) FROM column_cache WHERE entry = ?", (entry,)).fetchone()[0]
        )
    finally:
        con.close()


def _write_scan_and_fail(store: SQLiteStore) -> None:
    with store.transaction():
        store.orders.upsert([order("o003", customer_id="c-ghost", day=4)])
        inside = store.orders.columns()  # rebuilt and cached inside the transaction
        assert "c-ghost" in inside.customer_id.tolist()
        raise RuntimeError("roll back")


def _ingest_and_fail(store: SQLiteStore) -> None:
    with store.transaction():
        _ingest(store, _orders(8))
        raise RuntimeError("roll back")


@pytest.mark.parametrize(
    "values",
    [
        np.array(["EUR"] * 5),
        np.array(["o1", "o22", "", "o4\x00x"]),
        np.array(["Zoë", "北京", "x"]),
        np.array([0, -1, 127, -128]),
        np.array([0, 40_000, -3]),
        np.array([2**40, -(2**62)]),
        np.array([1, 2**63 - 1], dtype=np.int64),
        np.array(["2024-01-01T00:00:00.000001", "1969-12-31"], dtype="datetime64[us]"),
        np.array([], dtype="U1"),
        np.array([], dtype=np.int64),
        np.array([], dtype="datetime64[us]"),
    ],
)
def test_encodings_round_trip_exactly(values: np.ndarray) -> None:
    """Every encoding (constant, ASCII, UTF-32, narrowed ints, raw) decodes to the same array."""
    tag, data = _cache.encode(values)
    back = _cache.decode(tag, [data])
    assert back.dtype.kind == values.dtype.kind
    assert back.tolist() == values.tolist()
    assert not back.flags.writeable


def test_encodings_are_compact() -> None:
    """A constant column stores one value, ASCII ids one byte a character, small ints one byte."""
    assert len(_cache.encode(np.array(["EUR"] * 1000))[1]) == 12
    assert len(_cache.encode(np.array(["o-12345"] * 999 + ["o-1"]))[1]) == 7000
    assert len(_cache.encode(np.arange(100))[1]) == 100


def test_columnar_ingest_writes_the_cache_and_scans_read_it(tmp_path: Path) -> None:
    """upsert_columns into an empty table caches its columns; scans equal the stored values."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(30))
        assert _cache_rows(tmp_path / "s.db", "orders") > 0
        assert _cache_rows(tmp_path / "s.db", "order_lines") > 0
        _assert_fresh(store)


def test_unsorted_batches_are_cached_in_scan_order(tmp_path: Path) -> None:
    """A batch in any row order is cached sorted by time then id, lines following their orders."""
    values = _orders(20)
    shuffled = [values[i] for i in np.random.default_rng(3).permutation(20)]
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, shuffled)
        _assert_fresh(store)


def test_value_upsert_after_columnar_ingest_is_seen(tmp_path: Path) -> None:
    """Replacing and adding orders by value after a bulk load never leaves stale columns."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(30))
        store.orders.columns()
        store.orders.upsert([order("o005", customer_id="c-new", day=9), order("x1", day=3)])
        _assert_fresh(store)
        assert "c-new" in store.orders.columns().customer_id.tolist()


def test_second_columnar_batch_is_seen(tmp_path: Path) -> None:
    """A bulk load into a non-empty table invalidates the cache; the next scan rebuilds it."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(10))
        store.orders.line_columns()
        _ingest(store, _orders(25)[10:])
        _assert_fresh(store)
        assert len(store.orders.columns()) == 25


def test_delete_and_erase_are_seen(tmp_path: Path) -> None:
    """Deleted orders, and an erasure (pseudonymized orders, deleted events), show at once."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(30))
        store.events.upsert_columns(
            EventColumns.from_events([event(f"e{i}", f"c{i % 3}") for i in range(9)])
        )
        store.orders.columns()
        store.events.columns()
        assert store.orders.delete(["o001", "o002"]) == 2
        _assert_fresh(store)
        report = store.erase("c0")
        assert report.pseudonymized["orders"] > 0
        _assert_fresh(store)
        assert "c0" not in store.orders.columns().customer_id.tolist()
        assert "c0" not in store.events.columns().customer_id.tolist()
        assert len(store.events.columns()) == 6


def test_deleting_nothing_keeps_the_cache(tmp_path: Path) -> None:
    """A delete of unknown keys changes nothing, so the cached columns stay valid."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(5))
        with store._snapshot() as con:
            before = _cache.version(con, "orders")
        assert store.orders.delete(["nope"]) == 0
        with store._snapshot() as con:
            assert _cache.version(con, "orders") == before


def test_rolled_back_writes_leave_no_stale_cache(tmp_path: Path) -> None:
    """A scan inside a transaction that rolls back caches nothing that outlives the rollback."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(12))
        want = store.orders.columns()
        with pytest.raises(RuntimeError, match="roll back"):
            _write_scan_and_fail(store)
        assert store.orders.columns().equals(want)
        _assert_fresh(store)


def test_failed_bulk_load_into_an_empty_table_caches_nothing(tmp_path: Path) -> None:
    """A columnar batch whose transaction fails leaves neither rows nor cached columns."""
    with SQLiteStore(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError, match="roll back"):
            _ingest_and_fail(store)
        assert store.orders.count() == 0
        assert _cache_rows(tmp_path / "s.db", "orders") == 0
        assert len(store.orders.columns()) == 0
        assert len(store.orders.line_columns()) == 0


def test_columns_built_before_a_concurrent_write_are_not_kept(tmp_path: Path) -> None:
    """Columns built at an old version are dropped when another writer committed meanwhile."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store, SQLiteStore(path) as other:
        _ingest(store, _orders(6))
        with store._snapshot() as con:
            old = _cache.version(con, "orders")
        other.orders.upsert([order("late", day=2)])  # another process, say
        stale = OrderColumns.from_orders(_orders(6))
        segs, _ = _cache.segments(stale.placed_at)
        store._cache_store("orders", old, {"orders": (stale.arrays(), segs)})
        _assert_fresh(store)
        assert "late" in store.orders.columns().order_id.tolist()


def test_writes_of_another_connection_are_seen(tmp_path: Path) -> None:
    """A second store on the same file writes; the first one's next scan shows it."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store, SQLiteStore(path) as other:
        _ingest(store, _orders(6))
        store.orders.columns()
        other.orders.upsert([order("o000", customer_id="c-moved")])
        assert store.orders.columns().customer_id[0] == "c-moved"


def test_a_locked_file_still_scans_without_caching(tmp_path: Path) -> None:
    """When another writer holds the lock, a scan returns fresh columns at once, uncached."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        _ingest(store, _orders(6))
        store.orders.upsert([order("o000", customer_id="c-moved")])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            assert store.orders.columns().customer_id[0] == "c-moved"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert store.orders.columns().customer_id[0] == "c-moved"


def test_many_segments_and_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With small segments, windowed scans read only overlapping segments and stay exact."""
    monkeypatch.setattr(_cache, "SEGMENT_ROWS", 4)
    monkeypatch.setattr(_cache, "CHUNK_BYTES", 16)
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, _orders(30))
        want, want_lines = _truth(store)
        for start, end in [
            (None, None),
            (utc(2024, 1, 3), utc(2024, 1, 4)),
            (utc(2024, 1, 6), utc(2024, 1, 19)),
            (utc(2023, 1, 1), utc(2023, 6, 1)),
            (utc(2024, 1, 30), None),
            (None, utc(2024, 1, 1)),
        ]:
            assert store.orders.columns(start, end).equals(want.between(start, end))
            assert store.orders.line_columns(start, end).equals(want_lines.between(start, end))


def test_event_cache_follows_writes(tmp_path: Path) -> None:
    """Event columns follow bulk loads, value upserts and deletes, whole and windowed."""
    events = [
        event(f"e{i:02d}", None if i % 4 == 0 else f"c{i}", utc(2024, 1, 1, i)) for i in range(20)
    ]
    with SQLiteStore(tmp_path / "s.db") as store:
        store.events.upsert_columns(EventColumns.from_events(events[::-1]))
        assert store.events.columns().equals(EventColumns.from_events(events))
        extra: list[Event] = [event("e05", "c-x", utc(2024, 1, 1, 5)), event("zz", "c-y")]
        store.events.upsert(extra)
        store.events.delete(["e07"])
        want = [e for e in events if e.event_id not in ("e05", "e07")] + extra
        want.sort(key=lambda e: (e.at, e.event_id))
        wc = EventColumns.from_events(want)
        for _ in range(2):
            assert store.events.columns().equals(wc)
        start, end = utc(2024, 1, 1, 3), utc(2024, 1, 1, 9)
        assert store.events.columns(start, end).equals(wc.between(start, end))


def test_version_one_files_migrate_to_the_cache(tmp_path: Path) -> None:
    """A file at schema version 1 gains the cache tables on open and scans correctly."""
    path = tmp_path / "old.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, "
        "applied_at INTEGER NOT NULL, description TEXT NOT NULL)"
    )
    for statement in MIGRATIONS[0].statements:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, 0, ?)", (MIGRATIONS[0].description,))
    con.close()
    with SQLiteStore(path) as store:
        assert store.schema_version() == MIGRATIONS[-1].version
        store.orders.upsert(_orders(4))
        _assert_fresh(store)
