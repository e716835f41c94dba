"""The generic linkage API: deduplicate one table or link two, clustered under graph policies.

Scored pairs become links of a scored rule of an [`IdentityGraph`][crmkit.identity.IdentityGraph],
so clusters obey its limits (at most ``max_cluster_size`` records) and keep stable entity ids; a
pair whose evidence is names alone never joins records.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.identity._graph import IdentityGraph
from crmkit.identity._policy import IdentifierPolicy, StitchingPolicy
from crmkit.identity.linkage._columns import LinkageTable, read_table
from crmkit.identity.linkage._model import FellegiSunter, FellegiSunterFit
from crmkit.identity.linkage._scores import ScoredPairs

__all__ = ["RULE", "Linkage", "dedupe", "link", "scored_links"]

#: The scored rule under which Fellegi–Sunter links enter an identity graph.
RULE = "fellegi_sunter"
NAME_ONLY = "no agreement beyond names"
BELOW = "probability below the threshold"

StrArray = npt.NDArray[np.str_]


@attrs.frozen(kw_only=True, eq=False)
class Linkage:
    """What [`dedupe`][crmkit.identity.linkage.dedupe] and
    [`link`][crmkit.identity.linkage.link] return: per record ``record_id``, ``side`` (0 left,
    1 right) and ``entity_id``; the scored candidate ``pairs`` with ``accepted`` (the pair ended
    in one entity) and ``refusal`` (why not; ``""`` if accepted); the ``fit`` and the ``graph``.

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> fit = lk.FellegiSunterFit.from_parameters(
        ...     comparisons=[lk.NameComparison(column="first"), lk.DateComparison(column="dob")],
        ...     m=[[.9, .02, .01, .01, .03, .02, .01], [.9, .02, .02, .02, .02, .02]],
        ...     u=[[.01, .005, .001, .01, .01, .05, .914], [.001, .001, .001, .01, .1, .887]],
        ...     prior=1e-3)
        >>> res = lk.dedupe({"first": ["ann", "ann", "bob"],
        ...                  "dob": ["1990-01-02", "1990-01-02", "1970-03-04"]},
        ...                 fit=fit, blocking=lk.Blocking(rules=[lk.BlockingRule(columns="first")]))
        >>> res.entity_id.tolist(), res.pairs.match_probability.round(3).tolist()
        (['row:0', 'row:0', 'row:2'], [0.988])
    """

    record_id: StrArray
    side: npt.NDArray[np.int8]
    entity_id: StrArray
    pairs: ScoredPairs
    accepted: npt.NDArray[np.bool_]
    refusal: StrArray
    fit: FellegiSunterFit
    graph: IdentityGraph

    @property
    def n_entities(self) -> int:
        """How many entities the records form."""
        return int(np.unique(self.entity_id).size)


def scored_links(scored: ScoredPairs, threshold: float) -> tuple[npt.NDArray[np.bool_], StrArray]:
    """Which pairs may join records (at or above ``threshold`` and corroborated), and why the
    others may not."""
    above = scored.match_probability >= threshold
    ok = above & scored.corroborated
    why = np.where(ok, "", np.where(above, NAME_ONLY, BELOW))
    return ok, why


def _cluster(
    table: LinkageTable, scored: ScoredPairs, fit: FellegiSunterFit, max_cluster_size: int | None
) -> tuple[StrArray, IdentityGraph, npt.NDArray[np.bool_], StrArray]:
    ids = table.record_id
    if table.linking and np.unique(ids).size != ids.size:
        ids = np.char.add(np.where(table.side == 0, "left:", "right:"), ids)
    policy = StitchingPolicy(
        identifiers=(IdentifierPolicy(kind=RULE, scored=True, min_score=fit.threshold),),
        max_entity_size=max_cluster_size,
    )
    graph = IdentityGraph.empty(policy).add({"record_id": ids})
    ok, why = scored_links(scored, fit.threshold)
    if ok.any():
        reason = np.char.add("match weight ", np.round(scored.match_weight[ok], 2).astype(str))
        graph = graph.add_links(ids[scored.a[ok]], ids[scored.b[ok]], rule=RULE,
                                score=scored.match_probability[ok], reason=reason)  # fmt: skip
    entity = graph.entity_of(ids)
    accepted = ok & (entity[scored.a] == entity[scored.b])
    why = np.where(ok & ~accepted, "refused by the stitching policy", why)
    return entity, graph, accepted, why


def _run(
    table: LinkageTable,
    model: FellegiSunter | None,
    fit: FellegiSunterFit | None,
    blocking: Any,
    rng: np.random.Generator | int | None,
    max_cluster_size: int | None,
) -> Linkage:
    from crmkit.errors import InvalidInputError

    if model is None and (fit is None or blocking is None):
        raise InvalidInputError(
            "model: give a FellegiSunter model to train, or a trained fit and its blocking."
        )
    if fit is None:
        assert model is not None
        fit = model.fit(table, rng=rng)
    blk = blocking if blocking is not None else model.blocking  # type: ignore[union-attr]
    chunk = model.chunk_size if model is not None else 2_000_000
    scored = fit.score_blocked(table, blk, chunk_size=chunk)
    entity, graph, accepted, why = _cluster(table, scored, fit, max_cluster_size)
    return Linkage(record_id=table.record_id, side=table.side, entity_id=entity, pairs=scored,
                   accepted=accepted, refusal=why, fit=fit, graph=graph)  # fmt: skip


def dedupe(
    records: Any,
    model: FellegiSunter | None = None,
    *,
    fit: FellegiSunterFit | None = None,
    blocking: Any = None,
    id_column: str = "record_id",
    rng: np.random.Generator | int | None = None,
    max_cluster_size: int | None = 50,
) -> Linkage:
    """Find the records of one table that are the same entity.

    ``records``: a mapping of column name to array-like (or a DataFrame); ``id_column`` names the
    record ids (default ``row:<position>``). Give a ``model`` to train on these records, or a
    trained ``fit`` with the ``blocking`` to use. ``max_cluster_size``: most records in one
    entity (merge protection; None: no cap).

    Examples:
        >>> import numpy as np
        >>> import crmkit.identity.linkage as lk
        >>> rng = np.random.default_rng(1)
        >>> first = rng.choice(["ann", "bob", "eva", "max", "ida", "tom"], 300)
        >>> last = np.char.add("n", rng.integers(0, 60, 300).astype(str))
        >>> dob = np.char.add("19", rng.integers(10, 99, 300).astype(str))
        >>> recs = {"first": np.concatenate([first, first[:50]]),
        ...         "last": np.concatenate([last, last[:50]]),
        ...         "dob": np.concatenate([dob, dob[:50]])}
        >>> model = lk.FellegiSunter(
        ...     comparisons=[lk.NameComparison(column="first"),
        ...                  lk.NameComparison(column="last"), lk.ExactMatch(column="dob")],
        ...     blocking=lk.Blocking(rules=[lk.BlockingRule(columns="last")]))
        >>> res = lk.dedupe(recs, model, rng=0)
        >>> res.entity_id[300:303].tolist()
        ['row:0', 'row:1', 'row:2']
    """
    cols = None if model is None else _columns(model)
    table = read_table(records, id_column=id_column, columns=cols or ())
    return _run(table, model, fit, blocking, rng, max_cluster_size)


def link(
    left: Any,
    right: Any,
    model: FellegiSunter | None = None,
    *,
    fit: FellegiSunterFit | None = None,
    blocking: Any = None,
    id_column: str = "record_id",
    rng: np.random.Generator | int | None = None,
    max_cluster_size: int | None = 50,
) -> Linkage:
    """Link the records of two tables (pairs only across them); see
    [`dedupe`][crmkit.identity.linkage.dedupe]. When an id appears in both tables, entity ids
    carry a ``left:``/``right:`` prefix.

    Examples:
        >>> import crmkit.identity.linkage as lk
        >>> fit = lk.FellegiSunterFit.from_parameters(
        ...     comparisons=[lk.ExactMatch(column="email")], m=[[0.95, 0.05]],
        ...     u=[[0.001, 0.999]], prior=0.01)
        >>> res = lk.link({"record_id": ["l1"], "email": ["a@x.org"]},
        ...               {"record_id": ["r1"], "email": ["a@x.org"]}, fit=fit,
        ...               blocking=lk.Blocking(rules=[lk.BlockingRule(columns="email")]))
        >>> res.entity_id.tolist()
        ['l1', 'l1']
    """
    cols = None if model is None else _columns(model)
    table = read_table(left, right, id_column=id_column, columns=cols or ())
    return _run(table, model, fit, blocking, rng, max_cluster_size)


def _columns(model: FellegiSunter) -> tuple[str, ...]:
    used = {c for comp in model.comparisons for c in comp.columns()}
    return tuple(sorted(used | set(model.blocking.columns())))
