"""The records of a linkage as encoded columns: each distinct value once, a code per record."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity._text import as_text

__all__ = ["Encoded", "LinkageTable", "read_table"]

StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]


@attrs.frozen(kw_only=True, eq=False)
class Encoded:
    """One column: its distinct non-empty values (sorted) and each record's code (-1: missing)."""

    values: StrArray
    codes: npt.NDArray[np.int32]
    _derived: dict[str, Any] = attrs.field(factory=dict, alias="_derived", repr=False)

    def derived(self, name: str, fn: Callable[[StrArray], Any]) -> Any:
        """``fn(values)``, computed once per column (per-value features of the comparisons)."""
        if name not in self._derived:
            self._derived[name] = fn(self.values)
        return self._derived[name]

    @staticmethod
    def of(column: StrArray) -> Encoded:
        """Encode a text column (``""`` is missing)."""
        col = np.char.strip(column)
        has = col != ""
        codes = np.full(col.size, -1, np.int32)
        if has.any():
            values, inv = np.unique(col[has], return_inverse=True)
            codes[has] = inv.reshape(-1).astype(np.int32)
        else:
            values = np.empty(0, "<U1")
        return Encoded(values=values, codes=codes)

    def value_of(self, codes: Any) -> StrArray:
        """The value of each code (``""`` for -1)."""
        c = np.asarray(codes)
        if self.values.size == 0:
            return np.full(c.shape, "", dtype="<U1")
        out: StrArray = np.where(c >= 0, self.values[np.maximum(c, 0)], "")
        return out


@attrs.frozen(kw_only=True, eq=False)
class LinkageTable:
    """Records to link as encoded text columns, with their ids and, when two tables are linked,
    the side each record comes from (0 left, 1 right; all 0 when one table is deduplicated).

    Examples:
        >>> t = read_table({"record_id": ["a", "b"], "city": ["Bonn", "Bonn"]})
        >>> len(t), t.linking, t.column("city").codes.tolist()
        (2, False, [0, 0])
    """

    record_id: StrArray
    side: npt.NDArray[np.int8]
    columns: Mapping[str, Encoded]

    def __len__(self) -> int:
        return int(self.record_id.size)

    @property
    def linking(self) -> bool:
        """True when two tables are linked (pairs only across sides)."""
        return bool(self.side.size) and bool(self.side.max() > 0)

    def column(self, name: str) -> Encoded:
        """The encoded column ``name`` (InvalidInputError naming the known ones if absent)."""
        if name not in self.columns:
            raise InvalidInputError(
                f"column: {name!r} is not a column of the records (known: "
                f"{sorted(self.columns)}). Add it, or remove the comparison or rule using it."
            )
        return self.columns[name]


def _as_mapping(name: str, table: Any) -> Mapping[str, Any]:
    if isinstance(table, Mapping):
        return table
    if hasattr(table, "columns") and hasattr(table, "__getitem__"):  # a DataFrame
        return {str(c): np.asarray(table[c]) for c in table.columns}
    raise InvalidInputError(
        f"{name}: expected a mapping of column name to array-like or a DataFrame (got "
        f"{type(table).__name__})."
    )


def _text_columns(name: str, table: Any, id_column: str) -> tuple[StrArray, dict[str, StrArray]]:
    cols = _as_mapping(name, table)
    text = {str(k): as_text(f"{name}[{k!r}]", c) for k, c in cols.items()}
    if not text:
        raise InvalidInputError(f"{name}: no columns. Pass at least one column to compare.")
    n = v.same_length(**text)
    if id_column in text:
        rid = text.pop(id_column)
    else:
        rid = np.char.add("row:", np.arange(n).astype(str))
    return rid, text


def read_table(
    left: Any, right: Any = None, *, id_column: str = "record_id", columns: Sequence[str] = ()
) -> LinkageTable:
    """One table to deduplicate, or two to link, as a
    [`LinkageTable`][crmkit.identity.linkage.LinkageTable].

    ``columns``: the columns to keep (default all). Record ids must be unique within a table; when
    two tables are linked, the same id may appear on both sides.

    Examples:
        >>> t = read_table({"name": ["ann", ""]}, {"name": ["ann"]})
        >>> t.record_id.tolist(), t.side.tolist(), t.column("name").codes.tolist()
        (['row:0', 'row:1', 'row:0'], [0, 0, 1], [0, -1, 0])
    """
    rid, text = _text_columns("left", left, id_column)
    side = np.zeros(rid.size, np.int8)
    if right is not None:
        rid_r, text_r = _text_columns("right", right, id_column)
        missing = sorted(set(text) ^ set(text_r))
        if missing:
            raise InvalidInputError(
                f"right: columns {missing} are in one table only. Give both tables the same "
                "columns (empty strings for missing values)."
            )
        rid = np.concatenate([rid, rid_r])
        side = np.concatenate([side, np.ones(rid_r.size, np.int8)])
        text = {k: np.concatenate([text[k], text_r[k]]) for k in text}
    for s in (0, 1):
        ids = rid[side == s]
        uniq = np.unique(ids)
        if uniq.size != ids.size:
            srt = np.sort(ids)
            dup = srt[1:][srt[1:] == srt[:-1]]
            raise InvalidInputError(
                f"{id_column}: {ids.size - uniq.size} duplicate record ids (first {dup[0]!r}). "
                "Give every record of a table a unique id."
            )
    keep = list(columns) or sorted(text)
    unknown = sorted(set(keep) - set(text))
    if unknown:
        raise InvalidInputError(
            f"columns: {unknown} are not columns of the records (known: {sorted(text)})."
        )
    return LinkageTable(record_id=rid, side=side, columns={k: Encoded.of(text[k]) for k in keep})
