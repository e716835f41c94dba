"""Comparisons and blocking: vectorized kernels against plain definitions, pairs found once."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import crmkit.identity.linkage as lk
from crmkit.identity.linkage._strings import damerau_levenshtein, jaro_winkler, levenshtein


def _osa(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _jw(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    win = max(max(len(a), len(b)) // 2 - 1, 0)
    ma, mb = [False] * len(a), [False] * len(b)
    m = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - win), min(len(b), i + win + 1)):
            if not mb[j] and b[j] == ch:
                ma[i] = mb[j] = True
                m += 1
                break
    if m == 0:
        return 0.0
    sa = [c for c, f in zip(a, ma, strict=True) if f]
    sb = [c for c, f in zip(b, mb, strict=True) if f]
    t = sum(x != y for x, y in zip(sa, sb, strict=True)) / 2
    jaro = (m / len(a) + m / len(b) + (m - t) / m) / 3
    pre = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        pre += 1
    return jaro + pre * 0.1 * (1 - jaro)


def _words(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("abcde"))
    return ["".join(letters[rng.integers(0, 5, rng.integers(0, 9))]) for _ in range(n)]


def test_string_kernels_match_their_definitions() -> None:
    """Jaro-Winkler, Levenshtein and OSA distance agree with plain dynamic programs."""
    rng = np.random.default_rng(0)
    a, b = _words(rng, 400), _words(rng, 400)
    np.testing.assert_allclose(jaro_winkler(a, b), [_jw(x, y) for x, y in zip(a, b, strict=True)])
    osa = np.array([_osa(x, y) for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(damerau_levenshtein(a, b, cap=3), np.minimum(osa, 4))
    lev = levenshtein(a, b, cap=20)
    assert (lev >= osa).all() and (lev <= 2 * osa).all()
    assert levenshtein(["kitten"], ["sitting"]).tolist() == [3]


def test_name_levels_cover_nicknames_swaps_and_initials() -> None:
    """Name levels: nickname, swapped first/last, initial, fuzzy, else, and missing as -1."""
    t = lk.read_table(
        {
            "first": ["William", "Bill", "Lee", "Ann", "A", "Jon", "John", ""],
            "last": ["Smith", "Smith", "Ann", "Lee", "Lee", "Doe", "Doe", "X"],
        }
    )
    c = lk.NameComparison(column="first", swap_with="last")
    names = c.level_names()
    lv = c.levels(t, np.array([0, 2, 3, 5, 0, 7]), np.array([1, 3, 4, 6, 5, 0]))
    assert [names[x] if x >= 0 else "missing" for x in lv] == [
        "nickname", "swapped", "initial", "jaro_winkler>=0.92", "else", "missing",
    ]  # fmt: skip


def _lev(a: str, b: str) -> int:
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
    return d[len(b)]


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_edit_distances_at_any_cap_and_width(cap: int) -> None:
    """Levenshtein and OSA distances equal plain dynamic programs up to ``cap`` (then cap + 1),
    for strings of very different lengths on the two sides."""
    rng = np.random.default_rng(cap)
    a = [*_words(rng, 300), "abcdeabcdeabcde", ""]
    b = [*(w[: rng.integers(0, 4)] for w in _words(rng, 300)), "", "abcdeabcdeabcd"]
    osa = np.array([_osa(x, y) for x, y in zip(a, b, strict=True)])
    lev = np.array([_lev(x, y) for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(damerau_levenshtein(a, b, cap=cap), np.minimum(osa, cap + 1))
    np.testing.assert_array_equal(levenshtein(a, b, cap=cap), np.minimum(lev, cap + 1))


def test_swapped_names_level_equals_its_definition() -> None:
    """The swapped level: first = other's last and last = other's first (as text; a missing
    last name on both sides counts as equal), checked on random names against that definition."""
    rng = np.random.default_rng(5)
    pool = np.array(["ann", "lee", "bo", "kim", "max", ""])
    first, last = pool[rng.integers(0, 5, 400)], pool[rng.integers(0, 6, 400)]
    t = lk.read_table({"first": first, "last": last})
    c = lk.NameComparison(column="first", swap_with="last", thresholds=(0.99,))
    a, b = rng.integers(0, 400, 2000), rng.integers(0, 400, 2000)
    lv = c.levels(t, a, b)
    fa, fb, sa, sb = first[a], first[b], last[a], last[b]
    want = (fa != fb) & (fa == sb) & (sa == fb) & (fa != "") & (sb != "")
    # the swap level applies where no better level (exact, nickname) was found
    assert ((lv == c.level_names().index("swapped")) == (want & (lv != 0) & (lv != 1))).all()
    assert want.any() and (lv == 2).any()


def test_date_levels_find_swaps_typos_and_distance() -> None:
    """Date levels: day/month swap, one-digit year typo, within 31 days, else."""
    t = lk.read_table(
        {"dob": ["1980-03-04", "1980-04-03", "1908-03-04", "1980-03-20", "2001-01-01"]}
    )
    c = lk.DateComparison(column="dob")
    lv = c.levels(t, np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4]))
    assert [c.level_names()[x] for x in lv] == ["day_month_swap", "typo", "within_31_days", "else"]


def test_blocking_union_finds_each_pair_once_in_any_chunking() -> None:
    """The union of rules equals the brute-force set of pairs, each once, whatever the chunks."""
    rng = np.random.default_rng(3)
    n = 300
    recs = {
        "a": rng.integers(0, 30, n).astype(str),
        "b": rng.integers(0, 40, n).astype(str),
        "c": rng.integers(0, 40, n).astype(str),
    }
    recs["a"][::7] = ""
    t = lk.read_table(recs)
    rules = [
        lk.BlockingRule(columns="a"),
        lk.BlockingRule(columns=("b",)),
        lk.BlockingRule(columns="b", other="c"),
    ]
    blocking = lk.Blocking(rules=rules)
    expect = set()
    for i, j in itertools.combinations(range(n), 2):
        a, b, c = recs["a"], recs["b"], recs["c"]
        if (a[i] and a[i] == a[j]) or b[i] == b[j] or b[i] == c[j] or b[j] == c[i]:
            expect.add((i, j))
    for chunk in (7, 1000, 10**7):
        got = [(int(x), int(y)) for a, b in blocking.pairs(t, chunk_size=chunk)
               for x, y in zip(a, b, strict=True)]  # fmt: skip
        assert len(got) == len(set(got)) == len(expect)
        assert set(got) == expect
    stats = blocking.count_pairs(t)
    assert stats.total == len(expect)
    assert stats.pairs[0] == sum(
        1 for i, j in expect if recs["a"][i] and recs["a"][i] == recs["a"][j]
    )


def test_blocking_recall_on_labelled_pairs() -> None:
    """Blocking recall is the share of true pairs the rules find, per rule and for the union."""
    t = lk.read_table({"email": ["x", "x", "y", "z"], "zip": ["1", "2", "3", "3"]})
    blocking = lk.Blocking(rules=[lk.BlockingRule(columns="email"), lk.BlockingRule(columns="zip")])
    rec = blocking.recall(t, [0, 2, 0], [1, 3, 3])
    assert rec == {"email": 1 / 3, "zip": 1 / 3, "union": 2 / 3}


def test_linking_two_tables_pairs_only_across_them() -> None:
    """When two tables are linked, candidates always pair a left record with a right one."""
    left = {"k": ["1", "1", "2"]}
    right = {"k": ["1", "2", "2"]}
    t = lk.read_table(left, right)
    pairs = list(lk.Blocking(rules=[lk.BlockingRule(columns="k")]).pairs(t))
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    assert (t.side[a] == 0).all() and (t.side[b] == 1).all()
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 3), (1, 3), (2, 4), (2, 5)]


def test_pair_count_estimate_from_a_sample() -> None:
    """count_pairs(sample=) estimates the union within 5 % from a quarter of the records (the
    union is ~1M pairs, so sampling error is far below that) and says it is an estimate."""
    rng = np.random.default_rng(4)
    n = 8000
    t = lk.read_table({"zip": rng.integers(0, 100, n).astype(str),
                       "year": rng.integers(0, 60, n).astype(str)})  # fmt: skip
    b = lk.Blocking(rules=[lk.BlockingRule(columns="zip"), lk.BlockingRule(columns="year")])
    exact = b.count_pairs(t)
    est = b.count_pairs(t, sample=2000, rng=0)
    assert exact.exact and not est.exact
    assert est.pairs.tolist() == exact.pairs.tolist()
    assert est.total == pytest.approx(exact.total, rel=0.05)
    assert b.count_pairs(t, sample=n).total == exact.total


def test_ambiguous_nicknames_agree_with_each_of_their_names() -> None:
    """A nickname of several formal names (Ned, Thea, Fred) is at the nickname level with each
    of them and with their other nicknames; two different formal names are not."""
    t = lk.read_table({"f": ["Ned", "Edward", "Ed", "Thea", "Dorothea", "Fred", "Manfred",
                             "Edmund"]})  # fmt: skip
    c = lk.NameComparison(column="f")
    a = np.array([0, 2, 0, 3, 5, 1])
    b = np.array([1, 1, 2, 4, 6, 7])
    names = np.array(c.level_names())[c.levels(t, a, b)]
    assert names.tolist()[:5] == ["nickname"] * 5
    assert names[5] == "else"


def test_blocking_among_keeps_exactly_the_pairs_touching_the_focus() -> None:
    """pairs(among=mask) yields exactly the union's pairs with at least one record in the mask,
    for symmetric and swapped rules alike."""
    rng = np.random.default_rng(9)
    n = 400
    t = lk.read_table({"a": rng.integers(0, 30, n).astype(str),
                       "b": rng.integers(0, 30, n).astype(str)})  # fmt: skip
    blk = lk.Blocking(rules=[lk.BlockingRule(columns="a"),
                             lk.BlockingRule(columns="a", other="b")])  # fmt: skip
    focus = rng.random(n) < 0.1

    def keys(parts: list[tuple[np.ndarray, np.ndarray]]) -> set[tuple[int, int]]:
        return {(int(x), int(y)) for a, b in parts for x, y in zip(a, b, strict=True)}

    every = keys(list(blk.pairs(t, chunk_size=97)))
    some = keys(list(blk.pairs(t, chunk_size=97, among=focus)))
    assert some == {(x, y) for x, y in every if focus[x] or focus[y]}
    assert len(some) > 0
