"""Comparisons: how two records agree on one column, as ordered levels (best first).

A comparison maps each candidate pair to a level: 0 is the closest agreement (exact), the last
level is "else", and -1 means a value is missing on either side (neutral: no evidence for or
against). Levels are computed once per distinct pair of values and broadcast to the pairs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.identity._nicknames import formal_sets, nicknames, share_formal
from crmkit.identity._text import digits_only, map_unique
from crmkit.identity.linkage._columns import Encoded, LinkageTable
from crmkit.identity.linkage._strings import Coded, dl_pairs, jaccard_bigrams, jw_pairs

__all__ = [
    "Comparison",
    "DateComparison",
    "EmailComparison",
    "ExactMatch",
    "NameComparison",
    "NumberComparison",
    "PostcodeComparison",
    "StringComparison",
]

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
LevelArray = npt.NDArray[np.int8]
Metric = Literal["jaro_winkler", "levenshtein", "damerau_levenshtein", "jaccard"]

#: Distinct value pairs compared at once (bounds the memory of the string kernels).
_VALUE_CHUNK = 100_000


def _floats(items: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in items)


def _ints(items: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in items)


def _first(levels: list[npt.NDArray[np.bool_]], n: int) -> LevelArray:
    """The index of the first true condition per pair (len(levels) if none: "else")."""
    out = np.full(n, len(levels), np.int8)
    for k in range(len(levels) - 1, -1, -1):
        out[levels[k]] = k
    return out


@attrs.frozen(kw_only=True)
class Comparison:
    """Base of the comparisons: ``column`` compared, ``name`` (default the column),
    ``term_frequency`` (adjust the exact level by how common the value is) and ``corroborates``
    (agreement on it counts as evidence beyond names; a link needs at least one such agreement
    to merge records).

    Subclasses define ``level_names()`` and ``_value_levels(a, b)`` over distinct value pairs.

    Examples:
        >>> ExactMatch(column="city").level_names()
        ('exact', 'else')
    """

    kind: ClassVar[str] = "comparison"
    column: str
    name: str = attrs.field(default="")
    term_frequency: bool = False
    corroborates: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.column)

    def level_names(self) -> tuple[str, ...]:
        """Names of the levels, best first; the last is "else"."""
        raise NotImplementedError

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        """Levels of distinct, unequal value pairs ``(values[a], values[b])``."""
        raise NotImplementedError

    def _extra_levels(
        self, table: LinkageTable, a: IntArray, b: IntArray, levels: LevelArray
    ) -> LevelArray:
        return levels

    def levels(self, table: LinkageTable, a: IntArray, b: IntArray) -> LevelArray:
        """The level of each pair of records ``(a[i], b[i])`` (-1 where a value is missing)."""
        col = table.column(self.column)
        ca, cb = col.codes[a].astype(np.int64), col.codes[b].astype(np.int64)
        out = np.full(a.size, -1, np.int8)
        ok = (ca >= 0) & (cb >= 0)
        same = ok & (ca == cb)
        out[same] = 0
        rest = ok & ~same
        if rest.any():
            width = np.int64(max(col.values.size, 1))
            key = np.minimum(ca[rest], cb[rest]) * width + np.maximum(ca[rest], cb[rest])
            uniq, inv = np.unique(key, return_inverse=True)
            va, vb = uniq // width, uniq % width
            lv = np.empty(uniq.size, np.int8)
            for s in range(0, uniq.size, _VALUE_CHUNK):
                e = s + _VALUE_CHUNK
                lv[s:e] = self._value_levels(col, va[s:e], vb[s:e])
            out[rest] = lv[inv.reshape(-1)]
        return self._extra_levels(table, a, b, out)

    def columns(self) -> tuple[str, ...]:
        """The columns this comparison reads."""
        return (self.column,)


@attrs.frozen(kw_only=True)
class ExactMatch(Comparison):
    """Two levels: the values are equal, or not.

    Examples:
        >>> ExactMatch(column="city", term_frequency=True).name
        'city'
    """

    kind: ClassVar[str] = "exact"

    def level_names(self) -> tuple[str, ...]:
        return ("exact", "else")

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        return np.ones(a.size, np.int8)


@attrs.frozen(kw_only=True)
class StringComparison(Comparison):
    """Exact, then one level per threshold of ``metric``, then else.

    Similarities (``jaro_winkler``, ``jaccard``) need ``>= threshold``, thresholds descending;
    distances (``levenshtein``, ``damerau_levenshtein``) need ``<= threshold``, ascending.

    Examples:
        >>> c = StringComparison(column="surname", metric="damerau_levenshtein",
        ...                      thresholds=(1, 2))
        >>> c.level_names()
        ('exact', 'damerau_levenshtein<=1', 'damerau_levenshtein<=2', 'else')
    """

    kind: ClassVar[str] = "string"
    metric: Metric = "jaro_winkler"
    thresholds: tuple[float, ...] = attrs.field(converter=_floats, default=(0.92, 0.88))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.metric not in ("jaro_winkler", "levenshtein", "damerau_levenshtein", "jaccard"):
            raise InvalidInputError(
                f"metric: {self.metric!r} is not known. Use jaro_winkler, jaccard, levenshtein "
                "or damerau_levenshtein."
            )
        if not self.thresholds:
            raise InvalidInputError("thresholds: none given. Give at least one threshold.")

    @property
    def _distance(self) -> bool:
        return self.metric in ("levenshtein", "damerau_levenshtein")

    def level_names(self) -> tuple[str, ...]:
        op = "<=" if self._distance else ">="
        return (
            "exact",
            *(f"{self.metric}{op}{t:g}" for t in self.thresholds),
            "else",
        )

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        coded = col.derived("coded", Coded.of)
        sim: npt.NDArray[Any]
        if self.metric == "jaro_winkler":
            sim = jw_pairs(coded, a, coded, b, floor=min(self.thresholds))
        elif self.metric == "jaccard":
            sim = jaccard_bigrams(col.values[a], col.values[b])
        else:
            cap = int(max(self.thresholds))
            sim = dl_pairs(coded, a, coded, b, cap=cap,
                           transpositions=self.metric == "damerau_levenshtein")  # fmt: skip
        conds = [np.zeros(a.size, bool)]
        conds += [sim <= t if self._distance else sim >= t for t in self.thresholds]
        return _first(conds, a.size)


def _canonical_codes(values: StrArray) -> IntArray:
    """A code per value: equal for names with the same canonical given name."""
    if values.size == 0:
        return np.zeros(0, np.int64)
    canon = _canonical(np.char.lower(values))
    _, inv = np.unique(canon, return_inverse=True)
    out: IntArray = inv.reshape(-1).astype(np.int64)
    return out


def _canonical(values: StrArray) -> StrArray:
    table = nicknames()
    if values.size == 0:
        return values
    keys = np.array(list(table), dtype=str)
    vals = np.array(list(table.values()), dtype=str)
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    pos = np.minimum(np.searchsorted(keys, values), keys.size - 1)
    hit = keys[pos] == values
    out: StrArray = np.where(hit, vals[pos], values)
    return out


@attrs.frozen(kw_only=True)
class NameComparison(Comparison):
    """Names: exact; nicknames (Bill = William, and a nickname of several names, Ned or Ed, agrees
    with each of them: Edward, Edmund); first and last name
    swapped (with ``swap_with``, the other name column); an initial matching the name;
    Jaro-Winkler at ``thresholds``; else. Names alone do not corroborate a link by default.

    Examples:
        >>> NameComparison(column="first_name", swap_with="last_name").level_names()[:4]
        ('exact', 'nickname', 'swapped', 'initial')
    """

    kind: ClassVar[str] = "name"
    swap_with: str | None = None
    thresholds: tuple[float, ...] = attrs.field(converter=_floats, default=(0.92, 0.80))
    corroborates: bool = False

    def level_names(self) -> tuple[str, ...]:
        return (
            "exact",
            "nickname",
            "swapped",
            "initial",
            *(f"jaro_winkler>={t:g}" for t in self.thresholds),
            "else",
        )

    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.swap_with is None else (self.column, self.swap_with)

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        coded = col.derived("lower", lambda x: Coded.of(np.char.lower(x)))
        canon = col.derived("canonical", _canonical_codes)
        sets = col.derived("formal_sets", formal_sets)
        nick = (canon[a] == canon[b]) | share_formal(sets, a, b)
        la, lb = coded.n[a], coded.n[b]
        initial = (np.minimum(la, lb) == 1) & (np.maximum(la, lb) > 1)
        initial &= coded.cp[a, 0] == coded.cp[b, 0]
        jw = jw_pairs(coded, a, coded, b, floor=min(self.thresholds))
        conds = [np.zeros(a.size, bool), nick, np.zeros(a.size, bool), initial]
        conds += [jw >= t for t in self.thresholds]
        return _first(conds, a.size)

    def _extra_levels(
        self, table: LinkageTable, a: IntArray, b: IntArray, levels: LevelArray
    ) -> LevelArray:
        if self.swap_with is None:
            return levels
        me, other = table.column(self.column), table.column(self.swap_with)
        cand = levels > 2  # not exact, nickname or already better
        if not cand.any():
            return levels
        ia, ib = a[cand], b[cand]
        # codes of one column translated into the other's (compared as codes, not as text)
        to_other = me.derived(f"codes_in:{self.swap_with}", lambda _: _codes_in(me, other))
        to_me = other.derived(f"codes_in:{self.column}", lambda _: _codes_in(other, me))
        ca, cb = me.codes[ia], other.codes[ib]
        swapped = (ca >= 0) & (cb >= 0) & (_translate(to_other, ca) == cb)
        swapped &= _translate(to_me, other.codes[ia]) == me.codes[ib]
        out = levels.copy()
        sub = out[cand]
        sub[swapped] = 2
        out[cand] = sub
        return out


def _codes_in(src: Encoded, dst: Encoded) -> npt.NDArray[np.int32]:
    """For each value of ``src``, its code in ``dst`` (-2 where ``dst`` does not hold it)."""
    if not dst.values.size:
        return np.full(src.values.size, -2, np.int32)
    pos = np.minimum(np.searchsorted(dst.values, src.values), dst.values.size - 1)
    return np.where(dst.values[pos] == src.values, pos, -2).astype(np.int32)


def _translate(table: npt.NDArray[np.int32], codes: npt.NDArray[np.int32]) -> IntArray:
    """``codes`` through ``table``; missing (-1) stays missing."""
    if not table.size:
        return np.where(codes >= 0, -2, -1).astype(np.int64)
    return np.where(codes >= 0, table[np.maximum(codes, 0)], -1).astype(np.int64)


def _date_parts(values: StrArray) -> tuple[IntArray, IntArray, IntArray, StrArray]:
    digits = digits_only(values)
    ok = np.char.str_len(digits) == 8
    d8 = np.where(ok, digits, "00000000")
    y = np.char.ljust(d8, 8).astype("U4").astype(np.int64)
    cp = np.ascontiguousarray(d8, dtype="<U8").view(np.uint32).reshape(-1, 8) - 48
    m = cp[:, 4].astype(np.int64) * 10 + cp[:, 5]
    d = cp[:, 6].astype(np.int64) * 10 + cp[:, 7]
    y = np.where(ok, y, 0)
    return y, m, d, digits


def _days(y: IntArray, m: IntArray, d: IntArray) -> npt.NDArray[np.float64]:
    ok = (y > 0) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
    months = (np.where(ok, y, 1970) - 1970) * 12 + np.where(ok, m, 1) - 1
    base = np.array(months, dtype="datetime64[M]").astype("datetime64[D]")
    days = base.astype(np.int64) + np.where(ok, d, 1) - 1
    return np.where(ok, days.astype(float), np.nan)


def _one_typo(x: Coded, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """One character wrong, or two adjacent ones swapped, between strings of equal length."""
    same = (x.n[a] == x.n[b]) & (x.n[a] > 0)
    ca, cb = x.cp[a], x.cp[b]
    diff = ca != cb
    hamming = diff.sum(axis=1)
    swap = np.zeros(a.size, bool)
    if x.cp.shape[1] > 1:
        adj = diff[:, :-1] & diff[:, 1:] & (ca[:, :-1] == cb[:, 1:]) & (ca[:, 1:] == cb[:, :-1])
        swap = (hamming == 2) & adj.any(axis=1)
    out: npt.NDArray[np.bool_] = same & ((hamming <= 1) | swap)
    return out


@attrs.frozen(kw_only=True)
class DateComparison(Comparison):
    """Dates (ISO ``YYYY-MM-DD`` or ``YYYYMMDD``): exact; day and month swapped; one typo (one
    digit wrong or two adjacent digits swapped, e.g. in the year); within each of
    ``within_days``; else.

    Examples:
        >>> DateComparison(column="dob").level_names()
        ('exact', 'day_month_swap', 'typo', 'within_31_days', 'within_365_days', 'else')
    """

    kind: ClassVar[str] = "date"
    within_days: tuple[int, ...] = attrs.field(converter=_ints, default=(31, 365))

    def level_names(self) -> tuple[str, ...]:
        return (
            "exact",
            "day_month_swap",
            "typo",
            *(f"within_{n}_days" for n in self.within_days),
            "else",
        )

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        y, m, d, digits = col.derived("date", _date_parts)
        days = col.derived("days", lambda _: _days(y, m, d))
        valid = (y[a] > 0) & (y[b] > 0)
        swap = valid & (y[a] == y[b]) & (m[a] == d[b]) & (d[a] == m[b]) & (m[a] != d[a])
        typo = _one_typo(col.derived("digits", lambda _: Coded.of(digits)), a, b)
        gap = np.nan_to_num(np.abs(days[a] - days[b]), nan=np.inf)
        conds = [np.zeros(a.size, bool), swap, typo]
        conds += [gap <= n for n in self.within_days]
        return _first(conds, a.size)


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


@attrs.frozen(kw_only=True)
class NumberComparison(Comparison):
    """Numbers: exact; absolute difference within each of ``within`` (ascending); else
    (text that is not a number falls to else unless equal).

    Examples:
        >>> NumberComparison(column="age", within=(1, 5)).level_names()
        ('exact', 'within_1', 'within_5', 'else')
    """

    kind: ClassVar[str] = "number"
    within: tuple[float, ...] = attrs.field(converter=_floats, default=(1.0,))

    def level_names(self) -> tuple[str, ...]:
        return ("exact", *(f"within_{t:g}" for t in self.within), "else")

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        num = col.derived("number", lambda x: map_unique(x, _to_float, dtype=float))
        gap = np.nan_to_num(np.abs(num[a] - num[b]), nan=np.inf)
        return _first([np.zeros(a.size, bool), *(gap <= t for t in self.within)], a.size)


@attrs.frozen(kw_only=True)
class PostcodeComparison(Comparison):
    """Postcodes: exact; one edit (Damerau-Levenshtein 1); the same first ``prefix`` characters
    (the district); else.

    Examples:
        >>> PostcodeComparison(column="postcode").level_names()
        ('exact', 'typo', 'prefix_3', 'else')
    """

    kind: ClassVar[str] = "postcode"
    prefix: int = 3

    def level_names(self) -> tuple[str, ...]:
        return ("exact", "typo", f"prefix_{self.prefix}", "else")

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        coded = col.derived(
            "postcode", lambda x: Coded.of(np.char.upper(np.char.replace(x, " ", "")))
        )
        typo = dl_pairs(coded, a, coded, b, cap=1) <= 1
        k = self.prefix
        width = min(k, coded.cp.shape[1])
        pre = (coded.n[a] >= k) & (coded.cp[a, :width] == coded.cp[b, :width]).all(axis=1)
        same = (coded.cp[a] == coded.cp[b]).all(axis=1)
        return _first([same, typo, pre], a.size)


@attrs.frozen(kw_only=True)
class EmailComparison(Comparison):
    """Emails: exact; the same user part at another domain; user parts within Jaro-Winkler
    ``threshold`` at the same domain; else.

    Examples:
        >>> EmailComparison(column="email").level_names()
        ('exact', 'same_user', 'similar_user_same_domain', 'else')
    """

    kind: ClassVar[str] = "email"
    threshold: float = 0.88

    def level_names(self) -> tuple[str, ...]:
        return ("exact", "same_user", "similar_user_same_domain", "else")

    def _value_levels(self, col: Encoded, a: IntArray, b: IntArray) -> LevelArray:
        user, domain = col.derived("email", _email_parts)
        coded = col.derived("user", lambda x: Coded.of(np.char.partition(x, "@")[:, 0]))
        same_user = user[a] == user[b]
        same_dom = domain[a] == domain[b]
        similar = np.zeros(a.size, bool)
        idx = np.flatnonzero(same_dom)
        if idx.size:
            jw = jw_pairs(coded, a[idx], coded, b[idx], floor=self.threshold)
            similar[idx] = jw >= self.threshold
        return _first([np.zeros(a.size, bool), same_user, similar], a.size)


def _email_parts(values: StrArray) -> tuple[IntArray, IntArray]:
    parts = np.char.partition(np.char.lower(values), "@")
    if values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, user = np.unique(parts[:, 0], return_inverse=True)
    _, dom = np.unique(parts[:, 2], return_inverse=True)
    return user.reshape(-1).astype(np.int64), dom.reshape(-1).astype(np.int64)


#: Comparison classes by ``kind``, for reading a model back from JSON.
COMPARISONS: dict[str, type[Comparison]] = {
    c.kind: c
    for c in (
        ExactMatch,
        StringComparison,
        NameComparison,
        DateComparison,
        NumberComparison,
        PostcodeComparison,
        EmailComparison,
    )
}
