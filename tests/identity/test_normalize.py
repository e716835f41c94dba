"""Normalizers: the documented rules, validity flags and notes."""

from __future__ import annotations

import numpy as np

import crmkit.identity as ci


def test_email_provider_rules_apply_only_where_configured() -> None:
    """Gmail dots and +tags fold, other domains keep dots; the literal policy folds nothing."""
    raw = ["A.Nn+x@gmail.com", "a.nn@web.de", "a.nn+x@web.de"]
    assert ci.normalize_email(raw).value.tolist() == ["ann@gmail.com", "a.nn@web.de", "a.nn@web.de"]
    lit = ci.normalize_email(raw, policy=ci.EmailPolicy.literal()).value.tolist()
    assert lit == ["a.nn+x@gmail.com", "a.nn@web.de", "a.nn+x@web.de"]


def test_email_typo_is_flagged_not_rewritten() -> None:
    """A likely provider typo keeps its domain and says which provider it resembles."""
    n = ci.normalize_email(["bob@hotmial.com"])
    assert n.value.tolist() == ["bob@hotmial.com"]
    assert n.note.tolist() == ["likely typo of hotmail.com"]
    assert n.valid.all()


def test_email_invalid_values_are_reported_with_a_reason() -> None:
    """Malformed emails are invalid, missing ones are not present, and each bad one has a note."""
    n = ci.normalize_email(["a@b@c.de", "@x.de", "a@localhost", None, "a b@x.de"])
    assert n.valid.tolist() == [False] * 5
    assert n.present.tolist() == [True, True, True, False, True]
    assert all(n.note[n.present])


def test_phone_forms_of_one_number_agree() -> None:
    """National, +, 00 and punctuated forms of one number give the same E.164 value."""
    n = ci.normalize_phone(["030 1234567", "+49-30-1234567", "0049 30 1234567", "(030) 123 4567"])
    assert set(n.value.tolist()) == {"+49301234567"}


def test_phone_region_per_record_overrides_the_default() -> None:
    """A record's country decides how its national number is read."""
    n = ci.normalize_phone(["020 7946 0958", "0301234567"], default_region="DE", region=["GB", ""])
    assert n.value.tolist() == ["+442079460958", "+49301234567"]


def test_phone_invalid_numbers_are_reported() -> None:
    """Too short, too long or lettered numbers are invalid with a note."""
    n = ci.normalize_phone(["123", "+49 30 1234567890123456", "call me"])
    assert not n.valid.any()
    assert all(n.note)


def test_names_fold_case_accents_and_nicknames() -> None:
    """Names compare after case, accents and whitespace; nicknames map to one given name."""
    assert ci.normalize_name(["  RENÉE  o'neil "]).value.tolist() == ["renee o neil"]
    n = ci.normalize_name(["Bob", "Robert", "Bobby"], use_nicknames=True)
    assert set(n.value.tolist()) == {"robert"}
    assert ci.nicknames()["peggy"] == "margaret"


def test_addresses_abbreviate_street_types_and_units() -> None:
    """Street/St, Avenue/Ave, Apartment/Apt/#, Straße/Str fold to one form."""
    n = ci.normalize_address(["5 Oak Avenue Apartment 2", "5 oak ave. apt 2", "5 Oak Ave #2"])
    assert len(set(n.value.tolist())) == 1
    m = ci.normalize_address(["Lindenstraße 4", "Lindenstr. 4"])
    assert m.value[0] == m.value[1]


def test_postcodes_and_birth_dates() -> None:
    """Postcodes lose spaces and are checked by country; dates outside the range are invalid."""
    p = ci.normalize_postcode(["sw1a 1aa", "12345-6789"], country=["GB", "US"])
    assert p.value.tolist() == ["SW1A1AA", "12345"]
    b = ci.normalize_birth_date(["1990-05-01", "2990-01-01", "31.12.1990"])
    assert b.valid.tolist() == [True, False, False]


def test_empty_input_gives_empty_columns() -> None:
    """Every normalizer accepts zero rows."""
    for fn in (ci.normalize_email, ci.normalize_phone, ci.normalize_name, ci.normalize_address,
               ci.normalize_postcode, ci.normalize_birth_date):  # fmt: skip
        assert fn(np.array([], dtype=str)).value.size == 0
