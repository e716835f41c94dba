"""Kit checks for the identity graph's collections: save/load round trips, incremental saves,
atomicity, decisions across reruns and erasure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from crmkit.errors import ConflictError, NotFoundError
from crmkit.storage import Store
from crmkit.testing._base import KitBase, requires

__all__ = ["IdentityChecks", "assert_graphs_equal", "identity_records"]


def identity_records(seed: int, n: int, *, prefix: str = "r") -> dict[str, Any]:
    """``n`` source records drawn from small pools of emails, phones and names, so that they
    merge, share household values and break limits (deterministic in ``seed``).

    Examples:
        >>> identity_records(0, 3)["record_id"].tolist()
        ['r0', 'r1', 'r2']
    """
    rng = np.random.default_rng(seed)
    people = max(n // 3, 1)
    who = rng.integers(0, people, n)
    first = np.array(["Ann", "Bob", "Cem", "Dana", "Eva", "Finn"])
    pick = rng.random((3, n))
    email = np.where(pick[0] < 0.6, np.char.add(np.char.add("p", who.astype(str)), "@x.org"), "")
    house = who // 2  # two people per household phone
    phone = np.where(pick[1] < 0.5, np.char.add("030 55", (1000 + house).astype(str)), "")
    customer = np.where(pick[2] < 0.1, np.char.add("c", (who % 7).astype(str)), "")
    return {
        "record_id": np.char.add(prefix, np.arange(n).astype(str)),
        "email": email,
        "phone": phone,
        "first_name": first[who % first.size],
        "last_name": np.char.add("Lee", (who % 5).astype(str)),
        "customer_id": customer,
    }


def _rows(*cols: Any) -> list[tuple[Any, ...]]:
    return sorted(zip(*(c.tolist() for c in cols), strict=True))


def assert_graphs_equal(a: Any, b: Any) -> None:
    """Assert two identity graphs hold the same records, entities, components, links, matcher
    links, decisions, audit log, policy and batch counter (record order aside).

    Examples:
        >>> import crmkit.identity as ci
        >>> g = ci.IdentityGraph.empty().add({"record_id": ["a"], "email": ["a@x.org"]})
        >>> assert_graphs_equal(g, g)
    """
    assert a.policy == b.policy, "policies differ"
    assert a.batch == b.batch, f"batch {a.batch} != {b.batch}"
    ra, rb = a.records, b.records
    assert sorted(ra.text) == sorted(rb.text), "text columns differ"
    cols = ("record_id", "source")
    for g, r in ((a, ra), (b, rb)):
        assert g.entity_id.size == r.record_id.size
    rows_a = _rows(
        *(getattr(ra, c) for c in cols), ra.observed_at.view(np.int64), a.entity_id,
        *(ra.text[k] for k in sorted(ra.text)),
    )  # fmt: skip
    rows_b = _rows(
        *(getattr(rb, c) for c in cols), rb.observed_at.view(np.int64), b.entity_id,
        *(rb.text[k] for k in sorted(rb.text)),
    )  # fmt: skip
    assert rows_a == rows_b, "records or entity ids differ"
    parts = []
    for g in (a, b):
        rid = g.records.record_id
        groups: dict[int, set[str]] = {}
        for label, r in zip(g.component.tolist(), rid.tolist(), strict=True):
            groups.setdefault(label, set()).add(r)
        parts.append(sorted(sorted(s) for s in groups.values()))
    assert parts[0] == parts[1], "link components differ"
    la, lb = a.links(), b.links()
    fields = ("record_a", "record_b", "rule", "score", "evidence", "accepted", "refusal")
    assert _rows(*(getattr(la, f) for f in fields)) == _rows(*(getattr(lb, f) for f in fields))
    sa, sb = a.scored, b.scored
    ids_a, ids_b = a.records.record_id, b.records.record_id
    assert _rows(ids_a[sa.a], ids_a[sa.b], sa.rule, sa.score, sa.evidence) == _rows(
        ids_b[sb.a], ids_b[sb.b], sb.rule, sb.score, sb.evidence
    ), "matcher links differ"
    assert a.decisions == b.decisions, "decisions differ"
    assert a.audit.rows() == b.audit.rows(), "audit logs differ"


class IdentityChecks(KitBase):
    """The identity graph's collections (``crmkit.identity.save_graph`` / ``load_graph``) on a
    store with ``documents``: equal round trips, incremental and atomic saves, erasure.

    Examples:
        >>> "test_identity_graph_round_trip" in dir(IdentityChecks)
        True
    """

    @staticmethod
    def _graph(seed: int = 3, n: int = 40) -> Any:
        import crmkit.identity as ci

        g = ci.resolve(identity_records(seed, n), linkage=False).graph
        big = max(g.entities(), key=lambda e: len(g.members(e)))
        members = g.members(big)
        g = g.unmerge(big, [members[-1]], reason="two people", actor="kit")
        g = g.cannot_link("r0", "r1", reason="siblings", actor="kit")
        g = g.must_link("r2", "r3", reason="same person, new address", actor="kit")
        return g

    @requires("documents")
    def test_identity_graph_round_trip(self, store: Store) -> None:
        """A saved graph loads equal: entities, components, links, decisions, audit, policy."""
        import crmkit.identity as ci

        g = self._graph()
        report = ci.save_graph(store, g)
        assert report.entities_written == g.entities().size
        assert report.audit_rows_written == len(g.audit)
        assert_graphs_equal(ci.load_graph(store), g)
        with pytest.raises(NotFoundError):
            ci.load_graph(store, name="other")

    @requires("documents")
    def test_identity_incremental_save(self, store: Store) -> None:
        """A second save writes only the entities that changed and appends the new audit rows;
        loading gives the graph resolved further, and resolving on the loaded graph is the same."""
        import crmkit.identity as ci

        g = self._graph()
        ci.save_graph(store, g)
        again = ci.save_graph(store, g)
        assert (again.entities_written, again.entities_deleted, again.audit_rows_written) == (
            0,
            0,
            0,
        )
        new = {"record_id": ["n1", "n2"], "email": ["p1@x.org", "solo@x.org"]}
        g2 = ci.resolve(new, graph=ci.load_graph(store), linkage=False).graph
        report = ci.save_graph(store, g2)
        assert 1 <= report.entities_written <= 3
        assert report.audit_rows_written == len(g2.audit) - len(g.audit)
        assert_graphs_equal(ci.load_graph(store), g2)
        direct = ci.resolve(new, graph=g, linkage=False).graph
        assert_graphs_equal(direct, g2)

    @requires("documents")
    def test_identity_save_is_atomic(self, store: Store) -> None:
        """A save inside a failing transaction leaves the saved graph as it was."""
        import crmkit.identity as ci

        g = self._graph()
        ci.save_graph(store, g)
        g2 = g.add({"record_id": ["z1"], "email": ["p0@x.org"]})

        def save_then_fail() -> None:
            with store.transaction():
                ci.save_graph(store, g2)
                raise RuntimeError("the caller's block fails after the save")

        with pytest.raises(RuntimeError):
            save_then_fail()
        assert_graphs_equal(ci.load_graph(store), g)
        ci.save_graph(store, g2)  # the in-process view of the store was not corrupted
        assert_graphs_equal(ci.load_graph(store), g2)

    @requires("documents")
    def test_identity_save_refuses_a_diverging_graph(self, store: Store) -> None:
        """A graph that does not continue the saved one is refused unless replace=True."""
        import crmkit.identity as ci

        g = self._graph()
        ci.save_graph(store, g.add({"record_id": ["x"], "email": ["p5@x.org"]}))
        with pytest.raises(ConflictError):
            ci.save_graph(store, g)
        ci.save_graph(store, g, replace=True)
        assert_graphs_equal(ci.load_graph(store), g)

    @requires("documents")
    def test_identity_decisions_survive_reruns(self, store: Store) -> None:
        """A cannot-link saved and loaded keeps two records apart when new records link them."""
        import crmkit.identity as ci

        g = ci.IdentityGraph.empty().add({"record_id": ["a", "b"], "email": ["x@y.org", ""]})
        ci.save_graph(store, g.cannot_link("a", "b", reason="different people"))
        g2 = ci.load_graph(store).add({"record_id": ["c"], "email": ["x@y.org"]})
        assert g2.entity_of(["a", "b"]).tolist() == ["a", "b"]
        g3 = g2.add({"record_id": ["d"], "email": [""], "phone": ["030 1234567"]})
        g3 = g3.must_link("b", "d", reason="same phone call")
        ci.save_graph(store, g3)
        g4 = ci.load_graph(store).add({"record_id": ["e"], "phone": ["+49 30 1234567"]})
        assert g4.entity_of(["b", "d", "e"]).tolist() == ["b", "b", "b"]
        assert g4.entity_of(["a"]).tolist() != ["b"]

    @requires("documents")
    def test_identity_erase(self, store: Store) -> None:
        """erase(entity id) removes the entity's records, links and decisions from the identity
        collections; its audit rows stay, pseudonymized; other entities are untouched."""
        import crmkit.identity as ci

        g = ci.IdentityGraph.empty().add(
            {
                "record_id": ["a1", "a2", "b1", "b2"],
                "email": ["ann@x.org", "ann@x.org", "bo@x.org", "bo@x.org"],
            }
        )
        g = g.must_link("a1", "a2", reason="checked by phone")
        g = g.cannot_link("b1", "a2", reason="different people")
        ci.save_graph(store, g)
        report = store.erase("a1")
        assert report.deleted.get(ci.entity_spec().name) == 1
        loaded = ci.load_graph(store)
        assert sorted(loaded.records.record_id.tolist()) == ["b1", "b2"]
        assert loaded.entity_of(["b1", "b2"]).tolist() == ["b1", "b1"]
        assert len(loaded.audit) == len(g.audit)
        gone = [r for r in loaded.audit.rows() if r["entity_id"] == ci.ERASED]
        assert gone
        assert all(r["evidence"] == "" for r in gone)
        assert all(r["reason"] == "" for r in gone)
        left = " ".join(d.body for d in store.collection(ci.entity_spec()).scan().items)  # type: ignore[attr-defined]
        assert "ann@x.org" not in left
        assert all("a1" not in d.records and "a2" not in d.records for d in loaded.decisions)
        ci.save_graph(store, loaded.add({"record_id": ["c"], "email": ["bo@x.org"]}))
        assert ci.load_graph(store).entity_of(["c"]).tolist() == ["b1"]
