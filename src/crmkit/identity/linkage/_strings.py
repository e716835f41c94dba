"""String similarities vectorized over pairs of strings: Jaro-Winkler, Levenshtein, Damerau
(optimal string alignment) and bigram Jaccard.

Strings are encoded once as padded ``uint32`` code point arrays; the dynamic programs and the
Jaro matching windows then run as numpy operations over all pairs at once (a loop over character
positions, never over pairs). Callers compare deduplicated value pairs: in linkage most candidate
pairs share their values, so the work is per distinct pair of values, not per pair of records.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "Coded",
    "damerau_levenshtein",
    "dl_pairs",
    "encode",
    "jaccard_bigrams",
    "jaro_winkler",
    "jw_pairs",
    "levenshtein",
]

StrArray = npt.NDArray[np.str_]
CodeArray = npt.NDArray[np.uint32]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Longest prefix of a value that similarities look at (longer values are cut).
MAX_LEN = 40


def encode(values: Any, max_len: int = MAX_LEN) -> tuple[CodeArray, IntArray]:
    """Code points of each string, padded with 0 to one width, and each string's length.

    Examples:
        >>> cp, n = encode(["ab", "c"])
        >>> cp.tolist(), n.tolist()
        ([[97, 98], [99, 0]], [2, 1])
    """
    arr = np.asarray(values, dtype=str)
    width = max(arr.dtype.itemsize // 4, 1)
    fixed = np.ascontiguousarray(arr, dtype=f"<U{width}")
    cp = fixed.view(np.uint32).reshape(arr.size, width)[:, :max_len].copy()
    lengths = np.count_nonzero(cp, axis=1).astype(np.int64)
    return cp, lengths


def _pad(cp: CodeArray, width: int) -> CodeArray:
    if cp.shape[1] >= width:
        return cp
    out = np.zeros((cp.shape[0], width), np.uint32)
    out[:, : cp.shape[1]] = cp
    return out


_BUCKETS = 32


def _hist(cp: CodeArray) -> npt.NDArray[np.int64]:
    """Character counts per row in 32 buckets (code point mod 32; padding not counted)."""
    n, w = cp.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), w)
    flat = cp.reshape(-1)
    ok = flat != 0
    idx = rows[ok] * _BUCKETS + (flat[ok] % _BUCKETS)
    return np.bincount(idx, minlength=n * _BUCKETS).reshape(n, _BUCKETS)


@attrs.frozen(kw_only=True, eq=False)
class Coded:
    """Distinct strings encoded once: code points, lengths and character-count histograms."""

    cp: CodeArray
    n: IntArray
    hist: npt.NDArray[np.int8]  # counts <= MAX_LEN: one byte each keeps pair gathers small

    @staticmethod
    def of(values: Any) -> Coded:
        cp, n = encode(values)
        return Coded(cp=cp, n=n, hist=_hist(cp).astype(np.int8))


def jw_pairs(x: Coded, i: IntArray, y: Coded, j: IntArray, *, floor: float) -> FloatArray:
    """Jaro-Winkler of the pairs ``(x[i], y[j])``; pairs that cannot reach ``floor`` score 0."""
    na, nb = x.n[i], y.n[j]
    common = np.minimum(x.hist[i], y.hist[j]).sum(axis=1)
    bound = (common / np.maximum(na, 1) + common / np.maximum(nb, 1) + 1.0) / 3.0
    bound = np.where(common > 0, bound + 0.4 * (1.0 - bound), 0.0)
    live = np.flatnonzero(bound >= floor)
    out = np.zeros(i.size)
    if live.size:
        ca, cb = x.cp[i[live]], y.cp[j[live]]
        out[live] = _jaro_winkler(ca, na[live], cb, nb[live], 0.1)
    return out


def dl_pairs(
    x: Coded, i: IntArray, y: Coded, j: IntArray, *, cap: int, transpositions: bool = True
) -> IntArray:
    """Damerau-Levenshtein (or Levenshtein) distance of ``(x[i], y[j])``, capped at cap + 1."""
    na, nb = x.n[i], y.n[j]
    diff = np.abs(x.hist[i] - y.hist[j]).sum(axis=1)
    live = np.flatnonzero((diff <= 2 * cap) & (np.abs(na - nb) <= cap))
    out = np.full(i.size, cap + 1, np.int64)
    if live.size:
        w = max(x.cp.shape[1], y.cp.shape[1], 1)
        ca, cb = _pad(x.cp[i[live]], w), _pad(y.cp[j[live]], w)
        out[live] = _dp(ca, cb, na[live], nb[live], transpositions=transpositions, cap=cap)
    return out


def jaro_winkler(
    a: Any, b: Any, *, prefix_weight: float = 0.1, floor: float | None = None
) -> FloatArray:
    """Jaro-Winkler similarity of each pair ``(a[i], b[i])`` (1 = equal, 0 = nothing in common;
    two empty strings score 0).

    Examples:
        >>> jaro_winkler(["martha", "dwayne", "abc"], ["marhta", "duane", "xyz"]).round(4).tolist()
        [0.9611, 0.84, 0.0]
    """
    ca, na = encode(a)
    cb, nb = encode(b)
    if floor is not None and ca.shape[0]:
        # an upper bound from shared characters: pairs that cannot reach ``floor`` score 0
        common = np.minimum(_hist(ca), _hist(cb)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = (common / np.maximum(na, 1) + common / np.maximum(nb, 1) + 1.0) / 3.0
        bound = np.where(common > 0, bound + 4 * prefix_weight * (1.0 - bound), 0.0)
        live = bound >= floor
        out = np.zeros(ca.shape[0])
        if live.any():
            out[live] = _jaro_winkler(ca[live], na[live], cb[live], nb[live], prefix_weight)
        return out
    return _jaro_winkler(ca, na, cb, nb, prefix_weight)


def _jaro_winkler(
    ca: CodeArray, na: IntArray, cb: CodeArray, nb: IntArray, prefix_weight: float
) -> FloatArray:
    n = ca.shape[0]
    width = max(ca.shape[1], cb.shape[1], 1)
    ca, cb = _pad(ca, width), _pad(cb, width)
    window = np.maximum(np.maximum(na, nb) // 2 - 1, 0)
    pos = np.arange(width)
    matched_a = np.zeros((n, width), bool)
    matched_b = np.zeros((n, width), bool)
    rows = np.arange(n)
    valid_b = pos[None, :] < nb[:, None]
    for i in range(width):
        live = i < na
        if not live.any():
            break
        lo = np.maximum(i - window, 0)
        hi = np.minimum(i + window + 1, nb)
        cand = (
            (cb == ca[:, i : i + 1])
            & ~matched_b
            & valid_b
            & (pos[None, :] >= lo[:, None])
            & (pos[None, :] < hi[:, None])
        )
        cand &= live[:, None]
        has = cand.any(axis=1)
        j = np.argmax(cand, axis=1)
        matched_a[rows[has], i] = True
        matched_b[rows[has], j[has]] = True
    m = matched_a.sum(axis=1)
    order_a = np.argsort(~matched_a, axis=1, kind="stable")
    order_b = np.argsort(~matched_b, axis=1, kind="stable")
    sa = np.take_along_axis(ca, order_a, axis=1)
    sb = np.take_along_axis(cb, order_b, axis=1)
    within = pos[None, :] < m[:, None]
    half_t = ((sa != sb) & within).sum(axis=1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mf = m.astype(float)
        jaro = np.where(
            m > 0,
            (mf / np.maximum(na, 1) + mf / np.maximum(nb, 1) + (mf - half_t) / np.maximum(mf, 1))
            / 3.0,
            0.0,
        )
    same = ca[:, :4] == cb[:, :4]
    prefix = np.cumprod(same & (pos[None, :4] < np.minimum(na, nb)[:, None]), axis=1).sum(axis=1)
    out: FloatArray = jaro + prefix * prefix_weight * (1.0 - jaro)
    return out


def _at_lengths(
    ca: CodeArray, cb: CodeArray, na: IntArray, nb: IntArray, *, transpositions: bool, cap: int
) -> IntArray:
    # each edit changes the character counts by at most 2 (and the length by at most 1): pairs
    # whose counts differ more are farther than ``cap`` without running the program
    big = cap + 1
    if ca.shape[0] == 0:
        return np.zeros(0, np.int64)
    diff = np.abs(_hist(ca) - _hist(cb)).sum(axis=1)
    live = (diff <= 2 * cap) & (np.abs(na - nb) <= cap)
    out = np.full(ca.shape[0], big, np.int64)
    if live.any():
        out[live] = _dp(ca[live], cb[live], na[live], nb[live], transpositions=transpositions,
                        cap=cap)  # fmt: skip
    return out


def _dp(
    ca: CodeArray, cb: CodeArray, na: IntArray, nb: IntArray, *, transpositions: bool, cap: int
) -> IntArray:
    # One column of the dynamic program per character of ``b``, laid out position-major (each
    # position of all pairs is contiguous) in small integers: the cells never exceed cap + 1.
    n = ca.shape[0]
    la, lb = ca.shape[1], cb.shape[1]
    big = cap + 1
    cell = np.int16 if big < 2**14 else np.int64
    out = np.where(na == 0, np.minimum(nb, big), 0).astype(np.int64)
    at, bt = np.ascontiguousarray(ca.T), np.ascontiguousarray(cb.T)
    prev2 = np.zeros((lb + 1, n), cell)
    prev = np.repeat(np.minimum(np.arange(lb + 1), big).astype(cell)[:, None], n, axis=1)
    rows = np.arange(n)
    for i in range(1, la + 1):
        if not (na >= i).any():
            break
        cur = np.full((lb + 1, n), big, cell)
        cur[0] = min(i, big)
        ai = at[i - 1]
        # cells farther than cap from the diagonal exceed the cap: skip them (a band)
        for j in range(max(1, i - big), min(lb, i + big) + 1):
            differ = bt[j - 1] != ai
            best = np.minimum(prev[j], cur[j - 1]) + 1
            best = np.minimum(best, prev[j - 1] + differ)
            if transpositions and i > 1 and j > 1:
                swap = (ai == bt[j - 2]) & (at[i - 2] == bt[j - 1]) & differ
                best = np.where(swap, np.minimum(best, prev2[j - 2] + 1), best)
            cur[j] = np.minimum(best, big)
        done = na == i
        out[done] = cur[nb[done], rows[done]]
        prev2, prev = prev, cur
    return out


def levenshtein(a: Any, b: Any, *, cap: int = 8) -> IntArray:
    """Levenshtein distance of each pair (insertions, deletions, substitutions), capped at
    ``cap + 1``.

    Examples:
        >>> levenshtein(["kitten", "", "abc"], ["sitting", "ab", "abc"]).tolist()
        [3, 2, 0]
    """
    ca, na = encode(a)
    cb, nb = encode(b)
    w = max(ca.shape[1], cb.shape[1], 1)
    return _at_lengths(_pad(ca, w), _pad(cb, w), na, nb, transpositions=False, cap=cap)


def damerau_levenshtein(a: Any, b: Any, *, cap: int = 8) -> IntArray:
    """Damerau-Levenshtein distance (optimal string alignment: adjacent transpositions count 1),
    capped at ``cap + 1``.

    Examples:
        >>> damerau_levenshtein(["abcd", "ca", "2001"], ["acbd", "abc", "2010"]).tolist()
        [1, 3, 1]
    """
    ca, na = encode(a)
    cb, nb = encode(b)
    w = max(ca.shape[1], cb.shape[1], 1)
    return _at_lengths(_pad(ca, w), _pad(cb, w), na, nb, transpositions=True, cap=cap)


def jaccard_bigrams(a: Any, b: Any) -> FloatArray:
    """Jaccard similarity of the character bigram sets of each pair (a one-letter string is its
    own bigram; two empty strings score 0).

    Examples:
        >>> jaccard_bigrams(["night", "ab"], ["nacht", "ab"]).round(3).tolist()
        [0.143, 1.0]
    """
    ca, na = encode(a)
    cb, nb = encode(b)

    def grams(cp: CodeArray, n: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        w = cp.shape[1]
        if w < 2:
            cp = _pad(cp, 2)
            w = 2
        g = cp[:, :-1].astype(np.int64) * (1 << 21) + cp[:, 1:].astype(np.int64)
        ok = np.arange(w - 1)[None, :] < (n - 1)[:, None]
        single = n == 1
        ok[single, 0] = True
        g = np.sort(np.where(ok, g, -1), axis=1)
        dup = np.zeros_like(ok)
        dup[:, 1:] = g[:, 1:] == g[:, :-1]
        keep = (g >= 0) & ~dup
        return g, keep

    ga, ka = grams(ca, na)
    gb, kb = grams(cb, nb)
    inter = ((ga[:, :, None] == gb[:, None, :]) & ka[:, :, None] & kb[:, None, :]).any(2).sum(1)
    union = ka.sum(1) + kb.sum(1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return out
