"""Next-best product: co-purchase similarity, exclusions, and hit rate against popularity."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from crmkit.targeting import CoPurchase, evaluate_next_best, hit_rate, popular_items
from tests import refdata


def test_hand_made_co_purchase_has_the_known_answer() -> None:
    """Tea buyers also buy cups; a tea-only customer is offered cups first, never tea again."""
    cust = ["a", "a", "b", "b", "c", "c", "d", "e"]
    item = ["tea", "cup", "tea", "cup", "tea", "kettle", "tea", "socks"]
    fit = CoPurchase().fit(cust, item)
    # cosine(tea, cup) = 2/sqrt(4*2) = 0.707; cosine(tea, kettle) = 1/sqrt(4*1) = 0.5
    sim = fit.similar_items("tea", 2)
    assert [name for name, _ in sim] == ["cup", "kettle"]
    assert [s for _, s in sim] == pytest.approx([2 / np.sqrt(8), 0.5])
    rec = fit.recommend(cust, item, customer_id=["d", "a", "e"], k=3)
    assert rec.item[0].tolist() == ["cup", "kettle", ""]
    assert rec.item[1].tolist() == ["kettle", "", ""]  # tea and cup already bought
    assert rec.item[2].tolist() == ["", "", ""]  # socks co-occur with nothing


def test_popularity_baseline_excludes_bought_items() -> None:
    """The baseline offers the most-bought items the customer does not have, in order."""
    r = popular_items(["a", "b", "b", "c"], ["x", "x", "y", "y"], for_customer_id=["a", "z"], k=2)
    assert r.item.tolist() == [["y", ""], ["x", "y"]]


def _latent_shop(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers buy mostly within their taste cluster; popularity is skewed across clusters."""
    rng = np.random.default_rng(seed)
    n_c, clusters, per = 3000, 15, 12
    taste = rng.choice(
        clusters, n_c, p=np.arange(clusters, 0, -1) / np.arange(1, clusters + 1).sum()
    )
    item_pop = rng.dirichlet(np.ones(per) * 0.7, clusters)
    k = rng.poisson(6, n_c) + 2
    cust = np.repeat(np.arange(n_c), k)
    in_taste = rng.random(cust.size) < 0.85
    cl = np.where(in_taste, taste[cust], rng.integers(0, clusters, cust.size))
    item = np.array([rng.choice(per, p=item_pop[c]) for c in cl])
    day = rng.integers(0, 365, cust.size)
    at = np.datetime64("2024-01-01", "us") + day.astype("timedelta64[D]")
    return (
        np.char.add("c", cust.astype(str)),
        np.char.add(np.char.add("i", cl.astype(str)), np.char.add("-", item.astype(str))),
        at,
    )


def test_co_purchase_beats_popularity_on_a_simulated_shop() -> None:
    """Hit@5 on held-out purchases: co-purchase beats popularity by a wide margin (> 1.5×)."""
    cust, item, at = _latent_shop(0)
    ev = evaluate_next_best(cust, item, at, split_at=np.datetime64("2024-10-01"), k=5)
    assert ev.customers > 1000
    assert ev.hit_rate > 1.5 * ev.baseline_hit_rate


def cdnow_purchase_types(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW has no product ids: an order's "item" is its type, quantity × price-per-CD band."""
    rows = np.array([line.split() for line in text.strip().splitlines()[1:]])
    cust, n, usd = rows[:, 0], rows[:, 2].astype(int), rows[:, 3].astype(float)
    keep = (n > 0) & (usd > 0)
    unit = np.digitize(usd / np.maximum(n, 1), [10, 12, 14, 16]).astype(str)
    item = np.char.add(np.char.add(np.minimum(n, 6).astype(str), "cd|band"), unit)
    at = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in rows[:, 1]], dtype="datetime64[us]")
    return cust[keep], item[keep], at[keep]


@pytest.mark.refdata
def test_co_purchase_beats_popularity_on_cdnow(fetch_text: Callable[..., str]) -> None:
    """CDNOW_master (purchase types as items): hit@1 beats popularity on held-out purchases."""
    cust, item, at = cdnow_purchase_types(fetch_text(refdata.LIFETIMES, "CDNOW_master.txt"))
    ev = evaluate_next_best(cust, item, at, split_at=np.datetime64("1997-10-01"), k=1)
    # measured 0.203 vs 0.167 on ~ 6,000 customers: a difference of ~5 standard errors
    assert ev.customers > 5000
    assert ev.hit_rate > ev.baseline_hit_rate + 0.02


def test_hit_rate_counts_customers_not_rows() -> None:
    """A customer with two held-out items and one hit counts once."""
    rec = popular_items(["x"], ["p"], for_customer_id=["a", "b"], k=1)
    assert hit_rate(rec, ["a", "a", "b"], ["p", "q", "z"]) == 0.5


@pytest.mark.slow
def test_co_purchase_beats_popularity_on_the_synthetic_shop() -> None:
    """Synthetic shop (taste clusters), held-out last quarter: co-purchase beats popularity.

    Measured at seed 3: hit@5 0.434 vs 0.267 over 3,314 customers. The margin asserted, 5
    standard errors of the difference of two hit rates on the same customers (SE <= 0.012
    here), fails only if the recommender loses most of its advantage.
    """
    datasets = pytest.importorskip("crmkit.datasets")
    shop = datasets.synthetic_shop(20_000, rng=3)
    lines = shop.order_lines_by_person()
    t = lines.placed_at
    split = t.min() + (t.max() - t.min()) * 3 // 4
    ev = evaluate_next_best(lines.customer_id, lines.product_id, t, split_at=split, k=5)
    p1, p0, n = ev.hit_rate, ev.baseline_hit_rate, ev.customers
    se = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / n)
    assert ev.customers > 3_000
    assert p1 - p0 > 5 * se
