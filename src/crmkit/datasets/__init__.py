"""A deterministic synthetic shop with ground truth: identities, BG/NBD purchases, noise.

``synthetic_shop(n_customers, rng=seed)`` draws persons behind multi-channel source records (web
signups, guest checkouts, loyalty cards, support tickets, marketplace orders) with the noise real
channels produce, orders from a known BG/NBD + Gamma-Gamma process, order lines from a catalog,
returns, browsing and cart events (abandoned carts included) and consents. Everything is held as
column tables; ``shop.truth`` says which person is behind each record and which parameters made
the data.

Examples:
    >>> from crmkit.datasets import synthetic_shop
    >>> shop = synthetic_shop(300, rng=5)
    >>> shop.truth.n_persons < len(shop.records)  # persons appear in several records
    True
    >>> lines = shop.order_lines
    >>> o = shop.orders
    >>> int(lines.total_minor.sum() + o.shipping_minor.sum() + o.tax_minor.sum()) == int(
    ...     o.total_minor.sum())
    True
"""

from crmkit.datasets._build import synthetic_shop
from crmkit.datasets._catalog import Catalog
from crmkit.datasets._config import (
    BetaGeoParams,
    GammaGammaParams,
    ShopBehaviour,
    ShopNoise,
    ShopTaste,
)
from crmkit.datasets._records import RecordNoise
from crmkit.datasets._shop import SyntheticShop
from crmkit.datasets._truth import ShopTruth

__all__ = [
    "BetaGeoParams",
    "Catalog",
    "GammaGammaParams",
    "RecordNoise",
    "ShopBehaviour",
    "ShopNoise",
    "ShopTaste",
    "ShopTruth",
    "SyntheticShop",
    "synthetic_shop",
]
