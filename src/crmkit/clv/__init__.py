"""Customer lifetime value: transaction summaries and the BTYD and spend models.

Summaries ([`summarize`][crmkit.clv.summarize]) feed six frozen model specifications whose
``fit()`` returns a frozen fit: [`BetaGeo`][crmkit.clv.BetaGeo] (BG/NBD),
[`ModifiedBetaGeo`][crmkit.clv.ModifiedBetaGeo] (MBG/NBD), [`ParetoNBD`][crmkit.clv.ParetoNBD],
[`BetaGeoBetaBinom`][crmkit.clv.BetaGeoBetaBinom] (BG/BB), [`GammaGamma`][crmkit.clv.GammaGamma]
(spend) and [`ShiftedBetaGeo`][crmkit.clv.ShiftedBetaGeo] (sBG retention).

Examples:
    >>> from crmkit.clv import BetaGeo, simulate_beta_geo
    >>> fit = BetaGeo().fit(simulate_beta_geo(2000, T=30.0, r=0.3, alpha=4.0, a=0.8, b=2.5, rng=0))
    >>> sorted(fit.params)
    ['a', 'alpha', 'b', 'r']
"""

from __future__ import annotations

from crmkit.clv._betageo import BetaGeo, BetaGeoFit, ModifiedBetaGeo, ModifiedBetaGeoFit
from crmkit.clv._bgbb import BetaGeoBetaBinom, BetaGeoBetaBinomFit
from crmkit.clv._diagnostics import (
    HoldoutComparison,
    PurchaseCountFit,
    SpendFrequencyCorrelation,
    compare_holdout,
    purchase_count_fit,
    spend_frequency_correlation,
)
from crmkit.clv._fitting import FitDiagnostics
from crmkit.clv._pareto import ParetoNBD, ParetoNBDFit
from crmkit.clv._sbg import ShiftedBetaGeo, ShiftedBetaGeoFit
from crmkit.clv._simulate import (
    simulate_beta_geo,
    simulate_beta_geo_beta_binom,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
    simulate_shifted_beta_geo,
)
from crmkit.clv._spend import GammaGamma, GammaGammaFit
from crmkit.clv._summary import (
    CalibrationHoldout,
    RFMSummary,
    calibration_holdout,
    summarize,
    summary_from_orders,
)
from crmkit.clv._value import expected_clv

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "BetaGeoBetaBinomFit",
    "BetaGeoFit",
    "CalibrationHoldout",
    "FitDiagnostics",
    "GammaGamma",
    "GammaGammaFit",
    "HoldoutComparison",
    "ModifiedBetaGeo",
    "ModifiedBetaGeoFit",
    "ParetoNBD",
    "ParetoNBDFit",
    "PurchaseCountFit",
    "RFMSummary",
    "ShiftedBetaGeo",
    "ShiftedBetaGeoFit",
    "SpendFrequencyCorrelation",
    "calibration_holdout",
    "compare_holdout",
    "expected_clv",
    "purchase_count_fit",
    "simulate_beta_geo",
    "simulate_beta_geo_beta_binom",
    "simulate_gamma_gamma",
    "simulate_pareto_nbd",
    "simulate_shifted_beta_geo",
    "spend_frequency_correlation",
    "summarize",
    "summary_from_orders",
]
