"""The Fellegi–Sunter model: a frozen specification, and the fit that scores and explains pairs.

``u`` (how often non-matches agree at each level) comes from random pairs of records, ``m`` (how
often matches do) and the share of matches among the candidates by EM without labels; the prior
λ (the probability that two random records match) follows from that share, the number of
candidate pairs and the number of possible pairs. Missing values are neutral. Term-frequency
adjustment replaces ``u`` of an exact agreement by the frequency of the agreed value, so a rare
surname counts for more than a common one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity.linkage._blocking import Blocking
from crmkit.identity.linkage._columns import LinkageTable
from crmkit.identity.linkage._comparisons import COMPARISONS, Comparison
from crmkit.identity.linkage._em import Patterns, em, patterns_of
from crmkit.identity.linkage._scores import Candidates, ScoredPairs

__all__ = ["FellegiSunter", "FellegiSunterFit"]

_log = logging.getLogger("crmkit.identity")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
FORMAT = "crmkit.fellegi_sunter/1"


def _comparisons(items: Iterable[Comparison]) -> tuple[Comparison, ...]:
    return tuple(items)


def _check_comparisons(comparisons: Sequence[Comparison]) -> None:
    if not comparisons:
        raise InvalidInputError("comparisons: empty. Give at least one comparison.")
    names = [c.name for c in comparisons]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InvalidInputError(
            f"comparisons: names {dup} appear twice. Give each comparison its own name."
        )


def compare_pairs(
    comparisons: Sequence[Comparison], table: LinkageTable, a: IntArray, b: IntArray
) -> Candidates:
    """The levels of every comparison for the pairs ``(a, b)``."""
    levels = np.empty((a.size, len(comparisons)), np.int8)
    for k, c in enumerate(comparisons):
        levels[:, k] = c.levels(table, a, b)
    return Candidates(a=a, b=b, levels=levels)


def possible_pairs(table: LinkageTable) -> int:
    """How many pairs the records could form (across sides when linking)."""
    if table.linking:
        n_left = int((table.side == 0).sum())
        return n_left * (len(table) - n_left)
    n = len(table)
    return n * (n - 1) // 2


def random_pairs(
    table: LinkageTable, k: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """``k`` pairs drawn uniformly (with replacement) from all possible pairs."""
    if table.linking:
        left = np.flatnonzero(table.side == 0)
        right = np.flatnonzero(table.side == 1)
        return left[rng.integers(0, left.size, k)], right[rng.integers(0, right.size, k)]
    n = len(table)
    i = rng.integers(0, n, k)
    j = rng.integers(0, n - 1, k)
    j = j + (j >= i)
    return np.minimum(i, j), np.maximum(i, j)


@attrs.frozen(kw_only=True)
class FellegiSunter:
    """A Fellegi–Sunter linkage model: ``comparisons`` and the ``blocking`` that proposes
    candidate pairs.

    ``u_pairs``: random pairs drawn to estimate ``u``; ``max_iter``/``tol``: EM stopping rules;
    ``chunk_size``: candidate pairs compared at once (bounds memory); ``threshold``: the match
    probability from which a pair is a link (labels can calibrate it later).

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> model = lk.FellegiSunter(
        ...     comparisons=[lk.NameComparison(column="first"), lk.ExactMatch(column="city")],
        ...     blocking=lk.Blocking(rules=[lk.BlockingRule(columns="city")]))
        >>> [c.name for c in model.comparisons]
        ['first', 'city']
    """

    comparisons: tuple[Comparison, ...] = attrs.field(converter=_comparisons)
    blocking: Blocking
    u_pairs: int = 1_000_000
    max_iter: int = 200
    tol: float = 1e-7
    chunk_size: int = 2_000_000
    threshold: float = 0.5

    def __attrs_post_init__(self) -> None:
        _check_comparisons(self.comparisons)
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInputError(f"threshold: {self.threshold} must be in (0, 1).")

    def candidates(self, table: LinkageTable, *, among: Any = None) -> Candidates:
        """Every candidate pair of the blocking with its comparison levels, built in chunks
        (``among``: a mask of records of which at least one must be in each pair)."""
        parts = [
            compare_pairs(self.comparisons, table, a, b)
            for a, b in self.blocking.pairs(table, chunk_size=self.chunk_size, among=among)
        ]
        return Candidates.concat(parts, len(self.comparisons))

    def patterns(self, table: LinkageTable, *, among: Any = None) -> tuple[Patterns, int]:
        """The distinct comparison vectors of the candidate pairs with their counts, and the
        number of candidates: streamed chunk by chunk, so memory holds one chunk and the
        patterns, never the whole candidate level matrix."""
        parts: list[Patterns] = []
        n = 0
        for a, b in self.blocking.pairs(table, chunk_size=self.chunk_size, among=among):
            parts.append(patterns_of(compare_pairs(self.comparisons, table, a, b).levels))
            n += int(a.size)
            if len(parts) >= 32:
                parts = [Patterns.merge(parts)]
        if not parts:
            empty = np.empty((0, len(self.comparisons)), np.int8)
            return Patterns(levels=empty, count=np.empty(0, np.int64)), 0
        return Patterns.merge(parts), n

    def fit(
        self,
        table: LinkageTable,
        *,
        candidates: Candidates | None = None,
        patterns: tuple[Patterns, int] | None = None,
        among: Any = None,
        rng: np.random.Generator | int | None = None,
    ) -> FellegiSunterFit:
        """Estimate ``u`` from random pairs, then ``m`` and λ by EM on the candidate pairs.

        ``candidates``: the candidate pairs, if already built; ``patterns``: their distinct
        comparison vectors and count, from
        [`patterns`][crmkit.identity.linkage.FellegiSunter.patterns]; else the candidates are
        streamed in chunks of ``chunk_size`` and only their distinct comparison vectors are kept
        (``among``: a mask of records of which at least one must be in each pair)."""
        gen = v.as_rng(rng)
        n_possible = possible_pairs(table)
        if n_possible < 1:
            raise InvalidInputError(
                f"table: {len(table)} records form no pairs. Give at least two records."
            )
        if candidates is not None:
            pats, n_cand = patterns_of(candidates.levels), len(candidates)
        elif patterns is not None:
            pats, n_cand = patterns
        else:
            pats, n_cand = self.patterns(table, among=among)
        n_levels = [len(c.level_names()) for c in self.comparisons]
        k = int(min(self.u_pairs, max(n_possible, 1)))
        ra, rb = random_pairs(table, k, gen)
        rand = compare_pairs(self.comparisons, table, ra, rb)
        u_rand = []
        for c, nl in enumerate(n_levels):
            g = rand.levels[:, c]
            cnt = np.bincount(g[g >= 0], minlength=nl)[:nl].astype(float)
            u_rand.append((cnt + 1.0 / nl) / (cnt.sum() + 1.0))
        m_start = []
        for nl in n_levels:
            start = np.full(nl, 0.1 / max(nl - 1, 1))
            start[0] = 0.9
            m_start.append(start)
        p_start = float(np.clip(0.5 * len(table) / max(n_cand, 1), 1e-3, 0.5))
        res = em(
            pats,
            n_levels,
            m_start=m_start,
            u_start=u_rand,
            p_start=p_start,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        prior = float(np.clip(res.p * n_cand / n_possible, 1e-12, 1 - 1e-9))
        tf = {c.name: _tf_table(table, c.column) for c in self.comparisons if c.term_frequency}
        _log.info(
            "Fellegi-Sunter: %d candidates, EM %d iterations, p=%.4g, prior=%.3g",
            n_cand,
            res.iterations,
            res.p,
            prior,
        )
        return FellegiSunterFit(
            comparisons=self.comparisons,
            m=tuple(tuple(float(x) for x in arr) for arr in res.m),
            u=tuple(tuple(float(x) for x in arr) for arr in u_rand),
            prior=prior,
            tf=tf,
            threshold=self.threshold,
            diagnostics={
                "candidates": n_cand,
                "patterns": int(pats.count.size),
                "possible_pairs": n_possible,
                "u_pairs": k,
                "em_iterations": res.iterations,
                "em_converged": res.converged,
                "candidate_match_share": res.p,
            },
        )


def _tf_table(table: LinkageTable, column: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    col = table.column(column)
    codes = col.codes[col.codes >= 0]
    cnt = np.bincount(codes, minlength=col.values.size).astype(float)
    freq = cnt / max(cnt.sum(), 1.0)
    return tuple(col.values.tolist()), tuple(freq.tolist())


def _floats2(items: Iterable[Iterable[float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in row) for row in items)


@attrs.frozen(kw_only=True, eq=False)
class FellegiSunterFit:
    """A trained Fellegi–Sunter model: ``m`` and ``u`` per comparison and level, the ``prior`` λ,
    the term-frequency tables (value → share of records) of the comparisons that use them, the
    ``threshold`` match probability of a link and the training ``diagnostics``. Serializes to
    JSON with [`to_json`][crmkit.identity.linkage.FellegiSunterFit.to_json].

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> fit = lk.FellegiSunterFit.from_parameters(
        ...     comparisons=[lk.ExactMatch(column="email")], m=[[0.95, 0.05]],
        ...     u=[[0.001, 0.999]], prior=0.01)
        >>> fit.weights()[0].round(2).tolist()
        [9.89, -4.32]
        >>> lk.FellegiSunterFit.from_json(fit.to_json()).weights()[0].round(2).tolist()
        [9.89, -4.32]
    """

    comparisons: tuple[Comparison, ...] = attrs.field(converter=_comparisons)
    m: tuple[tuple[float, ...], ...] = attrs.field(converter=_floats2)
    u: tuple[tuple[float, ...], ...] = attrs.field(converter=_floats2)
    prior: float
    tf: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]] = attrs.field(factory=dict)
    threshold: float = 0.5
    diagnostics: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        _check_comparisons(self.comparisons)
        for name, probs in (("m", self.m), ("u", self.u)):
            if len(probs) != len(self.comparisons):
                raise InvalidInputError(
                    f"{name}: {len(probs)} rows for {len(self.comparisons)} comparisons. Give one "
                    "row of level probabilities per comparison."
                )
            for c, row in zip(self.comparisons, probs, strict=True):
                arr = np.asarray(row)
                if arr.size != len(c.level_names()) or (arr <= 0).any() or (arr > 1).any():
                    raise InvalidInputError(
                        f"{name}: the row of {c.name!r} has {arr.size} values (levels "
                        f"{c.level_names()}) or values outside (0, 1]. Give one probability > 0 "
                        "per level."
                    )
        if not 0.0 < self.prior < 1.0:
            raise InvalidInputError(f"prior: {self.prior} must be in (0, 1).")
        if not 0.0 < self.threshold < 1.0:
            raise InvalidInputError(f"threshold: {self.threshold} must be in (0, 1).")

    @classmethod
    def from_parameters(
        cls,
        *,
        comparisons: Iterable[Comparison],
        m: Iterable[Iterable[float]],
        u: Iterable[Iterable[float]],
        prior: float,
        threshold: float = 0.5,
    ) -> FellegiSunterFit:
        """A fit from known parameters (e.g. from a previous run or a published model)."""
        return cls(comparisons=tuple(comparisons), m=m, u=u, prior=prior, threshold=threshold)

    @property
    def prior_weight(self) -> float:
        """log2 λ/(1-λ): the match weight of a pair before any comparison."""
        return float(np.log2(self.prior) - np.log2(1.0 - self.prior))

    def weights(self) -> tuple[FloatArray, ...]:
        """log2 m/u of every level, per comparison (the partial match weights)."""
        return tuple(
            np.log2(np.asarray(m)) - np.log2(np.asarray(u))
            for m, u in zip(self.m, self.u, strict=True)
        )

    def compare(self, table: LinkageTable, *, a: Any, b: Any) -> Candidates:
        """The comparison levels of the given pairs of record positions."""
        ia = v.as_int_array("a", a, min_value=0)
        ib = v.as_int_array("b", b, min_value=0)
        v.same_length(a=ia, b=ib)
        n = len(table)
        v.require("a", ia >= n, ia, "positions past the last record", "Use record positions.")
        v.require("b", ib >= n, ib, "positions past the last record", "Use record positions.")
        return compare_pairs(self.comparisons, table, ia, ib)

    def _tf_by_code(self, table: LinkageTable, k: int) -> FloatArray | None:
        c = self.comparisons[k]
        if c.name not in self.tf:
            return None
        values, freq = self.tf[c.name]
        col = table.column(c.column)
        known = np.asarray(values, dtype=str)
        fr = np.asarray(freq, float)
        floor = float(fr[fr > 0].min()) if (fr > 0).any() else 1e-6
        out = np.full(col.values.size, floor)
        if known.size and col.values.size:
            pos = np.minimum(np.searchsorted(known, col.values), known.size - 1)
            hit = known[pos] == col.values
            out[hit] = np.maximum(fr[pos[hit]], floor)
        return out

    def score(
        self, table: LinkageTable, candidates: Candidates, *, min_probability: float = 0.0
    ) -> ScoredPairs:
        """Match weight, probability and each comparison's contribution for every candidate
        (those with a probability below ``min_probability`` are dropped)."""
        lv = candidates.levels
        n, k = lv.shape
        if k != len(self.comparisons):
            raise InvalidInputError(
                f"candidates: {k} comparison columns for {len(self.comparisons)} comparisons. "
                "Build candidates with this model's comparisons."
            )
        contrib = np.zeros((n, k))
        tfadj = np.zeros((n, k))
        corroborated = np.zeros(n, bool)
        for c, w in enumerate(self.weights()):
            g = lv[:, c]
            ok = g >= 0
            contrib[ok, c] = w[g[ok]]
            tf = self._tf_by_code(table, c)
            if tf is not None:
                exact = g == 0
                codes = table.column(self.comparisons[c].column).codes[candidates.a[exact]]
                tfadj[exact, c] = np.log2(self.u[c][0]) - np.log2(tf[codes])
                contrib[:, c] += tfadj[:, c]
            if self.comparisons[c].corroborates:
                corroborated |= contrib[:, c] > 0
        weight = contrib.sum(axis=1) + self.prior_weight
        with np.errstate(over="ignore"):
            prob = 1.0 / (1.0 + np.exp2(-weight))
        keep = prob >= min_probability
        if not keep.all():
            contrib, tfadj, weight, prob = contrib[keep], tfadj[keep], weight[keep], prob[keep]
            corroborated = corroborated[keep]
        a, b = candidates.a[keep], candidates.b[keep]
        return ScoredPairs(
            a=a,
            b=b,
            record_a=table.record_id[a],
            record_b=table.record_id[b],
            match_weight=weight,
            match_probability=prob,
            levels=lv[keep],
            contributions=contrib,
            tf_adjustment=tfadj,
            prior=self.prior_weight,
            corroborated=corroborated,
            comparisons=tuple(c.name for c in self.comparisons),
            level_names=tuple(c.level_names() for c in self.comparisons),
        )

    def score_blocked(
        self,
        table: LinkageTable,
        blocking: Blocking,
        *,
        among: Any = None,
        min_probability: float = 0.0,
        chunk_size: int = 2_000_000,
    ) -> ScoredPairs:
        """Score every candidate pair of ``blocking``, chunk by chunk, keeping those with a
        match probability of at least ``min_probability`` (memory: one chunk plus the kept
        pairs). ``among``: a mask of records of which at least one must be in each pair.

        Examples:
            >>> import crmkit.identity.linkage as lk
            >>> fit = lk.FellegiSunterFit.from_parameters(
            ...     comparisons=[lk.ExactMatch(column="email")], m=[[0.95, 0.05]],
            ...     u=[[0.001, 0.999]], prior=0.01)
            >>> t = lk.read_table({"email": ["a@x.org", "a@x.org", "b@x.org"]})
            >>> blk = lk.Blocking(rules=[lk.BlockingRule(columns="email")])
            >>> fit.score_blocked(t, blk, min_probability=0.5).record_b.tolist()
            ['row:1']
        """
        parts = [
            self.score(table, compare_pairs(self.comparisons, table, a, b),
                       min_probability=min_probability)
            for a, b in blocking.pairs(table, chunk_size=chunk_size, among=among)
        ]  # fmt: skip
        if not parts:
            n = len(self.comparisons)
            e = np.empty(0, np.int64)
            return self.score(table, Candidates(a=e, b=e.copy(), levels=np.empty((0, n), np.int8)))
        return ScoredPairs.concat(parts)

    def calibrate(self, scored: ScoredPairs, true_a: Any, true_b: Any) -> FellegiSunterFit:
        """A fit whose ``threshold`` maximises pairwise F1 on labelled pairs: ``true_a``/
        ``true_b`` are the record positions of the true matches (all of them, also those the
        blocking missed, so recall is honest)."""
        ta = v.as_int_array("true_a", true_a, min_value=0)
        tb = v.as_int_array("true_b", true_b, min_value=0)
        v.same_length(true_a=ta, true_b=tb)
        if ta.size == 0:
            raise InvalidInputError("true_a: no true pairs. Give at least one labelled match.")
        width = np.int64(max(int(scored.a.max(initial=0)), int(ta.max()), int(tb.max())) + 1)
        truth = np.unique(np.minimum(ta, tb) * width + np.maximum(ta, tb))
        keys = np.minimum(scored.a, scored.b) * width + np.maximum(scored.a, scored.b)
        is_true = np.isin(keys, truth)
        order = np.argsort(-scored.match_probability, kind="stable")
        tp = np.cumsum(is_true[order])
        pred = np.arange(1, order.size + 1)
        f1 = 2 * tp / (pred + truth.size)
        best = int(np.argmax(f1))
        p = scored.match_probability[order]
        cut = float(p[best])
        nxt = float(p[best + 1]) if best + 1 < p.size else 0.0
        threshold = float(np.clip((cut + nxt) / 2 if nxt < cut else cut, 1e-12, 1 - 1e-12))
        return attrs.evolve(self, threshold=threshold)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The fit as JSON-safe data (see ``from_dict``)."""
        comps = []
        for c in self.comparisons:
            d = attrs.asdict(c)
            comps.append(
                {
                    "kind": c.kind,
                    **{k: list(x) if isinstance(x, tuple) else x for k, x in d.items()},
                }
            )
        return {
            "format": FORMAT,
            "comparisons": comps,
            "m": [list(r) for r in self.m],
            "u": [list(r) for r in self.u],
            "prior": self.prior,
            "threshold": self.threshold,
            "tf": {
                k: {"values": list(vals), "freq": list(fr)} for k, (vals, fr) in self.tf.items()
            },
            "diagnostics": dict(self.diagnostics),
        }

    def to_json(self) -> str:
        """The fit as a JSON document."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FellegiSunterFit:
        """A fit from ``to_dict`` output."""
        if data.get("format") != FORMAT:
            raise InvalidInputError(
                f"data: format {data.get('format')!r} is not {FORMAT!r}. Pass the output of "
                "FellegiSunterFit.to_dict()."
            )
        comps = []
        for d in data["comparisons"]:
            d = dict(d)
            kind = d.pop("kind")
            if kind not in COMPARISONS:
                raise InvalidInputError(
                    f"comparisons: kind {kind!r} is not known (known: {sorted(COMPARISONS)})."
                )
            comps.append(COMPARISONS[kind](**d))
        return cls(
            comparisons=comps,
            m=data["m"],
            u=data["u"],
            prior=float(data["prior"]),
            threshold=float(data["threshold"]),
            tf={k: (tuple(x["values"]), tuple(x["freq"])) for k, x in data["tf"].items()},
            diagnostics=dict(data.get("diagnostics", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> FellegiSunterFit:
        """A fit from ``to_json`` output."""
        return cls.from_dict(json.loads(text))
