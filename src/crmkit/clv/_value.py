"""Customer lifetime value over a horizon, with stated discounting conventions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from crmkit.clv._btyd import finite
from crmkit.clv._summary import RFMSummary
from crmkit.errors import InvalidInputError

__all__ = ["expected_clv"]

FloatArray = npt.NDArray[np.float64]


class _Purchases(Protocol):
    # Each fit takes its own keyword arrays (frequency=, recency=, T=, covariates...).
    @property
    def conditional_expected_purchases(self) -> Callable[..., FloatArray]: ...


def expected_clv(
    fit: _Purchases,
    summary: RFMSummary | None = None,
    *,
    spend: Any,
    horizon: float,
    discount_rate: float,
    step: float = 1.0,
    convention: Literal["discrete", "continuous"] = "discrete",
    **arrays: Any,
) -> FloatArray:
    """Expected discounted value of each customer's purchases over the next ``horizon`` units.

    ``spend`` is the expected value per purchase (a scalar or one per customer, e.g. from
    ``GammaGammaFit.conditional_expected_spend``). Conventions:

    * ``"discrete"``: purchases expected in step k, ``E[Y(k·step)] − E[Y((k−1)·step)]``, are
      discounted by ``(1 + discount_rate)^k`` (``discount_rate`` per step, paid at step end;
      lifetimes' convention with ``step`` = its ``freq``).
    * ``"continuous"``: ``∫₀^H e^{−δt} dE[Y(t)]`` with ``δ = discount_rate`` per time unit,
      by 32-point Gauss–Legendre quadrature after integration by parts.

    For the discrete-time BG/BB fit, time is counted in transaction opportunities: only the
    discrete convention applies, ``step`` and ``horizon`` must be whole numbers of
    opportunities and the purchases of opportunity ``k`` are discounted by
    ``(1 + discount_rate)^k`` (with ``step`` 1).

    Examples:
        >>> from crmkit.clv import BetaGeoFit
        >>> fit = BetaGeoFit.from_params(r=0.2426, alpha=4.4137, a=0.793, b=2.4262)
        >>> expected_clv(fit, spend=35.0, horizon=52.0, discount_rate=0.01, step=4.0,
        ...              frequency=[2], recency=[30.43], T=[38.86]).round(1)
        array([51.1])
        >>> from crmkit.clv import BetaGeoBetaBinomFit
        >>> bgbb = BetaGeoBetaBinomFit.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
        >>> expected_clv(bgbb, spend=50.0, horizon=5, discount_rate=0.1,
        ...              frequency=[6], recency=[6], T=[6]).round(1)
        array([143.7])
    """
    if not (horizon > 0 and math.isfinite(horizon)):
        raise InvalidInputError(f"horizon: must be > 0 (got {horizon}).")
    if not (discount_rate >= 0 and math.isfinite(discount_rate)):
        raise InvalidInputError(f"discount_rate: must be >= 0 (got {discount_rate}).")
    if not step > 0:
        raise InvalidInputError(f"step: must be > 0 (got {step}).")
    if getattr(fit, "discrete_time", False):
        if convention != "discrete":
            raise InvalidInputError(
                f"convention: {convention!r} with a discrete-time model (BG/BB). Use "
                "convention='discrete'; time is counted in transaction opportunities."
            )
        if step != round(step) or horizon != round(horizon):
            raise InvalidInputError(
                f"step, horizon: BG/BB counts whole transaction opportunities (got step {step}, "
                f"horizon {horizon}). Pass whole numbers."
            )
    spend_arr = np.asarray(spend, dtype=np.float64)
    if not np.all(np.isfinite(spend_arr)) or np.any(spend_arr < 0):
        raise InvalidInputError("spend: must be finite and >= 0. Pass expected spend per purchase.")

    def ey(t: float) -> FloatArray:
        if t <= 0:
            return np.asarray(0.0)
        return fit.conditional_expected_purchases(float(t), summary, **arrays)

    if convention == "discrete":
        k_max = math.ceil(horizon / step - 1e-12)
        total: FloatArray = np.asarray(0.0)
        prev: FloatArray = np.asarray(0.0)
        for k in range(1, k_max + 1):
            cur = ey(min(k * step, horizon))
            total = total + (cur - prev) / (1.0 + discount_rate) ** k
            prev = cur
    elif convention == "continuous":
        z, w = np.polynomial.legendre.leggauss(32)
        nodes = (z + 1.0) / 2.0 * horizon
        total = math.exp(-discount_rate * horizon) * ey(horizon)
        if discount_rate > 0:
            for node, weight in zip(nodes, w * horizon / 2.0, strict=True):
                total = total + discount_rate * weight * math.exp(-discount_rate * node) * ey(node)
    else:
        raise InvalidInputError(
            f"convention: unknown {convention!r}. Use 'discrete' or 'continuous'."
        )
    return finite("expected_clv", spend_arr * total)
