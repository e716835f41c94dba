"""The synthetic shop's product catalog: a small column table of products, prices and categories."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.datasets._strings import digits, join
from crmkit.model import MINOR_UNITS, Money, Product

__all__ = ["CATEGORIES", "Catalog", "make_catalog"]

#: Categories with the median price (major units) and the spread of log prices.
CATEGORIES: dict[str, tuple[float, float]] = {
    "apparel": (30.0, 0.6),
    "shoes": (60.0, 0.5),
    "electronics": (80.0, 0.9),
    "home": (25.0, 0.8),
    "beauty": (15.0, 0.6),
    "books": (14.0, 0.4),
    "toys": (20.0, 0.7),
    "sports": (35.0, 0.8),
    "grocery": (5.0, 0.6),
    "garden": (22.0, 0.9),
}


@attrs.frozen(kw_only=True, eq=False)
class Catalog:
    """Products as aligned, read-only columns, sorted by price.

    Examples:
        >>> cat = make_catalog(20, currency="EUR", rng=1)
        >>> len(cat), cat.currency, bool((cat.price_minor > 0).all())
        (20, 'EUR', True)
        >>> cat.values()[0].price.currency
        'EUR'
    """

    product_id: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    category: npt.NDArray[np.str_]
    price_minor: npt.NDArray[np.int64]
    currency: str

    def __attrs_post_init__(self) -> None:
        v.same_length(
            product_id=self.product_id,
            name=self.name,
            category=self.category,
            price_minor=self.price_minor,
        )
        for f in ("product_id", "name", "category", "price_minor"):
            v.frozen(getattr(self, f))

    def __len__(self) -> int:
        return int(self.product_id.size)

    def values(self) -> list[Product]:
        """The products as domain values."""
        return [
            Product(
                product_id=str(pid),
                name=str(name),
                category=str(cat),
                price=Money(amount_minor=int(price), currency=self.currency),
            )
            for pid, name, cat, price in zip(
                self.product_id, self.name, self.category, self.price_minor, strict=True
            )
        ]


def make_catalog(n_products: int, *, currency: str, rng: Any) -> Catalog:
    """A catalog of ``n_products`` products over ``CATEGORIES``, log-normal prices ending in 9."""
    gen = v.as_rng(rng)
    scale = 10 ** MINOR_UNITS[currency]
    names = np.array(sorted(CATEGORIES))
    cat = gen.integers(0, names.size, n_products)
    median = np.array([CATEGORIES[c][0] for c in names.tolist()])[cat]
    sigma = np.array([CATEGORIES[c][1] for c in names.tolist()])[cat]
    major = median * np.exp(sigma * gen.standard_normal(n_products))
    # x.99-style prices: whole major units minus the smallest step of the currency
    price = np.maximum(np.ceil(major), 1.0).astype(np.int64) * scale - (1 if scale > 1 else 0)
    price = np.maximum(price, 1)
    order = np.lexsort((cat, price))
    pid = join("sku-", digits(np.arange(1, n_products + 1), 4))
    category = names[cat[order]]
    return Catalog(
        product_id=pid,
        name=join(np.char.capitalize(category), " ", digits(np.arange(1, n_products + 1), 4)),
        category=category,
        price_minor=price[order],
        currency=currency,
    )
