"""Corroboration: which records of a shared email or phone (a household's) may link.

An identifier value seen with one first name links all its records. Seen with several (a
household inbox or phone), its names are grouped and records link only within a group:

- *spellings* of one name group together: equal, or one edit apart (Damerau: a letter
  substituted, dropped, doubled or two swapped) when the longer has at least 4 letters
  (Tobias/Tboias; not Leo/Lea);
- a name that *stands for* another joins its group: a nickname of it (Bob, Robert), one edit from
  such a nickname (Lleo, Leonard), an initial or prefix of it (J, Sam: Samuel) or a two-letter
  abbreviation (Tm: Thomas);
- a name that may stand for two groups that are not compatible with each other (Jo, with Joseph
  and Johanna on one inbox) is ambiguous and links neither, as do records without a name.

Thomas and Tobias on one inbox therefore stay apart, where a comparison of initials would merge
them. Everything is computed per value from the value's own records, so resolving a subset of
whole values gives the same links as resolving everything. Per value, names are compared pairwise
(vectorized over all values at once); a value seen with more than ``MAX_FUZZY_NAMES`` names is no
household and compares them exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crmkit.identity._nicknames import formal_sets, formal_table, share_formal
from crmkit.identity.linkage._blocking import _expand
from crmkit.identity.linkage._strings import Coded, dl_pairs

__all__ = ["MAX_FUZZY_NAMES", "compatible_names", "corroborated", "name_relations"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

#: Most distinct corroborating values of one identifier value that are compared fuzzily.
MAX_FUZZY_NAMES = 64
#: Fewest letters (of the longer name) for one edit to count as a spelling of the same name.
MIN_TYPO_LETTERS = 4
#: Fields compared as given names (the others must be equal).
NAME_FIELDS = frozenset({"first_name"})


def _mix(a: IntArray, b: IntArray) -> IntArray:
    h = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64)
    h = (h ^ (h >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    return (h >> np.uint64(1)).astype(np.int64)


def _run_starts(label: IntArray) -> IntArray:
    """Positions where a run of equal labels starts (``label`` sorted)."""
    first = np.ones(label.size, bool)
    first[1:] = label[1:] != label[:-1]
    return np.flatnonzero(first)


def _distinct(a: IntArray, b: IntArray) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """The distinct pairs ``(a, b)`` sorted by ``a`` then ``b``, the position of the first of
    each, and the pair of each position (``np.unique(..., axis=1)`` by one lexsort)."""
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    new = np.ones(order.size, bool)
    new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    inv = np.empty(order.size, np.int64)
    inv[order] = np.cumsum(new) - 1
    return sa[new], sb[new], order[new], inv


def _pairs_within(label: IntArray) -> tuple[IntArray, IntArray]:
    """Every pair of positions ``i < j`` with equal labels (``label`` sorted)."""
    n = label.size
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = _run_starts(label)
    sizes = np.diff(np.append(starts, n))
    pos = np.arange(n, dtype=np.int64)
    partners = np.repeat(starts + sizes, sizes) - pos - 1
    return _expand(pos, partners, pos + 1)


@functools.cache
def _nicknames_by_formal() -> tuple[StrArray, StrArray]:
    """(formal name, nickname) rows of the nickname table, sorted by formal name."""
    nick, formal = formal_table()
    order = np.argsort(formal, kind="stable")
    return formal[order], nick[order]


def _one_edit(x: Coded, i: IntArray, y: Coded, j: IntArray) -> BoolArray:
    """Whether ``x[i]`` and ``y[j]`` are one edit apart as spellings of one name: any edit when
    the longer has ``MIN_TYPO_LETTERS`` or more letters, only two letters swapped when it has
    three (Mia/Mai; Leo/Lea and Eva/Ava are other names)."""
    longer = np.maximum(x.n[i], y.n[j])
    near = (dl_pairs(x, i, y, j, cap=1) <= 1) & (longer >= 3)
    short = np.flatnonzero(near & (longer < MIN_TYPO_LETTERS))
    if short.size:
        swapped = dl_pairs(x, i[short], y, j[short], cap=1, transpositions=False) > 1
        near[short] = swapped
    return near


def _one_edit_from_nickname(values: StrArray, x: IntArray, y: IntArray) -> BoolArray:
    """Whether ``values[x]`` is one edit from a nickname of a formal name ``values[y]`` may
    stand for (Lleo, Leonard), the longer of the two having at least ``MIN_TYPO_LETTERS``."""
    nick, formal = formal_table()
    by_formal, its_nick = _nicknames_by_formal()
    yv = values[y]
    # the formal names of y: itself, and every name it is a nickname of
    lo = np.searchsorted(nick, yv, side="left")
    n_formal = np.searchsorted(nick, yv, side="right") - lo
    pair, at = _expand(np.arange(y.size, dtype=np.int64), n_formal, lo.astype(np.int64))
    pair = np.concatenate([np.arange(y.size, dtype=np.int64), pair])
    names = np.concatenate([yv, formal[at]])
    # their nicknames
    lo = np.searchsorted(by_formal, names, side="left")
    n_nick = np.searchsorted(by_formal, names, side="right") - lo
    pair, at = _expand(pair, n_nick, lo.astype(np.int64))
    out = np.zeros(x.size, bool)
    if pair.size:
        cand = np.unique(its_nick[at], return_inverse=True)
        both = Coded.of(np.concatenate([values, cand[0]]))
        xi, ci = x[pair], values.size + cand[1].reshape(-1)
        near = _one_edit(both, xi, both, ci)
        out[np.unique(pair[near])] = True
    return out


def _stands_for(values: StrArray, coded: Coded, sets: IntArray, x: IntArray,
                y: IntArray) -> BoolArray:  # fmt: skip
    """Whether each name ``values[x]`` stands for the name ``values[y]`` (a different one)."""
    nx, ny = coded.n[x], coded.n[y]
    # a nickname for its formal names (not the reverse), two nicknames of one name for each other
    out: BoolArray = share_formal(sets, x, y) & ~(sets[y] == sets[x][:, :1]).any(axis=1)
    # an initial or a prefix (J, Sam: Samuel)
    out |= (nx < ny) & np.char.startswith(values[y], values[x])
    # two letters: the first letter and a later one (To, Tm: Thomas)
    later = (coded.cp[y, 1:] == coded.cp[x, 1:2]).any(axis=1)
    out |= (nx == 2) & (ny > 2) & (coded.cp[x, 0] == coded.cp[y, 0]) & later
    out |= _one_edit_from_nickname(values, x, y)
    return out


def name_relations(a: StrArray, b: StrArray) -> tuple[BoolArray, BoolArray, BoolArray]:
    """For each pair of normalized given names: whether they are spellings of one name, whether
    ``a`` stands for ``b`` and whether ``b`` stands for ``a`` (see the module docstring).

    Examples:
        >>> spelled, a_for_b, b_for_a = name_relations(
        ...     np.array(["tobias", "bob", "sam", "thomas"]),
        ...     np.array(["tboias", "robert", "samuel", "tobias"]))
        >>> spelled.tolist(), a_for_b.tolist(), b_for_a.tolist()
        ([True, False, False, False], [False, True, True, False], [False, False, False, False])
    """
    if a.size == 0:
        empty = np.zeros(0, bool)
        return empty, empty, empty
    # distinct pairs of distinct names: households repeat the same few names
    values, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    pairs, back = np.unique(np.stack([inv[: a.size], inv[a.size :]]), axis=1, return_inverse=True)
    x, y = pairs[0], pairs[1]
    coded = Coded.of(values)
    sets = formal_sets(values)
    spelled = (x == y) | _one_edit(coded, x, coded, y)
    x_for_y = _stands_for(values, coded, sets, x, y) & ~spelled
    y_for_x = _stands_for(values, coded, sets, y, x) & ~spelled
    back = back.reshape(-1)
    return spelled[back], x_for_y[back], y_for_x[back]


def compatible_names(a: StrArray, b: StrArray) -> BoolArray:
    """Whether each pair of normalized given names may be one person's: spellings of one name,
    or one stands for the other (see the module docstring).

    Examples:
        >>> compatible_names(np.array(["tobias", "bob", "jo", "olivia"]),
        ...                  np.array(["thomas", "robert", "joseph", "oliver"])).tolist()
        [False, True, True, False]
    """
    spelled, a_for_b, b_for_a = name_relations(a, b)
    return spelled | a_for_b | b_for_a


def _components(n: int, a: IntArray, b: IntArray) -> IntArray:
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1], np.int64)


def _ambiguous(n: int, src: IntArray, dst: IntArray) -> BoolArray:
    """Per node of a directed graph (``src`` stands for ``dst``): whether it stands for two
    nodes that are not joined by an edge either way."""
    out = np.zeros(n, bool)
    joined = np.unique(np.minimum(src, dst) * n + np.maximum(src, dst))
    edge = np.unique(src * n + dst)
    s, d = edge // n, edge % n
    p, q = _pairs_within(s)
    if p.size:
        lo, hi = np.minimum(d[p], d[q]), np.maximum(d[p], d[q])
        out[np.unique(s[p[~np.isin(lo * n + hi, joined)]])] = True
    return out


def _groups(m: int, i: IntArray, j: IntArray, spelled: BoolArray, x_for_y: BoolArray,
            y_for_x: BoolArray) -> IntArray:  # fmt: skip
    """Group label of each of ``m`` names from the relations of the pairs ``(i, j)``: spellings
    first, then names joined to what they stand for; -1 for the ambiguous ones."""
    spell = _components(m, i[spelled], j[spelled])
    k = int(spell.max(initial=-1)) + 1
    src = np.concatenate([spell[i[x_for_y]], spell[j[y_for_x]]])
    dst = np.concatenate([spell[j[x_for_y]], spell[i[y_for_x]]])
    cross = src != dst
    src, dst = src[cross], dst[cross]
    bad = _ambiguous(k, src, dst)
    keep = ~bad[src] & ~bad[dst]
    group = _components(k, src[keep], dst[keep])[spell]
    out: IntArray = np.where(bad[spell], -1, group)
    return out


def corroborated(code: IntArray, support: IntArray, fields: Mapping[str, StrArray]) -> IntArray:
    """Link codes of a rule that needs corroboration (e.g. a phone needs a compatible first name).

    ``code``: the identifier value of each record (-1: none); ``support``: a code of the
    corroborating values (-1: none); ``fields``: the corroborating normalized fields themselves,
    by name (given names compared as the module docstring says, other fields exactly). Records of
    one value share a link code when their corroborating values fall in one group; a value whose
    values form a single group links all its records (also those without one).

    Examples:
        >>> code = np.array([7, 7, 7, 7, 9, 9])
        >>> names = np.array(["thomas", "tobias", "tboias", "", "anna", ""])
        >>> support = np.where(names != "", np.arange(6), -1)
        >>> out = corroborated(code, support, {"first_name": names})
        >>> bool(out[1] == out[2]), bool(out[0] == out[1]), int(out[3]), bool(out[4] == out[5])
        (True, False, -1, True)
    """
    out = code.copy()
    has = code >= 0
    idx = np.flatnonzero(has & (support >= 0))
    if idx.size == 0:
        return out
    # one combo per distinct (value, corroborating value), sorted by value
    value, sup, first, inv = _distinct(code[idx], support[idx])
    m = value.size
    starts = _run_starts(value)
    values, counts = value[starts], np.diff(np.append(starts, m))
    if counts.max() < 2:
        return out
    fuzzy = np.repeat((counts > 1) & (counts <= MAX_FUZZY_NAMES), counts)
    i, j = _pairs_within(np.where(fuzzy, value, -1 - np.arange(m)))
    rep = idx[first]
    spelled = np.ones(i.size, bool)
    x_for_y = np.zeros(i.size, bool)
    y_for_x = np.zeros(i.size, bool)
    for name, text in fields.items():
        tx, ty = text[rep[i]], text[rep[j]]
        if name in NAME_FIELDS:
            s, xy, yx = name_relations(tx, ty)
        else:
            s, xy, yx = tx == ty, np.zeros(i.size, bool), np.zeros(i.size, bool)
        # several fields: each must be spelled alike or stand for the other the same way
        x_for_y = (x_for_y & (s | xy)) | (spelled & xy)
        y_for_x = (y_for_x & (s | yx)) | (spelled & yx)
        spelled &= s
    label = _groups(m, i, j, spelled, x_for_y, y_for_x)
    # a group's id: its smallest corroborating code (the same in any subset of whole values)
    gid = np.full(m, np.iinfo(np.int64).max, np.int64)
    alive = label >= 0
    np.minimum.at(gid, label[alive], sup[alive])
    group = np.where(alive, gid[np.maximum(label, 0)], -1)
    value_of = np.repeat(np.arange(values.size), counts)
    distinct_value = _distinct(value_of, group)[0]
    several = values[np.bincount(distinct_value, minlength=values.size) > 1]
    multi = has & np.isin(code, several)
    per_record = np.full(code.size, -1, np.int64)
    per_record[idx] = group[inv]
    out[multi] = np.where(per_record[multi] >= 0, _mix(code[multi], per_record[multi]), -1)
    return out
