"""The nickname table: short given names mapped to one canonical name, shipped as package data."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

__all__ = ["nicknames"]


@functools.cache
def nicknames() -> Mapping[str, str]:
    """The nickname → canonical given name table (lower case, without accents).

    Examples:
        >>> nicknames()["bill"]
        'william'
    """
    text = resources.files("crmkit.identity").joinpath("nicknames.csv").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        nick, canonical = line.split(",")
        table[nick.strip()] = canonical.strip()
    return MappingProxyType(table)
