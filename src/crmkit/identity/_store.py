"""Persisting an identity graph in a store: entities, links, decisions, the audit log, the policy.

A graph is kept under a name (``"default"``) in three module collections, so every store that
declares ``Capabilities.documents`` keeps it without adapter code of its own:

* ``identity.graphs``: one [`GraphState`][crmkit.identity.GraphState] per graph name: the
  stitching policy, the batch counter, the revision and how many audit rows are saved.
* ``identity.<name>.entities``: one [`EntityDocument`][crmkit.identity.EntityDocument] per entity,
  owned by the entity (``customer`` = the entity id), holding its records (raw fields, entity,
  component), the links and matcher links whose first record is one of them, the human decisions
  whose first record is one of them and the personal columns of the audit rows about them.
* ``identity.<name>.audit``: the append-only audit log's impersonal columns (seq, batch, action,
  rule) in one chunk per save.

The entity id is the customer id: ``store.erase(entity_id)`` deletes that entity's document, so
its records, links, decisions and the personal columns of its audit rows go, while the audit rows
themselves stay, pseudonymized (entity and records read ``"<erased>"``, reason and evidence
empty).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit.errors import ConflictError, InvalidInputError
from crmkit.identity._audit import AuditLog, Decision
from crmkit.identity._graph import IdentityGraph
from crmkit.identity._store_load import load_graph
from crmkit.identity._store_values import (
    _AUDIT_IDS,
    _NAT,
    ERASED,
    GRAPHS,
    AuditChunk,
    EntityDocument,
    GraphState,
    SaveReport,
    _audit_key,
    _hash_str,
    _mix,
    _no_gc,
    _recall,
    _remember,
    _Saved,
    _scan,
    _specs,
    _stored,
    _u64,
    audit_spec,
    entity_spec,
)
from crmkit.identity._text import hash_text
from crmkit.storage import Store, documents

__all__ = [
    "ERASED",
    "GRAPHS",
    "AuditChunk",
    "EntityDocument",
    "GraphState",
    "SaveReport",
    "audit_spec",
    "entity_spec",
    "load_graph",
    "save_graph",
]

_log = logging.getLogger("crmkit.identity")
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
U64 = npt.NDArray[np.uint64]


@attrs.frozen(kw_only=True, eq=False)
class _Layout:
    """Who owns what in a graph: each record, link, matcher link, audit row and decision is
    kept in the document of one entity (code into ``entities``; -1: kept nowhere)."""

    entities: StrArray
    record_owner: IntArray
    rep: StrArray  # the record id that labels each record's component
    edge_owner: IntArray
    scored_owner: IntArray
    audit_owner: IntArray
    decision_owner: IntArray
    digest: U64


def _layout(graph: IdentityGraph) -> _Layout:
    rid = graph.records.record_id
    entities, record_owner = np.unique(graph.entity_id, return_inverse=True)
    record_owner = record_owner.astype(np.int64).reshape(-1)
    rep = rid[graph.component] if rid.size else rid
    order = np.argsort(rid, kind="stable")
    srt = rid[order]

    def owner_of(ids: StrArray) -> IntArray:
        if srt.size == 0 or ids.size == 0:
            return np.full(ids.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(srt, ids), srt.size - 1)
        hit = srt[pos] == ids
        return np.where(hit, record_owner[order[pos]], -1)

    e, s = graph.edges, graph.scored
    edge_owner = record_owner[e.a]
    scored_owner = record_owner[s.a]
    audit_owner = owner_of(graph.audit.record_a)
    decision_owner = np.full(len(graph.decisions), -1, np.int64)
    for i, d in enumerate(graph.decisions):
        found = owner_of(np.asarray(d.records, dtype=str))
        found = found[found >= 0]
        if found.size:
            decision_owner[i] = found[0]
    digest = np.zeros(entities.size, np.uint64)
    text = graph.records.text
    items = [
        hash_text(rid, 1),
        hash_text(graph.records.source, 2),
        _u64(graph.records.observed_at),
        hash_text(rep, 3),
        *(hash_text(text[k], 10 + j) for j, k in enumerate(sorted(text))),
    ]
    if rid.size:
        np.add.at(digest, record_owner, _mix(np.full(rid.size, np.uint64(1)), *items))
    if e.a.size:
        h = _mix(
            np.full(e.a.size, np.uint64(2)), hash_text(rid[e.a]), hash_text(rid[e.b], 1),
            hash_text(e.rule, 2), _u64(e.score), hash_text(e.evidence, 3), _u64(e.accepted),
            hash_text(e.refusal, 4),
        )  # fmt: skip
        np.add.at(digest, edge_owner, h)
    if s.a.size:
        h = _mix(
            np.full(s.a.size, np.uint64(3)), hash_text(rid[s.a]), hash_text(rid[s.b], 1),
            hash_text(s.rule, 2), _u64(s.score), hash_text(s.evidence, 3),
        )  # fmt: skip
        np.add.at(digest, scored_owner, h)
    mine = np.flatnonzero(audit_owner >= 0)
    if mine.size:  # a row changes only when erasure pseudonymizes the ids it names
        log = graph.audit
        h = _mix(
            np.full(mine.size, np.uint64(4)), _u64(log.seq[mine]),
            *(hash_text(getattr(log, k)[mine], j) for j, k in enumerate(_AUDIT_IDS)),
        )  # fmt: skip
        np.add.at(digest, audit_owner[mine], h)
    for i, d in enumerate(graph.decisions):
        if decision_owner[i] >= 0:
            one = np.array([_hash_str(json.dumps([i, *_decision_row(d)]))], np.uint64)
            np.add.at(digest, decision_owner[i : i + 1], one)
    return _Layout(
        entities=entities,
        record_owner=record_owner,
        rep=rep,
        edge_owner=edge_owner,
        scored_owner=scored_owner,
        audit_owner=audit_owner,
        decision_owner=decision_owner,
        digest=digest,
    )


def _decision_row(d: Decision) -> list[Any]:
    return [d.decision_id, d.kind.value, [list(g) for g in d.groups], d.reason, d.actor]


def _audit_tail(log: AuditLog, rows: int) -> str:
    if rows == 0:
        return ""
    i = rows - 1
    row = [int(log.seq[i]), int(log.batch[i]), str(log.action[i]), str(log.rule[i])]
    return hashlib.blake2b(json.dumps(row).encode(), digest_size=8).hexdigest()


# ---------------------------------------------------------------------------------- the cache
def save_graph(
    store: Store, graph: IdentityGraph, *, name: str = "default", replace: bool = False
) -> SaveReport:
    """Save ``graph`` in ``store`` under ``name``, writing only what changed since the last save.

    Entities whose records, links, decisions or audit rows changed are rewritten, entities that
    no longer exist (merged away) are deleted, and the audit rows appended since the last save are
    added; all in one transaction, so a failure leaves the store as it was. The graph must
    continue the saved one (be [`load_graph`][crmkit.identity.load_graph]'s result or a graph the
    last save came from, resolved further); otherwise ``ConflictError``, unless ``replace=True``
    (which drops the saved graph, audit log included, and saves this one in its place).

    Examples:
        >>> import crmkit
        >>> import crmkit.identity as ci
        >>> store = crmkit.connect("memory://")
        >>> res = ci.resolve({"record_id": ["a", "b"], "email": ["x@y.org", "X@y.org"]})
        >>> ci.save_graph(store, res.graph).entities_written
        1
        >>> ci.load_graph(store).entity_of(["a", "b"]).tolist()
        ['a', 'a']
    """
    with _no_gc():
        return _save_graph(store, graph, name, replace)


def _save_graph(store: Store, graph: IdentityGraph, name: str, replace: bool) -> SaveReport:
    if not isinstance(graph, IdentityGraph):
        raise InvalidInputError(
            f"graph: expected an IdentityGraph (got {type(graph).__name__}). Pass "
            "resolve(...).graph."
        )
    ent_spec, aud_spec = _specs(name)
    states = documents(store, GRAPHS)
    entities = documents(store, ent_spec)
    audit = documents(store, aud_spec)
    layout = _layout(graph)
    n_audit = len(graph.audit)
    with store.transaction():
        state: GraphState | None = states.find(name)
        if state is not None and replace:
            entities.delete([d.entity_id for d in _scan(entities)])
            audit.delete([_audit_key(c) for c in _scan(audit)])
            state = None
        if state is None:
            before = _Saved(token="", entities=np.empty(0, "<U1"), digest=np.empty(0, np.uint64))
            from_row = 0
        else:
            _check_continues(state, graph, name)
            known = _recall(store, name)
            before = (
                known
                if known is not None and known.token == state.token
                else _stored(entities, state.token)
            )
            from_row = state.audit_rows
        changed, gone = _changes(before, layout)
        written = entities.upsert(_documents(graph, layout, changed, name))
        deleted = entities.delete(gone.tolist())
        if n_audit > from_row:
            audit.upsert([_chunk(graph.audit, from_row, name)])
        revision = (state.revision if state is not None else 0) + 1
        token = secrets.token_hex(8)  # a rolled-back save's token is never found in the store
        states.upsert(
            [
                GraphState(
                    name=name,
                    policy=graph.policy,
                    batch=graph.batch,
                    revision=revision,
                    token=token,
                    n_records=len(graph),
                    n_entities=int(layout.entities.size),
                    audit_rows=n_audit,
                    audit_tail=_audit_tail(graph.audit, n_audit),
                )
            ]
        )
    _remember(store, name, _Saved(token=token, entities=layout.entities, digest=layout.digest))
    _log.info(
        "saved identity graph %r: %d entities written, %d deleted, %d audit rows",
        name, written, deleted, n_audit - from_row,
    )  # fmt: skip
    return SaveReport(
        name=name,
        revision=revision,
        entities_written=written,
        entities_deleted=deleted,
        audit_rows_written=n_audit - from_row,
    )


def _check_continues(state: GraphState, graph: IdentityGraph, name: str) -> None:
    rows = state.audit_rows
    if state.policy != graph.policy:
        raise ConflictError(
            f"graph: its stitching policy differs from the one graph {name!r} was saved with. "
            "Resolve against load_graph(store) or pass replace=True to start over."
        )
    if len(graph.audit) < rows or _audit_tail(graph.audit, rows) != state.audit_tail:
        raise ConflictError(
            f"graph: it does not continue the saved graph {name!r} (saved audit log: {rows} rows, "
            f"this graph's: {len(graph.audit)}, revision {state.revision}). Another save came "
            "first, or the graph was resolved from scratch: resolve against load_graph(store), "
            "or pass replace=True to replace the saved graph."
        )


def _changes(before: _Saved, layout: _Layout) -> tuple[IntArray, StrArray]:
    """Codes of the entities to write, and the ids of saved entities that are gone."""
    order = np.argsort(before.entities, kind="stable")
    srt = before.entities[order]
    cur = layout.entities
    if srt.size == 0:
        return np.arange(cur.size, dtype=np.int64), srt
    pos = np.minimum(np.searchsorted(srt, cur), srt.size - 1)
    same = (srt[pos] == cur) & (before.digest[order[pos]] == layout.digest)
    gone = srt[~np.isin(srt, cur)]
    return np.flatnonzero(~same).astype(np.int64), gone


def _groups(owner: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Positions sorted by owner, and where each owner's run starts (``n + 1`` bounds)."""
    keep = np.flatnonzero(owner >= 0)
    order = keep[np.argsort(owner[keep], kind="stable")]
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    return order.astype(np.int64), bounds.astype(np.int64)


def _documents(
    graph: IdentityGraph, layout: _Layout, changed: IntArray, name: str
) -> list[EntityDocument]:
    if changed.size == 0:
        return []
    n = layout.entities.size
    want = np.zeros(n, bool)
    want[changed] = True
    rid = graph.records.record_id
    r_order, r_bounds = _groups(np.where(want[layout.record_owner], layout.record_owner, -1), n)
    rec = graph.records
    t = rec.observed_at.astype("datetime64[us]").view(np.int64)[r_order]
    rec_cols: dict[str, list[Any]] = {
        "record_id": rid[r_order].tolist(),
        "source": rec.source[r_order].tolist(),
        "observed_at": [None if x == _NAT else x for x in t.tolist()],
        "component": layout.rep[r_order].tolist(),
    }
    text_cols = {k: rec.text[k][r_order].tolist() for k in sorted(rec.text)}
    fields = graph.keys.fields
    norm_cols = {k: fields[k].value[r_order].tolist() for k in sorted(fields)}
    flags = np.zeros(r_order.size, np.int64)
    for j, k in enumerate(sorted(fields)):
        f = fields[k]
        flags |= f.valid[r_order].astype(np.int64) << (2 * j)
        flags |= f.present[r_order].astype(np.int64) << (2 * j + 1)
    rec_cols["flags"] = flags.tolist()
    e = graph.edges
    e_order, e_bounds = _groups(np.where(want[layout.edge_owner], layout.edge_owner, -1), n)
    edge_cols = {
        "record_a": rid[e.a[e_order]].tolist(),
        "record_b": rid[e.b[e_order]].tolist(),
        "rule": e.rule[e_order].tolist(),
        "score": e.score[e_order].tolist(),
        "evidence": e.evidence[e_order].tolist(),
        "accepted": e.accepted[e_order].tolist(),
        "refusal": e.refusal[e_order].tolist(),
    }
    s = graph.scored
    s_order, s_bounds = _groups(np.where(want[layout.scored_owner], layout.scored_owner, -1), n)
    scored_cols = {
        "record_a": rid[s.a[s_order]].tolist(),
        "record_b": rid[s.b[s_order]].tolist(),
        "rule": s.rule[s_order].tolist(),
        "score": s.score[s_order].tolist(),
        "reason": s.evidence[s_order].tolist(),
    }
    log = graph.audit
    a_owner = layout.audit_owner
    a_order, a_bounds = _groups(np.where(a_owner >= 0, np.where(want[a_owner], a_owner, -1), -1), n)
    audit_cols = {
        "seq": log.seq[a_order].tolist(),
        **{
            k: getattr(log, k)[a_order].tolist()
            for k in ("entity_id", "record_a", "record_b", "reason", "evidence")
        },
    }
    decisions: dict[int, list[list[Any]]] = {}
    for i, d in enumerate(graph.decisions):
        o = int(layout.decision_owner[i])
        if o >= 0 and want[o]:
            decisions.setdefault(o, []).append([i, *_decision_row(d)])

    def part(cols: Mapping[str, list[Any]], lo: int, hi: int) -> dict[str, list[Any]]:
        return {k: c[lo:hi] for k, c in cols.items()}

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    out = []
    for code in changed.tolist():
        r0, r1 = int(r_bounds[code]), int(r_bounds[code + 1])
        body: dict[str, Any] = {
            "records": {
                **part(rec_cols, r0, r1),
                "text": part(text_cols, r0, r1),
                "normalized": part(norm_cols, r0, r1),
            }
        }
        e0, e1 = int(e_bounds[code]), int(e_bounds[code + 1])
        if e1 > e0:
            body["links"] = part(edge_cols, e0, e1)
        s0, s1 = int(s_bounds[code]), int(s_bounds[code + 1])
        if s1 > s0:
            body["matcher_links"] = part(scored_cols, s0, s1)
        a0, a1 = int(a_bounds[code]), int(a_bounds[code + 1])
        if a1 > a0:
            body["audit"] = part(audit_cols, a0, a1)
        if code in decisions:
            body["decisions"] = decisions[code]
        out.append(
            EntityDocument(
                graph=name,
                entity_id=str(layout.entities[code]),
                batch=graph.batch,
                digest=f"{int(layout.digest[code]):016x}",
                body=dumps(body),
            )
        )
    return out


def _chunk(log: AuditLog, start: int, name: str) -> AuditChunk:
    return AuditChunk(
        graph=name,
        start=start,
        batch=log.batch[start:].tolist(),
        action=log.action[start:].tolist(),
        rule=log.rule[start:].tolist(),
    )


# ---------------------------------------------------------------------------------- loading
