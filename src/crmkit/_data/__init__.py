"""Package data shared by several areas: small CSV tables compiled for crmkit.

Private: the tables are implementation data of ``crmkit.datasets`` (the synthetic shop) and
``crmkit.identity`` (name matching), read once and cached.

Examples:
    >>> from crmkit._data import nicknames
    >>> "Bill" in nicknames()["William"]
    True
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources

__all__ = ["nicknames", "read_csv"]


def read_csv(package: str, name: str) -> tuple[dict[str, str], ...]:
    """The rows of the CSV file ``name`` shipped in ``package`` (a dotted path), as dicts.

    Examples:
        >>> rows = read_csv("crmkit._data", "nicknames.csv")
        >>> sorted(rows[0])
        ['name', 'nickname']
    """
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


@functools.cache
def nicknames() -> dict[str, tuple[str, ...]]:
    """Formal first name → its common nicknames and short forms (English and German).

    The table was compiled for crmkit; a nickname may belong to several names (Chris: Christopher,
    Christine, Christian).

    Examples:
        >>> nicknames()["Elizabeth"][:3]
        ('Liz', 'Lizzie', 'Beth')
    """
    out: dict[str, list[str]] = {}
    for row in read_csv("crmkit._data", "nicknames.csv"):
        out.setdefault(row["name"], []).append(row["nickname"])
    return {name: tuple(nicks) for name, nicks in out.items()}
