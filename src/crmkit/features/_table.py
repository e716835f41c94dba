"""The per-customer feature table: one row per customer, aligned read-only columns by name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.features._index import as_customer_ids

__all__ = ["CustomerFeatures"]


def _freeze_columns(
    customer_id: np.ndarray[Any, Any], columns: Mapping[str, Any]
) -> dict[str, np.ndarray[Any, Any]]:
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name, values in columns.items():
        arr = np.array(values, copy=True)
        if arr.ndim != 1 or arr.size != customer_id.size:
            raise InvalidInputError(
                f"columns[{name!r}]: expected {customer_id.size} values aligned with customer_id "
                f"(got shape {arr.shape}). Pass one value per customer."
            )
        out[str(name)] = v.frozen(arr)
    return out


@attrs.frozen(kw_only=True, eq=False)
class CustomerFeatures:
    """Aligned per-customer columns, sorted by ``customer_id``, computed as of ``as_of``.

    Columns are read by name (``features["recency_days"]``); every column has one value per
    customer. Missing values are NaN in float columns and NaT in time columns (a customer without
    orders has no recency). Build one with
    [`customer_features`][crmkit.features.customer_features] or from your own arrays.

    Examples:
        >>> import numpy as np
        >>> t = CustomerFeatures.from_columns(customer_id=["a", "b"],
        ...     as_of=np.datetime64("2024-06-01", "us"), columns={"recency_days": [3.0, 40.0]})
        >>> t["recency_days"].tolist(), len(t), t.index_of(["b"]).tolist()
        ([3.0, 40.0], 2, [1])
    """

    customer_id: np.ndarray[Any, Any]
    as_of: np.datetime64
    columns: Mapping[str, np.ndarray[Any, Any]]

    @classmethod
    def from_columns(
        cls,
        *,
        customer_id: Any,
        as_of: Any,
        columns: Mapping[str, Any],
    ) -> CustomerFeatures:
        """Validate and freeze aligned columns; ``customer_id`` must be unique."""
        ids = as_customer_ids("customer_id", customer_id)
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        dup = np.zeros(ids.size, dtype=bool)
        dup[1:] = sorted_ids[1:] == sorted_ids[:-1]
        v.require("customer_id", dup, sorted_ids, "duplicate ids", "Pass one row per customer.")
        frozen = _freeze_columns(ids, columns)
        if not np.all(order[:-1] < order[1:]):
            frozen = {k: v.frozen(a[order]) for k, a in frozen.items()}
        return cls(
            customer_id=v.frozen(sorted_ids.copy()),
            as_of=v.to_datetime64("as_of", as_of),
            columns=frozen,
        )

    def __getitem__(self, name: str) -> np.ndarray[Any, Any]:
        try:
            return self.columns[name]
        except KeyError:
            if name == "customer_id":
                return self.customer_id
            known = ", ".join(sorted(self.columns))
            raise InvalidInputError(f"column: unknown feature {name!r}. Known: {known}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns or name == "customer_id"

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return int(self.customer_id.size)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The feature names, in the order they were computed."""
        return tuple(self.columns)

    def index_of(self, customer_id: Any) -> npt.NDArray[np.intp]:
        """Row positions of the given ids; an unknown id is an error."""
        ids = as_customer_ids("customer_id", customer_id)
        pos = np.searchsorted(self.customer_id, ids)
        pos_c = np.minimum(pos, max(len(self) - 1, 0))
        bad = (pos >= len(self)) | (self.customer_id[pos_c] != ids)
        v.require("customer_id", bad, ids, "unknown customers", "Check the ids.")
        return pos_c.astype(np.intp)

    def take(self, index: npt.ArrayLike) -> CustomerFeatures:
        """The rows at ``index`` (positions or a boolean mask), as a new table."""
        idx = np.asarray(index)
        return CustomerFeatures(
            customer_id=v.frozen(self.customer_id[idx]),
            as_of=self.as_of,
            columns={k: v.frozen(a[idx]) for k, a in self.columns.items()},
        )

    def with_columns(self, columns: Mapping[str, Any]) -> CustomerFeatures:
        """A new table with extra (or replaced) columns aligned with this one's rows."""
        merged = dict(self.columns)
        merged.update(_freeze_columns(self.customer_id, columns))
        return CustomerFeatures(customer_id=self.customer_id, as_of=self.as_of, columns=merged)

    def to_pandas(self) -> Any:
        """A pandas DataFrame indexed by customer id (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install 'crmkit[pandas]'") from exc
        return pd.DataFrame(
            dict(self.columns), index=pd.Index(self.customer_id, name="customer_id")
        )
