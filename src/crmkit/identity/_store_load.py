"""Loading an identity graph saved by ``save_graph``: documents back into an ``IdentityGraph``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from crmkit.errors import InvalidInputError
from crmkit.identity._audit import AuditLog, Decision, DecisionKind
from crmkit.identity._graph import IdentityGraph, _Edges
from crmkit.identity._records import Field, RecordTable, keys_of_fields
from crmkit.identity._store_values import (
    _AUDIT_IDS,
    _NAT,
    ERASED,
    GRAPHS,
    AuditChunk,
    EntityDocument,
    GraphState,
    _no_gc,
    _remember,
    _Saved,
    _scan,
    _specs,
)
from crmkit.storage import Store, documents

__all__ = ["load_graph"]

_log = logging.getLogger("crmkit.identity")
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
U64 = npt.NDArray[np.uint64]


def load_graph(store: Store, *, name: str = "default") -> IdentityGraph:
    """The graph saved in ``store`` under ``name`` (``NotFoundError`` if none was saved).

    The loaded graph equals the saved one: the same entity ids, links, matcher links, decisions,
    audit log, policy and batch counter; resolving new records against it equals resolving them
    against the graph that was saved. Records come back in record-id order. After
    ``store.erase(entity_id)`` the erased entity's records, links and decisions are gone, links
    and decisions of other entities drop the erased records, and its audit rows read
    ``"<erased>"``.

    Examples:
        >>> import crmkit
        >>> import crmkit.identity as ci
        >>> store = crmkit.connect("memory://")
        >>> g = ci.IdentityGraph.empty().add({"record_id": ["a", "b"],
        ...                                   "phone": ["030 1234567"] * 2})
        >>> _ = ci.save_graph(store, g.cannot_link("a", "b", reason="flatmates"))
        >>> loaded = ci.load_graph(store)
        >>> loaded.entity_of(["a", "b"]).tolist(), [d.kind.value for d in loaded.decisions]
        (['a', 'b'], ['cannot_link'])
    """
    with _no_gc():
        return _load_graph(store, name)


def _load_graph(store: Store, name: str) -> IdentityGraph:
    ent_spec, aud_spec = _specs(name)
    states = documents(store, GRAPHS)
    state: GraphState = states.get(name)
    docs = list(_scan(documents(store, ent_spec)))
    chunks = list(_scan(documents(store, aud_spec)))
    graph = _assemble(state, docs, chunks)
    # what the store holds, digests as written: a document that loading changed (an erased
    # record's id dropped from it) differs from the graph's and is rewritten by the next save
    _remember(
        store,
        name,
        _Saved(
            token=state.token,
            entities=_strs([d.entity_id for d in docs]),
            digest=np.array([int(d.digest, 16) for d in docs], np.uint64).reshape(-1),
        ),
    )
    return graph


def _strs(values: Sequence[Any]) -> StrArray:
    return np.array(values, dtype=str).reshape(-1) if len(values) else np.empty(0, "<U1")


def _assemble(
    state: GraphState, docs: Sequence[EntityDocument], chunks: Sequence[AuditChunk]
) -> IdentityGraph:
    bodies = [json.loads(d.body) for d in docs]
    empty = IdentityGraph.empty(state.policy)
    rec_parts: dict[str, list[Any]] = {
        k: [] for k in ("record_id", "source", "observed_at", "component", "entity", "flags")
    }
    text_names = sorted({k for b in bodies for k in b["records"]["text"]}) or sorted(
        empty.records.text
    )
    text_parts: dict[str, list[Any]] = {k: [] for k in text_names}
    field_names = sorted(empty.keys.fields)
    norm_parts: dict[str, list[Any]] = {k: [] for k in field_names}
    links: dict[str, list[Any]] = {}
    matcher: dict[str, list[Any]] = {}
    personal: dict[str, list[Any]] = {}
    decisions: list[list[Any]] = []
    for doc, body in zip(docs, bodies, strict=True):
        r = body["records"]
        for k in ("record_id", "source", "observed_at", "component", "flags"):
            rec_parts[k] += r[k]
        rec_parts["entity"] += [doc.entity_id] * len(r["record_id"])
        for k in text_names:
            text_parts[k] += r["text"][k]
        for k in field_names:
            norm_parts[k] += r["normalized"][k]
        for key, acc in (("links", links), ("matcher_links", matcher), ("audit", personal)):
            for k, col in body.get(key, {}).items():
                acc.setdefault(k, []).extend(col)
        decisions += body.get("decisions", [])
    rid = _strs(rec_parts["record_id"])
    order = np.argsort(rid, kind="stable")
    rid = rid[order]
    t = np.array(
        [_NAT if x is None else x for x in rec_parts["observed_at"]], dtype=np.int64
    ).reshape(-1)[order]
    table = RecordTable(
        record_id=rid,
        source=_strs(rec_parts["source"])[order],
        observed_at=t.view("datetime64[us]"),
        text={k: _strs(text_parts[k])[order] for k in text_names},
    )

    def index(ids: StrArray) -> IntArray:
        if rid.size == 0 or ids.size == 0:
            return np.full(ids.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(rid, ids), rid.size - 1)
        return np.where(rid[pos] == ids, pos, -1).astype(np.int64)

    n = int(rid.size)
    rep = index(_strs(rec_parts["component"])[order])
    component = _labels(rep, _strs(rec_parts["component"])[order])
    return IdentityGraph(
        policy=state.policy,
        records=table,
        keys=keys_of_fields(_fields(norm_parts, rec_parts["flags"], order), state.policy, n),
        entity_id=_strs(rec_parts["entity"])[order],
        component=component,
        edges=_edges(links, index, scored=False),
        scored=_edges(matcher, index, scored=True),
        decisions=_decisions(decisions, set(rid.tolist())),
        audit=_audit(chunks, personal, rid),
        batch=state.batch,
    )


def _fields(norm: Mapping[str, list[Any]], flags: list[Any], order: IntArray) -> dict[str, Field]:
    bits = np.array(flags, dtype=np.int64).reshape(-1)[order]
    return {
        k: Field(
            value=_strs(norm[k])[order],
            valid=((bits >> (2 * j)) & 1).astype(bool),
            present=((bits >> (2 * j + 1)) & 1).astype(bool),
        )
        for j, k in enumerate(sorted(norm))
    }


def _labels(rep: IntArray, rep_ids: StrArray) -> IntArray:
    """Component labels: the index of the labelling record, or (when it was erased) the smallest
    index of the records that shared it."""
    n = rep.size
    out = rep.copy()
    lost = np.flatnonzero(rep < 0)
    if lost.size:
        _, first, inv = np.unique(rep_ids[lost], return_index=True, return_inverse=True)
        out[lost] = lost[first][inv.reshape(-1)]
    return out if n else np.empty(0, np.int64)


def _edges(cols: Mapping[str, list[Any]], index: Any, *, scored: bool) -> _Edges:
    if not cols or not cols.get("record_a"):
        return _Edges.empty()
    a, b = index(_strs(cols["record_a"])), index(_strs(cols["record_b"]))
    keep = (a >= 0) & (b >= 0)  # a link to an erased record goes with it
    n = int(keep.sum())
    score = np.array(cols["score"], dtype=np.float64).reshape(-1)[keep]
    if scored:
        return _Edges(
            a=a[keep], b=b[keep], rule=_strs(cols["rule"])[keep], score=score,
            evidence=_strs(cols["reason"])[keep], accepted=np.zeros(n, bool),
            refusal=np.full(n, ""),
        )  # fmt: skip
    return _Edges(
        a=a[keep], b=b[keep], rule=_strs(cols["rule"])[keep], score=score,
        evidence=_strs(cols["evidence"])[keep],
        accepted=np.array(cols["accepted"], dtype=bool).reshape(-1)[keep],
        refusal=_strs(cols["refusal"])[keep],
    )  # fmt: skip


def _decisions(rows: list[list[Any]], present: set[str]) -> tuple[Decision, ...]:
    out = []
    for _, decision_id, kind, groups, reason, actor in sorted(rows, key=lambda r: int(r[0])):
        kept = [[x for x in g if x in present] for g in groups]
        kind = DecisionKind(kind)
        if kind is DecisionKind.MUST_LINK:
            kept = kept if len(kept[0]) == 2 else []
        else:
            kept = [g for g in kept if g]
            kept = kept if len(kept) >= 2 else []
        if kept:  # a decision about an erased record alone goes with it
            out.append(
                Decision(
                    decision_id=decision_id, kind=kind, groups=kept, reason=reason, actor=actor
                )
            )
    return tuple(out)


def _audit(
    chunks: Sequence[AuditChunk], personal: Mapping[str, list[Any]], records: StrArray
) -> AuditLog:
    chunks = sorted(chunks, key=lambda c: c.start)
    n = sum(len(c.action) for c in chunks)
    if n == 0:
        return AuditLog.empty()
    starts = np.array([c.start for c in chunks], np.int64)
    sizes = np.array([len(c.action) for c in chunks], np.int64)
    expected = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if not np.array_equal(starts, expected):
        raise InvalidInputError(
            f"store: the audit chunks of the saved graph do not follow each other (starts "
            f"{starts[:5].tolist()}, sizes {sizes[:5].tolist()}). The store was changed outside "
            "crmkit; restore it from a backup."
        )
    cols: dict[str, Any] = {
        "seq": np.arange(n, dtype=np.int64),
        "batch": np.array([x for c in chunks for x in c.batch], np.int64),
        "action": _strs([x for c in chunks for x in c.action]),
        "rule": _strs([x for c in chunks for x in c.rule]),
    }
    seq = np.array(personal.get("seq", []), np.int64).reshape(-1)
    for k in ("entity_id", "record_a", "record_b", "reason", "evidence"):
        gone = ERASED if k in ("entity_id", "record_a", "record_b") else ""
        vals = _strs(personal.get(k, []))
        col = np.full(n, gone, dtype=np.result_type(vals.dtype, np.dtype("<U8")))
        col[seq] = vals
        if k in _AUDIT_IDS:  # ids of records erased since the row was written
            col[(col != "") & ~np.isin(col, records)] = ERASED
        cols[k] = col
    for arr in cols.values():
        arr.flags.writeable = False
    return AuditLog(parts=(cols,))
