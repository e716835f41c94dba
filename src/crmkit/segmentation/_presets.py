"""``rfm_segments``: transactions → RFM segments, with presets that reproduce other tools.

- ``preset="crmkit"``: crmkit's contract (``RFMScoring`` defaults: quintile NTILE, ties
  share a score; ``DEFAULT_SEGMENT_MAP``).
- ``preset="rfm"``: the ``rfm`` package 1.0.9 (``rfm.RFM``).
- ``preset="pymc-marketing"``: ``pymc_marketing.clv.rfm_segments``.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.features import encode_customers
from crmkit.features._index import as_customer_ids
from crmkit.segmentation._rfm import (
    DEFAULT_SEGMENT_MAP,
    RFMRule,
    RFMScoring,
    RFMSegmentMap,
    rfm_scores,
)

__all__ = ["PYMC_MARKETING_SEGMENT_MAP", "RFM_PACKAGE_SEGMENT_MAP", "RFMSegments", "rfm_segments"]

Preset = Literal["crmkit", "rfm", "pymc-marketing"]
_DAY = 86_400_000_000
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@attrs.frozen(kw_only=True, eq=False)
class RFMSegments:
    """RFM values, scores and segment per customer (aligned arrays, sorted by customer id).

    ``recency_days``, ``frequency`` and ``monetary`` follow the preset's definitions (see
    [`rfm_segments`][crmkit.segmentation.rfm_segments]).

    Examples:
        >>> import numpy as np
        >>> t = np.array(["2024-01-01", "2024-02-01", "2024-02-20", "2024-03-01",
        ...               "2024-03-02"], "datetime64[us]")
        >>> res = rfm_segments(["a", "b", "c", "d", "e"], t, [10, 20, 30, 40, 50])
        >>> res.customer_id.tolist(), res.r_score.tolist(), res.counts()["Loyal"]
        (['a', 'b', 'c', 'd', 'e'], [1, 2, 3, 4, 5], 2)
    """

    customer_id: np.ndarray[Any, Any]
    recency_days: F64
    frequency: F64
    monetary: F64
    r_score: I64
    f_score: I64
    m_score: I64
    segment: npt.NDArray[np.str_]
    preset: str

    @property
    def code(self) -> npt.NDArray[np.str_]:
        """The three-digit score code per customer, e.g. ``"534"``."""
        return (self.r_score * 100 + self.f_score * 10 + self.m_score).astype(str)

    def counts(self) -> dict[str, int]:
        """Customers per segment, largest first (ties by name)."""
        names, n = np.unique(self.segment, return_counts=True)
        order = np.lexsort((names, -n))
        return {str(names[i]): int(n[i]) for i in order}

    def __len__(self) -> int:
        return int(self.customer_id.size)


#: The ``rfm`` 1.0.9 package's ordered rule chain (first match wins) on quintile scores.
RFM_PACKAGE_SEGMENT_MAP = RFMSegmentMap(
    rules=(
        RFMRule(segment="Champions", r=(4, 5), f=(4, 5), m=(4, 5)),
        RFMRule(segment="Promising", r=(4, 5), f=(1, 2), m=(3, 5)),
        RFMRule(segment="Loyal Accounts", r=(3, 5), f=(3, 5), m=(3, 5)),
        RFMRule(segment="Potential Loyalist", r=(3, 5), f=(2, 3), m=(2, 4)),
        RFMRule(segment="New Active Accounts", r=(5, 5), f=(1, 1), m=(1, 5)),
        RFMRule(segment="Low Spenders", r=(3, 5), f=(1, 5), m=(1, 2)),
        RFMRule(segment="Need Attention", r=(2, 3), f=(1, 2), m=(4, 5)),
        RFMRule(segment="About to Sleep", r=(2, 3), f=(1, 2), m=(1, 3)),
        RFMRule(segment="At Risk", r=(1, 2), f=(1, 5), m=(3, 5)),
        RFMRule(segment="Lost", r=(1, 2), f=(1, 5), m=(1, 2)),
    ),
    fallback="Unclassified",
)

#: pymc-marketing's default ``segment_config`` (score codes per segment; "Other" otherwise).
PYMC_MARKETING_SEGMENT_MAP = RFMSegmentMap.from_score_lists(
    {
        "Premium Customer": ["334", "443", "444", "344", "434", "433", "343", "333"],
        "Repeat Customer": ["244", "234", "232", "332", "143", "233", "243"],
        "Top Spender": [
            *("424", "414", "144", "314", "324", "124", "224"),
            *("423", "413", "133", "323", "313", "134"),
        ],
        "At Risk Customer": [
            *("422", "223", "212", "122", "222", "132"),
            *("322", "312", "412", "123", "214"),
        ],
        "Inactive Customer": ["411", "111", "113", "114", "112", "211", "311"],
    },
    fallback="Other",
)


def _grouped_sums(
    codes: npt.NDArray[np.intp], amount: np.ndarray[Any, Any], n: int
) -> tuple[F64, npt.NDArray[np.intp]]:
    """Sums per code (exact for integers; extended precision then rounded for floats)."""
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    acc = np.int64 if amount.dtype.kind in "iu" else np.longdouble
    sums = np.add.reduceat(amount[order].astype(acc), starts) if starts.size else np.zeros(0)
    out = np.zeros(n, dtype=np.float64)
    out[sc[starts]] = np.asarray(sums, dtype=np.float64)
    return out, np.bincount(codes, minlength=n)


def _qcut_ranks(n: int, q: int) -> I64:
    """pandas ``qcut(rank(method="first"), q)`` bin (1-based) of each rank 1..n."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    edges = np.percentile(ranks, np.linspace(0, 1, q + 1) * 100.0)
    if np.unique(edges).size < edges.size:
        raise InvalidInputError(
            f"customer_id: {n} customers are too few for {q} rank bins (edges repeat). "
            "The rfm package fails here too; pass more customers."
        )
    ids = np.searchsorted(edges, ranks, side="left").astype(np.int64)
    ids[ranks == edges[0]] = 1
    return ids


def _rank_first_bins(values: F64, q: int) -> I64:
    order = np.argsort(values, kind="stable")
    out = np.empty(values.size, dtype=np.int64)
    out[order] = _qcut_ranks(values.size, q)
    return out


def _pymc_quartiles(values: F64, name: str) -> tuple[I64, int]:
    """pymc-marketing's quartile labels with its fallback to 3 then 2 bins on repeated edges."""
    edges = np.unique(np.percentile(values, np.linspace(0, 1, 5) * 100.0))
    nbins = edges.size - 1
    if nbins < 2:
        raise InvalidInputError(
            f"{name}: too many repeated values for quartiles ({edges.size} distinct edges). "
            "pymc-marketing fails here too; use preset='crmkit'."
        )
    ids = np.searchsorted(edges, values, side="left").astype(np.int64)
    ids[values == edges[0]] = 1
    return ids, nbins


def _prepare(
    customer_id: Any, timestamp: Any, amount: Any, as_of: Any
) -> tuple[np.ndarray[Any, Any], I64, np.ndarray[Any, Any], int]:
    ids = as_customer_ids("customer_id", customer_id)
    t = v.as_datetime_array("timestamp", timestamp).view(np.int64)
    amt = v.as_1d("amount", amount)
    amt = (
        v.as_int_array("amount", amt)
        if amt.dtype.kind in "iub"
        else v.as_float_array("amount", amt)
    )
    v.same_length(customer_id=ids, timestamp=t, amount=amt)
    if ids.size == 0:
        raise InvalidInputError("customer_id: no transactions. Pass at least one row.")
    ref = int(t.max()) if as_of is None else int(v.to_datetime64("as_of", as_of).view(np.int64))
    v.require(
        "timestamp",
        t > ref,
        t.view("datetime64[us]"),
        "transactions after as_of",
        "Pass transactions up to as_of (filter them first).",
    )
    return ids, t, amt, ref


def rfm_segments(
    customer_id: Any,
    timestamp: Any,
    amount: Any,
    *,
    preset: Preset = "crmkit",
    as_of: Any = None,
    scoring: RFMScoring | None = None,
    segment_map: RFMSegmentMap | None = None,
) -> RFMSegments:
    """RFM scores and segments from transactions, under one of three documented conventions.

    ``as_of=None`` takes the latest transaction (all three tools do); a transaction after
    ``as_of`` is an error. Results are sorted by customer id.

    - ``"crmkit"``: recency = fractional days from the last transaction to ``as_of``, frequency
      = transactions, monetary = their sum; scored with ``scoring`` (default
      [`RFMScoring()`][crmkit.segmentation.RFMScoring]) and named with ``segment_map`` (default
      ``DEFAULT_SEGMENT_MAP``).
    - ``"rfm"`` (the ``rfm`` package 1.0.9): ids become strings; identical (customer,
      timestamp, amount) rows count once; recency = whole days (floor) from the last
      transaction; frequency = rows; monetary = sum. Each column is ranked with ties broken by
      customer id in string order, and the ranks are cut into quintiles at the linearly
      interpolated 0/20/…/100 % points (pandas ``qcut``); recency labels are reversed. Segments
      by the package's ordered rule chain (``RFM_PACKAGE_SEGMENT_MAP``).
    - ``"pymc-marketing"`` (``pymc_marketing.clv.rfm_segments``): timestamps are floored to
      UTC days; frequency = distinct days; recency = days from the last day to the as-of day;
      monetary = mean spend per purchase day. Each column is cut at its quartiles (linear
      interpolation, right-closed); when edges repeat the bins merge to 3 (then 2) and the
      labels restart at 1 (recency reversed). Segments by score code lists
      (``PYMC_MARKETING_SEGMENT_MAP``), "Other" for codes not listed.

    The ``rfm`` package also rewrites amounts through their string form (``"20.06"`` loses
    its ``".06"``); crmkit does not reproduce that defect. Amounts in integer minor units agree.

    Examples:
        >>> import numpy as np
        >>> t = np.array(["2024-01-01", "2024-01-20", "2024-01-28", "2024-01-30"], "datetime64[us]")
        >>> res = rfm_segments(["a", "b", "b", "c"], t, [500, 200, 300, 50],
        ...                    preset="pymc-marketing")
        >>> res.recency_days.tolist(), res.monetary.tolist()
        ([29.0, 2.0, 0.0], [500.0, 250.0, 50.0])
    """
    ids, t, amt, ref = _prepare(customer_id, timestamp, amount, as_of)
    if preset == "crmkit":
        uids, codes = encode_customers(ids)
        n = uids.size
        monetary, freq = _grouped_sums(codes, amt, n)
        last = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(last, codes, t)
        recency = (ref - last) / _DAY
        r, f, m = rfm_scores(recency, freq, monetary, scoring=scoring)
        smap = segment_map or DEFAULT_SEGMENT_MAP
    elif preset == "rfm":
        if scoring is not None:
            raise InvalidInputError("scoring: the 'rfm' preset fixes its own scoring. Drop it.")
        uids, codes = encode_customers(ids.astype(str))
        # Identical (customer, timestamp, amount) rows count once.
        order = np.lexsort((amt, t, codes))
        keep = np.ones(order.size, dtype=bool)
        keep[1:] = (
            (codes[order][1:] != codes[order][:-1])
            | (t[order][1:] != t[order][:-1])
            | (amt[order][1:] != amt[order][:-1])
        )
        rows = order[keep]
        n = uids.size
        monetary, freq = _grouped_sums(codes[rows], amt[rows], n)
        last = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(last, codes[rows], t[rows])
        recency = np.floor_divide(ref - last, _DAY).astype(np.float64)
        r = 6 - _rank_first_bins(recency, 5)
        f = _rank_first_bins(freq.astype(np.float64), 5)
        m = _rank_first_bins(monetary, 5)
        smap = segment_map or RFM_PACKAGE_SEGMENT_MAP
    elif preset == "pymc-marketing":
        if scoring is not None:
            raise InvalidInputError(
                "scoring: the 'pymc-marketing' preset fixes its own scoring. Drop it."
            )
        uids, codes = encode_customers(ids)
        n = uids.size
        day = np.floor_divide(t, _DAY)
        ref_day = ref // _DAY
        # One row per (customer, day) with the day's summed spend, as pymc-marketing does.
        order = np.lexsort((day, codes))
        sc, sd = codes[order], day[order]
        start = np.r_[True, (sc[1:] != sc[:-1]) | (sd[1:] != sd[:-1])]
        starts = np.flatnonzero(start)
        acc = np.int64 if amt.dtype.kind in "iu" else np.longdouble
        day_sum = np.asarray(np.add.reduceat(amt[order].astype(acc), starts), dtype=np.float64)
        dcode = sc[starts]
        total, freq = _grouped_sums(dcode, day_sum, n)
        monetary = total / freq
        last = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(last, dcode, sd[starts])
        recency = (ref_day - last).astype(np.float64)
        bins_r, nb = _pymc_quartiles(recency, "recency")
        r = nb + 1 - bins_r
        f = _pymc_quartiles(freq.astype(np.float64), "frequency")[0]
        m = _pymc_quartiles(monetary, "monetary")[0]
        smap = segment_map or PYMC_MARKETING_SEGMENT_MAP
    else:
        raise InvalidInputError(
            f"preset: unknown preset {preset!r}. Use 'crmkit', 'rfm' or 'pymc-marketing'."
        )
    seg = smap.assign(r, f, m)
    return RFMSegments(
        customer_id=v.frozen(np.array(uids, copy=True)),
        recency_days=v.frozen(np.asarray(recency, dtype=np.float64)),
        frequency=v.frozen(np.asarray(freq, dtype=np.float64)),
        monetary=v.frozen(np.asarray(monetary, dtype=np.float64)),
        r_score=v.frozen(np.asarray(r, dtype=np.int64)),
        f_score=v.frozen(np.asarray(f, dtype=np.int64)),
        m_score=v.frozen(np.asarray(m, dtype=np.int64)),
        segment=v.frozen(seg),
        preset=preset,
    )
