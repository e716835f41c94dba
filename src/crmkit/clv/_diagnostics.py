"""Diagnostics: holdout comparison, purchase-count PMF fit, spend/frequency independence."""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats

from crmkit._validation import frozen
from crmkit.clv._inputs import checked
from crmkit.clv._summary import CalibrationHoldout, RFMSummary
from crmkit.errors import InvalidInputError

__all__ = [
    "HoldoutComparison",
    "PurchaseCountFit",
    "SpendFrequencyCorrelation",
    "compare_holdout",
    "purchase_count_fit",
    "spend_frequency_correlation",
]

FloatArray = npt.NDArray[np.float64]


class _Fit(Protocol):
    def conditional_expected_purchases(
        self, t: float, summary: RFMSummary | None = None, **kw: Any
    ) -> FloatArray: ...

    def purchase_count_pmf(self, n: Any, t: Any) -> FloatArray: ...


def _ro(v: Any) -> Any:
    return frozen(np.array(v, dtype=np.float64, copy=True))


@attrs.frozen(kw_only=True)
class HoldoutComparison:
    """Predicted vs actual holdout purchases per customer, and aggregate errors.

    Examples:
        >>> h = HoldoutComparison(predicted=[1.0, 2.0], actual=[1.0, 3.0])
        >>> h.mean_absolute_error, h.total_predicted, h.total_actual
        (0.5, 3.0, 4.0)
    """

    predicted: FloatArray = attrs.field(converter=_ro)
    actual: FloatArray = attrs.field(converter=_ro)

    @property
    def mean_absolute_error(self) -> float:
        """Mean |predicted − actual| per customer."""
        return float(np.mean(np.abs(self.predicted - self.actual)))

    @property
    def root_mean_squared_error(self) -> float:
        """Root mean squared per-customer error."""
        return float(np.sqrt(np.mean((self.predicted - self.actual) ** 2)))

    @property
    def total_predicted(self) -> float:
        """Predicted holdout purchases, summed over customers."""
        return float(self.predicted.sum())

    @property
    def total_actual(self) -> float:
        """Actual holdout purchases, summed over customers."""
        return float(self.actual.sum())

    def by_calibration_frequency(
        self, frequency: Any, max_frequency: int = 7
    ) -> dict[int, tuple[float, float]]:
        """Mean (predicted, actual) per calibration frequency, the last bin open (``x ≥ max``).

        Examples:
            >>> h = HoldoutComparison(predicted=[0.1, 1.0], actual=[0.0, 2.0])
            >>> h.by_calibration_frequency([0, 3], max_frequency=2)
            {0: (0.1, 0.0), 2: (1.0, 2.0)}
        """
        x = np.minimum(np.asarray(frequency, dtype=np.int64), max_frequency)
        out = {}
        for k in np.unique(x):
            sel = x == k
            out[int(k)] = (float(self.predicted[sel].mean()), float(self.actual[sel].mean()))
        return out


def compare_holdout(fit: _Fit, split: CalibrationHoldout) -> HoldoutComparison:
    """Predict each calibration customer's holdout purchases and compare with what happened.

    Examples:
        >>> import numpy as np
        >>> from crmkit.clv import BetaGeoFit, calibration_holdout
        >>> ts = np.array(["2024-01-01", "2024-01-05", "2024-02-01"], "datetime64[us]")
        >>> split = calibration_holdout([1, 1, 1], ts, [1.0, 1.0, 1.0],
        ...     calibration_end=np.datetime64("2024-01-10"),
        ...     observation_end=np.datetime64("2024-02-10"))
        >>> fit = BetaGeoFit.from_params(r=0.3, alpha=4.0, a=0.8, b=2.5)
        >>> compare_holdout(fit, split).total_actual
        1.0
    """
    pred = fit.conditional_expected_purchases(split.duration_holdout, split.calibration)
    return HoldoutComparison(predicted=pred, actual=split.holdout_frequency)


@attrs.frozen(kw_only=True)
class PurchaseCountFit:
    """Observed vs expected numbers of customers by repeat-purchase count, with a χ² statistic.

    Examples:
        >>> PurchaseCountFit(counts=[0, 1], observed=[5, 5], expected=[5.5, 4.5], chi_square=0.1,
        ...                  degrees_of_freedom=1, p_value=0.75).counts.tolist()
        [0.0, 1.0]
    """

    counts: FloatArray = attrs.field(converter=_ro)
    observed: FloatArray = attrs.field(converter=_ro)
    expected: FloatArray = attrs.field(converter=_ro)
    chi_square: float
    degrees_of_freedom: int
    p_value: float


def purchase_count_fit(
    fit: _Fit,
    summary: RFMSummary | None = None,
    *,
    frequency: Any = None,
    T: Any = None,
    max_count: int = 7,
    n_parameters: int = 4,
) -> PurchaseCountFit:
    """Compare the histogram of repeat purchases with the model's P(X(T) = n), customer by customer.

    The expected count for n is Σ_i P(X(T_i) = n); the last bin is open (n ≥ ``max_count``).

    Examples:
        >>> from crmkit.clv import BetaGeoFit
        >>> fit = BetaGeoFit.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
        >>> res = purchase_count_fit(fit, frequency=[0, 0, 1, 3], T=[30, 30, 30, 30], max_count=3)
        >>> round(float(res.expected.sum()), 6)
        4.0
    """
    if summary is not None:
        frequency, T = summary.frequency, summary.T
    if frequency is None or T is None:
        raise InvalidInputError("frequency, T: missing. Pass an RFMSummary or both arrays.")
    x = checked("frequency", frequency, None)
    t = checked("T", T, None, n=x.size)
    uniq, inv = np.unique(t, return_inverse=True)
    ks = np.arange(max_count, dtype=np.float64)
    pmf = np.stack([fit.purchase_count_pmf(ks, float(u)) for u in uniq])  # (u, k)
    pmf = np.column_stack([pmf, np.clip(1.0 - pmf.sum(axis=1), 0.0, 1.0)])
    expected = np.bincount(inv, minlength=uniq.size) @ pmf
    observed = np.bincount(np.minimum(x, max_count).astype(np.int64), minlength=max_count + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    chi = float(contrib.sum())
    dof = max(1, max_count + 1 - 1 - n_parameters)
    return PurchaseCountFit(
        counts=np.arange(max_count + 1),
        observed=observed,
        expected=expected,
        chi_square=chi,
        degrees_of_freedom=dof,
        p_value=float(stats.chi2.sf(chi, dof)),
    )


@attrs.frozen(kw_only=True)
class SpendFrequencyCorrelation:
    """Pearson and Spearman correlation of frequency and mean spend among repeat customers.

    Examples:
        >>> SpendFrequencyCorrelation(pearson=0.11, spearman=0.05, p_value=0.2, n=100).independent
        True
    """

    pearson: float
    spearman: float
    p_value: float
    n: int

    @property
    def independent(self) -> bool:
        """True unless the Spearman correlation is significant at 5 % and above 0.3 in size."""
        return not (self.p_value < 0.05 and abs(self.spearman) > 0.3)


def spend_frequency_correlation(
    summary: RFMSummary | None = None, *, frequency: Any = None, monetary: Any = None
) -> SpendFrequencyCorrelation:
    """The Gamma-Gamma independence check: does spend move with purchase frequency?

    Examples:
        >>> res = spend_frequency_correlation(frequency=[1, 2, 3, 4, 5],
        ...                                   monetary=[10, 12, 9, 11, 10])
        >>> res.n
        5
    """
    if summary is not None:
        frequency, monetary = summary.frequency, summary.monetary
    if frequency is None or monetary is None:
        raise InvalidInputError("frequency, monetary: missing. Pass an RFMSummary or both arrays.")
    x = checked("frequency", frequency, None)
    m = checked("monetary", monetary, None, n=x.size)
    keep = x > 0
    if keep.sum() < 3:
        raise InvalidInputError(
            f"frequency: {int(keep.sum())} repeat customers. The check needs at least 3."
        )
    pear = stats.pearsonr(x[keep], m[keep])
    spear = stats.spearmanr(x[keep], m[keep])
    return SpendFrequencyCorrelation(
        pearson=float(pear.statistic),
        spearman=float(spear.statistic),
        p_value=float(spear.pvalue),
        n=int(keep.sum()),
    )
