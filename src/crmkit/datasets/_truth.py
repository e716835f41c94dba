"""The ground truth behind a synthetic shop: who is who, and the processes that made the data."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.datasets._config import (
    BetaGeoParams,
    GammaGammaParams,
    ShopBehaviour,
    ShopNoise,
    ShopTaste,
)
from crmkit.datasets._records import RecordNoise

__all__ = ["ShopTruth"]

Str = npt.NDArray[np.str_]
Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


def _frozen_arrays(inst: ShopTruth) -> None:
    for f in attrs.fields(type(inst)):
        value = getattr(inst, f.name)
        if isinstance(value, np.ndarray):
            v.frozen(value)


@attrs.frozen(kw_only=True, eq=False)
class ShopTruth:
    """What generated a synthetic shop: persons, latent traits, parameters and noise.

    Arrays named ``person_*`` or holding latent traits are aligned with ``person_id`` (one row per
    person); ``record_*`` arrays are aligned with ``shop.records``; ``order_person``,
    ``line_person``, ``return_person``, ``event_person`` and ``consent_person`` give the person
    (a row of ``person_id``) of each row of the matching table. Time in the BG/NBD process is
    measured in days; spend in major units of the currency.

    Examples:
        >>> from crmkit.datasets import synthetic_shop
        >>> shop = synthetic_shop(50, rng=1)
        >>> truth = shop.truth
        >>> truth.person_id[truth.record_person[:2]].tolist() == shop.person_of(
        ...     shop.records.record_id[:2]).tolist()
        True
        >>> truth.bgnbd.r, truth.spend.p
        (0.25, 6.0)
    """

    #: The observation window ``[start, end)``.
    start: dt.datetime
    end: dt.datetime
    #: The purchase process (days) and the spend process (major units).
    bgnbd: BetaGeoParams
    spend: GammaGammaParams
    noise: ShopNoise
    behaviour: ShopBehaviour
    taste_params: ShopTaste

    person_id: Str
    #: Per person: the true first and last name (records may show nicknames, typos, case).
    first_name: Str
    last_name: Str
    #: Per person: purchase rate λ (per day), dropout probability p, spend rate ν.
    lam: Flt
    p: Flt
    nu: Flt
    #: Per person: still alive at ``end`` (has not dropped out).
    alive: Bool
    #: Per person: repeat purchases in the window (purchases minus the first).
    n_repeat: Int
    #: Per person: time of the first purchase (acquisition).
    acquired_at: npt.NDArray[np.datetime64]
    #: Per person: the moving date (NaT when the person did not move).
    moved_at: npt.NDArray[np.datetime64]
    #: Per person: the household's head (a row of ``person_id``), -1 when living alone.
    household: Int
    #: Per person: the other person whose name this person shares, -1 when none.
    namesake_of: Int
    #: Per person: the browser cookie seen as ``anonymous_id`` in events.
    cookie_id: Str

    #: The category names labelling the columns of ``taste`` and ``cluster_profile``.
    categories: Str
    #: Per taste cluster: its share of persons, its category profile (rows sum to 1) and its
    #: affinity for each product (columns aligned with ``shop.products``).
    cluster_share: Flt
    cluster_profile: Flt
    cluster_affinity: Flt
    #: Per person: the taste cluster (a row of ``cluster_profile``) and the taste over
    #: ``categories`` (rows sum to 1).
    cluster: Int
    taste: Flt
    #: Per product (aligned with ``shop.products``): the replenishment cycle in days of a
    #: consumable, NaN for other products.
    product_cycle_days: Flt
    #: Per person: the consumable (a row of ``shop.products``) they re-buy on a cycle and that
    #: cycle in days; -1 and NaN for persons who do not replenish.
    replenish_product: Int
    replenish_days: Flt

    #: Per record: the person (a row of ``person_id``) and the noise flags (``RecordNoise``).
    record_person: Int
    record_noise: npt.NDArray[np.uint16]
    order_person: Int
    line_person: Int
    #: Per order line: the line re-buys its person's consumable on their cycle.
    line_replenishment: Bool
    return_person: Int
    event_person: Int
    consent_person: Int
    #: Sessions with ``add_to_cart`` followed by no order for at least a day.
    abandoned_carts: int

    def __attrs_post_init__(self) -> None:
        _frozen_arrays(self)

    @property
    def n_persons(self) -> int:
        """The number of persons (customers) behind the records."""
        return int(self.person_id.size)

    def record_has(self, flag: RecordNoise) -> npt.NDArray[np.bool_]:
        """Per record: whether ``flag`` (a ``RecordNoise``) was applied.

        Examples:
            >>> from crmkit.datasets import RecordNoise, synthetic_shop
            >>> shop = synthetic_shop(200, rng=3)
            >>> shop.truth.record_has(RecordNoise.TYPO).dtype
            dtype('bool')
        """
        out: npt.NDArray[np.bool_] = (self.record_noise & np.uint16(int(flag))) != 0
        return out
