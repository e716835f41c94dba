"""The one-call entry point: records in, an entity id per record and the links out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.identity._audit import Decision
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._links import LinkTable
from crmkit.identity._policy import StitchingPolicy

if TYPE_CHECKING:
    from crmkit.identity.linkage import FellegiSunterFit

__all__ = ["Resolution", "resolve"]


@attrs.frozen(kw_only=True, eq=False)
class Resolution:
    """What [`resolve`][crmkit.identity.resolve] returns: ``record_id`` and ``entity_id`` aligned
    with the input order, the ``links`` with their rules and evidence, the ``graph`` to resolve
    new records against later, and the ``linkage_fit`` that scored the probabilistic links (None
    when none ran; pass it to the next ``resolve`` to reuse it).

    Examples:
        >>> res = resolve({"record_id": ["a", "b", "c"],
        ...                "phone": ["030 1234567", "", "+49301234567"]})
        >>> res.entity_id.tolist(), res.n_entities
        (['a', 'b', 'a'], 2)
    """

    record_id: npt.NDArray[np.str_]
    entity_id: npt.NDArray[np.str_]
    links: LinkTable
    graph: IdentityGraph
    linkage_fit: FellegiSunterFit | None = None

    @property
    def n_entities(self) -> int:
        """How many entities the records form."""
        return int(np.unique(self.entity_id).size)


def resolve(
    records: Any,
    *,
    policy: StitchingPolicy | None = None,
    decisions: Iterable[Decision] = (),
    graph: IdentityGraph | None = None,
    linkage: bool = True,
    linkage_fit: FellegiSunterFit | None = None,
) -> Resolution:
    """Resolve ``records`` into entities, deterministically, under ``policy``.

    ``records``: a sequence of [`SourceRecord`][crmkit.model.SourceRecord] values, a
    [`SourceRecordColumns`][crmkit.columns.SourceRecordColumns] table, or a mapping of column name
    to
    array-like with any of ``record_id, source, source_key, observed_at, email, phone, first_name,
    last_name, birth_date`` (ISO), ``street, city, postcode, country`` and the extra identifier
    columns the policy names (e.g. ``customer_id``, ``loyalty_card``); missing values as None or
    ``""``. Without ``record_id`` the id is ``source:source_key`` or ``row:<position>``.

    ``decisions``: human decisions to apply (see [`Decision`][crmkit.identity.Decision]).
    ``graph``: an existing graph to resolve against incrementally (its policy is used).
    ``linkage``: also link records probabilistically (Fellegi–Sunter, see
    [`crmkit.identity.linkage`][crmkit.identity.linkage]) when the policy declares the scored rule
    ``fellegi_sunter`` (the default policy does). The model
    ([`crm_model`][crmkit.identity.linkage.crm_model]) is trained without labels on the
    candidate pairs of the new records, which needs at least 200 records in the graph
    (``crmkit.identity.linkage.MIN_RECORDS``); smaller runs link deterministically only, unless
    ``linkage_fit`` is given. ``linkage_fit``: a trained
    [`FellegiSunterFit`][crmkit.identity.linkage.FellegiSunterFit] (e.g. ``linkage_fit`` of an
    earlier ``Resolution``, or ``FellegiSunterFit.from_json``) used as is, without training:
    incremental batches of any size are scored with the model of the first, large run.

    Examples:
        >>> res = resolve({"record_id": ["web:1", "shop:9", "pos:3"],
        ...                "email": ["Ann.Lee+shop@gmail.com", "annlee@gmail.com", "bob@x.org"]})
        >>> res.entity_id.tolist()
        ['shop:9', 'shop:9', 'pos:3']
        >>> res.links.rule.tolist(), res.links.evidence.tolist()
        (['email'], ['annlee@gmail.com'])
    """
    from crmkit.identity._records import read_records

    graph = (graph or IdentityGraph.empty(policy)).add(records)
    ids = read_records(records, graph.policy).record_id
    fit = None
    if linkage and any(p.scored and p.kind == "fellegi_sunter" for p in graph.policy.identifiers):
        from crmkit.identity.linkage._crm import link_graph

        new = np.isin(graph.records.record_id, ids)
        graph, fit = link_graph(graph, new, fit=linkage_fit)
    for d in decisions:
        graph = graph.decide(d)
    return Resolution(
        record_id=ids,
        entity_id=graph.entity_of(ids),
        links=_accepted_links(graph),
        graph=graph,
        linkage_fit=fit,
    )


def _accepted_links(graph: IdentityGraph) -> LinkTable:
    """``graph.links()`` restricted to the accepted links, built from those alone (at 1M records
    the refused candidates are many, and their record ids and evidence texts are never needed)."""
    from crmkit.identity._resolve_subset import edge_evidence

    e = graph.edges.keep(graph.edges.accepted)
    rid = graph.records.record_id
    return LinkTable(
        record_a=rid[e.a], record_b=rid[e.b], rule=e.rule, score=e.score,
        evidence=edge_evidence(graph, e), accepted=e.accepted, refusal=e.refusal,
    )  # fmt: skip
