"""The identity graph: policies, stable ids, incremental equals batch, decisions and errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmkit.identity as ci
from crmkit.model import Identifier, SourceRecord

POLICY = ci.StitchingPolicy.default()


def cols(**kw: list[str]) -> dict[str, Any]:
    return {k: np.array(val, dtype=object) for k, val in kw.items()}


def by_id(res: ci.Resolution) -> dict[str, str]:
    return dict(zip(res.record_id.tolist(), res.entity_id.tolist(), strict=True))


def test_one_person_across_channels_is_one_entity() -> None:
    """Signup, +tag checkout, loyalty phone and typo ticket chain into one entity; a relay
    address and a noreply address link nobody."""
    res = ci.resolve(
        cols(
            record_id=["web:1", "chk:2", "loy:3", "tix:4", "mkt:5", "mkt:6"],
            email=["ann.lee@gmail.com", "annlee+shoes@gmail.com", "", "annlee@gmial.com",
                   "a1@marketplace.amazon.de", "a1@marketplace.amazon.de"],
            phone=["", "0171 2345678", "+49 171 2345678", "", "", ""],
            first_name=["Ann", "Anne", "Ann", "Ann", "", ""],
            last_name=["Lee", "Lee", "Lee", "Lee", "", ""],
            birth_date=["", "", "1990-02-03", "1990-02-03", "", ""],
        )
    )  # fmt: skip
    ids = by_id(res)
    assert ids["web:1"] == ids["chk:2"] == ids["loy:3"] == "chk:2"
    assert ids["tix:4"] == "chk:2"  # name + birth date, since the typo email is not rewritten
    assert ids["mkt:5"] == "mkt:5"
    assert ids["mkt:6"] == "mkt:6"
    blocked = res.graph.audit.where(action="blocked")
    assert sorted(blocked.record_a.tolist()) == ["mkt:5", "mkt:6"]


def test_immutable_ids_never_merge_and_the_refusal_is_audited() -> None:
    """Two customer_ids sharing an email stay apart; the refused link is logged with its reason."""
    res = ci.resolve(
        cols(record_id=["a", "b"], email=["x@y.org", "x@y.org"], customer_id=["c1", "c2"])
    )
    assert res.n_entities == 2
    lim = res.graph.audit.where(action="limit")
    assert lim.reason.tolist() == ["customer_id limit 1 would be exceeded (2 values)"]
    assert "refused" in ci.explain(res.graph, "a", "b").text()


def test_limit_refuses_the_lower_priority_link() -> None:
    """Email limit 2 with three emails: the link of the higher-priority rule wins."""
    data = cols(record_id=["a", "b", "c"], email=["x@y.org", "y@y.org", "z@y.org"],
                phone=["0301111111", "0301111111", ""], first_name=["Ann", "", "Ann"],
                last_name=["Lee", "", "Lee"],
                birth_date=["1990-01-01", "", "1990-01-01"])  # fmt: skip
    email2 = POLICY.with_identifiers([ci.IdentifierPolicy(kind="email", priority=2, limit=2)])
    assert by_id(ci.resolve(data, policy=email2)) == {"a": "a", "b": "a", "c": "c"}
    dob_first = email2.with_identifiers(
        [ci.IdentifierPolicy(kind="name_dob", fields=("first_name", "last_name", "birth_date"),
                             priority=1)]
    )  # fmt: skip
    assert by_id(ci.resolve(data, policy=dob_first)) == {"a": "a", "b": "b", "c": "a"}


def test_limit_window_counts_values_seen_close_together() -> None:
    """Email limit 1 per 30 days: two emails a year apart merge, two a week apart do not."""
    policy = POLICY.with_identifiers(
        [ci.IdentifierPolicy(kind="email", priority=2, limit=1, window_days=30)]
    )
    t = np.array(["2024-01-01", "2025-01-01", "2025-01-08"], dtype="datetime64[us]")
    data = cols(record_id=["a", "b", "c"], email=["p@x.org", "q@x.org", "r@x.org"],
                phone=["0301111111"] * 3)  # fmt: skip
    data["observed_at"] = t
    ids = by_id(ci.resolve(data, policy=policy))
    assert ids["a"] == ids["b"]
    assert ids["c"] != ids["b"]


def test_max_entity_size_stops_a_blob() -> None:
    """A shared phone across 60 records makes entities of at most the size cap."""
    n = 60
    res = ci.resolve(cols(record_id=[f"r{i:02d}" for i in range(n)], phone=["0301234567"] * n))
    sizes = np.unique(res.entity_id, return_counts=True)[1]
    assert sizes.max() <= POLICY.max_entity_size
    perm = ci.resolve(cols(record_id=[f"r{i:02d}" for i in range(n)], phone=["0301234567"] * n),
                      policy=ci.StitchingPolicy.permissive())  # fmt: skip
    assert perm.n_entities == 1


def test_source_records_with_identifiers_resolve() -> None:
    """SourceRecord values, including typed identifiers, resolve like columns."""
    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    recs = [
        SourceRecord(source="web", source_key="1", observed_at=t, email="a@x.org",
                     identifiers=(Identifier(kind="loyalty_card", value="L1"),)),
        SourceRecord(source="pos", source_key="2", observed_at=t,
                     identifiers=(Identifier(kind="loyalty_card", value="L1"),)),
    ]  # fmt: skip
    res = ci.resolve(recs)
    assert res.entity_id.tolist() == ["pos:2", "pos:2"]
    assert res.links.rule.tolist() == ["loyalty_card"]


# --------------------------------------------------------------------------- properties
EMAILS = ["", "a@x.org", "b@x.org", "c@x.org", "A@X.org", "test@x.org"]
PHONES = ["", "0301111111", "0302222222", "+49301111111"]
CIDS = ["", "", "c1", "c2"]


@st.composite
def record_sets(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 24))

    def pick(pool: list[str]) -> list[str]:
        out: list[str] = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        return out

    days = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    return {
        "record_id": [f"s:{i:03d}" for i in range(n)],
        "email": pick(EMAILS),
        "phone": pick(PHONES),
        "customer_id": pick(CIDS),
        "observed_at": np.datetime64("2024-01-01", "us") + np.array(days) * np.timedelta64(1, "D"),
    }


def take(data: dict[str, Any], idx: Any) -> dict[str, Any]:
    return {k: np.asarray(val)[idx] for k, val in data.items()}


TIGHT = POLICY.with_identifiers(
    [ci.IdentifierPolicy(kind="email", priority=2, limit=2, window_days=90)]
)
TIGHT = ci.StitchingPolicy(identifiers=TIGHT.identifiers, max_entity_size=4)


@settings(max_examples=60, deadline=None)
@given(data=record_sets(), cut=st.integers(0, 24), seed=st.integers(0, 2**32 - 1),
       strict=st.booleans())  # fmt: skip
def test_incremental_equals_batch_in_any_order(
    data: dict[str, Any], cut: int, seed: int, strict: bool
) -> None:
    """Adding records in two batches, in any order, gives the same entity ids as one batch."""
    policy = TIGHT if strict else ci.StitchingPolicy.permissive()
    n = len(data["record_id"])
    batch = by_id(ci.resolve(data, policy=policy))
    perm = np.random.default_rng(seed).permutation(n)
    cut = min(cut, n)
    g = ci.IdentityGraph.empty(policy).add(take(data, perm[:cut]))
    g = g.add(take(data, perm[cut:]))
    inc = dict(zip(data["record_id"], g.entity_of(data["record_id"]).tolist(), strict=True))
    assert inc == batch


@settings(max_examples=40, deadline=None)
@given(data=record_sets(), seed=st.integers(0, 2**32 - 1))
def test_ids_of_untouched_entities_survive_an_add(data: dict[str, Any], seed: int) -> None:
    """An entity whose records are unchanged by an add keeps its id."""
    g = ci.IdentityGraph.empty(TIGHT).add(data)
    before = dict(zip(data["record_id"], g.entity_of(data["record_id"]).tolist(), strict=True))
    new = {"record_id": ["t:new"], "email": ["b@x.org"], "phone": [""], "customer_id": [""]}
    g2 = g.add(new)
    after = dict(zip(data["record_id"], g2.entity_of(data["record_id"]).tolist(), strict=True))
    for eid in set(before.values()):
        old_members = {r for r, e in before.items() if e == eid}
        if {
            r for r, e in after.items() if after[r] == after[next(iter(old_members))]
        } == old_members:
            assert all(after[r] == eid for r in old_members)


@settings(max_examples=30, deadline=None)
@given(data=record_sets())
def test_unmerge_survives_a_rerun(data: dict[str, Any]) -> None:
    """After an unmerge, adding a record that links both parts does not join them again."""
    g = ci.IdentityGraph.empty(ci.StitchingPolicy.permissive()).add(data)
    eids, counts = np.unique(g.entity_id, return_counts=True)
    if counts.max() < 2:
        return
    eid = str(eids[np.argmax(counts)])
    members = g.members(eid)
    g = g.unmerge(eid, [members[-1]], reason="two people")
    bridge = {"record_id": ["t:bridge"], "email": [str(data["email"][0]) or "a@x.org"],
              "phone": ["0301111111"], "customer_id": [""]}  # fmt: skip
    g = g.add(bridge)
    assert g.entity_of([members[-1]])[0] != g.entity_of([members[0]])[0]
    again = ci.resolve(g.records, policy=g.policy, decisions=g.decisions)
    assert dict(zip(again.record_id.tolist(), again.entity_id.tolist(), strict=True)) == dict(
        zip(g.records.record_id.tolist(), g.entity_id.tolist(), strict=True)
    )


# --------------------------------------------------------------------------- decisions
BASE = cols(record_id=["a", "b", "c", "d"], email=["x@y.org", "x@y.org", "z@y.org", "w@y.org"],
            customer_id=["", "", "c1", "c2"])  # fmt: skip


def test_must_link_and_split_and_their_audit() -> None:
    """Must-link joins records, split divides an entity, and each decision is in the log."""
    g = ci.resolve(BASE).graph
    g = g.must_link("b", "c", reason="same person, confirmed by phone")
    assert set(g.entity_of(["a", "b", "c"]).tolist()) == {"a"}
    g2 = g.split("a", [["a"], ["b", "c"]], reason="two people")
    assert g2.entity_of(["a", "b", "c"]).tolist() == ["a", "b", "b"]
    actions = g2.audit.action.tolist()
    assert actions.count("decision") == 2
    assert "split" in actions


def test_bad_decisions_raise_and_leave_the_graph_unchanged() -> None:
    """Conflicting decisions, unknown records and unknown entities raise typed errors."""
    g = ci.resolve(BASE).graph.cannot_link("a", "b", reason="twins")
    snapshot = (g.entity_id.copy(), len(g.audit), g.decisions)
    with pytest.raises(ci.DecisionConflictError):
        g.must_link("a", "b", reason="no")
    with pytest.raises(ci.DecisionConflictError):
        g.must_link("c", "d", reason="different customer ids")
    with pytest.raises(ci.UnknownRecordError):
        g.must_link("a", "zzz", reason="?")
    with pytest.raises(ci.UnknownRecordError):
        g.unmerge("no-such-entity", ["a"], reason="?")
    with pytest.raises(ci.InvalidInputError if False else ValueError):
        g.split("a", [["a"]], reason="one group")
    assert (g.entity_id == snapshot[0]).all()
    assert len(g.audit) == snapshot[1]
    assert g.decisions == snapshot[2]


def test_malformed_records_raise_typed_errors() -> None:
    """Duplicate ids, unknown columns and ragged columns are rejected before anything changes."""
    from crmkit.errors import InvalidInputError

    g = ci.resolve(BASE).graph
    with pytest.raises(InvalidInputError, match="duplicate"):
        g.add(cols(record_id=["n", "n"], email=["", ""]))
    with pytest.raises(InvalidInputError, match="unknown columns"):
        g.add(cols(record_id=["n"], emial=["x"]))
    with pytest.raises(InvalidInputError):
        g.add({"record_id": ["n", "m"], "email": ["x@y.org"]})
    assert len(g) == 4


def test_scored_links_join_under_the_same_policies() -> None:
    """Matcher links above min_score join entities; below it they do not; immutable ids hold."""
    policy = POLICY.with_identifiers(
        [ci.IdentifierPolicy(kind="fellegi_sunter", scored=True, min_score=0.9, priority=6)]
    )
    g = ci.resolve(BASE, policy=policy).graph
    g = g.add_links(["a", "c"], ["c", "d"], rule="fellegi_sunter", score=[0.95, 0.99],
                    reason=["name+dob agree", "name agrees"])  # fmt: skip
    assert g.entity_of(["a", "c"]).tolist() == ["a", "a"]
    assert g.entity_of(["d"])[0] == "d"
    g2 = ci.resolve(BASE, policy=policy).graph.add_links(["a"], ["d"], rule="fellegi_sunter",
                                                         score=0.5)  # fmt: skip
    assert g2.entity_of(["d"])[0] == "d"


def test_golden_record_lineage_and_validated_first() -> None:
    """The golden value prefers a valid value and names the record it came from."""
    t = np.array(["2024-01-01", "2024-06-01"], dtype="datetime64[us]")
    data = cols(record_id=["a", "b"], email=["x@y.org", "x@y.org"], phone=["0301234567", "12"])
    data["observed_at"] = t
    gr = ci.golden_records(ci.resolve(data).graph)
    assert gr.row("a")["phone"] == ("0301234567", "a")
    gr2 = ci.golden_records(ci.resolve(data).graph, ci.Survivorship(validated_first=False))
    assert gr2.row("a")["phone"] == ("12", "b")


# --------------------------------------------------------------------------- corroboration
HOUSEHOLD = cols(
    record_id=["h:1", "h:2", "h:3", "h:4", "h:5"],
    phone=["030 1234567"] * 5,
    email=["", "", "", "", ""],
    first_name=["Anna", "Ben", "Benjamin", "Anne", ""],
    last_name=["Berg"] * 5,
)


def test_household_phone_links_only_records_with_a_compatible_first_name() -> None:
    """A phone shared by several first names links only records with compatible names (Anna and
    Anne spelled two ways, Ben standing for Benjamin); a record without a name is left alone;
    the permissive policy merges the whole household."""
    ids = by_id(ci.resolve(HOUSEHOLD))
    assert ids["h:1"] == ids["h:4"] == "h:1"  # Anna / Anne
    assert ids["h:2"] == ids["h:3"] == "h:2"  # Ben / Benjamin
    assert ids["h:5"] == "h:5"  # ambiguous: which of them?
    assert ci.resolve(HOUSEHOLD, policy=ci.StitchingPolicy.permissive()).n_entities == 1


def test_a_value_seen_with_one_name_links_nameless_records() -> None:
    """A phone seen with one first name only is not shared: records without a name join it."""
    data = cols(record_id=["a", "b", "c"], phone=["030 1234567"] * 3,
                first_name=["Bill", "William", ""])  # fmt: skip
    assert ci.resolve(data).n_entities == 1


def test_corroborate_must_name_standard_fields() -> None:
    """A corroborating field that is not a standard field is rejected."""
    from crmkit.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="corroborate"):
        POLICY.with_identifiers(
            [ci.IdentifierPolicy(kind="phone", priority=3, corroborate=("nickname",))]
        )


HOUSEHOLD_NAMES = ["", "Ann", "Anne", "Ben", "Carl", "Jo", "Joseph", "Johanna", "Tboias", "Tobias",
                   "Thomas"]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.sampled_from(HOUSEHOLD_NAMES), min_size=2, max_size=12),
    cut=st.integers(0, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_incremental_equals_batch_with_corroboration(names: list[str], cut: int, seed: int) -> None:
    """Corroborated household values resolve the same in batches, in any order, as at once
    (also when a short form such as Jo is ambiguous in one batch and not in another)."""
    n = len(names)
    data = {
        "record_id": [f"r{i:02d}" for i in range(n)],
        "phone": ["030 1234567"] * n,
        "email": ["x@y.org" if i % 3 else "" for i in range(n)],
        "first_name": names,
    }
    batch = by_id(ci.resolve(data))
    perm = np.random.default_rng(seed).permutation(n)
    g = ci.IdentityGraph.empty().add(take(data, perm[: min(cut, n)]))
    g = g.add(take(data, perm[min(cut, n) :]))
    assert (
        dict(zip(data["record_id"], g.entity_of(data["record_id"]).tolist(), strict=True)) == batch
    )
