"""Per-customer features: one vectorized pass from orders, lines, returns and events.

The result is a [`CustomerFeatures`][crmkit.features.CustomerFeatures] table: one row per
customer (sorted by id), aligned read-only columns by name, computed as of an explicit date.

Examples:
    >>> import numpy as np
    >>> from crmkit.features import order_features
    >>> f = order_features(["a", "b", "a"],
    ...     np.array(["2024-03-01", "2024-03-02", "2024-03-05"], "datetime64[us]"),
    ...     [100, 250, 300], as_of=np.datetime64("2024-03-10", "us"))
    >>> f.customer_id.tolist(), f["n_orders"].tolist(), f["recency_days"].tolist()
    (['a', 'b'], [2, 1], [5.0, 8.0])
"""

from crmkit.features._compute import customer_features, order_features
from crmkit.features._index import encode_customers, factorize_levels
from crmkit.features._table import CustomerFeatures

__all__ = [
    "CustomerFeatures",
    "customer_features",
    "encode_customers",
    "factorize_levels",
    "order_features",
]
