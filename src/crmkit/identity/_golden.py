"""Golden records: one profile per entity by per-attribute survivorship, with lineage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._policy import FIELDS

__all__ = ["GoldenRecords", "Survivorship", "golden_records"]

Rule = Literal["source_priority", "most_recent", "most_frequent"]
_RULES = ("source_priority", "most_recent", "most_frequent")


@attrs.frozen(kw_only=True)
class Survivorship:
    """Which record's value becomes the entity's value, attribute by attribute.

    ``rules`` maps an attribute to ``"source_priority"`` (the first source in ``source_priority``
    wins; sources not listed come after), ``"most_recent"`` (latest ``observed_at``) or
    ``"most_frequent"`` (the normalized value most records share); attributes not listed use
    ``default``. With ``validated_first`` a valid value always beats an invalid one. Remaining
    ties go to the most recent record, then the smallest record id.

    Examples:
        >>> s = Survivorship(rules={"email": "most_frequent"}, source_priority=("crm", "web"))
        >>> s.rule_for("email"), s.rule_for("phone")
        ('most_frequent', 'most_recent')
    """

    rules: Mapping[str, Rule] = attrs.field(factory=dict, hash=False)
    default: Rule = "most_recent"
    source_priority: tuple[str, ...] = attrs.field(converter=tuple, default=())
    validated_first: bool = True

    def __attrs_post_init__(self) -> None:
        for attr, rule in [*self.rules.items(), ("default", self.default)]:
            if rule not in _RULES:
                raise InvalidInputError(
                    f"Survivorship.rules[{attr!r}]: unknown rule {rule!r}. Use one of {_RULES}."
                )

    def rule_for(self, attribute: str) -> Rule:
        """The rule that decides ``attribute``."""
        return self.rules.get(attribute, self.default)


@attrs.frozen(kw_only=True, eq=False)
class GoldenRecords:
    """One row per entity: the surviving value of each attribute (as given in the source, ``""``
    if no record has one) and, for lineage, the record it came from.

    Examples:
        >>> import crmkit.identity as ci
        >>> g = ci.resolve({"record_id": ["a", "b"], "email": ["ann@x.org", "ANN@x.org"],
        ...                 "first_name": ["", "Ann"]}).graph
        >>> gr = ci.golden_records(g)
        >>> gr.value["first_name"].tolist(), gr.lineage["first_name"].tolist()
        (['Ann'], ['b'])
    """

    entity_id: npt.NDArray[np.str_]
    value: Mapping[str, npt.NDArray[np.str_]]
    lineage: Mapping[str, npt.NDArray[np.str_]]
    n_records: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.entity_id.size)

    def row(self, entity_id: str) -> dict[str, tuple[str, str]]:
        """One entity's attributes as ``{attribute: (value, source record id)}``."""
        hit = np.flatnonzero(self.entity_id == entity_id)
        if hit.size == 0:
            raise InvalidInputError(f"entity_id: {entity_id!r} has no golden record.")
        i = int(hit[0])
        return {k: (str(self.value[k][i]), str(self.lineage[k][i])) for k in self.value}


def golden_records(
    graph: IdentityGraph,
    survivorship: Survivorship | None = None,
    *,
    attributes: Sequence[str] = FIELDS,
) -> GoldenRecords:
    """The golden record of every entity of ``graph`` under ``survivorship`` (vectorized).

    Examples:
        >>> import crmkit.identity as ci, numpy as np
        >>> g = ci.resolve({"record_id": ["crm:1", "web:2"], "email": ["a@x.org", "a@x.org"],
        ...                 "phone": ["030 111111", "030 222222"], "source": ["crm", "web"],
        ...                 "observed_at": np.array(["2024-01-01", "2024-06-01"], "datetime64[us]")}
        ...                ).graph
        >>> ci.golden_records(g).value["phone"].tolist()
        ['030 222222']
        >>> s = ci.Survivorship(default="source_priority", source_priority=("crm",))
        >>> ci.golden_records(g, s).lineage["phone"].tolist()
        ['crm:1']
    """
    s = survivorship or Survivorship()
    eids, ent = np.unique(graph.entity_id, return_inverse=True)
    ent = ent.reshape(-1).astype(np.int64)
    n = ent.size
    rid = graph.records.record_id
    rid_rank = np.empty(n, np.int64)
    rid_rank[np.argsort(rid, kind="stable")] = np.arange(n)
    t = graph.records.observed_at.astype(np.int64)
    t = np.where(np.isnat(graph.records.observed_at), np.iinfo(np.int64).min, t)
    src_rank = np.full(n, len(s.source_priority), np.int64)
    for i, src in enumerate(s.source_priority):
        src_rank[graph.records.source == src] = i
    value: dict[str, npt.NDArray[np.str_]] = {}
    lineage: dict[str, npt.NDArray[np.str_]] = {}
    for attr in attributes:
        if attr not in graph.keys.fields:
            raise InvalidInputError(
                f"attributes: {attr!r} is not a field of the graph. Use some of {list(FIELDS)}."
            )
        norm = graph.keys.fields[attr]
        raw = graph.records.text[attr]
        has = norm.present
        invalid = (~norm.valid).astype(np.int64) if s.validated_first else np.zeros(n, np.int64)
        rule = s.rule_for(attr)
        if rule == "source_priority":
            primary = src_rank
        elif rule == "most_recent":
            primary = np.zeros(n, np.int64)
        else:
            cmp = np.where(norm.valid, norm.value, np.char.lower(np.char.strip(raw)))
            pair = np.char.add(np.char.add(eids[ent], "\x1f"), cmp)
            _, inv, counts = np.unique(pair, return_inverse=True, return_counts=True)
            primary = -counts[inv.reshape(-1)].astype(np.int64)
        cand = np.flatnonzero(has)
        order = cand[
            np.lexsort((rid_rank[cand], -t[cand], primary[cand], invalid[cand], ent[cand]))
        ]
        first = np.ones(order.size, bool)
        first[1:] = ent[order][1:] != ent[order][:-1]
        best = order[first]
        out: npt.NDArray[np.str_] = np.full(eids.size, "", dtype=raw.dtype if raw.size else "<U1")
        origin: npt.NDArray[np.str_] = np.full(
            eids.size, "", dtype=rid.dtype if rid.size else "<U1"
        )
        out[ent[best]] = raw[best]
        origin[ent[best]] = rid[best]
        value[attr] = v.frozen(out)
        lineage[attr] = v.frozen(origin)
    return GoldenRecords(
        entity_id=v.frozen(eids),
        value=value,
        lineage=lineage,
        n_records=v.frozen(np.bincount(ent, minlength=eids.size).astype(np.int64)),
    )
