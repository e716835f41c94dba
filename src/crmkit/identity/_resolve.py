"""The one-call entry point: records in, an entity id per record and the links out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.identity._audit import Decision
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._links import LinkTable
from crmkit.identity._policy import StitchingPolicy

__all__ = ["Resolution", "resolve"]


@attrs.frozen(kw_only=True, eq=False)
class Resolution:
    """What [`resolve`][crmkit.identity.resolve] returns: ``record_id`` and ``entity_id`` aligned
    with
    the input order, the ``links`` with their rules and evidence, and the ``graph`` to resolve new
    records against later.

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
    ``fellegi_sunter`` and the graph holds enough records to train on.

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
    if linkage and any(p.scored and p.kind == "fellegi_sunter" for p in graph.policy.identifiers):
        from crmkit.identity.linkage._crm import link_graph

        graph = link_graph(graph, np.isin(graph.records.record_id, ids))
    for d in decisions:
        graph = graph.decide(d)
    links = graph.links()
    return Resolution(
        record_id=ids,
        entity_id=graph.entity_of(ids),
        links=links.take(links.accepted),
        graph=graph,
    )
