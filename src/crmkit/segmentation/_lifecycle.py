"""Lifecycle stages (own-cadence rules or P(alive)), period status and snapshot transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.features import CustomerFeatures, encode_customers
from crmkit.features._index import as_customer_ids

__all__ = [
    "LIFECYCLE_STAGES",
    "LifecycleRules",
    "MembershipSnapshot",
    "Transitions",
    "lifecycle_from_p_alive",
    "lifecycle_stages",
    "period_status",
    "transitions",
]

#: The stages, in the order rules are tried after "new".
LIFECYCLE_STAGES = ("new", "churned", "lapsed", "at-risk", "reactivated", "active")
F64 = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True)
class LifecycleRules:
    """Stage rules relative to each customer's own cadence.

    A customer's usual interval is the mean gap between their purchase days when they have at
    least ``min_intervals`` gaps, else the median of those means over all such customers (or
    ``default_cadence_days`` when given). With ``u`` that interval and ``R`` the recency:

    1. ``new``: one purchase, made within ``new_within_days`` of as-of;
    2. ``churned``: R > ``churned_after`` × u;
    3. ``lapsed``: R > ``lapsed_after`` × u;
    4. ``at-risk``: R > ``at_risk_after`` × u;
    5. ``reactivated``: the gap before the last purchase exceeded ``lapsed_after`` × the
       cadence before it (the customer came back after lapsing);
    6. ``active``: everyone else who has purchased. Customers without purchases get ``""``.

    Examples:
        >>> LifecycleRules().churned_after
        4.0
    """

    new_within_days: float = 30.0
    at_risk_after: float = 1.5
    lapsed_after: float = 2.5
    churned_after: float = 4.0
    min_intervals: int = 2
    default_cadence_days: float | None = None

    def __attrs_post_init__(self) -> None:
        if not 0 < self.at_risk_after <= self.lapsed_after <= self.churned_after:
            raise InvalidInputError(
                "LifecycleRules: need 0 < at_risk_after <= lapsed_after <= churned_after "
                f"(got {self.at_risk_after}, {self.lapsed_after}, {self.churned_after})."
            )


def lifecycle_stages(
    features: CustomerFeatures, *, rules: LifecycleRules | None = None
) -> npt.NDArray[np.str_]:
    """The lifecycle stage of every customer of a feature table (aligned with its rows).

    Uses ``n_orders``, ``n_purchase_days``, ``recency_days``, ``tenure_days``,
    ``interval_mean_days`` and ``last_interval_days``.

    Examples:
        >>> import numpy as np
        >>> from crmkit.features import order_features
        >>> t = np.array(["2024-01-01", "2024-01-11", "2024-01-21", "2024-05-01",
        ...               "2024-05-10"], "datetime64[us]")
        >>> f = order_features(["a", "a", "a", "b", "b"], t, [1] * 5,
        ...                    as_of=np.datetime64("2024-05-12", "us"))
        >>> lifecycle_stages(f).tolist()
        ['churned', 'active']
    """
    r = rules or LifecycleRules()
    n_orders = features["n_orders"]
    n_days = features["n_purchase_days"]
    rec = features["recency_days"]
    tenure = features["tenure_days"]
    mean = features["interval_mean_days"]
    last_gap = features["last_interval_days"]
    n_gaps = np.maximum(n_days - 1, 0)
    own = n_gaps >= r.min_intervals
    if r.default_cadence_days is not None:
        pop = float(r.default_cadence_days)
    elif own.any():
        pop = float(np.median(mean[own]))
    else:
        pop = np.nan
    cadence = np.where(own, mean, pop)
    # Cadence before the last gap: (span - last gap) / (gaps - 1), when there are earlier gaps.
    with np.errstate(invalid="ignore", divide="ignore"):
        before = np.where(n_gaps >= 2, (mean * n_gaps - last_gap) / (n_gaps - 1), pop)
        stage = np.full(len(features), "", dtype="<U11")
        has = n_orders > 0
        stage[has] = "active"
        stage[has & (last_gap > r.lapsed_after * before)] = "reactivated"
        stage[has & (rec > r.at_risk_after * cadence)] = "at-risk"
        stage[has & (rec > r.lapsed_after * cadence)] = "lapsed"
        stage[has & (rec > r.churned_after * cadence)] = "churned"
    stage[has & (n_orders == 1) & (tenure <= r.new_within_days)] = "new"
    return stage


def lifecycle_from_p_alive(
    p_alive: Any,
    n_orders: Any,
    tenure_days: Any,
    *,
    new_within_days: float = 30.0,
    thresholds: tuple[float, float, float] = (0.7, 0.4, 0.15),
) -> npt.NDArray[np.str_]:
    """Stages from any probability-alive array (e.g. a BG/NBD fit's ``p_alive``).

    ``new`` as in the rules; then active if P(alive) ≥ ``thresholds[0]``, at-risk if ≥
    ``thresholds[1]``, lapsed if ≥ ``thresholds[2]``, churned below.

    Examples:
        >>> lifecycle_from_p_alive([0.9, 0.5, 0.2, 0.01, 0.3], [3, 3, 3, 3, 1],
        ...                        [200, 200, 200, 200, 10]).tolist()
        ['active', 'at-risk', 'lapsed', 'churned', 'new']
    """
    p = v.as_float_array("p_alive", p_alive, min_value=0.0)
    v.require("p_alive", p > 1, p, "probabilities above 1", "Pass P(alive) in [0, 1].")
    n = v.as_int_array("n_orders", n_orders, min_value=0)
    ten = v.as_float_array("tenure_days", tenure_days, nan_policy="propagate")
    v.same_length(p_alive=p, n_orders=n, tenure_days=ten)
    hi, mid, lo = thresholds
    if not 1 >= hi >= mid >= lo >= 0:
        raise InvalidInputError(f"thresholds: need 1 >= a >= b >= c >= 0 (got {thresholds}).")
    stage = np.select(
        [p >= hi, p >= mid, p >= lo], ["active", "at-risk", "lapsed"], default="churned"
    ).astype("<U11")
    stage[(n == 1) & (ten <= new_within_days)] = "new"
    stage[n == 0] = ""
    return stage


def period_status(
    customer_id: Any,
    placed_at: Any,
    *,
    previous: tuple[Any, Any],
    current: tuple[Any, Any],
) -> tuple[np.ndarray[Any, Any], npt.NDArray[np.str_]]:
    """New / Repeating / Lapsed across two periods ``[start, end)`` of purchases.

    ``new``: bought in the current period but not the previous; ``repeating``: both;
    ``lapsed``: previous only. Returns (ids, status) for everyone who bought in either.

    Examples:
        >>> import numpy as np
        >>> ids, st = period_status(["a", "b", "b", "c"],
        ...     np.array(["2024-01-05", "2024-01-07", "2024-02-03", "2024-02-09"],
        ...              "datetime64[us]"),
        ...     previous=(np.datetime64("2024-01-01"), np.datetime64("2024-02-01")),
        ...     current=(np.datetime64("2024-02-01"), np.datetime64("2024-03-01")))
        >>> ids.tolist(), st.tolist()
        (['a', 'b', 'c'], ['lapsed', 'repeating', 'new'])
    """
    ids = as_customer_ids("customer_id", customer_id)
    t = v.as_datetime_array("placed_at", placed_at)
    v.same_length(customer_id=ids, placed_at=t)
    p0, p1 = (v.to_datetime64("previous", x) for x in previous)
    c0, c1 = (v.to_datetime64("current", x) for x in current)
    in_prev = (t >= p0) & (t < p1)
    in_cur = (t >= c0) & (t < c1)
    uids, codes = encode_customers(ids[in_prev | in_cur])
    prev = np.bincount(codes, weights=in_prev[in_prev | in_cur], minlength=uids.size) > 0
    cur = np.bincount(codes, weights=in_cur[in_prev | in_cur], minlength=uids.size) > 0
    status = np.where(prev & cur, "repeating", np.where(cur, "new", "lapsed")).astype("<U9")
    return uids, status


@attrs.frozen(kw_only=True, eq=False)
class Transitions:
    """Counts of customers moving between labels of two snapshots, and who moved.

    ``""`` stands for "not in that snapshot".

    Examples:
        >>> tr = transitions(["a", "b"], ["Loyal", "Loyal"], ["a", "b"], ["Loyal", "At risk"])
        >>> tr.count("Loyal", "At risk"), tr.who("Loyal", "At risk").tolist()
        (1, ['b'])
    """

    customer_id: np.ndarray[Any, Any]
    before: npt.NDArray[np.str_]
    after: npt.NDArray[np.str_]

    def count(self, from_label: str, to_label: str) -> int:
        """Customers who moved from ``from_label`` to ``to_label``."""
        return int(((self.before == from_label) & (self.after == to_label)).sum())

    def who(self, from_label: str, to_label: str) -> np.ndarray[Any, Any]:
        """Ids of the customers who moved from ``from_label`` to ``to_label``."""
        out: np.ndarray[Any, Any] = self.customer_id[
            (self.before == from_label) & (self.after == to_label)
        ]
        return out

    def matrix(self) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]]:
        """(labels, counts) with ``counts[i, j]`` moving from ``labels[i]`` to ``labels[j]``."""
        labels, inv = np.unique(np.concatenate([self.before, self.after]), return_inverse=True)
        k = labels.size
        b, a = inv[: self.before.size], inv[self.before.size :]
        counts = np.bincount(b * k + a, minlength=k * k).reshape(k, k).astype(np.int64)
        return labels, counts


def transitions(
    before_ids: Any, before_labels: Any, after_ids: Any, after_labels: Any
) -> Transitions:
    """Align two snapshots (ids → label) and report every customer's move.

    Examples:
        >>> tr = transitions(["a", "b"], ["New", "Loyal"], ["a", "c"], ["Loyal", "New"])
        >>> tr.customer_id.tolist(), tr.before.tolist(), tr.after.tolist()
        (['a', 'b', 'c'], ['New', 'Loyal', ''], ['Loyal', '', 'New'])
    """
    bi = as_customer_ids("before_ids", before_ids)
    ai = as_customer_ids("after_ids", after_ids)
    bl = v.as_str_array("before_labels", before_labels, allow_empty=True)
    al = v.as_str_array("after_labels", after_labels, allow_empty=True)
    v.same_length(before_ids=bi, before_labels=bl)
    v.same_length(after_ids=ai, after_labels=al)
    for name, ids in (("before_ids", bi), ("after_ids", ai)):
        s = np.sort(ids)
        v.require(name, np.r_[False, s[1:] == s[:-1]], s, "duplicate ids", "One label each.")
    uids, codes = encode_customers(np.concatenate([bi, ai]))
    width = max(bl.dtype.itemsize, al.dtype.itemsize) // 4 or 1
    before = np.full(uids.size, "", dtype=f"<U{width}")
    after = np.full(uids.size, "", dtype=f"<U{width}")
    before[codes[: bi.size]] = bl
    after[codes[bi.size :]] = al
    return Transitions(customer_id=v.frozen(uids), before=v.frozen(before), after=v.frozen(after))


@attrs.frozen(kw_only=True)
class MembershipSnapshot:
    """Who was in a segment (or had which label) as of a date: what a store keeps.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.serialization import dumps, loads
        >>> s = MembershipSnapshot(segment="rfm", as_of=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        ...                        customer_ids=("a", "b"), labels=("Loyal", "New"))
        >>> loads(dumps(s), MembershipSnapshot) == s
        True
    """

    segment: str
    as_of: dt.datetime
    customer_ids: tuple[str, ...]
    labels: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.customer_ids):
            raise InvalidInputError(
                f"MembershipSnapshot.labels: {len(self.labels)} labels for "
                f"{len(self.customer_ids)} customers. Pass one label each or none."
            )
