"""Pseudonymous export: normalized identifiers, salted hashes."""

from __future__ import annotations

import hashlib

from crmkit.targeting import pseudonymous_audience


def test_hashes_are_salted_sha256_of_normalized_values() -> None:
    """The key is SHA-256 of salt + normalized value; other salts give other keys."""
    a = pseudonymous_audience(
        ["c1", "c2"], email=["ANN@x.org ", ""], phone=["030 1234567", None], salt="pepper"
    )
    assert a.email_sha256[0] == hashlib.sha256(b"pepperann@x.org").hexdigest()
    assert a.phone_sha256[0] == hashlib.sha256(b"pepper+49301234567").hexdigest()
    assert a.email_sha256[1] == ""
    assert a.phone_sha256[1] == ""
    b = pseudonymous_audience(["c1"], email=["ann@x.org"], salt="other")
    assert b.email_sha256[0] != a.email_sha256[0]
    assert [r["customer_id"] for r in a.rows()] == ["c1"]


def test_invalid_identifiers_export_no_key() -> None:
    """An email without @ or a phone too short for E.164 yields no key rather than a junk hash."""
    a = pseudonymous_audience(["c"], email=["not-an-email"], phone=["12"], salt="s")
    assert a.rows() == []


def test_phones_in_other_regions() -> None:
    """A national US number reads as +1 when its region says so."""
    a = pseudonymous_audience(["c"], phone=["(415) 555-0100"], region=["US"], salt="")
    assert a.phone_sha256[0] == hashlib.sha256(b"+14155550100").hexdigest()
