"""The vectorized string edits behave like their one-string Python equivalents."""

from __future__ import annotations

import numpy as np

from crmkit.datasets._strings import (
    digits,
    double_letter,
    drop_letter,
    head,
    insert_char,
    number,
    tail,
    transpose_letters,
)


def test_digits_and_numbers_match_python_formatting() -> None:
    """digits() zero-pads after a prefix; number() writes plain decimals."""
    values = np.array([0, 7, 42, 12345, 99999])
    assert digits(values, 5, "ab").tolist() == [f"ab{v:05d}" for v in values.tolist()]
    assert digits(values[:3], 3).tolist() == ["000", "007", "042"]
    assert digits(np.array([3, 9]), 1, "e").tolist() == ["e3", "e9"]
    assert number(values).tolist() == [str(v) for v in values.tolist()]
    assert number(np.array([], dtype=np.int64)).size == 0


def test_edits_match_python_slicing() -> None:
    """Transpose, drop, double, insert, head and tail equal the slicing they stand for."""
    words = ["William", "Bo", "ann.lee@gmail.com", "Müller"]
    arr = np.array(words)
    at = np.array([1, 0, 3, 2])

    def expect(f: object) -> list[str]:
        return [f(w, k) for w, k in zip(words, at.tolist(), strict=True)]  # type: ignore[operator]

    assert transpose_letters(arr, at).tolist() == expect(
        lambda w, k: w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    )
    assert drop_letter(arr, at).tolist() == expect(lambda w, k: w[:k] + w[k + 1 :])
    assert double_letter(arr, at).tolist() == expect(lambda w, k: w[: k + 1] + w[k:])
    assert insert_char(arr, at, ".").tolist() == expect(lambda w, k: w[:k] + "." + w[k:])
    assert head(arr, at).tolist() == expect(lambda w, k: w[:k])
    assert tail(arr, at).tolist() == expect(lambda w, k: w[k:])
