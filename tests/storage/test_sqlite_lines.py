"""Line blocks of bulk-loaded orders: exact values, mixed with JSON lines, and no leftovers."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import attrs
import numpy as np
import pytest

from crmkit.columns import OrderColumns, OrderLineColumns
from crmkit.errors import InvalidInputError
from crmkit.model import Order, OrderLine
from crmkit.storage import orders_from_columns
from crmkit.storage.sqlite import SQLiteStore, _lines
from crmkit.storage.sqlite import _orders as sqlite_orders
from crmkit.testing._base import seq, utc
from crmkit.testing._behaviour import eur

_NAMES = ["tea", 'Zoë\'s "best"', "北京-1", "a\\b", "x\x00y", "DROP TABLE orders;--", "p" * 300]


def _orders(n: int, prefix: str = "o") -> list[Order]:
    """n orders with 1-4 lines of awkward product ids and categories, discounts on some lines."""
    day = utc(2024, 1, 2) - utc(2024, 1, 1)
    return [
        Order(
            order_id=f"{prefix}{i:03d}",
            customer_id=f"c{i % 4}",
            placed_at=utc(2024, 1, 1) + i * day,
            currency="EUR",
            lines=seq(
                *(
                    OrderLine(
                        product_id=_NAMES[(i + j) % len(_NAMES)],
                        quantity=j + 1,
                        unit_price=eur("1.25") if j % 2 else eur("300000.00"),
                        discount=eur("0.25") if (i + j) % 3 == 0 else None,
                        category=None if j % 2 else _NAMES[(2 * i + j) % len(_NAMES)],
                    )
                    for j in range(1 + i % 4)
                )
            ),
        )
        for i in range(n)
    ]


def _ingest(store: SQLiteStore, values: list[Order]) -> None:
    store.orders.upsert_columns(
        OrderColumns.from_orders(values), OrderLineColumns.from_orders(values)
    )


def _blocks(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT count(*) FROM line_blocks").fetchone()[0])
    finally:
        con.close()


def _all(store: SQLiteStore) -> list[Order]:
    return list(store.orders.scan(limit=10_000).items)


def test_bulk_lines_read_back_exactly(tmp_path: Path) -> None:
    """Orders of a columnar batch read back by key, page, customer and columns as written."""
    values = _orders(40)
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, values)
        assert _blocks(tmp_path / "s.db") == 1
        assert store.orders.get("o007") == values[7]
        assert store.orders.get_many(["o001", "o039"]) == {"o001": values[1], "o039": values[39]}
        assert _all(store) == values
        assert store.orders.for_customer("c1") == [o for o in values if o.customer_id == "c1"]
        assert store.orders.line_columns().equals(OrderLineColumns.from_orders(values))


def test_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch cut into many blocks reads back the same, by value and as rebuilt columns."""
    monkeypatch.setattr(_lines, "BLOCK_LINES", 5)
    values = _orders(30)
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, values)
        assert _blocks(tmp_path / "s.db") > 5
        assert _all(store) == values
        store.orders.upsert([values[0]])  # stale cache: the next scan gathers from the blocks
        assert store.orders.line_columns().equals(OrderLineColumns.from_orders(values))


def test_json_and_block_lines_mix(tmp_path: Path) -> None:
    """Orders written by value beside bulk ones: scans rebuilt from both kinds of rows agree."""
    bulk = _orders(20)
    by_value = _orders(9, prefix="v")
    replaced = attrs.evolve(bulk[4], lines=seq(*bulk[5].lines))
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, bulk)
        store.orders.upsert([*by_value, replaced])
        want = sorted(
            [*bulk[:4], replaced, *bulk[5:], *by_value], key=lambda o: (o.placed_at, o.order_id)
        )
        assert _all(store) == want
        assert store.orders.columns().equals(OrderColumns.from_orders(want))
        assert store.orders.line_columns().equals(OrderLineColumns.from_orders(want))
        start, end = utc(2024, 1, 3), utc(2024, 1, 9)
        window = [o for o in want if start <= o.placed_at < end]
        store.orders.upsert([by_value[0]])  # stale again: the window comes from the rows
        assert store.orders.line_columns(start, end).equals(OrderLineColumns.from_orders(window))


def test_columnar_round_trip_matches_orders_from_columns(tmp_path: Path) -> None:
    """Generated columns with non-ASCII ids come back as the values they describe."""
    rng = np.random.default_rng(5)
    values = _orders(25)
    oc, lc = OrderColumns.from_orders(values), OrderLineColumns.from_orders(values)
    lc = lc.take(rng.permutation(len(lc)))
    with SQLiteStore(tmp_path / "s.db") as store:
        store.orders.upsert_columns(oc, lc)
        assert _all(store) == orders_from_columns(oc, OrderLineColumns.from_orders(values))


def test_unreferenced_blocks_are_deleted(tmp_path: Path) -> None:
    """Re-loading, replacing by value and deleting leave no block that no order points to."""
    path = tmp_path / "s.db"
    values = _orders(12)
    with SQLiteStore(path) as store:
        _ingest(store, values)
        _ingest(store, values)  # the same batch again: idempotent, one live block
        assert _blocks(path) == 1
        assert _all(store) == values
        store.orders.upsert(values)  # every order now keeps JSON lines
        assert _blocks(path) == 0
        _ingest(store, values[:6])
        assert _blocks(path) == 1
        store.orders.delete([o.order_id for o in values[:6]])
        assert _blocks(path) == 0
        assert _all(store) == values[6:]


def test_erasure_keeps_bulk_lines(tmp_path: Path) -> None:
    """Erasing a customer pseudonymizes bulk orders and keeps their lines readable."""
    values = _orders(8)
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, values)
        report = store.erase("c1")
        alias = report.pseudonym
        got = store.orders.get("o001")
        assert got.customer_id == alias
        assert got.lines == values[1].lines
        assert store.orders.line_columns().customer_id.tolist().count("c1") == 0


def test_checks_beside_the_writes_read_back_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch checked in a thread while it is written reads back as written, twice over."""
    monkeypatch.setattr(sqlite_orders, "OVERLAP_ROWS", 1)
    values = _orders(30)
    with SQLiteStore(tmp_path / "s.db") as store:
        _ingest(store, values)
        _ingest(store, values)  # into a non-empty table: replaces, idempotent
        assert _all(store) == values
        assert _blocks(tmp_path / "s.db") == 1
        assert store.orders.line_columns().equals(OrderLineColumns.from_orders(values))


@pytest.mark.parametrize("empty", [True, False])
def test_failed_check_beside_the_writes_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: bool
) -> None:
    """A batch failing a check made while it was written leaves the store as it was."""
    monkeypatch.setattr(sqlite_orders, "OVERLAP_ROWS", 1)
    before = [] if empty else _orders(5, prefix="k")
    values = _orders(12)
    cols, lines = OrderColumns.from_orders(values), OrderLineColumns.from_orders(values)
    tax = cols.tax_minor.copy()
    tax[7] = -1  # a negative amount: only the checks see it, the rows would be written
    bad = OrderColumns.from_arrays(**{**cols.arrays(), "tax_minor": tax})
    with SQLiteStore(tmp_path / "s.db") as store:
        if before:
            _ingest(store, before)
        with pytest.raises(InvalidInputError, match="tax_minor"):
            store.orders.upsert_columns(bad, lines)
        assert _all(store) == before
        assert _blocks(tmp_path / "s.db") == (1 if before else 0)
        assert len(store.orders.columns()) == len(before)


@pytest.mark.parametrize("variables", [32_766, 25, 12])
def test_bulk_rows_in_groups_and_remainders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: int
) -> None:
    """Rows bound many per statement, in chunks, with remainders and a driver allowing few
    variables (down to one row per statement) read back exactly, orders and events alike."""
    from crmkit.columns import EventColumns
    from crmkit.storage.sqlite import _bulk
    from crmkit.testing._behaviour import event

    monkeypatch.setattr(_bulk, "ROWS_PER_STATEMENT", 4)
    monkeypatch.setattr(_bulk, "CHUNK_ROWS", 10)
    values = _orders(27)
    day = utc(2024, 1, 2) - utc(2024, 1, 1)
    events = [
        event(f"e{i:02d}", f"c{i % 3}" if i % 5 else None, utc(2024, 1, 1) + i * day)
        for i in range(23)
    ]
    with SQLiteStore(tmp_path / "s.db") as store:
        default = store._con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
        _ingest(store, values)
        store.events.upsert_columns(EventColumns.from_events(events))
        store._con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, default)  # for the reads
        assert _all(store) == values
        assert store.orders.columns().equals(OrderColumns.from_orders(values))
        assert sorted(store.events.get_many([e.event_id for e in events]).values(), key=str) == (
            sorted(events, key=str)
        )
        assert store.events.columns().equals(EventColumns.from_events(events))


@pytest.mark.parametrize("n", [0, 1, 7, 23])
def test_bulk_rows_bind_constant_columns_once(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Columns holding one value (text, NULL) are bound once per statement, the others per row;
    literal terms stay in the statement; groups, chunks and remainders keep the row order."""
    from crmkit.storage.sqlite import _bulk

    monkeypatch.setattr(_bulk, "ROWS_PER_STATEMENT", 4)
    monkeypatch.setattr(_bulk, "CHUNK_ROWS", 10)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (k INTEGER, cur TEXT, lit TEXT, opt INTEGER, name TEXT)")
    keys = np.arange(n, dtype=np.int64) * 3
    names = np.array([f"n{i % 2}" for i in range(n)], dtype="<U9")
    rows = _bulk.BulkRows(
        head="INSERT INTO t (k, cur, lit, opt, name) VALUES",
        terms=("?", "?", "'{}'", "?", "?"),
        columns=(
            _bulk.BulkColumn(values=keys),
            _bulk.BulkColumn(values=np.full(n, "EUR")),
            _bulk.BulkColumn(values=np.zeros(n, np.int64), none_if_falsy=True),
            _bulk.BulkColumn(values=names),
        ),
    )
    rows.execute(con)
    got = con.execute("SELECT k, cur, lit, opt, name FROM t ORDER BY rowid").fetchall()
    assert got == [(3 * i, "EUR", "{}", None, f"n{i % 2}") for i in range(n)]
    same = _bulk.BulkRows(
        head="INSERT INTO t (k, cur) VALUES",
        terms=("?", "?"),
        columns=(
            _bulk.BulkColumn(values=np.full(n, 5)),
            _bulk.BulkColumn(values=np.full(n, "x")),
        ),
    )
    same.execute(con)
    assert con.execute("SELECT count(*) FROM t WHERE k = 5 AND cur = 'x'").fetchone() == (n,)


def test_bulk_rows_send_a_constant_column_once_per_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What reaches the driver: each group statement takes the constant once (as ?1) and the
    varying columns once per row; the remainder rows go one statement each."""
    from crmkit.storage.sqlite import _bulk

    monkeypatch.setattr(_bulk, "ROWS_PER_STATEMENT", 4)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (k INTEGER, cur TEXT, name TEXT)")
    sent: list[tuple[str, list[list[object]]]] = []

    class Recording:
        def getlimit(self, category: int) -> int:
            return con.getlimit(category)

        def executemany(self, sql: str, params: list[list[object]]) -> None:
            sent.append((sql, params))
            con.executemany(sql, params)

    rows = _bulk.BulkRows(
        head="INSERT INTO t (k, cur, name) VALUES",
        terms=("?", "?", "?"),
        columns=(
            _bulk.BulkColumn(values=np.arange(10)),
            _bulk.BulkColumn(values=np.full(10, "EUR")),
            _bulk.BulkColumn(values=np.array([f"n{i}" for i in range(10)])),
        ),
    )
    rows.execute(Recording())  # type: ignore[arg-type]
    (group_sql, groups), (single_sql, singles) = sent
    numbers = [int(k) for k in re.findall(r"\?(\d+)", group_sql)]
    assert numbers == [2, 1, 3, 4, 1, 5, 6, 1, 7, 8, 1, 9]  # k, cur, name per row; cur is ?1
    assert [int(k) for k in re.findall(r"\?(\d+)", single_sql)] == [2, 1, 3]
    assert groups == [["EUR", 0, "n0", 1, "n1", 2, "n2", 3, "n3"],
                      ["EUR", 4, "n4", 5, "n5", 6, "n6", 7, "n7"]]  # fmt: skip
    assert singles == [["EUR", 8, "n8"], ["EUR", 9, "n9"]]
    got = con.execute("SELECT k, cur, name FROM t ORDER BY k").fetchall()
    assert got == [(i, "EUR", f"n{i}") for i in range(10)]
