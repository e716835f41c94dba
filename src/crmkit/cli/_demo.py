"""``crmkit demo``: a synthetic shop through the whole pipeline, into the embedded SQLite store.

Each step reads what it needs back from the store as columns, computes, and appends a section to
the report. A step is a function of the shared :class:`DemoRun`; modules add their step here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._validation import from_datetime64
from crmkit.cli._progress import Progress
from crmkit.cli._table import heading, table
from crmkit.columns import ConsentColumns, EventColumns, OrderColumns, ReturnColumns
from crmkit.model import Consent, Event, Money, Return
from crmkit.storage import (
    Store,
    SupportsEventIngest,
    SupportsOrderIngest,
    connect,
    orders_from_columns,
)

__all__ = ["DemoRun", "run_demo", "shop_report"]

_CHUNK = 5_000


@attrs.define
class DemoRun:
    """State shared by the demo's steps: the store, the shop, derived tables, the report."""

    store: Store
    out: TextIO
    seed: int
    as_of: np.datetime64
    shop: Any = None
    entity_of_record: dict[str, str] = attrs.field(factory=dict)
    entity_orders: OrderColumns | None = None
    p_alive: npt.NDArray[np.float64] | None = None
    clv: npt.NDArray[np.float64] | None = None
    clv_customer: npt.NDArray[np.str_] | None = None

    def say(self, text: str) -> None:
        """Append text to the report."""
        self.out.write(text + "\n")
        self.out.flush()


def _money(minor: float, currency: str = "EUR") -> str:
    return f"{minor / 100:,.2f} {currency}"


def _consent_values(cc: ConsentColumns) -> list[Consent]:
    return [
        Consent(
            customer_id=str(cc.customer_id[i]),
            channel=str(cc.channel[i]),
            purpose=str(cc.purpose[i]),
            status=str(cc.status[i]),
            at=from_datetime64(cc.at[i]),
            expires_at=None if np.isnat(cc.expires_at[i]) else from_datetime64(cc.expires_at[i]),
        )
        for i in range(len(cc))
    ]


def _event_values(ec: EventColumns) -> list[Event]:
    return [
        Event(
            event_id=str(ec.event_id[i]),
            type=str(ec.type[i]),
            at=from_datetime64(ec.at[i]),
            customer_id=str(ec.customer_id[i]) or None,
            anonymous_id=str(ec.anonymous_id[i]) or None,
        )
        for i in range(len(ec))
    ]


def _return_values(rc: ReturnColumns) -> list[Return]:
    return [
        Return(
            return_id=str(rc.return_id[i]),
            order_id=str(rc.order_id[i]),
            customer_id=str(rc.customer_id[i]),
            at=from_datetime64(rc.at[i]),
            refund=Money(amount_minor=int(rc.refund_minor[i]), currency=str(rc.currency[i])),
        )
        for i in range(len(rc))
    ]


def step_build(run: DemoRun, n_customers: int) -> None:
    """Generate the synthetic shop and write every table into the store in one transaction."""
    from crmkit.datasets import synthetic_shop

    with Progress.task(f"generating a shop of {n_customers:,} persons") as bar:
        run.shop = shop = synthetic_shop(n_customers, rng=run.seed)
        bar.advance()
    store = run.store
    batches: list[tuple[Any, list[Any]]] = [
        (store.source_records, list(shop.record_values())),
        (store.consents, _consent_values(shop.consents)),
        (store.returns, _return_values(shop.returns)),
        (store.products, list(shop.product_values())),
    ]
    total = sum(len(values) // _CHUNK + 1 for _, values in batches) + 2
    with Progress.task("writing into the store", total=total) as bar, store.transaction():
        # The columnar ingest paths are optional capabilities; values work on any store.
        if isinstance(store.orders, SupportsOrderIngest):
            store.orders.upsert_columns(shop.orders, shop.order_lines)
        else:
            store.orders.upsert(orders_from_columns(shop.orders, shop.order_lines))
        bar.advance()
        if isinstance(store.events, SupportsEventIngest):
            store.events.upsert_columns(shop.events)
        else:
            store.events.upsert(_event_values(shop.events))
        bar.advance()
        for collection, values in batches:
            for start in range(0, len(values), _CHUNK):
                collection.upsert(values[start : start + _CHUNK])
                bar.advance()


def shop_report(store: Store) -> str:
    """The shop report of a store: customers, records, orders, revenue by month, events, consents.

    Examples:
        >>> import crmkit
        >>> with crmkit.connect("memory://") as store:
        ...     print(shop_report(store).splitlines()[1])
        The shop
    """
    records = store.source_records.columns()
    orders = store.orders.columns()
    events = store.events.columns()
    consents = store.consents.columns()
    returns = store.returns.columns()
    buys = orders.purchases()
    lines = [heading("The shop")]
    sources, n_src = np.unique(records.source, return_counts=True)
    lines.append(
        table(
            ["", "count"],
            [
                ["source records", len(records)],
                *[[f"  from {s}", int(n)] for s, n in zip(sources, n_src, strict=True)],
                ["customers with an order", int(np.unique(buys.customer_id).size)],
                ["orders", len(orders)],
                ["  cancelled", len(orders) - len(buys)],
                ["returns", len(returns)],
                ["events", len(events)],
                ["consent events", len(consents)],
            ],
        )
    )
    if len(buys):
        currency = buys.single_currency()
        month = buys.placed_at.astype("datetime64[M]")
        months, idx = np.unique(month, return_inverse=True)
        revenue = np.bincount(idx, weights=buys.total_minor)
        count = np.bincount(idx)
        refunds = 0 if not len(returns) else int(returns.refund_minor.sum())
        lines.append(heading(f"Revenue by month ({currency})"))
        lines.append(
            table(
                ["month", "orders", "revenue"],
                [
                    [str(m), int(c), _money(r, currency)]
                    for m, c, r in zip(months, count, revenue, strict=True)
                ][-12:],
            )
        )
        lines.append(
            f"total revenue {_money(float(buys.total_minor.sum()), currency)}, "
            f"refunded {_money(refunds, currency)}"
        )
    if len(events):
        types, n = np.unique(events.type, return_counts=True)
        order = np.argsort(-n, kind="stable")
        lines.append(heading("Events by type"))
        lines.append(table(["type", "events"], [[str(types[i]), int(n[i])] for i in order]))
    if len(consents):
        now = np.datetime64(consents.at.max(), "us") + np.timedelta64(1, "us")
        customers = np.unique(consents.customer_id)
        rows = []
        for channel in np.unique(consents.channel):
            granted = consents.granted(customers, channel=str(channel), purpose="marketing", at=now)
            rows.append([str(channel), int(granted.sum())])
        lines.append(heading("Marketing consent granted now"))
        lines.append(table(["channel", "customers"], rows))
    return "\n".join(lines)


Step = Callable[[DemoRun], None]


def run_demo(*, db: str, n_customers: int, seed: int, out: TextIO) -> None:
    """Build the synthetic shop into SQLite at ``db`` and print the report of every step."""
    path = Path(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = connect(f"sqlite:///{path}")
    try:
        run = DemoRun(store=store, out=out, seed=seed, as_of=np.datetime64("now", "us"))
        step_build(run, n_customers)
        run.as_of = np.datetime64(run.shop.truth.end.astimezone(dt.UTC).replace(tzinfo=None), "us")
        run.say(f"crmkit demo: {n_customers:,} persons, seed {seed}, store {path}")
        run.say(shop_report(store))
        for step in STEPS:
            step(run)
    finally:
        store.close()


def _steps() -> list[Step]:
    from crmkit.cli import _steps as s

    return [s.step_identity, s.step_clv, s.step_segmentation, s.step_loyalty, s.step_targeting]


STEPS: list[Step] = _steps()
