"""Probabilistic record linkage (Fellegi–Sunter)."""

from crmkit.identity.linkage._blocking import Blocking, BlockingRule, BlockingStats
from crmkit.identity.linkage._columns import LinkageTable, read_table
from crmkit.identity.linkage._comparisons import (
    Comparison,
    DateComparison,
    EmailComparison,
    ExactMatch,
    NameComparison,
    NumberComparison,
    PostcodeComparison,
    StringComparison,
)
from crmkit.identity.linkage._model import FellegiSunter, FellegiSunterFit
from crmkit.identity.linkage._scores import Candidates, ScoredPairs, Waterfall

__all__ = [
    "Blocking",
    "BlockingRule",
    "BlockingStats",
    "Candidates",
    "Comparison",
    "DateComparison",
    "EmailComparison",
    "ExactMatch",
    "FellegiSunter",
    "FellegiSunterFit",
    "LinkageTable",
    "NameComparison",
    "NumberComparison",
    "PostcodeComparison",
    "ScoredPairs",
    "StringComparison",
    "Waterfall",
    "read_table",
]
