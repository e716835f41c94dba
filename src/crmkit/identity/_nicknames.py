"""Nicknames for name matching, read from the package's one nickname table (``crmkit._data``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from crmkit._data import nicknames as _name_nicknames
from crmkit.identity._text import strip_accents

__all__ = ["nicknames"]


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
