"""Column tables: orders, lines, returns, events, consents and contacts as aligned numpy arrays.

Built from domain values, from plain arrays (numpy ``datetime64`` is taken as UTC) or from
DataFrame columns, validated once; the arrays are read-only. This is what the analytic modules
consume.

Examples:
    >>> import numpy as np
    >>> from crmkit.columns import OrderColumns
    >>> oc = OrderColumns.from_arrays(order_id=["o1"], customer_id=["c1"],
    ...     placed_at=np.array(["2024-01-01"], dtype="datetime64[us]"),
    ...     currency=["EUR"], total_minor=[100])
    >>> oc.placed_at.dtype
    dtype('<M8[us]')
"""

from crmkit.columns._base import Columns, col
from crmkit.columns._tables import (
    ConsentColumns,
    ContactColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)

__all__ = [
    "Columns",
    "ConsentColumns",
    "ContactColumns",
    "EventColumns",
    "OrderColumns",
    "OrderLineColumns",
    "ReturnColumns",
    "SourceRecordColumns",
    "col",
]
