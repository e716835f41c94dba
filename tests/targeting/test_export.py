"""Pseudonymous export: normalization and salted hashes."""

from __future__ import annotations

import hashlib

from crmkit.targeting import normalize_email, normalize_phone, pseudonymous_audience


def test_normalization() -> None:
    """Emails are trimmed and lowercased; phones become E.164 with the default country code."""
    assert normalize_email("  Ann@Example.COM\t") == "ann@example.com"
    assert normalize_email("not-an-email") == ""
    assert normalize_phone("0171 123 4567", default_country_code="49") == "+491711234567"
    assert normalize_phone("0044 20 7946 0018", default_country_code="49") == "+442079460018"
    assert normalize_phone("12", default_country_code="49") == ""


def test_hashes_are_salted_sha256_of_normalized_values() -> None:
    """The key is SHA-256 of salt + normalized value; other salts give other keys."""
    a = pseudonymous_audience(["c1", "c2"], email=["ANN@x.org ", ""], phone=["030 123456", None],
                              default_country_code="49", salt="pepper")  # fmt: skip
    assert a.email_sha256[0] == hashlib.sha256(b"pepperann@x.org").hexdigest()
    assert a.phone_sha256[0] == hashlib.sha256(b"pepper+4930123456").hexdigest()
    assert a.email_sha256[1] == ""
    assert a.phone_sha256[1] == ""
    b = pseudonymous_audience(["c1"], email=["ann@x.org"], salt="other")
    assert b.email_sha256[0] != a.email_sha256[0]
    assert [r["customer_id"] for r in a.rows()] == ["c1"]
