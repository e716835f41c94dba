"""Per-customer features: hand-computed values and agreement with a pandas groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmkit.columns import EventColumns, OrderColumns, OrderLineColumns, ReturnColumns
from crmkit.errors import CurrencyMismatchError, InvalidInputError
from crmkit.features import CustomerFeatures, customer_features, encode_customers, order_features

AS_OF = np.datetime64("2024-03-01T00:00", "us")


def _orders() -> OrderColumns:
    return OrderColumns.from_arrays(
        order_id=["o1", "o2", "o3", "o4", "o5", "o6"],
        customer_id=["a", "a", "a", "b", "b", "c"],
        placed_at=np.array(
            [
                "2024-01-01T10:00",
                "2024-01-01T18:00",
                "2024-01-11T09:00",
                "2024-02-01T12:00",
                "2024-02-15T12:00",
                "2024-02-20T00:00",
            ],
            "datetime64[us]",
        ),
        currency=["EUR"] * 6,
        total_minor=[1000, 500, 1500, 4000, 2000, 999],
        status=["completed", "completed", "completed", "completed", "completed", "cancelled"],
        channel=["web", "app", "web", "web", "web", "web"],
    )


def test_hand_computed_purchase_columns() -> None:
    """Counts, distinct days, recency, tenure, monetary and intervals match a hand computation."""
    f = customer_features(_orders(), as_of=AS_OF, customers=["a", "b", "c"])
    assert f.customer_id.tolist() == ["a", "b", "c"]
    assert f["n_orders"].tolist() == [3, 2, 0]
    assert f["n_purchase_days"].tolist() == [2, 2, 0]
    assert f["monetary_minor"].tolist() == [3000, 6000, 0]
    # a: last order 2024-01-11 09:00 -> 49 days and 15 hours before 2024-03-01.
    assert f["recency_days"][0] == pytest.approx(49 + 15 / 24, abs=1e-12)
    assert f["tenure_days"][1] == pytest.approx(28.5, abs=1e-12)  # 2024-02-01 12:00 -> 03-01
    assert f["interval_mean_days"][:2].tolist() == [10.0, 14.0]
    assert f["interval_std_days"][:2].tolist() == [0.0, 0.0]
    assert f["average_order_value_minor"][:2].tolist() == [1000.0, 3000.0]
    assert f["channel_share[app]"][0] == pytest.approx(1 / 3)
    # The cancelled order is not a purchase: c has none and its purchase columns are missing.
    assert np.isnan(f["recency_days"][2])
    assert np.isnat(f["last_purchase_at"][2])


def test_returns_lines_and_events() -> None:
    """Refunds net off monetary on request; category and event columns are per customer."""
    orders = _orders()
    returns = ReturnColumns.from_arrays(
        return_id=["r1"],
        order_id=["o4"],
        customer_id=["b"],
        at=np.array(["2024-02-05"], "datetime64[us]"),
        refund_minor=[1000],
        currency=["EUR"],
    )
    lines = OrderLineColumns.from_arrays(
        order_id=["o1", "o1", "o4"],
        line_no=[0, 1, 0],
        customer_id=["a", "a", "b"],
        placed_at=np.array(["2024-01-01T10:00"] * 2 + ["2024-02-01T12:00"], "datetime64[us]"),
        product_id=["p", "q", "r"],
        quantity=[1, 1, 1],
        unit_price_minor=[300, 700, 4000],
        total_minor=[300, 700, 4000],
        currency=["EUR"] * 3,
        category=["books", "toys", "books"],
    )
    events = EventColumns.from_arrays(
        event_id=["e1", "e2", "e3", "e4"],
        customer_id=["a", "a", "b", ""],
        type=["add_to_cart", "add_to_cart", "page_view", "page_view"],
        at=np.array(["2024-02-28", "2024-01-15", "2024-02-29", "2024-02-29"], "datetime64[us]"),
    )
    f = customer_features(
        orders,
        as_of=AS_OF,
        lines=lines,
        returns=returns,
        events=events,
        net_of_returns=True,
        event_windows_days=(7, 60),
    )
    assert f["monetary_minor"].tolist() == [3000, 5000]
    assert f["returned_minor"].tolist() == [0, 1000]
    assert f["category_share[books]"].tolist() == [0.3, 1.0]
    assert f["events_7d[add_to_cart]"].tolist() == [1, 0]
    assert f["events_60d[add_to_cart]"].tolist() == [2, 0]
    assert f["last_event_at[page_view]"][1] == np.datetime64("2024-02-29", "us")
    assert np.isnat(f["last_event_at[page_view]"][0])


def test_rejects_rows_after_as_of_and_mixed_currencies() -> None:
    """Orders after as_of and mixed currencies are errors, never silently dropped or summed."""
    with pytest.raises(InvalidInputError, match="after as_of"):
        customer_features(_orders(), as_of=np.datetime64("2024-01-05", "us"))
    mixed = OrderColumns.from_arrays(
        order_id=["o1", "o2"],
        customer_id=["a", "a"],
        currency=["EUR", "USD"],
        placed_at=np.array(["2024-01-01", "2024-01-02"], "datetime64[us]"),
        total_minor=[1, 2],
    )
    with pytest.raises(CurrencyMismatchError):
        customer_features(mixed, as_of=AS_OF)


def test_matches_pandas_groupby_on_random_orders() -> None:
    """On 20k random orders every core column equals a straightforward pandas computation."""
    rng = np.random.default_rng(5)
    n = 20_000
    cust = rng.integers(0, 3_000, n)
    t = np.datetime64("2023-01-01", "us") + rng.integers(0, 300 * 86_400_000_000, n).astype(
        "timedelta64[us]"
    )
    amt = rng.integers(1, 10_000, n)
    as_of = np.datetime64("2024-01-01", "us")
    f = order_features(cust, t, amt, as_of=as_of)
    df = pd.DataFrame({"c": cust, "t": t, "a": amt, "d": t.astype("datetime64[D]")})
    g = df.groupby("c")
    assert np.array_equal(f.customer_id, g.size().index.to_numpy())
    assert np.array_equal(f["n_orders"], g.size().to_numpy())
    assert np.array_equal(f["monetary_minor"], g["a"].sum().to_numpy())
    assert np.array_equal(f["n_purchase_days"], g["d"].nunique().to_numpy())
    rec = (as_of - g["t"].max().to_numpy().astype("datetime64[us]")) / np.timedelta64(1, "D")
    assert np.allclose(f["recency_days"], rec, rtol=0, atol=1e-9)
    days = df.drop_duplicates(["c", "d"]).sort_values(["c", "d"])
    gaps = days.groupby("c")["d"].diff().dt.days
    stats = gaps.groupby(days["c"]).agg(["mean", "min", "max", "last"])
    stats["std"] = gaps.groupby(days["c"]).std(ddof=0)
    # Tolerance: float sums of whole-day gaps; the two orders of summation differ by rounding.
    for ours, theirs in (
        ("interval_mean_days", "mean"),
        ("interval_min_days", "min"),
        ("interval_max_days", "max"),
        ("last_interval_days", "last"),
        ("interval_std_days", "std"),
    ):
        np.testing.assert_allclose(f[ours], stats[theirs].to_numpy(), rtol=1e-9, atol=1e-9)


def test_integer_and_string_ids_code_the_same_way() -> None:
    """Dense integer ids (coded by counting) and sorted codes agree with np.unique."""
    ids = np.array([7, 3, 7, 1000, 3])
    u, codes = encode_customers(ids)
    ref_u, ref_codes = np.unique(ids, return_inverse=True)
    assert u.tolist() == ref_u.tolist()
    assert codes.tolist() == ref_codes.tolist()


def test_feature_table_is_read_only_and_sorted() -> None:
    """Tables built from columns are sorted by id, aligned, read-only, and reject duplicates."""
    t = CustomerFeatures.from_columns(
        customer_id=["b", "a"], as_of=AS_OF, columns={"x": [2.0, 1.0]}
    )
    assert t.customer_id.tolist() == ["a", "b"]
    assert t["x"].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="read-only"):
        t["x"][0] = 5.0
    with pytest.raises(InvalidInputError, match="duplicate"):
        CustomerFeatures.from_columns(customer_id=["a", "a"], as_of=AS_OF, columns={})
