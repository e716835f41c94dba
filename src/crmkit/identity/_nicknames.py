"""Nicknames for name matching, read from the package's one nickname table (``crmkit._data``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from crmkit._data import nicknames as _name_nicknames
from crmkit.identity._text import strip_accents

__all__ = ["formal_sets", "formal_table", "nicknames", "share_formal"]

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]


@functools.cache
def nicknames() -> Mapping[str, str]:
    """The nickname → canonical given name table (lower case, without accents).

    Built from the package's nickname table (formal name → its nicknames, shared with the
    synthetic shop). A nickname of exactly one formal name maps to that name; a nickname of
    several (``chris``: Christopher, Christine, ...) is left as it is, so it never joins two
    different given names.

    Examples:
        >>> nicknames()["bill"]
        'william'
        >>> "chris" in nicknames()
        False
    """
    formal: dict[str, set[str]] = {}
    for name, nicks in _name_nicknames().items():
        canonical = strip_accents(name).lower()
        for nick in nicks:
            formal.setdefault(strip_accents(nick).lower(), set()).add(canonical)
    table = {nick: next(iter(names)) for nick, names in sorted(formal.items()) if len(names) == 1}
    return MappingProxyType({k: v for k, v in table.items() if k != v})


@functools.cache
def formal_table() -> tuple[StrArray, StrArray]:
    """(nickname, formal name) rows of the package's nickname table, lower case without accents,
    sorted by nickname; a nickname of several names has one row per name.

    Examples:
        >>> nick, formal = formal_table()
        >>> sorted(formal[nick == "ted"].tolist())[:2]
        ['edward', 'theodore']
    """
    rows = sorted(
        {
            (strip_accents(nick).lower(), strip_accents(name).lower())
            for name, nicks in _name_nicknames().items()
            for nick in nicks
        }
    )
    return np.array([r[0] for r in rows], dtype=str), np.array([r[1] for r in rows], dtype=str)


def formal_sets(values: StrArray) -> IntArray:
    """Per value, the codes of the formal names it may stand for (itself and every name it is a
    nickname of), padded with -1: two names may be one person's when their sets intersect.

    Examples:
        >>> sets = formal_sets(np.array(["ted", "edward", "anna"]))
        >>> share_formal(sets, np.array([0, 0]), np.array([1, 2])).tolist()
        [True, False]
    """
    if values.size == 0:
        return np.full((0, 1), -1, np.int64)
    low = np.char.lower(values)
    nick, formal = formal_table()
    lo = np.searchsorted(nick, low, side="left")
    hi = np.searchsorted(nick, low, side="right")
    count = hi - lo
    width = 1 + int(count.max(initial=0))
    names = np.full((values.size, width), "", dtype=np.result_type(low.dtype, formal.dtype))
    names[:, 0] = low
    for k in range(width - 1):
        has = count > k
        names[has, k + 1] = formal[lo[has] + k]
    _, inv = np.unique(names, return_inverse=True)
    codes = inv.reshape(names.shape).astype(np.int64)
    out: IntArray = np.where(names != "", codes, -1)
    return out


def share_formal(sets: IntArray, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Whether the values at ``a`` and ``b`` (rows of ``formal_sets``) may stand for one formal
    name (Ted and Eddie: Edward).

    Examples:
        >>> sets = formal_sets(np.array(["ted", "eddie", "ned"]))
        >>> share_formal(sets, np.array([0, 1]), np.array([1, 2])).tolist()
        [True, True]
    """
    fa, fb = sets[a], sets[b]
    hit = np.zeros(a.size, bool)
    for i in range(sets.shape[1]):
        for j in range(sets.shape[1]):
            hit |= (fa[:, i] >= 0) & (fa[:, i] == fb[:, j])
    return hit
