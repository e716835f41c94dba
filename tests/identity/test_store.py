"""Persisting the identity graph: round trips, incremental saves, reruns, erasure, errors."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmkit
import crmkit.identity as ci
from crmkit.errors import CapabilityError, ConflictError, InvalidInputError
from crmkit.storage import Capabilities, Store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore
from crmkit.testing._identity import assert_graphs_equal, identity_records

PROPERTY = settings(max_examples=12, deadline=None, derandomize=True, database=None)


def take(cols: dict[str, Any], sel: Any) -> dict[str, Any]:
    return {k: np.asarray(v)[sel] for k, v in cols.items()}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each built-in adapter."""
    if request.param == "memory":
        with MemoryStore() as s:
            yield s
    else:
        with SQLiteStore(tmp_path / "id.db") as s:
            yield s


@given(seed=st.integers(0, 10_000), n=st.integers(1, 60), cuts=st.integers(1, 4))
@PROPERTY
def test_every_save_loads_equal_and_incremental_equals_batch(seed: int, n: int, cuts: int) -> None:
    """Saving after each batch and resolving the next against the loaded graph gives, after every
    save, a graph equal to the saved one, and in the end the entities and links of resolving all
    records at once."""
    cols = identity_records(seed, n)
    bounds = np.linspace(0, n, cuts + 1).astype(int)
    with MemoryStore() as store:
        graph = None
        for lo, hi in itertools.pairwise(bounds):
            if hi == lo:
                continue
            start = ci.load_graph(store) if graph is not None else None
            graph = ci.resolve(take(cols, slice(lo, hi)), graph=start, linkage=False).graph
            ci.save_graph(store, graph)
            assert_graphs_equal(ci.load_graph(store), graph)
        assert graph is not None
        loaded = ci.load_graph(store)
    whole = ci.resolve(cols, linkage=False)
    ids = cols["record_id"]
    assert loaded.entity_of(ids).tolist() == whole.entity_id.tolist()
    fields = ("record_a", "record_b", "rule", "accepted", "refusal")
    la, lb = loaded.links(), whole.graph.links()
    assert sorted(zip(*(getattr(la, f).tolist() for f in fields), strict=True)) == sorted(
        zip(*(getattr(lb, f).tolist() for f in fields), strict=True)
    )


@given(seed=st.integers(0, 10_000), data=st.data())
@PROPERTY
def test_decisions_and_matcher_links_round_trip(seed: int, data: st.DataObject) -> None:
    """Graphs with unmerges, must/cannot-links and scored matcher links load equal, and a later
    save writes only the entities the last step touched."""
    g = ci.resolve(identity_records(seed, 30), linkage=False).graph
    rid = g.records.record_id.tolist()
    with MemoryStore() as store:
        ci.save_graph(store, g)
        for _ in range(data.draw(st.integers(1, 4))):
            op = data.draw(st.sampled_from(["must", "cannot", "unmerge", "scored"]))
            a, b = data.draw(st.lists(st.sampled_from(rid), min_size=2, max_size=2, unique=True))
            before = g
            try:
                if op == "must":
                    g = g.must_link(a, b, reason="checked", actor="ops")
                elif op == "cannot":
                    g = g.cannot_link(a, b, reason="twins", actor="ops")
                elif op == "scored":
                    g = g.add_links([a], [b], rule="fellegi_sunter", score=[0.995], reason="fs")
                else:
                    e = g.entity_of([a])[0]
                    members = g.members(str(e))
                    if len(members) < 2:
                        continue
                    g = g.unmerge(str(e), [members[-1]], reason="two people")
            except InvalidInputError:
                continue  # a conflicting decision: the graph is unchanged
            report = ci.save_graph(store, g)
            touched = set(g.entity_id.tolist()) ^ set(before.entity_id.tolist())
            touched |= {str(x) for x in g.entity_of([a, b])}
            assert report.entities_written <= len(touched) + 2
            assert_graphs_equal(ci.load_graph(store), g)


def test_sqlite_graph_survives_reopening(tmp_path: Path) -> None:
    """A graph saved in an SQLite file loads equal from a new connection, times and all."""
    t = np.array(
        [
            dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            None,
            dt.datetime(2023, 5, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ],
        object,
    )
    cols = {
        "record_id": ["w:1", "w:2", "w:3"],
        "email": ["a@x.org", "A@x.org", "b@x.org"],
        "observed_at": t,
        "city": ["Köln", "", 'O"Neil; DROP TABLE'],
    }
    g = ci.resolve(cols, linkage=False).graph
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with crmkit.connect(url) as s:
        ci.save_graph(s, g, name="eu_shop")
    with crmkit.connect(url) as s:
        loaded = ci.load_graph(s, name="eu_shop")
        assert_graphs_equal(loaded, g)
        assert ci.save_graph(s, loaded, name="eu_shop").entities_written == 0


def test_an_empty_graph_round_trips(store: Store) -> None:
    """An empty graph with a custom policy saves and loads (the policy comes back equal)."""
    policy = ci.StitchingPolicy.permissive()
    ci.save_graph(store, ci.IdentityGraph.empty(policy))
    loaded = ci.load_graph(store)
    assert len(loaded) == 0 and loaded.policy == policy
    g = loaded.add({"record_id": ["a", "b"], "email": ["x@y.org", "x@y.org"]})
    ci.save_graph(store, g)
    assert_graphs_equal(ci.load_graph(store), g)


def test_another_writer_is_noticed(tmp_path: Path) -> None:
    """A save from a graph that another connection's save has overtaken is refused; loading
    again and resolving on top works (the stale in-process view is not trusted)."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    cols = identity_records(1, 30)
    with crmkit.connect(url) as one, crmkit.connect(url) as two:
        g = ci.resolve(cols, linkage=False).graph
        ci.save_graph(one, g)
        ci.save_graph(two, ci.load_graph(two).add({"record_id": ["t"], "email": ["p2@x.org"]}))
        mine = g.add({"record_id": ["o"], "email": ["p3@x.org"]})
        with pytest.raises(ConflictError):
            ci.save_graph(one, mine)
        again = ci.load_graph(one).add({"record_id": ["o"], "email": ["p3@x.org"]})
        report = ci.save_graph(one, again)
        assert report.entities_written <= 2
        assert_graphs_equal(ci.load_graph(two), again)


def test_a_different_policy_is_a_conflict(store: Store) -> None:
    """Saving a graph built under another policy over a saved one raises, naming replace=True."""
    ci.save_graph(store, ci.IdentityGraph.empty())
    other = ci.IdentityGraph.empty(ci.StitchingPolicy.permissive())
    with pytest.raises(ConflictError, match="replace=True"):
        ci.save_graph(store, other)


def test_graphs_are_kept_apart_by_name(store: Store) -> None:
    """Two names keep two graphs; erasure reaches both."""
    a = ci.IdentityGraph.empty().add({"record_id": ["x"], "email": ["x@y.org"]})
    b = ci.IdentityGraph.empty().add({"record_id": ["x", "y"], "phone": ["030 1234567"] * 2})
    ci.save_graph(store, a, name="shop_a")
    ci.save_graph(store, b, name="shop_b")
    assert_graphs_equal(ci.load_graph(store, name="shop_a"), a)
    assert_graphs_equal(ci.load_graph(store, name="shop_b"), b)
    store.erase("x")
    assert len(ci.load_graph(store, name="shop_a")) == 0
    assert len(ci.load_graph(store, name="shop_b")) == 0


def test_erasure_drops_links_and_decisions_of_others_to_the_erased(store: Store) -> None:
    """After erase, other entities' refused links and decisions naming the erased records are
    gone from the loaded graph, and resolving on it equals resolving the remaining records."""
    cols = {
        "record_id": ["a", "b", "c"],
        "email": ["x@y.org", "x@y.org", ""],
        "customer_id": ["c1", "c2", ""],
        "phone": ["", "030 1234567", "030 1234567"],
        "first_name": ["Ann", "Bo", "Bo"],
    }
    g = ci.resolve(cols, linkage=False).graph
    assert g.entity_of(["a", "b", "c"]).tolist() == ["a", "b", "b"]  # customer ids differ
    g = g.cannot_link("b", "a", reason="different customers")
    ci.save_graph(store, g)
    store.erase("a")
    loaded = ci.load_graph(store)
    assert loaded.records.record_id.tolist() == ["b", "c"]
    assert "a" not in set(loaded.links().record_a.tolist()) | set(loaded.links().record_b.tolist())
    assert loaded.decisions == ()
    rows = loaded.audit.rows()
    assert len(rows) == len(g.audit)
    assert all(r["record_a"] != "a" and r["record_b"] != "a" for r in rows)
    more = {"record_id": ["d"], "phone": ["+49301234567"], "first_name": ["Bo"]}
    later = ci.resolve(more, graph=loaded, linkage=False).graph
    ci.save_graph(store, later)
    fresh = ci.resolve(
        {k: np.array([*v[1:], more.get(k, [""])[0]], object) for k, v in cols.items()},
        linkage=False,
    )
    assert ci.load_graph(store).entity_of(["b", "c", "d"]).tolist() == fresh.entity_id.tolist()
    bodies = [d.body for d in store.collection(ci.entity_spec()).scan().items]  # type: ignore[attr-defined]
    assert not any('"a"' in body for body in bodies)  # the next save dropped the erased id


def test_bad_arguments_raise() -> None:
    """Bad names, non-graphs, unknown graphs and stores without documents raise typed errors."""

    class NoDocs(MemoryStore):
        @property
        def capabilities(self) -> Capabilities:
            return Capabilities(documents=False)

    g = ci.IdentityGraph.empty()
    with MemoryStore() as s:
        with pytest.raises(InvalidInputError, match="snake_case"):
            ci.save_graph(s, g, name="Bad Name")
        with pytest.raises(InvalidInputError, match="IdentityGraph"):
            ci.save_graph(s, "graph")  # type: ignore[arg-type]
        with pytest.raises(LookupError):
            ci.load_graph(s)
    with NoDocs() as s, pytest.raises(CapabilityError):
        ci.save_graph(s, g)


def test_saved_documents_hold_the_documented_parts(store: Store) -> None:
    """The state keeps policy and counters; an entity document is owned by its entity and holds
    its records with entity, component and batch; audit chunks keep the impersonal columns."""
    g = ci.resolve(
        {"record_id": ["a", "b"], "email": ["x@y.org", "X@y.org"]},
        linkage=False,
    ).graph
    ci.save_graph(store, g)
    docs = store.collection(ci.entity_spec())  # type: ignore[attr-defined]
    (doc,) = docs.for_customer("a")
    assert doc.entity_id == "a" and doc.batch == g.batch
    state = store.collection(ci.GRAPHS).get("default")  # type: ignore[attr-defined]
    assert (state.n_records, state.n_entities, state.audit_rows) == (2, 1, len(g.audit))
    (chunk,) = store.collection(ci.audit_spec()).scan().items  # type: ignore[attr-defined]
    assert chunk.action == tuple(g.audit.action.tolist())
