"""The PostgreSQL half of ``benchmarks/storage.py``: the same batch through the adapter.

Run through ``benchmarks/storage.py`` (it needs a server URL); each run ingests into a fresh,
empty scratch schema, upserts the batch again over itself, scans it back and drops the schema.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from crmkit.columns import OrderColumns, OrderLineColumns
from crmkit.storage.postgres import PostgresStore

TARGET_INGEST_PER_S = 100_000


def _with_schema(url: str, schema: str, host: str | None = None) -> str:
    base, _, query = url.partition("?")
    params = [p for p in query.split("&") if p and not p.startswith(("schema=", "host="))]
    if host is not None:
        params.append(f"host={host}")
    params.append(f"schema={schema}")
    return f"{base}?{'&'.join(params)}"


def postgres_run(
    url: str, orders: OrderColumns, lines: OrderLineColumns, label: str
) -> tuple[float, float, float]:
    """Ingest, re-upsert and scan back through one URL; orders/s, orders/s, lines/s."""
    n = len(orders)
    store = PostgresStore(url)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: load average before the run: {load} on {os.cpu_count()} cores")
    try:
        t = time.perf_counter()
        store.orders.upsert_columns(orders, lines)
        ingest_s = time.perf_counter() - t
        rate = n / ingest_s
        met = "met" if rate >= TARGET_INGEST_PER_S else "NOT met"
        print(
            f"{label}: ingest  upsert_columns into an empty schema: {ingest_s:.2f} s = "
            f"{rate:,.0f} orders/s, {len(lines) / ingest_s:,.0f} lines/s  (target >= "
            f"{TARGET_INGEST_PER_S:,} orders/s: {met})"
        )
        k = min(n, 100_000)
        some, some_lines = orders.take(range(k)), lines.take(range(_line_stop(lines, k)))
        t = time.perf_counter()
        store.orders.upsert_columns(some, some_lines)
        again_s = time.perf_counter() - t
        print(
            f"{label}: upsert  {k:,} orders again over themselves (ON CONFLICT DO UPDATE): "
            f"{k / again_s:,.0f} orders/s"
        )
        t = time.perf_counter()
        back = store.orders.columns()
        scan_s = time.perf_counter() - t
        print(f"{label}: scan    orders.columns(): {scan_s:.2f} s = {n / scan_s:,.0f} orders/s")
        assert back.equals(orders), "scan differs from what was ingested"
        t = time.perf_counter()
        back_lines = store.orders.line_columns()
        lines_s = time.perf_counter() - t
        print(
            f"{label}: scan    orders.line_columns(): {lines_s:.2f} s = "
            f"{len(lines) / lines_s:,.0f} lines/s"
        )
        assert back_lines.equals(lines), "line scan differs from what was ingested"
    finally:
        store.drop_schema()
    return rate, n / scan_s, len(lines) / lines_s


def postgres_runs(
    url: str, socket_dir: str, orders: OrderColumns, lines: OrderLineColumns
) -> dict[str, tuple[float, float, float]]:
    """The run over the URL as given (TCP) and, if the directory exists, the Unix socket."""
    schema = f"crmkit_bench_{secrets.token_hex(4)}"
    out = {"PostgreSQL (TCP)": postgres_run(_with_schema(url, schema), orders, lines, "pg tcp")}
    if socket_dir and Path(socket_dir).is_dir():
        socket_url = _with_schema(url, schema, host=socket_dir)
        out["PostgreSQL (socket)"] = postgres_run(socket_url, orders, lines, "pg unix")
    return out


def _line_stop(lines: OrderLineColumns, k: int) -> int:
    """The end of the lines of the first k orders (lines are grouped in order of their orders)."""
    first = (lines.line_no == 0).nonzero()[0]
    return int(first[k]) if k < first.size else len(lines)
