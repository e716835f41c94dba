"""The identity graph: records → entities under a stitching policy, resolved incrementally."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.identity._audit import AuditLog, Decision, DecisionKind, UnknownRecordError
from crmkit.identity._decide import check_decision
from crmkit.identity._links import LinkTable
from crmkit.identity._policy import StitchingPolicy
from crmkit.identity._records import Keys, RecordTable, compute_keys, read_records

__all__ = ["IdentityGraph"]

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]


@attrs.frozen(kw_only=True, eq=False)
class _Edges:
    """Candidate links of the current resolution, by global record index."""

    a: IntArray
    b: IntArray
    rule: StrArray
    score: npt.NDArray[np.float64]
    evidence: StrArray
    accepted: npt.NDArray[np.bool_]
    refusal: StrArray

    @staticmethod
    def empty() -> _Edges:
        s = np.empty(0, "<U1")
        i = np.empty(0, np.int64)
        return _Edges(a=i, b=i, rule=s, score=np.empty(0), evidence=s,
                      accepted=np.empty(0, bool), refusal=s)  # fmt: skip

    def keep(self, mask: npt.NDArray[np.bool_]) -> _Edges:
        return _Edges(**{f.name: getattr(self, f.name)[mask] for f in attrs.fields(_Edges)})

    def plus(self, other: _Edges) -> _Edges:
        return _Edges(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in attrs.fields(_Edges)
            }
        )


def _put(arr: np.ndarray[Any, Any], idx: IntArray, vals: np.ndarray[Any, Any]) -> Any:
    out = arr.astype(np.result_type(arr, vals)) if arr.dtype != vals.dtype else arr.copy()
    out[idx] = vals
    return out


@attrs.frozen(kw_only=True, eq=False)
class IdentityGraph:
    """Records resolved into entities under a [`StitchingPolicy`][crmkit.identity.StitchingPolicy].

    A value: every operation ([`add`][crmkit.identity.IdentityGraph.add], the human decisions,
    [`add_links`][crmkit.identity.IdentityGraph.add_links]) returns a new graph and leaves this one
    as
    it was, also when it raises. Only the link components the operation touches are resolved again,
    and the result equals resolving all records from scratch with the same decisions and links.

    Entity ids: an entity's id is the smallest record id among its records. It therefore survives
    reruns, any record order and every addition that leaves its records unchanged; when entities
    merge, the id of the part holding the smallest record id survives; when one splits, that part
    keeps the id and every other part takes its own smallest record id.

    Examples:
        >>> g = IdentityGraph.empty().add({"record_id": ["web:1", "pos:2"],
        ...                               "email": ["ann@x.org", ""], "phone": ["", "030 1234567"]})
        >>> g.entity_of(["web:1", "pos:2"]).tolist()
        ['web:1', 'pos:2']
        >>> g = g.add({"record_id": ["app:3"], "email": ["Ann@X.org"], "phone": ["+49301234567"]})
        >>> g.entity_of(["web:1", "pos:2", "app:3"]).tolist()
        ['app:3', 'app:3', 'app:3']
    """

    policy: StitchingPolicy
    records: RecordTable
    keys: Keys
    entity_id: StrArray
    component: IntArray
    edges: _Edges
    scored: _Edges  # candidate links given by matchers (accepted/refusal unused)
    decisions: tuple[Decision, ...] = ()
    audit: AuditLog = attrs.field(factory=AuditLog.empty)
    batch: int = 0

    @classmethod
    def empty(cls, policy: StitchingPolicy | None = None) -> IdentityGraph:
        """A graph with no records under ``policy`` (default: ``StitchingPolicy.default()``)."""
        policy = policy or StitchingPolicy.default()
        table = read_records({"record_id": np.empty(0, "<U1")}, policy)
        return cls(
            policy=policy,
            records=table,
            keys=compute_keys(table, policy),
            entity_id=np.empty(0, "<U1"),
            component=np.empty(0, np.int64),
            edges=_Edges.empty(),
            scored=_Edges.empty(),
        )

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.records)

    def index_of(self, record_ids: Any, *, name: str = "record_ids") -> IntArray:
        """Positions of ``record_ids`` in the graph (UnknownRecordError if any is missing)."""
        ids = np.atleast_1d(np.asarray(record_ids, dtype=str))
        order = np.argsort(self.records.record_id, kind="stable")
        srt = self.records.record_id[order]
        pos = np.searchsorted(srt, ids)
        ok = pos < srt.size
        ok[ok] = srt[pos[ok]] == ids[ok]
        if not ok.all():
            bad = ~ok
            raise UnknownRecordError(
                f"{name}: record ids not in the graph ({v.describe_bad(bad, ids)}). Add the "
                "records first."
            )
        return order[pos].astype(np.int64)

    def entity_of(self, record_ids: Any) -> StrArray:
        """The entity id of each of ``record_ids``."""
        return self.entity_id[self.index_of(record_ids)]

    def members(self, entity_id: str) -> tuple[str, ...]:
        """The record ids of an entity, sorted (UnknownRecordError if no such entity)."""
        mask = self.entity_id == entity_id
        if not mask.any():
            raise UnknownRecordError(
                f"entity_id: {entity_id!r} is not an entity of the graph. Use entity_of(record) "
                "to find the current id."
            )
        return tuple(sorted(self.records.record_id[mask].tolist()))

    def entities(self) -> StrArray:
        """The distinct entity ids, sorted."""
        return np.unique(self.entity_id)

    def links(self) -> LinkTable:
        """Every candidate link of the current resolution, accepted or refused."""
        from crmkit.identity._resolve_subset import edge_evidence

        rid = self.records.record_id
        e = self.edges
        return LinkTable(
            record_a=rid[e.a], record_b=rid[e.b], rule=e.rule, score=e.score,
            evidence=edge_evidence(self, e), accepted=e.accepted, refusal=e.refusal,
        )  # fmt: skip

    # ------------------------------------------------------------------ operations
    def add(self, records: Any) -> IdentityGraph:
        """A graph with ``records`` added (a record id already present replaces that record).

        ``records``: SourceRecord values, SourceRecordColumns or a mapping of column name to
        array-like (see [`resolve`][crmkit.identity.resolve]).
        """
        table = read_records(records, self.policy)
        keys = compute_keys(table, self.policy)
        n_old = len(self)
        if n_old:
            order = np.argsort(self.records.record_id, kind="stable")
            srt = self.records.record_id[order]
            pos = np.minimum(np.searchsorted(srt, table.record_id), max(n_old - 1, 0))
            exists = srt[pos] == table.record_id
            old_idx = order[pos[exists]].astype(np.int64)
        else:
            exists = np.zeros(len(table), bool)
            old_idx = np.empty(0, np.int64)
        touched = [old_idx]
        for kind, new_codes in keys.code.items():
            vals = np.unique(new_codes[new_codes >= 0])
            if vals.size and n_old:
                touched.append(np.flatnonzero(np.isin(self.keys.code[kind], vals)))
        fresh = ~exists
        n_new = int(fresh.sum())
        new_idx = np.arange(n_old, n_old + n_new, dtype=np.int64)
        if n_old == 0:
            merged_table, merged_keys = table, keys
        else:
            merged_table = RecordTable.concat(
                self._updated(self.records, table, exists, old_idx), table.take(fresh)
            )
            merged_keys = Keys.concat(self._updated_keys(keys, exists, old_idx), keys.take(fresh))
        component = np.concatenate([self.component, new_idx])
        entity = np.concatenate([self.entity_id, np.full(n_new, "", dtype="<U1")])
        changed = np.concatenate([old_idx, new_idx])
        graph = attrs.evolve(
            self, records=merged_table, keys=merged_keys, component=component,
            entity_id=entity, batch=self.batch + 1,
        )  # fmt: skip
        return graph._resolve_around(np.concatenate([*touched, new_idx]), changed=changed)

    @staticmethod
    def _updated(
        old: RecordTable, new: RecordTable, exists: npt.NDArray[np.bool_], idx: IntArray
    ) -> RecordTable:
        if not exists.any():
            return old
        upd = new.take(exists)
        return RecordTable(
            record_id=old.record_id,
            source=_put(old.source, idx, upd.source),
            observed_at=_put(old.observed_at, idx, upd.observed_at),
            text={k: _put(a, idx, upd.text[k]) for k, a in old.text.items()},
        )

    def _updated_keys(self, keys: Keys, exists: npt.NDArray[np.bool_], idx: IntArray) -> Keys:
        if not exists.any():
            return self.keys
        upd = keys.take(exists)
        old = self.keys
        from crmkit.identity._records import Field

        return Keys(
            code={k: _put(a, idx, upd.code[k]) for k, a in old.code.items()},
            blocked_mask={
                k: _put(a, idx, upd.blocked_mask[k]) for k, a in old.blocked_mask.items()
            },
            policy=old.policy,
            support={k: _put(a, idx, upd.support[k]) for k, a in old.support.items()},
            fields={
                k: Field(
                    value=_put(f.value, idx, upd.fields[k].value),
                    valid=_put(f.valid, idx, upd.fields[k].valid),
                    present=_put(f.present, idx, upd.fields[k].present),
                )
                for k, f in old.fields.items()
            },
        )

    def add_links(
        self,
        record_a: Any,
        record_b: Any,
        *,
        rule: str,
        score: Any,
        reason: Any = "",
    ) -> IdentityGraph:
        """A graph with scored links of a scored ``rule`` (e.g. a Fellegi–Sunter matcher) added.

        Links below the rule's ``min_score`` are kept as candidates but never join entities; the
        others join entities under the same limits and protections as deterministic links.
        """
        p = self.policy.get(rule)
        if not p.scored:
            raise InvalidInputError(
                f"rule: {rule!r} is a key rule; links come from keys. Declare a scored rule "
                "(IdentifierPolicy(kind=..., scored=True)) for matcher links."
            )
        a = self.index_of(record_a, name="record_a")
        b = self.index_of(record_b, name="record_b")
        s = v.as_float_array("score", np.broadcast_to(np.asarray(score, float), a.shape))
        why = np.broadcast_to(np.asarray(reason, dtype=str), a.shape).astype(str)
        v.same_length(record_a=a, record_b=b, score=s, reason=why)
        v.require("record_b", a == b, b, "links of a record to itself", "Drop them.")
        new = _Edges(
            a=np.minimum(a, b), b=np.maximum(a, b), rule=np.full(a.size, rule), score=s,
            evidence=why, accepted=np.zeros(a.size, bool), refusal=np.full(a.size, ""),
        )  # fmt: skip
        graph = attrs.evolve(self, scored=self.scored.plus(new), batch=self.batch + 1)
        return graph._resolve_around(np.concatenate([a, b]), changed=np.empty(0, np.int64))

    def decide(self, decision: Decision) -> IdentityGraph:
        """A graph with a human ``decision`` applied (DecisionConflictError on a contradiction)."""
        idx = self.index_of(list(decision.records), name="decision.groups")
        check_decision(self, decision)
        graph = attrs.evolve(self, decisions=(*self.decisions, decision), batch=self.batch + 1)
        eid = self.entity_id[idx]
        graph = attrs.evolve(
            graph,
            audit=graph.audit.append(
                graph.batch,
                action=["decision"],
                entity_id=[str(eid[0])],
                record_a=[decision.groups[0][0]],
                record_b=[decision.groups[-1][0]],
                rule=[decision.kind.value],
                reason=[decision.reason],
                evidence=[
                    f"{decision.decision_id}: {len(idx)} records in {len(decision.groups)} groups"
                ],
            ),
        )
        return graph._resolve_around(idx, changed=np.empty(0, np.int64))

    def _next_decision_id(self) -> str:
        return f"decision-{len(self.decisions) + 1}"

    def must_link(self, a: str, b: str, *, reason: str, actor: str = "") -> IdentityGraph:
        """Records ``a`` and ``b`` are one person; survives every rerun."""
        return self.decide(Decision(decision_id=self._next_decision_id(),
                                    kind=DecisionKind.MUST_LINK, groups=((a, b),), reason=reason,
                                    actor=actor))  # fmt: skip

    def cannot_link(self, a: str, b: str, *, reason: str, actor: str = "") -> IdentityGraph:
        """Records ``a`` and ``b`` are never in one entity, whatever links them."""
        return self.decide(Decision(decision_id=self._next_decision_id(),
                                    kind=DecisionKind.CANNOT_LINK, groups=((a,), (b,)),
                                    reason=reason, actor=actor))  # fmt: skip

    def split(
        self, entity_id: str, groups: Sequence[Sequence[str]], *, reason: str, actor: str = ""
    ) -> IdentityGraph:
        """Split an entity into ``groups`` of its records (together they must be all of them);
        no two groups merge again on any rerun."""
        members = self.members(entity_id)
        flat = [r for g in groups for r in g]
        if sorted(flat) != list(members) or len(groups) < 2 or any(len(g) == 0 for g in groups):
            raise InvalidInputError(
                f"groups: must divide the {len(members)} records of {entity_id!r} into at least "
                f"two non-empty groups, each record once (got {len(flat)} ids in {len(groups)} "
                f"groups). Pass members({entity_id!r}) divided into groups."
            )
        return self.decide(Decision(decision_id=self._next_decision_id(), kind=DecisionKind.SPLIT,
                                    groups=tuple(tuple(g) for g in groups), reason=reason,
                                    actor=actor))  # fmt: skip

    def unmerge(
        self, entity_id: str, record_ids: Sequence[str], *, reason: str, actor: str = ""
    ) -> IdentityGraph:
        """Detach ``record_ids`` from an entity: a split into them and the rest."""
        members = self.members(entity_id)
        out = [r for r in record_ids if r not in members]
        if out or not record_ids or len(set(record_ids)) == len(members):
            raise InvalidInputError(
                f"record_ids: must be some but not all records of {entity_id!r} (got "
                f"{len(record_ids)} ids, {len(out)} not members, e.g. {out[:3]}). Pick records "
                f"from members({entity_id!r})."
            )
        rest = [r for r in members if r not in set(record_ids)]
        return self.split(entity_id, [rest, list(record_ids)], reason=reason, actor=actor)

    # ------------------------------------------------------------------ resolution
    def _resolve_around(self, touched: IntArray, *, changed: IntArray) -> IdentityGraph:
        if len(self) == 0:
            return self
        comps = np.unique(self.component[touched])
        subset = np.flatnonzero(np.isin(self.component, comps))
        return self._resolve_subset(subset, changed=changed)

    def _resolve_subset(self, idx: IntArray, *, changed: IntArray) -> IdentityGraph:
        from crmkit.identity._resolve_subset import resolve_subset

        return resolve_subset(self, idx, changed=changed)
