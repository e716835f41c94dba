"""Storage benchmark: bulk ingest of orders with lines, columnar scans back; SQLite, PostgreSQL.

Targets (issue 2): ingest >= 200,000 orders/s (with their lines) and a scan of 1M orders into
columns within 1 s. The main batch has one currency, status and channel and no tax; a second,
varied batch mixes them (constant columns are bound once per statement, so this is the harder
case). For context the script also times the value path (Order objects) and a bare row-per-
statement ``executemany`` of the same order rows into an unindexed table.

    python benchmarks/storage.py                 # 1,000,000 orders
    python benchmarks/storage.py --orders 200000

Prints rows/s and the peak resident memory (``resource.getrusage``) after each phase, and next to
each SQLite wall-clock time the CPU time of this process: on a shared, loaded machine the wall
clock includes waiting for a core, the CPU time does not. With a PostgreSQL URL
(``--postgres-url``, default ``$CRMKIT_TEST_POSTGRES_URL``) the same batch goes through the
PostgreSQL adapter too, over TCP and over the Unix socket (``--postgres-socket``), in a scratch
schema dropped afterwards, and a side-by-side table ends the run (issue 10 target: ingest >=
100,000 orders/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns
from crmkit.storage import orders_from_columns
from crmkit.storage.sqlite import SQLiteStore

TARGET_INGEST_PER_S = 200_000
TARGET_SCAN_S = 1.0


class Clock:
    """Wall-clock and process CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s (cpu {self.cpu:.2f} s)"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def synthetic(
    n: int, seed: int = 7, *, varied: bool = False
) -> tuple[OrderColumns, OrderLineColumns]:
    """n orders of n/5 customers over two years, 1-4 lines each, as validated columns.

    One currency, status and channel, no tax (as many a shop's load); ``varied`` mixes two
    currencies, four statuses and three channels and adds tax, so that no column but the
    attributes is the same in every row.
    """
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 5, n)
    m = int(k.sum())
    order_ids = np.char.add("o-", np.char.zfill(np.arange(n).astype(str), 8))
    customers = np.char.add("c-", rng.integers(0, max(n // 5, 1), n).astype(str))
    t0 = np.datetime64("2022-01-01T00:00:00", "us")
    placed = np.sort(t0 + rng.integers(0, 2 * 365 * 86_400_000_000, n).astype("timedelta64[us]"))
    qty = rng.integers(1, 4, m)
    unit = rng.integers(100, 10_000, m)
    gross = qty * unit
    discount = np.where(rng.random(m) < 0.2, gross // 10, 0)
    line_total = gross - discount
    starts = np.cumsum(k) - k
    shipping = np.where(rng.random(n) < 0.5, 490, 0)
    goods = np.add.reduceat(line_total, starts)
    tax = goods * 7 // 100 if varied else np.zeros(n, np.int64)
    total = goods + shipping + tax
    row = np.repeat(np.arange(n), k)
    currency = np.where(rng.random(n) < 0.3, "GBP", "EUR") if varied else np.full(n, "EUR")
    extra = (
        {
            "tax_minor": tax,
            "status": np.array(["completed", "cancelled", "shipped", "placed"])[
                rng.integers(0, 4, n)
            ],
            "channel": np.array(["web", "app", "marketplace"])[rng.integers(0, 3, n)],
        }
        if varied
        else {}
    )
    orders = OrderColumns.from_arrays(
        order_id=order_ids,
        customer_id=customers,
        placed_at=placed,
        currency=currency,
        total_minor=total,
        shipping_minor=shipping,
        **extra,
    )
    lines = OrderLineColumns.from_arrays(
        order_id=order_ids[row],
        line_no=np.arange(m) - np.repeat(starts, k),
        customer_id=customers[row],
        placed_at=placed[row],
        product_id=np.char.add("p-", rng.integers(0, 5000, m).astype(str)),
        quantity=qty,
        unit_price_minor=unit,
        discount_minor=discount,
        total_minor=line_total,
        currency=currency[row],
        category=np.array(["tea", "coffee", "cups", ""])[rng.integers(0, 4, m)],
    )
    return orders, lines


def synthetic_events(n: int, seed: int = 11) -> EventColumns:
    """n page views and cart events of n/10 customers (a tenth anonymous) over a year."""
    rng = np.random.default_rng(seed)
    known = rng.random(n) < 0.9
    who = np.char.add("c-", rng.integers(0, max(n // 10, 1), n).astype(str))
    t0 = np.datetime64("2023-01-01T00:00:00", "us")
    at = np.sort(t0 + rng.integers(0, 365 * 86_400_000_000, n).astype("timedelta64[us]"))
    return EventColumns.from_arrays(
        event_id=np.char.add("e-", np.char.zfill(np.arange(n).astype(str), 9)),
        customer_id=np.where(known, who, ""),
        anonymous_id=np.where(known, "", np.char.add("a-", np.arange(n).astype(str))),
        type=np.array(["page_view", "product_view", "add_to_cart", "search"])[
            rng.integers(0, 4, n)
        ],
        at=at,
    )


def bare_executemany(path: Path, orders: OrderColumns) -> float:
    """Seconds for a bare executemany of the order rows into an unindexed table."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(
        "CREATE TABLE o (order_id TEXT, customer_id TEXT, placed_at INTEGER, currency TEXT, "
        "total_minor INTEGER, shipping_minor INTEGER, status TEXT, channel TEXT)"
    )
    t = time.perf_counter()
    rows = zip(
        orders.order_id.tolist(),
        orders.customer_id.tolist(),
        orders.placed_at.astype(np.int64).tolist(),
        orders.currency.tolist(),
        orders.total_minor.tolist(),
        orders.shipping_minor.tolist(),
        orders.status.tolist(),
        orders.channel.tolist(),
        strict=True,
    )
    con.execute("BEGIN")
    con.executemany("INSERT INTO o VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    seconds = time.perf_counter() - t
    con.close()
    return seconds


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--value-orders", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=os.environ.get("CRMKIT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--postgres-socket", default="/var/run/postgresql")
    args = parser.parse_args()
    n = args.orders

    t = time.perf_counter()
    orders, lines = synthetic(n)
    print(
        f"built {n:,} orders / {len(lines):,} lines as columns in {time.perf_counter() - t:.2f} s"
        f"  (peak RSS {peak_rss_mb():.0f} MB)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteStore(Path(tmp) / "bench.db") as store:
            with Clock() as ingest:
                store.orders.upsert_columns(orders, lines)
            rate = n / ingest.wall
            print(
                f"ingest  upsert_columns: {ingest} = {rate:,.0f} orders/s "
                f"({n / ingest.cpu:,.0f} per cpu s), {len(lines) / ingest.wall:,.0f} lines/s  "
                f"(target >= {TARGET_INGEST_PER_S:,} orders/s: "
                f"{'met' if rate >= TARGET_INGEST_PER_S else 'NOT met'}; "
                f"peak RSS {peak_rss_mb():.0f} MB)"
            )

            with Clock() as scan:
                back = store.orders.columns()
            print(
                f"scan    orders.columns(): {scan} = {n / scan.wall:,.0f} orders/s  "
                f"(target <= {TARGET_SCAN_S:.1f} s: "
                f"{'met' if scan.wall <= TARGET_SCAN_S else 'NOT met'}; "
                f"peak RSS {peak_rss_mb():.0f} MB)"
            )
            assert back.equals(orders), "scan differs from what was ingested"

            with Clock() as scan_lines:
                back_lines = store.orders.line_columns()
            print(
                f"scan    orders.line_columns(): {scan_lines} = "
                f"{len(lines) / scan_lines.wall:,.0f} lines/s  (peak RSS {peak_rss_mb():.0f} MB)"
            )
            assert back_lines.equals(lines), "line scan differs from what was ingested"

            median = back.placed_at[n // 2].item().replace(tzinfo=dt.UTC)
            with Clock() as half:
                window = store.orders.columns(start=median)
            print(f"scan    orders.columns(start=median): {half} for {len(window):,} orders")

            # One value write makes the cached columns stale: the next full scan rebuilds them
            # from the rows once and caches them again.
            store.orders.upsert(orders_from_columns(orders.take([0]), _lines_of(lines, 1)))
            with Clock() as rebuild:
                again = store.orders.columns()
            with Clock() as rebuild_lines:
                again_lines = store.orders.line_columns()
            with Clock() as cached:
                store.orders.columns()
            assert again.equals(orders), "rebuilt scan differs"
            assert again_lines.equals(lines), "rebuilt line scan differs"
            print(
                f"scan    after a value upsert: orders.columns() {rebuild} rebuilding from rows, "
                f"line_columns() {rebuild_lines}; then {cached} from the cache again  "
                f"(peak RSS {peak_rss_mb():.0f} MB)"
            )

        varied, varied_lines = synthetic(n, varied=True)
        with SQLiteStore(Path(tmp) / "varied.db") as store:
            with Clock() as ingest_varied:
                store.orders.upsert_columns(varied, varied_lines)
            assert store.orders.columns().equals(varied), "varied scan differs"
        varied_rate = n / ingest_varied.wall
        print(
            f"ingest  upsert_columns, varied batch (2 currencies, 4 statuses, 3 channels, tax): "
            f"{ingest_varied} = {varied_rate:,.0f} orders/s "
            f"({n / ingest_varied.cpu:,.0f} per cpu s)"
            f"  (target >= {TARGET_INGEST_PER_S:,}: "
            f"{'met' if varied_rate >= TARGET_INGEST_PER_S else 'NOT met'})"
        )
        del varied, varied_lines

        events = synthetic_events(args.events)
        with SQLiteStore(Path(tmp) / "events.db") as store:
            with Clock() as ingest_events:
                store.events.upsert_columns(events)
            with Clock() as scan_events:
                back_events = store.events.columns()
            assert back_events.equals(events), "event scan differs from what was ingested"
            print(
                f"events  upsert_columns({len(events):,}): {ingest_events} = "
                f"{len(events) / ingest_events.wall:,.0f} events/s; events.columns(): "
                f"{scan_events}  (peak RSS {peak_rss_mb():.0f} MB)"
            )

        k = min(args.value_orders, n)
        values = orders_from_columns(orders.take(np.arange(k)), _lines_of(lines, k))
        with SQLiteStore(Path(tmp) / "values.db") as store:
            t = time.perf_counter()
            store.orders.upsert(values)
            value_s = time.perf_counter() - t
        print(
            f"values  orders.upsert({k:,} Order objects): {k / value_s:,.0f} orders/s  "
            f"(columnar path is {rate / (k / value_s):.1f}x faster)"
        )

        bare_s = bare_executemany(Path(tmp) / "bare.db", orders)
        print(
            f"context a bare executemany of the order rows, one row per statement, no index, "
            f"no lines: {n / bare_s:,.0f} rows/s  (crmkit ingest / that = "
            f"{rate / (n / bare_s):.2f})"
        )
    results = {"SQLite": (rate, n / scan.wall, len(lines) / scan_lines.wall)}
    if args.postgres_url:
        from storage_postgres import postgres_runs

        results |= postgres_runs(args.postgres_url, args.postgres_socket, orders, lines)
    print(f"\n{'store':<22} {'ingest orders/s':>16} {'scan orders/s':>14} {'scan lines/s':>13}")
    for name, (ingest, scan, line_scan) in results.items():
        print(f"{name:<22} {ingest:>16,.0f} {scan:>14,.0f} {line_scan:>13,.0f}")
    print(f"peak RSS overall {peak_rss_mb():.0f} MB")
    return 0


def _lines_of(lines: OrderLineColumns, k: int) -> OrderLineColumns:
    """The lines of the first k orders (lines are grouped in order of their orders)."""
    first = np.flatnonzero(lines.line_no == 0)
    stop = first[k] if k < first.size else len(lines)
    return lines.take(np.arange(stop))


if __name__ == "__main__":
    raise SystemExit(main())
