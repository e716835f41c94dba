"""Identity resolution: normalization, stitching policies, an incremental identity graph with stable
entity ids, human decisions, an audit log, golden records and explanations.

Examples:
    >>> import crmkit.identity as ci
    >>> res = ci.resolve({
    ...     "record_id": ["web:1", "checkout:7", "loyalty:3", "market:9"],
    ...     "email": ["Ann.Lee@gmail.com", "annlee+shoes@gmail.com", "",
    ...               "x1@marketplace.amazon.de"],
    ...     "phone": ["", "0171 2345678", "+49 171 2345678", "0171 2345678"],
    ... })
    >>> res.entity_id.tolist()
    ['checkout:7', 'checkout:7', 'checkout:7', 'checkout:7']
"""

from crmkit.identity._audit import (
    AuditAction,
    AuditLog,
    Decision,
    DecisionConflictError,
    DecisionKind,
    UnknownRecordError,
)
from crmkit.identity._explain import Explanation, LinkStep, explain
from crmkit.identity._golden import GoldenRecords, Survivorship, golden_records
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._links import LinkTable
from crmkit.identity._nicknames import nicknames
from crmkit.identity._normalize import (
    EmailPolicy,
    Normalized,
    normalize_address,
    normalize_birth_date,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postcode,
)
from crmkit.identity._policy import IdentifierPolicy, StitchingPolicy
from crmkit.identity._resolve import Resolution, resolve
from crmkit.identity._store import (
    ERASED,
    GRAPHS,
    AuditChunk,
    EntityDocument,
    GraphState,
    SaveReport,
    audit_spec,
    entity_spec,
    load_graph,
    save_graph,
)
from crmkit.identity.linkage import (
    Blocking,
    BlockingRule,
    BlockingStats,
    Candidates,
    Comparison,
    DateComparison,
    EmailComparison,
    ExactMatch,
    FellegiSunter,
    FellegiSunterFit,
    Linkage,
    LinkageTable,
    NameComparison,
    NumberComparison,
    PostcodeComparison,
    ScoredPairs,
    StringComparison,
    Waterfall,
    crm_model,
    dedupe,
    link,
    read_table,
)

__all__ = [
    "ERASED",
    "GRAPHS",
    "AuditAction",
    "AuditChunk",
    "AuditLog",
    "Blocking",
    "BlockingRule",
    "BlockingStats",
    "Candidates",
    "Comparison",
    "DateComparison",
    "Decision",
    "DecisionConflictError",
    "DecisionKind",
    "EmailComparison",
    "EmailPolicy",
    "EntityDocument",
    "ExactMatch",
    "Explanation",
    "FellegiSunter",
    "FellegiSunterFit",
    "GoldenRecords",
    "GraphState",
    "IdentifierPolicy",
    "IdentityGraph",
    "LinkStep",
    "LinkTable",
    "Linkage",
    "LinkageTable",
    "NameComparison",
    "Normalized",
    "NumberComparison",
    "PostcodeComparison",
    "Resolution",
    "SaveReport",
    "ScoredPairs",
    "StitchingPolicy",
    "StringComparison",
    "Survivorship",
    "UnknownRecordError",
    "Waterfall",
    "audit_spec",
    "crm_model",
    "dedupe",
    "entity_spec",
    "explain",
    "golden_records",
    "link",
    "load_graph",
    "nicknames",
    "normalize_address",
    "normalize_birth_date",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postcode",
    "read_table",
    "resolve",
    "save_graph",
]
