"""Optional plots (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from typing import Any

import numpy as np

from crmkit.errors import InvalidInputError

__all__ = ["plot_curve"]


def plot_curve(x: Any, values: Any, *, ax: Any = None, label: str = "model") -> Any:
    """Plot an uplift or Qini curve with the straight random line; returns the matplotlib axes.

    Needs the ``plot`` extra (``pip install "crmkit[plot]"``).

    Examples:
        >>> ax = plot_curve([0, 1, 2], [0.0, 1.0, 1.5])  # doctest: +SKIP
        >>> ax.get_xlabel()  # doctest: +SKIP
        'customers targeted'
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInputError(
            "plot: matplotlib is not installed. Install the extra: pip install 'crmkit[plot]'."
        ) from exc
    xs = np.asarray(x, dtype=np.float64)
    vs = np.asarray(values, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(xs, vs, label=label)
    ax.plot([xs[0], xs[-1]], [vs[0], vs[-1]], linestyle="--", color="grey", label="random")
    ax.set_xlabel("customers targeted")
    ax.set_ylabel(label)
    ax.legend()
    return ax
