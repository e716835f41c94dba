"""Source-record noise: fields by channel, noise flags that match the data, rates as configured.

Rates are checked within 4 binomial standard errors of the configured rate (rates applied per
person in households get 5, since household members share their head's draws).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from crmkit._data import nicknames
from crmkit.datasets import RecordNoise, ShopNoise, SyntheticShop, synthetic_shop

Z = 4.0


def assert_rate(hits: npt.NDArray[np.bool_], rate: float, z: float = Z) -> None:
    """The share of ``hits`` is within z binomial SEs of ``rate``."""
    n = hits.size
    assert n > 200, "too few eligible rows to check a rate"
    se = np.sqrt(rate * (1 - rate) / n)
    assert abs(hits.mean() - rate) < z * se, (hits.mean(), rate, se)


def test_fields_depend_on_the_channel(big_shop: SyntheticShop) -> None:
    """Marketplace: relay e-mail, no phone; support: name + e-mail; loyalty: phone + name."""
    r = big_shop.records
    src = r.source
    m = src == "marketplace"
    assert np.char.endswith(r.email[m], "@marketplace.example").all()
    assert (r.phone[m] == "").all()
    assert (r.street[m] != "").all()
    s = src == "support"
    assert (r.email[s] != "").all()
    assert (r.first_name[s] != "").all()
    for col in (r.phone, r.street, r.city, r.postcode, r.birth_date, r.country):
        assert (col[s] == "").all()
    lo = src == "loyalty"
    assert (r.phone[lo] != "").all()
    assert (r.email[lo] == "").all()
    assert (r.street[lo] == "").all()
    c = src == "checkout"
    for col in (r.email, r.phone, r.street, r.city, r.postcode, r.country):
        assert (col[c] != "").all()
    assert (r.birth_date[c | m | s] == "").all()
    w = src == "web"
    assert (r.email[w] != "").all()
    assert 0.3 < (r.phone[w] != "").mean() < 0.7


def test_birth_dates_are_partly_missing_and_sometimes_swapped(big_shop: SyntheticShop) -> None:
    """Web and loyalty records leave birth dates empty at the set rate; swaps have day ≤ 12."""
    r, t = big_shop.records, big_shop.truth
    asks = np.isin(r.source, ["web", "loyalty"])
    assert_rate(r.birth_date[asks] == "", t.noise.birth_date_missing)
    swapped = t.record_has(RecordNoise.DAY_MONTH_SWAP)
    assert swapped.any()
    days = np.array([int(d[-2:]) for d in r.birth_date[swapped].tolist()])
    assert (days <= 12).all()
    given = r.birth_date[r.birth_date != ""]
    assert given.astype("datetime64[D]").size == given.size  # all are valid ISO dates


def test_email_noise_flags_match_the_addresses(big_shop: SyntheticShop) -> None:
    """Case and gmail variants occur exactly on flagged records and at the configured rates."""
    r, t = big_shop.records, big_shop.truth
    has = np.isin(r.source, ["web", "checkout", "support"])
    case = t.record_has(RecordNoise.EMAIL_CASE)
    lower = np.char.lower(r.email)
    assert (r.email[has & ~case] == lower[has & ~case]).all()
    assert (r.email[case] != lower[case]).any()
    assert_rate(case[has], t.noise.email_case)
    gmail = has & (
        np.char.endswith(lower, "@gmail.com") | np.char.endswith(lower, "@googlemail.com")
    )
    variant = t.record_has(RecordNoise.GMAIL_VARIANT)
    assert not (variant & ~gmail).any()
    plus = np.char.find(r.email, "+") >= 0
    assert not (plus & ~variant).any()
    assert plus.any()
    assert_rate(variant[gmail], t.noise.gmail_variant)


def test_name_noise_flags_and_rates(big_shop: SyntheticShop) -> None:
    """Nicknames come from the nickname table; typos and case changes occur at their rates."""
    r, t = big_shop.records, big_shop.truth
    true_first = t.first_name[t.record_person]
    table = nicknames()
    has_nick = np.array([n in table for n in true_first.tolist()])
    nick = t.record_has(RecordNoise.NICKNAME)
    assert not (nick & ~has_nick).any()
    assert_rate(nick[has_nick], t.noise.nickname)
    plain = nick & ~t.record_has(RecordNoise.TYPO) & ~t.record_has(RecordNoise.NAME_CASE)
    for shown, true in zip(r.first_name[plain].tolist(), true_first[plain].tolist(), strict=True):
        assert shown in table[true]
    clean = ~nick & ~t.record_has(RecordNoise.TYPO) & ~t.record_has(RecordNoise.NAME_CASE)
    assert (r.first_name[clean] == true_first[clean]).all()
    assert (r.last_name[clean] == t.last_name[t.record_person][clean]).all()
    typo = t.record_has(RecordNoise.TYPO)
    # one- and two-letter nicknames are exempt, so the rate may fall slightly short
    assert t.noise.typo * 0.9 - Z * 0.002 < typo.mean() < t.noise.typo + Z * 0.002
    edited = typo & ~t.record_has(RecordNoise.NAME_CASE) & ~nick
    differs = (r.first_name != true_first) | (r.last_name != t.last_name[t.record_person])
    assert differs[edited].all()
    assert_rate(t.record_has(RecordNoise.NAME_CASE), t.noise.name_case)


def test_moves_households_and_namesakes(big_shop: SyntheticShop) -> None:
    """Per-person moves, households and namesakes occur at their rates and show in the records."""
    r, t = big_shop.records, big_shop.truth
    moved = ~np.isnat(t.moved_at)
    assert_rate(moved, t.noise.moved, z=5.0)
    has_address = r.street != ""
    before = has_address & (r.observed_at < t.moved_at[t.record_person])  # NaT compares False
    assert np.array_equal(before, t.record_has(RecordNoise.OLD_ADDRESS))
    joiner = (t.household >= 0) & (t.household != np.arange(t.n_persons))
    assert_rate(joiner, t.noise.household)
    rec_joiner = joiner[t.record_person]
    shared = t.record_has(RecordNoise.SHARED_PHONE)
    assert not (shared & ~rec_joiner).any()
    assert_rate(shared[rec_joiner & (r.phone != "")], t.noise.shared_phone, z=5.0)
    namesake = t.namesake_of >= 0
    assert_rate(namesake, t.noise.namesake)
    other = t.namesake_of[namesake]
    assert (t.first_name[namesake] == t.first_name[other]).all()
    assert (t.last_name[namesake] == t.last_name[other]).all()
    assert (np.flatnonzero(namesake) != other).all()
    flagged = t.record_has(RecordNoise.NAMESAKE)
    assert flagged.any()
    assert namesake[t.record_person[flagged]].sum() > 0


def test_address_formats(big_shop: SyntheticShop) -> None:
    """Street abbreviations and postcode formats vary at their rates; countries are GB and DE."""
    r, t = big_shop.records, big_shop.truth
    has = r.street != ""
    assert_rate(t.record_has(RecordNoise.STREET_ABBREVIATION)[has], t.noise.street_abbreviation)
    assert_rate(t.record_has(RecordNoise.POSTCODE_FORMAT)[has], t.noise.postcode_format)
    assert set(r.country[r.country != ""].tolist()) == {"GB", "DE"}
    abbrev = r.street[t.record_has(RecordNoise.STREET_ABBREVIATION) & (r.country == "GB")]
    assert any(s.endswith((" St", " Rd", " Ave")) for s in abbrev.tolist())


def test_phone_numbers_come_in_many_formats(big_shop: SyntheticShop) -> None:
    """E.164, +cc spaced, 00cc, national, (0area) and dashed phone formats all occur."""
    phones = big_shop.records.phone[big_shop.records.phone != ""].tolist()
    patterns = {
        "e164": r"^\+\d{11,13}$",
        "intl": r"^\+\d{2} \d+ \d+ \d+$",
        "00": r"^00\d{2} \d+ \d+$",
        "national": r"^0\d+ \d+ \d+$",
        "parens": r"^\(0\d+\) \d+ \d+$",
        "compact": r"^0\d{9,11}$",
        "dashed": r"^0\d+-\d+$",
    }
    for name, pattern in patterns.items():
        assert any(re.match(pattern, p) for p in phones), name
    assert all(any(re.match(p, x) for p in patterns.values()) for x in phones[:2000])


def test_clean_noise_leaves_records_true() -> None:
    """ShopNoise.clean(): no noise flags, true names, lower-case e-mails without tags."""
    shop = synthetic_shop(2_000, rng=4, noise=ShopNoise.clean())
    r, t = shop.records, shop.truth
    assert (t.record_noise == 0).all()
    assert (r.first_name == t.first_name[t.record_person]).all()
    assert (r.email == np.char.lower(r.email)).all()
    assert not (np.char.find(r.email, "+") >= 0).any()
    assert (r.birth_date[np.isin(r.source, ["web", "loyalty"])] != "").all()


def test_emails_of_different_persons_differ_unless_shared(big_shop: SyntheticShop) -> None:
    """Two persons share an e-mail address only through a household."""
    r, t = big_shop.records, big_shop.truth
    own = np.isin(r.source, ["web", "checkout", "support"]) & ~t.record_has(
        RecordNoise.SHARED_EMAIL
    )
    emails = np.char.lower(r.email[own])
    person = t.record_person[own]
    # normalize the gmail variants back
    base = np.array([re.sub(r"\+.*@", "@", e) for e in emails.tolist()])
    local = np.array([e.split("@")[0].replace(".", "") + "@" + e.split("@")[1] for e in base])
    is_gmail = np.char.endswith(base, "gmail.com")
    key = np.where(is_gmail, local, base)
    order = np.argsort(key, kind="stable")
    k, p = key[order], person[order]
    same_key = k[1:] == k[:-1]
    assert (p[1:][same_key] == p[:-1][same_key]).mean() > 0.999
