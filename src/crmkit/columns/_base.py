"""What every column table shares: typed fields, one validation pass, read-only arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.model import MINOR_UNITS

__all__ = ["Columns", "col"]

_MISSING = object()


def col(kind: str, *, default: Any = _MISSING) -> Any:
    """Declare a column of a table.

    ``kind`` is one of ``id`` (non-empty str), ``str`` (str, may be empty), ``currency`` (ISO 4217
    code), ``time`` (datetime64[us] UTC, no NaT), ``opt_time`` (NaT for missing), ``int`` (int64).
    ``default`` is a scalar used by ``from_arrays`` when the column is not given.

    Examples:
        >>> import attrs, numpy as np
        >>> @attrs.frozen(kw_only=True, eq=False)
        ... class Scores(Columns):
        ...     time_column = "at"
        ...     customer_id: np.ndarray = col("id")
        ...     at: np.ndarray = col("time")
        ...     points: np.ndarray = col("int", default=0)
        >>> Scores.from_arrays(customer_id=["a"], at=np.array(["2024-01-01"], "datetime64[us]")
        ...                    ).points.tolist()
        [0]
    """
    return attrs.field(metadata={"kind": kind, "default": default}, eq=False)


def _same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Element-wise equality where NaT equals NaT (a missing time is the same missing time)."""
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind == "M":
        return bool(np.all((a == b) | (np.isnat(a) & np.isnat(b))))
    return bool(np.array_equal(a, b))


def _currency(name: str, values: Any) -> npt.NDArray[np.str_]:
    arr = v.as_str_array(name, values)
    codes = np.unique(arr)
    bad = [c for c in codes.tolist() if c not in MINOR_UNITS]
    if bad:
        v.require(name, np.isin(arr, bad), arr, "unknown ISO 4217 codes", "Use codes like 'EUR'.")
    return arr


def _opt_time(name: str, values: Any) -> npt.NDArray[np.datetime64]:
    arr = v.as_1d(name, values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")
    if arr.dtype == object:
        present = np.fromiter((x is not None for x in arr), dtype=bool, count=arr.size)
        out = np.full(arr.size, np.datetime64("NaT"), dtype="datetime64[us]")
        if present.any():
            out[present] = v.as_datetime_array(name, arr[present])
        return out
    return v.as_datetime_array(name, arr)


_CONVERT: dict[str, Callable[[str, Any], np.ndarray[Any, Any]]] = {
    "id": v.as_str_array,
    "str": lambda n, x: v.as_str_array(n, x, allow_empty=True),
    "currency": _currency,
    "time": v.as_datetime_array,
    "opt_time": _opt_time,
    "int": v.as_int_array,
}

_EMPTY: dict[str, np.dtype[Any]] = {
    "id": np.dtype("U1"),
    "str": np.dtype("U1"),
    "currency": np.dtype("U3"),
    "time": np.dtype("datetime64[us]"),
    "opt_time": np.dtype("datetime64[us]"),
    "int": np.dtype(np.int64),
}


def _fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    return fields


class Columns:
    """Base of the column tables: aligned, validated, read-only numpy arrays.

    Subclasses are ``@attrs.frozen`` classes whose fields are declared with ``col``. The constructor
    validates every column once (types, ids, time zones, currency codes, equal lengths) and marks
    the arrays read-only.

    Examples:
        >>> import attrs, numpy as np
        >>> @attrs.frozen(kw_only=True, eq=False)
        ... class Visits(Columns):
        ...     time_column = "at"
        ...     customer_id: np.ndarray = col("id")
        ...     at: np.ndarray = col("time")
        >>> t = Visits.from_arrays(customer_id=["a", "b"],
        ...                        at=np.array(["2024-01-01", "2024-02-01"], "datetime64[us]"))
        >>> t.between(start=np.datetime64("2024-01-15")).customer_id.tolist()
        ['b']
    """

    #: The column used by ``between`` (time-range filters).
    time_column: ClassVar[str]

    def __attrs_post_init__(self) -> None:
        fields = _fields(type(self))
        prefix = type(self).__name__
        lengths: dict[str, int] = {}
        for f in fields:
            kind = f.metadata["kind"]
            given = getattr(self, f.name)
            arr = _CONVERT[kind](f"{prefix}.{f.name}", given)
            if arr.size == 0:
                arr = np.empty(0, dtype=_EMPTY[kind])
            elif (
                isinstance(given, np.ndarray)
                and given.flags.writeable
                and np.may_share_memory(arr, given)
            ):
                arr = arr.copy()  # never freeze, or later see changes to, the caller's array
            object.__setattr__(self, f.name, v.frozen(arr))
            lengths[f.name] = arr.size
        if len(set(lengths.values())) > 1:
            desc = ", ".join(f"{k}={n}" for k, n in lengths.items())
            raise InvalidInputError(
                f"{prefix}: columns of different lengths ({desc}). Pass aligned columns."
            )

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """The names of the columns, in order."""
        return tuple(f.name for f in _fields(cls))

    @classmethod
    def from_arrays(cls, **columns: Any) -> Self:
        """Build from array-likes by column name; columns with a default may be left out."""
        known = set(cls.column_names())
        extra = sorted(set(columns) - known)
        if extra:
            raise InvalidInputError(
                f"{cls.__name__}: unknown columns {extra}. Known: {sorted(known)}."
            )
        given = dict(columns)
        n = next((len(v.as_1d(k, val)) for k, val in given.items()), 0)
        for f in _fields(cls):
            if f.name in given:
                continue
            default = f.metadata["default"]
            if default is _MISSING:
                raise InvalidInputError(
                    f"{cls.__name__}.{f.name}: required column missing. Pass {f.name}=..."
                )
            given[f.name] = np.full(n, default)
        return cls(**given)

    @classmethod
    def from_frame(cls, frame: Any, *, rename: Mapping[str, str] | None = None) -> Self:
        """Build from a DataFrame (pandas or anything indexable by column name).

        Columns are matched by name (after ``rename``, a map from frame name to column name);
        frame columns that are not table columns are ignored.
        """
        rename = dict(rename or {})
        names = [str(c) for c in frame.columns]
        known = set(cls.column_names())
        data = {rename.get(c, c): frame[c] for c in names if rename.get(c, c) in known}
        return cls.from_arrays(**data)

    @classmethod
    def empty(cls) -> Self:
        """A table with no rows."""
        return cls(**{f.name: np.empty(0, dtype=_EMPTY[f.metadata["kind"]]) for f in _fields(cls)})

    def __len__(self) -> int:
        first = _fields(type(self))[0].name
        return int(getattr(self, first).size)

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        """The columns by name (the read-only arrays themselves, not copies)."""
        return {name: getattr(self, name) for name in self.column_names()}

    def take(self, index: npt.ArrayLike) -> Self:
        """Rows at ``index`` (integer positions or a boolean mask), as a new table."""
        idx = np.asarray(index)
        return type(self)(**{k: a[idx] for k, a in self.arrays().items()})

    def between(self, start: Any = None, end: Any = None) -> Self:
        """Rows whose time column lies in ``[start, end)``; either bound may be None."""
        t = getattr(self, self.time_column)
        mask = np.ones(t.size, dtype=bool)
        if start is not None:
            mask &= t >= v.to_datetime64("start", start)
        if end is not None:
            mask &= t < v.to_datetime64("end", end)
        return self.take(mask)

    def sort(self, *keys: str) -> Self:
        """Rows sorted stably by the given columns (first key most significant)."""
        order = np.lexsort(tuple(getattr(self, k) for k in reversed(keys)))
        return self.take(order)

    @classmethod
    def concat(cls, tables: Iterable[Self]) -> Self:
        """Rows of several tables one after the other."""
        tables = list(tables)
        if not tables:
            return cls.empty()
        return cls(
            **{
                name: np.concatenate([getattr(t, name) for t in tables])
                for name in cls.column_names()
            }
        )

    def equals(self, other: object) -> bool:
        """Same type and the same values in every column, in the same order."""
        if type(other) is not type(self):
            return False
        return all(_same(a, getattr(other, k)) for k, a in self.arrays().items())

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the columns (needs the ``pandas`` extra); times as UTC."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install 'crmkit[pandas]'") from exc
        data: dict[str, Any] = {}
        for k, a in self.arrays().items():
            data[k] = pd.to_datetime(a).tz_localize("UTC") if a.dtype.kind == "M" else a
        return pd.DataFrame(data)
