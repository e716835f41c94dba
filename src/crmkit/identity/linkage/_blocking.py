"""Blocking: which pairs of records are compared at all, as a union of rules, streamed in chunks.

A rule pairs two records when their key (the values of its columns) is equal; a rule with
``other`` columns pairs a record's ``columns`` with the other record's ``other`` (first name =
surname and surname = first name). The union counts every pair once: a pair found by an earlier
rule is dropped from later ones (checked on the keys, without remembering pairs), so candidate
generation streams in chunks of bounded size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity.linkage._columns import LinkageTable

__all__ = ["Blocking", "BlockingRule", "BlockingStats"]

IntArray = npt.NDArray[np.int64]


def _tuple(items: Iterable[str]) -> tuple[str, ...]:
    return (items,) if isinstance(items, str) else tuple(items)


def _rules(items: Iterable[BlockingRule]) -> tuple[BlockingRule, ...]:
    return tuple(items)


@attrs.frozen(kw_only=True)
class BlockingRule:
    """Pairs records whose ``columns`` are all present and equal (``other``: compared with these
    columns of the other record instead, for swapped fields).

    Examples:
        >>> BlockingRule(columns=("last_name", "postcode")).name
        'last_name+postcode'
        >>> BlockingRule(columns=("given", "surname"), other=("surname", "given")).name
        'given+surname~surname+given'
    """

    columns: tuple[str, ...] = attrs.field(converter=_tuple)
    other: tuple[str, ...] = attrs.field(converter=_tuple, default=())

    def __attrs_post_init__(self) -> None:
        if not self.columns:
            raise InvalidInputError("BlockingRule.columns: empty. Name at least one column.")
        if self.other and len(self.other) != len(self.columns):
            raise InvalidInputError(
                f"BlockingRule.other: {len(self.other)} columns for {len(self.columns)}. Pair "
                "each column with one other column."
            )

    @property
    def name(self) -> str:
        """A readable name: the columns joined by ``+`` (``~`` before swapped columns)."""
        base = "+".join(self.columns)
        return base if not self.other else f"{base}~{'+'.join(self.other)}"

    @property
    def symmetric(self) -> bool:
        """True when both records use the same columns."""
        return not self.other or self.other == self.columns

    def keys(self, table: LinkageTable) -> tuple[IntArray, IntArray]:
        """Key codes of every record as the first and as the second record of a pair (-1: no key;
        equal codes mean equal keys)."""
        n = len(table)
        kx = np.zeros(n, np.int64)
        ky = np.zeros(n, np.int64)
        ok = np.ones(n, bool)
        other = self.other or self.columns
        for cx, cy in zip(self.columns, other, strict=True):
            ex, ey = table.column(cx), table.column(cy)
            if cx == cy:
                px = ex.codes.astype(np.int64)
                py = px
                width = max(ex.values.size, 1)
            else:
                joint = np.unique(np.concatenate([ex.values, ey.values]))
                mx = np.searchsorted(joint, ex.values)
                my = np.searchsorted(joint, ey.values)
                px = np.where(ex.codes >= 0, mx[np.maximum(ex.codes, 0)] if mx.size else 0, -1)
                py = np.where(ey.codes >= 0, my[np.maximum(ey.codes, 0)] if my.size else 0, -1)
                width = max(joint.size, 1)
            ok &= (px >= 0) & (py >= 0) if not self.symmetric else px >= 0
            kx = kx * width + np.maximum(px, 0)
            ky = ky * width + np.maximum(py, 0)
            # re-code to keep the packed keys small
            _, inv = np.unique(np.concatenate([kx, ky]), return_inverse=True)
            inv = inv.reshape(-1)
            kx, ky = inv[:n].astype(np.int64), inv[n:].astype(np.int64)
        if self.symmetric:
            kx = np.where(ok, kx, -1)
            return kx, kx
        vx = np.ones(n, bool)
        vy = np.ones(n, bool)
        for cx, cy in zip(self.columns, other, strict=True):
            vx &= table.column(cx).codes >= 0
            vy &= table.column(cy).codes >= 0
        return np.where(vx, kx, -1), np.where(vy, ky, -1)


@attrs.frozen(kw_only=True, eq=False)
class BlockingStats:
    """Per rule (in order): the pairs it finds alone (``pairs``) and the new pairs it adds to the
    union of the rules before it (``new_pairs``; exact when ``exact`` is True, else counted on a
    sample of records, see [`Blocking.count_pairs`][crmkit.identity.linkage.Blocking.count_pairs]);
    ``total`` is the size of the union.

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> t = lk.read_table({"last": ["a", "a", "b", "b"], "zip": ["1", "2", "2", "2"]})
        >>> s = lk.Blocking(rules=[lk.BlockingRule(columns="last"),
        ...                        lk.BlockingRule(columns="zip")]).count_pairs(t)
        >>> s.pairs.tolist(), s.new_pairs.tolist(), s.total
        ([2, 3], [2, 2], 4)
    """

    rule: npt.NDArray[np.str_]
    pairs: IntArray
    new_pairs: IntArray
    total: int
    exact: bool


@attrs.frozen(kw_only=True)
class Blocking:
    """A union of [`BlockingRule`][crmkit.identity.linkage.BlockingRule]s.

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> t = lk.read_table({"email": ["a@x", "a@x", "b@x"], "zip": ["1", "1", "1"]})
        >>> b = lk.Blocking(rules=[lk.BlockingRule(columns="email"),
        ...                        lk.BlockingRule(columns="zip")])
        >>> [(a.tolist(), c.tolist()) for a, c in b.pairs(t)]
        [([0], [1]), ([0, 1], [2, 2])]
    """

    rules: tuple[BlockingRule, ...] = attrs.field(converter=_rules)

    def __attrs_post_init__(self) -> None:
        if not self.rules:
            raise InvalidInputError("Blocking.rules: empty. Give at least one rule.")

    def columns(self) -> tuple[str, ...]:
        """Every column a rule reads."""
        return tuple(sorted({c for r in self.rules for c in (*r.columns, *r.other)}))

    def pairs(
        self, table: LinkageTable, *, chunk_size: int = 2_000_000, among: Any = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Candidate pairs ``(a, b)`` (record positions; ``a < b`` when deduplicating, ``a`` left
        and ``b`` right when linking) in chunks of at most about ``chunk_size`` pairs, each pair
        once. ``among``: a boolean mask of records of which at least one must be in the pair
        (incremental linkage of new records)."""
        chunk_size = max(int(chunk_size), 1)
        keys = [r.keys(table) for r in self.rules]
        focus = None if among is None else np.asarray(among, bool)
        for r, (kx, ky) in enumerate(keys):
            for a, b in _rule_pairs(table, kx, ky, self.rules[r].symmetric, chunk_size, focus):
                keep = np.ones(a.size, bool)
                for px, py in keys[:r]:
                    keep &= ~_found(px, py, a, b, table.linking)
                if keep.any():
                    yield a[keep], b[keep]

    def count_pairs(
        self,
        table: LinkageTable,
        *,
        sample: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> BlockingStats:
        """How many pairs each rule finds, before any pair is compared.

        ``pairs`` (each rule alone) is always exact and cheap (from key counts). ``new_pairs``
        (what each rule adds to the rules before it) and ``total`` need the pairs themselves:
        exact when ``sample`` is None; else estimated from the pairs that touch ``sample``
        records drawn at random (``rng``), each count divided by the probability that a pair
        touches the sample, so their cost is about ``sample / len(table)`` of the exact count.

        Examples:
            >>> import numpy as np
            >>> import crmkit.identity.linkage as lk
            >>> rng = np.random.default_rng(0)
            >>> t = lk.read_table({"zip": rng.integers(0, 50, 4000).astype(str),
            ...                    "year": rng.integers(0, 40, 4000).astype(str)})
            >>> b = lk.Blocking(rules=[lk.BlockingRule(columns="zip"),
            ...                        lk.BlockingRule(columns="year")])
            >>> exact = b.count_pairs(t).total
            >>> est = b.count_pairs(t, sample=1000, rng=1)
            >>> est.exact, bool(abs(est.total / exact - 1) < 0.05)
            (False, True)
        """
        keys = [r.keys(table) for r in self.rules]
        alone = np.array(
            [
                _count(table, kx, ky, r.symmetric)
                for r, (kx, ky) in zip(self.rules, keys, strict=True)
            ],
            dtype=np.int64,
        )
        n = len(table)
        focus: npt.NDArray[np.bool_] | None = None
        share = 1.0
        if sample is not None:
            size = int(v.as_int_array("sample", [sample], min_value=1)[0])
            if size < n:
                gen = v.as_rng(rng)
                focus = np.zeros(n, bool)
                focus[gen.choice(n, size, replace=False)] = True
                # probability that a given pair has at least one record in the sample
                share = 1.0 - (n - size) * (n - size - 1) / (n * (n - 1))
        new = np.zeros(len(self.rules), np.int64)
        for r, (kx, ky) in enumerate(keys):
            for a, b in _rule_pairs(table, kx, ky, self.rules[r].symmetric, 2_000_000, focus):
                keep = np.ones(a.size, bool)
                for px, py in keys[:r]:
                    keep &= ~_found(px, py, a, b, table.linking)
                new[r] += int(keep.sum())
        if focus is not None:
            new = np.minimum(np.round(new / share).astype(np.int64), alone)
        return BlockingStats(
            rule=np.array([r.name for r in self.rules]),
            pairs=alone,
            new_pairs=new,
            total=int(new.sum()),
            exact=focus is None,
        )

    def recall(self, table: LinkageTable, a: Any, b: Any) -> dict[str, float]:
        """Blocking recall on labelled pairs: the share of the true pairs ``(a[i], b[i])``
        (record positions) that each rule finds, and that the union finds (key ``"union"``)."""
        ia = v.as_int_array("a", a, min_value=0)
        ib = v.as_int_array("b", b, min_value=0)
        v.same_length(a=ia, b=ib)
        if ia.size == 0:
            raise InvalidInputError("a: no labelled pairs. Give at least one true pair.")
        out: dict[str, float] = {}
        union = np.zeros(ia.size, bool)
        for rule in self.rules:
            kx, ky = rule.keys(table)
            hit = _found(kx, ky, ia, ib, table.linking)
            union |= hit
            out[rule.name] = float(hit.mean())
        out["union"] = float(union.mean())
        return out


def _found(kx: IntArray, ky: IntArray, a: IntArray, b: IntArray, linking: bool) -> Any:
    hit = (kx[a] >= 0) & (kx[a] == ky[b])
    if not linking:
        hit |= (kx[b] >= 0) & (kx[b] == ky[a])
    return hit


def _count(table: LinkageTable, kx: IntArray, ky: IntArray, symmetric: bool) -> int:
    if table.linking:
        left, right = table.side == 0, table.side == 1
        x, y = kx[left & (kx >= 0)], ky[right & (ky >= 0)]
        size = int(max(x.max(initial=-1), y.max(initial=-1))) + 1
        return int((np.bincount(x, minlength=size) * np.bincount(y, minlength=size)).sum())
    if symmetric:
        c = np.bincount(kx[kx >= 0]) if (kx >= 0).any() else np.zeros(0, np.int64)
        return int((c * (c - 1) // 2).sum())
    return sum(int(a.size) for a, _ in _rule_pairs(table, kx, ky, False, 2_000_000, None))


def _chunks(counts: IntArray, chunk_size: int) -> Iterator[slice]:
    """Slices of elements whose pair counts add up to about ``chunk_size``."""
    if counts.size == 0:
        return
    cum = np.cumsum(counts)
    start = 0
    while start < counts.size:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + chunk_size, side="right"))
        stop = max(stop, start + 1)
        yield slice(start, stop)
        start = stop


def _expand(first: IntArray, counts: IntArray, offset_base: IntArray) -> tuple[IntArray, IntArray]:
    """Repeat ``first`` by ``counts``; the second index runs from ``offset_base`` per element."""
    total = int(counts.sum())
    a = np.repeat(first, counts)
    starts = np.cumsum(counts) - counts
    run = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return a, np.repeat(offset_base, counts) + run


def _rule_pairs(
    table: LinkageTable,
    kx: IntArray,
    ky: IntArray,
    symmetric: bool,
    chunk_size: int,
    focus: npt.NDArray[np.bool_] | None,
) -> Iterator[tuple[IntArray, IntArray]]:
    linking = table.linking
    if not linking and symmetric:
        idx = np.flatnonzero(kx >= 0)
        if focus is not None:  # only keys that some focus record has can pair a focus record
            idx = idx[np.isin(kx[idx], kx[idx[focus[idx]]])]
        order = idx[np.argsort(kx[idx], kind="stable")]
        k = kx[order]
        if k.size == 0:
            return
        new_group = np.ones(k.size, bool)
        new_group[1:] = k[1:] != k[:-1]
        gstart = np.flatnonzero(new_group)
        gsize = np.diff(np.append(gstart, k.size))
        gid = np.cumsum(new_group) - 1
        pos = np.arange(k.size)
        counts = (gstart[gid] + gsize[gid] - 1 - pos).astype(np.int64)
        for sl in _chunks(counts, chunk_size):
            p, q = _expand(pos[sl], counts[sl], pos[sl] + 1)
            a, b = order[p], order[q]
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            if focus is not None:
                sel = focus[lo] | focus[hi]
                lo, hi = lo[sel], hi[sel]
            if lo.size:
                yield lo, hi
        return
    if linking:
        xs = np.flatnonzero((table.side == 0) & (kx >= 0))
        ys = np.flatnonzero((table.side == 1) & (ky >= 0))
    else:
        xs = np.flatnonzero(kx >= 0)
        ys = np.flatnonzero(ky >= 0)
    ys = ys[np.argsort(ky[ys], kind="stable")]
    sk = ky[ys]
    lo_pos = np.searchsorted(sk, kx[xs], side="left")
    counts = (np.searchsorted(sk, kx[xs], side="right") - lo_pos).astype(np.int64)
    for sl in _chunks(counts, chunk_size):
        x, p = _expand(xs[sl], counts[sl], lo_pos[sl].astype(np.int64))
        y = ys[p]
        if not linking:
            keep = x != y
            # a pair found in both directions is kept once, from its smaller first record
            keep &= (x < y) | ~((kx[y] >= 0) & (kx[y] == ky[x]))
            x, y = x[keep], y[keep]
            x, y = np.minimum(x, y), np.maximum(x, y)
        if focus is not None:
            sel = focus[x] | focus[y]
            x, y = x[sel], y[sel]
        if x.size:
            yield x.astype(np.int64), y.astype(np.int64)
