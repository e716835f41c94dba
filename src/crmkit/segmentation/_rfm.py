"""RFM scores (NTILE, quantile or fixed cut points; explicit ties) and score → segment maps."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = [
    "DEFAULT_SEGMENT_MAP",
    "RFMRule",
    "RFMScoring",
    "RFMSegmentMap",
    "rfm_scores",
    "score_column",
]

Binning = Literal["ntile", "quantile", "fixed"]
Ties = Literal["first", "average"]
I64 = npt.NDArray[np.int64]


def _cuts(_: Any, attr: Any, value: tuple[float, ...]) -> None:
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise InvalidInputError(
            f"RFMScoring.{attr.name}: cut points must increase strictly (got {value}). "
            "Pass ascending thresholds."
        )


@attrs.frozen(kw_only=True)
class RFMScoring:
    """How recency, frequency and monetary values become scores 1..bins (higher is better).

    - ``binning="ntile"`` (default): SQL NTILE over the values in ascending order; bins differ
      in size by at most one and the larger bins come first. ``ties="first"`` breaks ties by
      input order (equal values may straddle a border); ``ties="average"`` gives every value in
      a tie group the bin of the group's middle position, so equal values share a score and the
      scores do not depend on the input order.
    - ``binning="quantile"``: bins at the quantiles of the values (linear interpolation,
      right-closed, lowest edge included); duplicate edges merge bins, so a heavily tied
      column can have fewer than ``bins`` scores.
    - ``binning="fixed"``: ``*_cuts`` are ascending thresholds; a value equal to a cut falls in
      the lower bin; ``bins`` must be one more than the number of cuts.

    Recency is reversed: the most recent customers get the highest score.

    Examples:
        >>> RFMScoring(bins=4, binning="ntile", ties="first").bins
        4
    """

    bins: int = 5
    binning: Binning = "ntile"
    ties: Ties = "average"
    recency_cuts: tuple[float, ...] = attrs.field(default=(), validator=_cuts)
    frequency_cuts: tuple[float, ...] = attrs.field(default=(), validator=_cuts)
    monetary_cuts: tuple[float, ...] = attrs.field(default=(), validator=_cuts)

    def __attrs_post_init__(self) -> None:
        if self.bins < 2 or self.bins > 9:
            raise InvalidInputError(
                f"RFMScoring.bins: expected 2..9 (got {self.bins}). Scores are one digit each."
            )
        if self.binning == "fixed":
            for name in ("recency_cuts", "frequency_cuts", "monetary_cuts"):
                if len(getattr(self, name)) != self.bins - 1:
                    raise InvalidInputError(
                        f"RFMScoring.{name}: fixed binning needs {self.bins - 1} cut points "
                        f"(got {len(getattr(self, name))}). Pass bins - 1 ascending thresholds."
                    )


def _ntile(order: npt.NDArray[np.intp], n: int, bins: int) -> I64:
    """NTILE bucket (1-based) of each 0-based position."""
    q, r = divmod(n, bins)
    pos = np.arange(n, dtype=np.int64)
    big = r * (q + 1)
    bucket = np.where(pos < big, pos // (q + 1), r + (pos - big) // max(q, 1))
    out = np.empty(n, dtype=np.int64)
    out[order] = bucket + 1
    return out


def score_column(values: Any, scoring: RFMScoring, *, cuts: Sequence[float] = ()) -> I64:
    """Scores 1..bins of one column in ascending order of the values (no reversal).

    Examples:
        >>> score_column([10, 20, 30, 30, 40], RFMScoring(bins=2, ties="first")).tolist()
        [1, 1, 1, 2, 2]
        >>> score_column([10, 20, 30, 30, 40], RFMScoring(bins=2, ties="average")).tolist()
        [1, 1, 1, 1, 2]
    """
    x = v.as_float_array("values", values)
    n = x.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if scoring.binning == "fixed":
        return (
            np.searchsorted(np.asarray(cuts, dtype=np.float64), x, side="left").astype(np.int64) + 1
        )
    if scoring.binning == "quantile":
        edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, scoring.bins + 1)))
        ids = np.searchsorted(edges, x, side="left").astype(np.int64)
        ids[x == edges[0]] = 1
        return ids
    order = np.argsort(x, kind="stable")
    if scoring.ties == "first":
        return _ntile(order, n, scoring.bins)
    xs = x[order]
    start = np.ones(n, dtype=bool)
    start[1:] = xs[1:] != xs[:-1]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.append(first[1:], n) - 1
    mid = ((first + last) // 2)[group]
    sorted_bucket = _ntile(np.arange(n), n, scoring.bins)[mid]
    out = np.empty(n, dtype=np.int64)
    out[order] = sorted_bucket
    return out


def rfm_scores(
    recency_days: Any, frequency: Any, monetary: Any, *, scoring: RFMScoring | None = None
) -> tuple[I64, I64, I64]:
    """R, F and M scores 1..bins (recency reversed: recent customers score high).

    Examples:
        >>> r, f, m = rfm_scores([1, 50, 300], [5, 2, 1], [900, 80, 20],
        ...                      scoring=RFMScoring(bins=3))
        >>> r.tolist(), f.tolist(), m.tolist()
        ([3, 2, 1], [3, 2, 1], [3, 2, 1])
    """
    s = scoring or RFMScoring()
    rec = v.as_float_array("recency_days", recency_days, min_value=0.0)
    fr = v.as_float_array("frequency", frequency, min_value=0.0)
    mo = v.as_float_array("monetary", monetary)
    v.same_length(recency_days=rec, frequency=fr, monetary=mo)
    r = (s.bins + 1) - score_column(rec, s, cuts=s.recency_cuts)
    return r, score_column(fr, s, cuts=s.frequency_cuts), score_column(mo, s, cuts=s.monetary_cuts)


Range = tuple[float, float]


@attrs.frozen(kw_only=True)
class RFMRule:
    """One named segment: inclusive score ranges and/or an explicit list of score codes.

    ``fm`` bounds the average of the F and M scores. ``codes`` (e.g. ``("334", "443")``), when
    given, must also match. Unset bounds match everything.

    Examples:
        >>> RFMRule(segment="Champions", r=(4, 5), fm=(4, 5)).matches(5, 4, 5)
        True
    """

    segment: str
    r: Range | None = None
    f: Range | None = None
    m: Range | None = None
    fm: Range | None = None
    codes: tuple[str, ...] = ()

    def matches(self, r: Any, f: Any, m: Any) -> Any:
        """Whether scores (scalars or aligned arrays) fall under this rule."""
        r, f, m = np.asarray(r), np.asarray(f), np.asarray(m)
        ok = np.ones(np.broadcast(r, f, m).shape, dtype=bool)
        for rng, val in ((self.r, r), (self.f, f), (self.m, m), (self.fm, (f + m) / 2.0)):
            if rng is not None:
                ok &= (val >= rng[0]) & (val <= rng[1])
        if self.codes:
            code = r * 100 + f * 10 + m
            ok &= np.isin(code, [int(c) for c in self.codes])
        return ok if ok.ndim else bool(ok)


@attrs.frozen(kw_only=True)
class RFMSegmentMap:
    """An ordered chain of rules (the first rule that matches names the segment), kept as data.

    Edit it like any value (``attrs.evolve``) or build one from score lists with
    [`from_score_lists`][crmkit.segmentation.RFMSegmentMap.from_score_lists]. Customers no rule
    matches get ``fallback``.

    Examples:
        >>> DEFAULT_SEGMENT_MAP.assign([5, 1], [5, 1], [4, 1]).tolist()
        ['Champions', 'Lost']
    """

    rules: tuple[RFMRule, ...]
    fallback: str = "Other"

    @classmethod
    def from_score_lists(
        cls, lists: Mapping[str, Sequence[str]], *, fallback: str = "Other"
    ) -> RFMSegmentMap:
        """A map from ``{segment: ["334", ...]}``; a code listed twice goes to the later one.

        Examples:
            >>> m = RFMSegmentMap.from_score_lists({"Top": ["444"], "Low": ["111", "444"]})
            >>> m.assign([4, 1, 2], [4, 1, 2], [4, 1, 2]).tolist()
            ['Low', 'Low', 'Other']
        """
        rules = [RFMRule(segment=k, codes=tuple(codes)) for k, codes in lists.items()]
        return cls(rules=tuple(reversed(rules)), fallback=fallback)

    @property
    def segments(self) -> tuple[str, ...]:
        """Segment names in rule order, without repeats, then the fallback."""
        names = dict.fromkeys(rule.segment for rule in self.rules)
        names[self.fallback] = None
        return tuple(names)

    def assign(self, r: Any, f: Any, m: Any) -> npt.NDArray[np.str_]:
        """Segment names for aligned score arrays (one lookup table over every score code)."""
        r = v.as_int_array("r", r, min_value=0)
        f = v.as_int_array("f", f, min_value=0)
        m = v.as_int_array("m", m, min_value=0)
        v.same_length(r=r, f=f, m=m)
        top = int(max(r.max(initial=0), f.max(initial=0), m.max(initial=0))) + 1
        gr, gf, gm = np.meshgrid(np.arange(top), np.arange(top), np.arange(top), indexing="ij")
        names = np.array([*self.segments], dtype=str)
        table = np.full(gr.shape, names.size - 1, dtype=np.intp)
        todo = np.ones(gr.shape, dtype=bool)
        lookup = {name: i for i, name in enumerate(names.tolist())}
        for rule in self.rules:
            hit = todo & rule.matches(gr, gf, gm)
            table[hit] = lookup[rule.segment]
            todo &= ~hit
        out: npt.NDArray[np.str_] = names[table[r, f, m]]
        return out


def _rule(name: str, r: Range, fm: Range) -> RFMRule:
    return RFMRule(segment=name, r=r, fm=fm)


#: crmkit's documented map on R and the F/M average (5 bins); it partitions every score.
DEFAULT_SEGMENT_MAP = RFMSegmentMap(
    rules=(
        _rule("Champions", (4, 5), (4, 5)),
        _rule("Loyal", (3, 5), (3, 5)),
        _rule("Potential loyalist", (4, 5), (2, 2.5)),
        _rule("New", (5, 5), (1, 1.5)),
        _rule("Promising", (4, 4), (1, 1.5)),
        _rule("Need attention", (3, 3), (2, 2.5)),
        _rule("About to sleep", (3, 3), (1, 1.5)),
        _rule("Can't lose them", (1, 1), (4, 5)),
        _rule("At risk", (1, 2), (3, 5)),
        _rule("Hibernating", (2, 2), (1, 2.5)),
        _rule("Lost", (1, 1), (1, 2.5)),
    ),
    fallback="Other",
)
