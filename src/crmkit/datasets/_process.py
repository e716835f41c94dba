"""Draw purchases from the BG/NBD process and spend from the Gamma-Gamma model, vectorized."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.datasets._config import BetaGeoParams, GammaGammaParams

__all__ = ["Purchases", "draw_purchases", "grouped_cumsum"]

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741 - a type alias, not a loop variable
B = npt.NDArray[np.bool_]


@attrs.frozen(kw_only=True)
class Purchases:
    """Per person latents and one row per purchase (the first one and the repeats)."""

    lam: F
    p: F
    nu: F
    alive: B
    n_repeat: I
    person: I  # person of each purchase, sorted by person then time
    day: F  # days since the window start
    spend: F  # major units


def grouped_cumsum(values: F, counts: I) -> F:
    """Cumulative sums restarting at each group (groups are consecutive runs of ``counts``)."""
    total = np.cumsum(values)
    ends = np.cumsum(counts)
    before = np.zeros(counts.size)
    nonempty = counts > 0
    starts = ends - counts
    prev = np.concatenate([[0.0], total])[starts]
    before[nonempty] = prev[nonempty]
    return total - np.repeat(before, counts)


def draw_purchases(
    acquired_day: F,
    horizon_day: float,
    bgnbd: BetaGeoParams,
    spend: GammaGammaParams,
    rng: np.random.Generator,
) -> Purchases:
    """The purchases of persons acquired at ``acquired_day`` and observed until ``horizon_day``.

    Each person makes a first purchase at acquisition. Repeat purchases follow a Poisson process
    with rate λ; after each repeat purchase the person drops out with probability p. The repeat
    purchases in (0, T] are the first min(K, J) of K ~ Poisson(λT) uniform times, where
    J ~ Geometric(p) is the purchase after which the person would drop out; the person is alive at
    the horizon when K < J. Uniform order statistics come from exponential spacings, so only the
    kept times are drawn.
    """
    n = acquired_day.size
    lam = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n)
    p = rng.beta(bgnbd.a, bgnbd.b, n)
    t_obs = horizon_day - acquired_day
    dropout_after = rng.geometric(np.clip(p, 1e-12, 1.0)).astype(np.int64)
    k = rng.poisson(lam * t_obs).astype(np.int64)
    n_repeat = np.minimum(k, dropout_after)
    alive = k < dropout_after
    owner = np.repeat(np.arange(n), n_repeat)
    spacing = grouped_cumsum(rng.standard_exponential(owner.size), n_repeat)
    last = np.zeros(n)
    has = n_repeat > 0
    last[has] = spacing[np.cumsum(n_repeat)[has] - 1]
    # S_{K+1} = S_x + (sum of the K + 1 - x spacings not drawn one by one)
    total = last + rng.gamma(np.maximum(k + 1 - n_repeat, 1).astype(np.float64), 1.0)
    repeat_day = acquired_day[owner] + t_obs[owner] * spacing / total[owner]
    # first purchase at acquisition, then the repeats; rows grouped by person, in time order
    counts = n_repeat + 1
    person = np.repeat(np.arange(n), counts)
    day = np.empty(person.size)
    first_row = np.cumsum(counts) - counts
    day[first_row] = acquired_day
    is_repeat = np.ones(person.size, dtype=bool)
    is_repeat[first_row] = False
    day[is_repeat] = repeat_day
    nu = rng.gamma(spend.q, 1.0 / spend.gamma, n)
    amount = rng.gamma(spend.p, 1.0 / nu[person])
    return Purchases(
        lam=lam,
        p=p,
        nu=nu,
        alive=alive,
        n_repeat=n_repeat,
        person=person,
        day=day,
        spend=amount,
    )
