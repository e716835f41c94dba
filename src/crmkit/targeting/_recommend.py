"""Next-best product: item-to-item co-purchase similarity, top-k per customer, evaluation."""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy import sparse

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.targeting._keys import Audience

__all__ = [
    "CoPurchase",
    "CoPurchaseFit",
    "NextBestEvaluation",
    "Recommendations",
    "evaluate_next_best",
    "hit_rate",
    "popular_items",
]


@attrs.frozen(kw_only=True, eq=False)
class Recommendations:
    """Top-k items per customer (``""`` where fewer than k could be found), best first.

    Examples:
        >>> import numpy as np
        >>> r = Recommendations(customer_id=np.array(["a"]), item=np.array([["x", ""]]),
        ...                     score=np.array([[0.5, 0.0]]))
        >>> r.item[0].tolist()
        ['x', '']
    """

    customer_id: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    item: npt.NDArray[np.str_] = attrs.field(converter=v.frozen)
    score: npt.NDArray[np.float64] = attrs.field(converter=v.frozen)


def _pairs(customer_id: Any, item_id: Any) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    c = v.as_str_array("customer_id", customer_id)
    i = v.as_str_array("item_id", item_id)
    v.same_length(customer_id=c, item_id=i)
    return c, i


@attrs.frozen(kw_only=True)
class CoPurchase:
    """Item-to-item co-purchase model: items bought by the same customers are similar.

    The customer × item matrix B (1 if the customer bought the item) gives co-occurrence
    C = BᵀB; ``similarity="cosine"`` scales it to C_ij / √(n_i n_j), which keeps best-sellers from
    being similar to everything; ``"count"`` keeps raw co-occurrence. A customer's score for an
    item is the sum of its similarities to the items they bought (Linden, Smith & York, 2003).
    ``shrinkage`` adds to the denominator so pairs seen by few customers count for less.

    Examples:
        >>> fit = CoPurchase().fit(["a", "a", "b", "b", "c"], ["tea", "cup", "tea", "cup", "tea"])
        >>> rec = fit.recommend(["c"], ["tea"], customer_id=["c"], k=1)
        >>> rec.item[0].tolist()
        ['cup']
    """

    similarity: Literal["cosine", "conditional", "count"] = attrs.field(
        default="cosine", validator=attrs.validators.in_(("cosine", "conditional", "count"))
    )
    shrinkage: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    min_co_purchases: int = attrs.field(default=1, validator=attrs.validators.ge(1))

    def fit(self, customer_id: Any, item_id: Any) -> CoPurchaseFit:
        """Fit on purchase rows (one row per purchased line; repeats count once)."""
        c, i = _pairs(customer_id, item_id)
        items, col = np.unique(i, return_inverse=True)
        _, row = np.unique(c, return_inverse=True)
        b = sparse.csr_matrix(
            (np.ones(c.size, dtype=np.float64), (row, col)),
            shape=(int(row.max(initial=-1)) + 1, items.size),
        )
        b.data[:] = 1.0  # duplicates were summed: a customer buying twice counts once
        co = (b.T @ b).tocsr()
        co.setdiag(0.0)
        co.eliminate_zeros()
        co.data[co.data < self.min_co_purchases] = 0.0
        co.eliminate_zeros()
        buyers = np.asarray(b.sum(axis=0)).ravel()
        coo = co.tocoo()
        if self.similarity == "cosine":
            norm = np.sqrt(buyers)
            data = coo.data / (norm[coo.row] * norm[coo.col] + self.shrinkage)
            sim = sparse.csr_matrix((data, (coo.row, coo.col)), shape=co.shape)
        elif self.similarity == "conditional":
            data = coo.data / (buyers[coo.row] + self.shrinkage)
            sim = sparse.csr_matrix((data, (coo.row, coo.col)), shape=co.shape)
        else:
            sim = co.multiply(co.data.dtype.type(1.0)).tocsr()
            if self.shrinkage:
                sim.data = sim.data / (1.0 + self.shrinkage)
        return CoPurchaseFit(items=v.frozen(items), similarity=sim, buyers=v.frozen(buyers))


@attrs.frozen(kw_only=True, eq=False)
class CoPurchaseFit:
    """The fitted item × item similarity (scipy.sparse CSR) over ``items``.

    Examples:
        >>> fit = CoPurchase().fit(["a", "a"], ["x", "y"])
        >>> fit.items.tolist(), fit.similarity.shape
        (['x', 'y'], (2, 2))
    """

    items: npt.NDArray[np.str_]
    similarity: sparse.csr_matrix
    buyers: npt.NDArray[np.float64]

    def similar_items(self, item: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` items most similar to ``item``, with their similarity."""
        j = int(np.searchsorted(self.items, item))
        if j >= self.items.size or self.items[j] != item:
            raise InvalidInputError(f"item: {item!r} was not in the fitted purchases.")
        row = self.similarity.getrow(j)
        order = np.argsort(-row.data, kind="stable")[:k]
        return [(str(self.items[row.indices[o]]), float(row.data[o])) for o in order]

    def recommend(
        self,
        history_customer_id: Any,
        history_item_id: Any,
        *,
        customer_id: Any,
        k: int = 5,
        popularity_weight: float = 0.0,
        chunk_size: int = 20_000,
    ) -> Recommendations:
        """Top-``k`` items per customer of ``customer_id``, excluding what they already bought.

        ``history_*`` are the purchase rows to score from (usually the fitting rows). Ties break
        toward the more popular item, then the smaller item id, so results are deterministic.
        ``popularity_weight`` w adds w × (item's buyers / top item's buyers) to every score: a
        popularity prior that fills the list for customers with little co-purchase evidence.
        With w = 0, customers whose history scores nothing get ``""`` items and score 0.
        """
        hc, hi = _pairs(history_customer_id, history_item_id)
        aud = Audience.of(customer_id)
        n, m = len(aud), self.items.size
        pos = aud.position(hc)
        j = np.searchsorted(self.items, hi)
        jc = np.minimum(j, max(m - 1, 0))
        ok = (pos >= 0) & (m > 0) & (self.items[jc] == hi) if m else np.zeros(pos.size, bool)
        hist = sparse.csr_matrix((np.ones(int(ok.sum())), (pos[ok], jc[ok])), shape=(n, m))
        hist.data[:] = 1.0
        items_out = np.full((n, k), "", dtype=self.items.dtype if m else "<U1")
        score_out = np.zeros((n, k))
        share = self.buyers / max(float(self.buyers.max(initial=0.0)), 1.0)
        tiebreak = share * (popularity_weight + 1e-9)
        for lo in range(0, n, chunk_size):
            h = hist[lo : lo + chunk_size]
            s = (h @ self.similarity).toarray()
            if popularity_weight == 0:
                s[s <= 0] = -np.inf  # nothing co-bought: no recommendation
            s += tiebreak
            s[h.toarray() > 0] = -np.inf
            kk = min(k, m)
            if kk == 0:
                continue
            top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
            ts = np.take_along_axis(s, top, axis=1)
            order = np.lexsort((top, -ts), axis=1)
            top = np.take_along_axis(top, order, axis=1)
            ts = np.take_along_axis(ts, order, axis=1)
            valid = np.isfinite(ts)
            items_out[lo : lo + h.shape[0], :kk] = np.where(valid, self.items[top], "")
            score_out[lo : lo + h.shape[0], :kk] = np.where(valid, ts, 0.0)
        return Recommendations(customer_id=aud.customer_id, item=items_out, score=score_out)


def popular_items(
    customer_id: Any, item_id: Any, *, for_customer_id: Any, k: int = 5
) -> Recommendations:
    """The popularity baseline: the k items with most buyers that each customer has not bought.

    Examples:
        >>> r = popular_items(["a", "b", "b"], ["x", "x", "y"], for_customer_id=["a"], k=1)
        >>> r.item[0].tolist()
        ['y']
    """
    c, i = _pairs(customer_id, item_id)
    custs, ci = np.unique(c, return_inverse=True)
    items, ii = np.unique(i, return_inverse=True)
    width = max(items.size, 1)
    code = np.unique(ci.astype(np.int64) * width + ii)
    pc, pi = custs[code // width], code % width
    buyers = np.bincount(pi, minlength=items.size)
    rank = np.lexsort((items, -buyers))
    aud = Audience.of(for_customer_id)
    pos = aud.position(pc)
    has_pos = pos >= 0
    bought = (
        sparse.csr_matrix(
            (np.ones(int(has_pos.sum())), (pos[has_pos], pi[has_pos])),
            shape=(len(aud), items.size),
        ).toarray()
        > 0
    )
    kk = min(k, items.size)
    out_i = np.full((len(aud), k), "", dtype=items.dtype)
    out_s = np.zeros((len(aud), k))
    order = rank  # items from most to least bought
    avail = ~bought[:, order]
    cum = np.cumsum(avail, axis=1)
    for slot in range(kk):
        first = np.argmax(avail & (cum == slot + 1), axis=1)
        has = (cum[:, -1] >= slot + 1) if items.size else np.zeros(len(aud), bool)
        out_i[has, slot] = items[order[first[has]]]
        out_s[has, slot] = buyers[order[first[has]]]
    return Recommendations(customer_id=aud.customer_id, item=out_i, score=out_s)


def hit_rate(recommendations: Recommendations, customer_id: Any, item_id: Any) -> float:
    """Share of customers with held-out purchases for whom a held-out item is in their top k.

    Only customers present in both ``recommendations`` and the held-out rows count.

    Examples:
        >>> import numpy as np
        >>> r = Recommendations(customer_id=np.array(["a", "b"]),
        ...     item=np.array([["x", "y"], ["x", "z"]]), score=np.ones((2, 2)))
        >>> hit_rate(r, ["a", "b"], ["y", "q"])
        0.5
    """
    c, i = _pairs(customer_id, item_id)
    aud = Audience.of(recommendations.customer_id)
    pos = aud.position(c)
    keep = pos >= 0
    pos, i = pos[keep], i[keep]
    if pos.size == 0:
        raise InvalidInputError(
            "customer_id: no held-out customer has recommendations. Evaluate on the same ids."
        )
    hit_row = (recommendations.item[pos] == i[:, None]).any(axis=1) & (i != "")
    hits = np.zeros(len(aud), dtype=bool)
    np.logical_or.at(hits, pos, hit_row)
    evaluated = np.zeros(len(aud), dtype=bool)
    evaluated[pos] = True
    return float(hits[evaluated].mean())


@attrs.frozen(kw_only=True)
class NextBestEvaluation:
    """Hit rates of the co-purchase model and the popularity baseline on held-out purchases.

    Examples:
        >>> NextBestEvaluation(k=5, customers=10, hit_rate=0.4, baseline_hit_rate=0.2).lift
        2.0
    """

    k: int
    customers: int
    hit_rate: float
    baseline_hit_rate: float

    @property
    def lift(self) -> float:
        """``hit_rate / baseline_hit_rate`` (inf if the baseline never hits)."""
        return self.hit_rate / self.baseline_hit_rate if self.baseline_hit_rate else np.inf


def evaluate_next_best(
    customer_id: Any,
    item_id: Any,
    at: Any,
    *,
    split_at: Any,
    k: int = 5,
    model: CoPurchase | None = None,
) -> NextBestEvaluation:
    """Fit on purchases before ``split_at``, score top-k against purchases from it on.

    Customers with purchases on both sides are evaluated; a hit is a held-out item in the top k
    (bought items excluded, for the model and the baseline alike). Works on any purchase rows,
    e.g. ``OrderLineColumns`` (``customer_id``, ``product_id``, ``placed_at``).

    Examples:
        >>> import numpy as np
        >>> t = np.array(["2024-01-01"] * 5 + ["2024-02-01"], dtype="datetime64[us]")
        >>> cust, item = ["a", "a", "b", "c", "d", "b"], ["x", "y", "x", "z", "z", "y"]
        >>> ev = evaluate_next_best(cust, item, t, split_at=np.datetime64("2024-01-15"), k=1)
        >>> ev.hit_rate, ev.baseline_hit_rate
        (1.0, 0.0)
    """
    c, i = _pairs(customer_id, item_id)
    when = v.as_datetime_array("at", at)
    v.same_length(customer_id=c, at=when)
    split = np.asarray(split_at).astype("datetime64[us]")
    train, test = when < split, when >= split
    ids = np.intersect1d(np.unique(c[train]), np.unique(c[test]))
    if ids.size == 0:
        raise InvalidInputError(
            "split_at: no customer has purchases on both sides of the split. Move the split."
        )
    fit = (model or CoPurchase()).fit(c[train], i[train])
    rec = fit.recommend(c[train], i[train], customer_id=ids, k=k)
    pop = popular_items(c[train], i[train], for_customer_id=ids, k=k)
    return NextBestEvaluation(
        k=k,
        customers=int(ids.size),
        hit_rate=hit_rate(rec, c[test], i[test]),
        baseline_hit_rate=hit_rate(pop, c[test], i[test]),
    )
