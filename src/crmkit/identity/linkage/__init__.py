"""Probabilistic record linkage: comparisons with levels, blocking, the Fellegi–Sunter model
trained by EM without labels, explanations per pair, and clustering under the identity graph's
policies. Every public name is also available from ``crmkit.identity``.

Examples:
    >>> import crmkit.identity.linkage as lk
    >>> t = lk.read_table({"email": ["ann@x.org", "ann@x.org", "bob@y.org"]})
    >>> lk.Blocking(rules=[lk.BlockingRule(columns="email")]).count_pairs(t).total
    1
"""

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
from crmkit.identity.linkage._crm import crm_model
from crmkit.identity.linkage._link import Linkage, dedupe, link
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
    "Linkage",
    "LinkageTable",
    "NameComparison",
    "NumberComparison",
    "PostcodeComparison",
    "ScoredPairs",
    "StringComparison",
    "Waterfall",
    "crm_model",
    "dedupe",
    "link",
    "read_table",
]
