"""What persons buy: taste clusters, category tastes, product affinities and replenishment."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._catalog import CATEGORIES, Catalog
from crmkit.datasets._config import ShopTaste

__all__ = ["Taste", "choose_products", "draw_taste", "replenishment_rows"]

Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]

#: The largest discount, as a share of the list price of the units, that a line may need.
MAX_DISCOUNT = 0.15
#: Relative weight of buying 1, 2, ... units of a product in one line.
QUANTITY_WEIGHT = (1.0, 0.3, 0.12, 0.06, 0.03, 0.02)
#: Line × product cells handled at once when choosing products (bounds the memory).
_CELLS = 1 << 21


@attrs.frozen(kw_only=True)
class Taste:
    """The latent tastes (one row per person) and the catalog's replenishment cycles."""

    categories: npt.NDArray[np.str_]  # the columns of ``taste`` and ``profile``
    cluster_share: Flt  # (K,)
    profile: Flt  # (K, C) category profile of each cluster
    affinity: Flt  # (K, m) product affinity of each cluster
    cluster: Int  # (n,)
    taste: Flt  # (n, C)
    product_cycle: Flt  # (m,) days, NaN for non-consumables
    replenish_product: Int  # (n,) catalog row, -1 when the person does not replenish
    replenish_days: Flt  # (n,) the person's cycle, NaN when none


def _category_codes(catalog: Catalog) -> tuple[npt.NDArray[np.str_], Int]:
    names = np.array(sorted(CATEGORIES))
    return names, np.searchsorted(names, catalog.category).astype(np.int64)


def _sample_rows(weights: Flt, u: Flt) -> Int:
    """Per row of ``weights`` (non-negative, a positive sum), the column drawn with ``u``."""
    cdf = np.cumsum(weights, axis=1)
    hit = (u * cdf[:, -1])[:, None] < cdf
    out: Int = np.minimum(np.argmax(hit, axis=1), weights.shape[1] - 1).astype(np.int64)
    return out


def draw_taste(
    n: int, catalog: Catalog, lam: Flt, params: ShopTaste, rng: np.random.Generator
) -> Taste:
    """Clusters, per-person tastes, affinities, consumable cycles and who replenishes what."""
    names, cat = _category_codes(catalog)
    n_cat, m, k = names.size, len(catalog), params.clusters
    share = rng.dirichlet(np.full(k, 4.0))
    profile = rng.dirichlet(np.full(n_cat, params.cluster_focus), k)
    profile = np.maximum(profile, 1e-6)  # every category stays possible
    profile /= profile.sum(axis=1, keepdims=True)
    affinity = rng.gamma(params.product_focus, 1.0, (k, m)) + 1e-9
    cluster = _sample_rows(np.broadcast_to(share, (n, k)), rng.random(n))
    taste = np.empty((n, n_cat))
    for c in range(k):  # θ ~ Dirichlet(concentration × profile), one cluster at a time
        rows = np.flatnonzero(cluster == c)
        taste[rows] = rng.dirichlet(params.person_concentration * profile[c], rows.size)
    # consumables and their cycles
    in_consumable = np.isin(names[cat], np.array(params.consumable_categories, dtype=str))
    consumable = in_consumable & (rng.random(m) < params.consumable)
    cycles = np.asarray(params.cycle_days, dtype=np.float64)
    product_cycle = np.where(consumable, cycles[rng.integers(0, cycles.size, m)], np.nan)
    # each person's favourite consumable: a category by taste, a product by affinity
    favourite = np.full(n, -1, dtype=np.int64)
    cons = np.flatnonzero(consumable)
    if cons.size:
        cons_cat = np.unique(cat[cons])
        c_pick = cons_cat[_sample_rows(taste[:, cons_cat], rng.random(n))]
        u = rng.random(n)
        for c in cons_cat.tolist():
            rows = np.flatnonzero(c_pick == c)
            prods = cons[cat[cons] == c]
            favourite[rows] = prods[_sample_rows(affinity[cluster[rows]][:, prods], u[rows])]
    factor = np.exp(params.cycle_spread * rng.standard_normal(n))
    days = np.where(favourite >= 0, product_cycle[np.maximum(favourite, 0)], np.nan) * factor
    frequent = lam * np.nan_to_num(days) >= params.min_orders_per_cycle
    replenishes = frequent & (favourite >= 0) & (rng.random(n) < params.replenisher)
    return Taste(
        categories=names,
        cluster_share=share,
        profile=profile,
        affinity=affinity,
        cluster=cluster,
        taste=taste,
        product_cycle=product_cycle,
        replenish_product=np.where(replenishes, favourite, -1),
        replenish_days=np.where(replenishes, days, np.nan),
    )


def replenishment_rows(
    person: Int, day: Flt, taste: Taste, params: ShopTaste, rng: np.random.Generator
) -> Int:
    """Per purchase (rows grouped by person, in time order): the consumable re-bought, or -1.

    A replenisher buys their consumable with their first purchase; each next purchase of it is
    the order nearest to the last one + their cycle × a log-normal factor, but at least half a
    cycle after the last one. The persons advance together, one purchase of the product a step.
    """
    out = np.full(person.size, -1, dtype=np.int64)
    who = np.flatnonzero(taste.replenish_product >= 0)
    if who.size == 0 or person.size == 0:
        return out
    counts = np.bincount(person, minlength=taste.cluster.size)
    first = np.cumsum(counts) - counts
    end = first + counts  # one past each person's last purchase
    horizon = float(day.max()) + 1.0
    key = person * horizon + day  # increasing: rows are grouped by person, in time order
    row, stop, cycle = first[who], end[who], taste.replenish_days[who]
    while row.size:
        out[row] = taste.replenish_product[person[row]]
        due = day[row] + cycle * np.exp(params.gap_spread * rng.standard_normal(row.size))
        nxt = np.searchsorted(key, person[row] * horizon + due, side="left")
        prev = nxt - 1
        prev_ok = (prev > row) & (day[np.maximum(prev, 0)] >= day[row] + 0.5 * cycle)
        next_ok = nxt < stop
        d_prev = due - day[np.maximum(prev, 0)]
        d_next = day[np.minimum(nxt, person.size - 1)] - due
        take_prev = prev_ok & (~next_ok | (d_prev <= d_next))
        go = prev_ok | next_ok
        row = np.where(take_prev, prev, nxt)[go]
        stop, cycle = stop[go], cycle[go]
    return out


def _fit(amount: Flt, prices: Flt, q_weight: Flt) -> tuple[Flt, Flt, Flt]:
    """Per (amount, product) cell: the fit weight in [0, 1], the whole units, the discount share."""
    q = np.ceil(amount / prices)  # whole units covering the amount
    waste = 1.0 - amount / (q * prices)  # the discount's share of the list price
    fits = (q <= q_weight.size) & (waste <= MAX_DISCOUNT)
    qi = np.minimum(q, q_weight.size).astype(np.int64) - 1
    weight = np.where(fits, q_weight[qi] * (1.0 - 0.5 * waste / MAX_DISCOUNT), 0.0)
    return weight, q, waste


def _exact(
    person: Int, amount: Int, taste: Taste, cat: Int, prices: Flt, q_weight: Flt, rng: Any
) -> tuple[Int, Int]:
    """The draw over all products at once (for the few lines the binned draw cannot serve)."""
    m = prices.size
    product = np.empty(person.size, dtype=np.int64)
    quantity = np.empty(person.size, dtype=np.int64)
    chunk = max(1, _CELLS // max(m, 1))
    for lo in range(0, person.size, chunk):
        p = person[lo : lo + chunk]
        fit, q, waste = _fit(amount[lo : lo + chunk].astype(np.float64)[:, None], prices, q_weight)
        own = taste.replenish_product[p]
        fit[np.flatnonzero(own >= 0), own[own >= 0]] = 0.0
        weight = taste.taste[p][:, cat] * taste.affinity[taste.cluster[p]] * fit
        none = weight.sum(axis=1) <= 0
        weight[none] = np.where(waste[none] <= waste[none].min(axis=1, keepdims=True), 1.0, 0.0)
        pick = _sample_rows(weight, rng.random(p.size))
        product[lo : lo + chunk] = pick
        quantity[lo : lo + chunk] = q[np.arange(p.size), pick]
    return product, quantity


def choose_products(
    person: Int, amount: Int, taste: Taste, catalog: Catalog, rng: np.random.Generator
) -> tuple[Int, Int]:
    """A catalog row and a quantity per line, drawn by taste among the products that fit.

    A product fits a line of ``amount`` when some whole quantity q <= ``len(QUANTITY_WEIGHT)``
    of it costs at least the amount, with a discount of at most ``MAX_DISCOUNT`` of the list
    price. Among the fitting products, a product is drawn with probability proportional to the
    person's taste for its category × the person's cluster's affinity for it × the weight of its
    quantity × (1 − discount share / (2 ``MAX_DISCOUNT``)); a replenisher's consumable is left
    out (it is bought on its cycle). Lines that nothing fits (amounts far below or above every
    price) take the product with the smallest discount.

    Amounts are grouped in bins about 1% wide (in log scale) and a product counts as fitting a
    bin when it fits every amount in it, with the same quantity, so per cluster and bin one
    table serves all its lines: a category is drawn from the person's taste × the cluster's
    fitting mass in it, then a product from the table. The discount share in the weight is the
    one at the bin's centre. Lines the tables cannot serve get the same weights over all
    products, with their exact amount.
    """
    prices = catalog.price_minor.astype(np.float64)
    names, cat = _category_codes(catalog)
    m, k, n_cat = prices.size, taste.affinity.shape[0], names.size
    q_weight = np.asarray(QUANTITY_WEIGHT) / max(QUANTITY_WEIGHT)
    product = np.full(person.size, -1, dtype=np.int64)
    quantity = np.zeros(person.size, dtype=np.int64)
    if person.size == 0:
        return product, quantity
    log_a = np.log(amount.astype(np.float64))
    start = float(log_a.min())
    span = float(log_a.max()) - start
    n_bins = int(min(max(span / 0.01, 1.0), max(_CELLS // (k * m), 1))) + 1
    width = max(span / (n_bins - 1), 1e-9) if n_bins > 1 else 1.0
    b = np.minimum(((log_a - start) / width).astype(np.int64), n_bins - 1)
    low_edge = np.exp(start + np.arange(n_bins) * width)[:, None]
    high_edge = np.exp(start + (np.arange(n_bins) + 1.0) * width)[:, None]
    by_cat = np.lexsort((np.arange(m), cat))  # by category, then by price
    bounds = np.searchsorted(cat[by_cat], np.arange(n_cat + 1))
    p_sorted = prices[by_cat]
    _, q_low, waste_low = _fit(low_edge, p_sorted, q_weight)
    q_high = np.ceil(high_edge / p_sorted)
    mid, _, _ = _fit(np.sqrt(low_edge * high_edge), p_sorted, q_weight)
    sure = (q_low == q_high) & (q_low <= q_weight.size) & (waste_low <= MAX_DISCOUNT)
    fit = np.where(sure, np.maximum(mid, 1e-12), 0.0)  # (bins, m) in (category, price) order
    table = taste.affinity[:, by_cat][:, None, :] * fit[None, :, :]  # (k, bins, m)
    cum = np.cumsum(table, axis=2)
    mass = np.diff(np.concatenate([np.zeros((k, n_bins, 1)), cum], axis=2)[:, :, bounds], axis=2)
    total = np.maximum(cum[:, :, -1:], 1e-300)
    flat = (cum / total + np.arange(k * n_bins).reshape(k, n_bins, 1)).ravel()
    del table, cum
    cluster = taste.cluster[person]
    row = cluster * n_bins + b
    weight = taste.taste[person] * mass[cluster, b]
    served = weight.sum(axis=1) > 0
    weight[~served] = 1.0
    c = _sample_rows(weight, rng.random(person.size))
    del weight
    base = row * m
    first, last = base + bounds[c], base + bounds[c + 1] - 1
    lo_val = np.where(bounds[c] > 0, flat[np.maximum(first - 1, 0)], row.astype(np.float64))
    x = lo_val + rng.random(person.size) * (flat[last] - lo_val)
    pos = np.clip(np.searchsorted(flat, x, side="left"), first, last)
    j = by_cat[pos - base]
    q = np.ceil(amount / prices[j])
    ok = served & (j != taste.replenish_product[person])
    ok &= (q <= q_weight.size) & (1.0 - amount / (q * prices[j]) <= MAX_DISCOUNT)
    product[ok], quantity[ok] = j[ok], q[ok].astype(np.int64)
    rest = np.flatnonzero(~ok)
    product[rest], quantity[rest] = _exact(
        person[rest], amount[rest], taste, cat, prices, q_weight, rng
    )
    return product, quantity
