"""Expected incremental value of contacting each customer."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = ["expected_incremental_value"]


def _column(name: str, values: Any, n: int, *, min_value: float | None = None) -> Any:
    arr = np.asarray(values, dtype=np.float64) if np.ndim(values) == 0 else None
    if arr is not None:
        if not np.isfinite(arr) or (min_value is not None and arr < min_value):
            raise InvalidInputError(
                f"{name}: expected a finite number >= {min_value} (got {float(arr)!r})."
            )
        return np.full(n, float(arr))
    out = v.as_float_array(name, values, min_value=min_value)
    if out.size != n:
        raise InvalidInputError(
            f"{name}: {out.size} values for {n} customers. Pass one value per customer or a scalar."
        )
    return out


def expected_incremental_value(
    effect: Any,
    value: Any,
    *,
    contact_cost: Any = 0.0,
    incentive_cost: Any = 0.0,
) -> npt.NDArray[np.float64]:
    """Expected incremental value per customer: ``effect × value − contact_cost − incentive_cost``.

    ``effect`` is the uplift (the change in response probability a contact causes, which may be
    negative for customers a contact puts off) or, lacking an uplift model, the response
    probability itself, which overstates the value by the share of customers who would have
    responded anyway. ``value`` is what a response is worth (CLV or expected margin);
    ``incentive_cost`` is the expected cost of the offer (for a coupon paid only on redemption,
    pass redemption probability × face value). All costs are in the units of ``value``.
    Any score arrays work: those of ``crmkit.clv`` or of another model.

    Examples:
        >>> expected_incremental_value([0.05, 0.01], [200.0, 50.0], contact_cost=0.5).tolist()
        [9.5, 0.0]
    """
    eff = v.as_float_array("effect", effect)
    require_prob = (eff < -1) | (eff > 1)
    v.require("effect", require_prob, eff, "values outside [-1, 1]", "Pass probabilities.")
    n = eff.size
    val = _column("value", value, n)
    cc = _column("contact_cost", contact_cost, n, min_value=0.0)
    ic = _column("incentive_cost", incentive_cost, n, min_value=0.0)
    return v.frozen(eff * val - cc - ic)
