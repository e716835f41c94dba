"""Field validators shared by the domain values: each raises InvalidInputError naming the field."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from crmkit.errors import InvalidInputError

#: JSON-safe scalar values allowed in free-form ``attributes`` and ``properties``.
Scalar = str | int | float | bool | None

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _owner(inst: Any) -> str:
    return type(inst).__name__


def non_empty(inst: Any, attr: Any, value: Any) -> None:
    """A required id or label: a non-empty string without surrounding whitespace."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a string (got {type(value).__name__} {value!r})."
        )
    if value == "" or value.strip() != value:
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: empty or padded value ({value!r}). "
            "Ids must be non-empty and trimmed."
        )


def optional_text(inst: Any, attr: Any, value: Any) -> None:
    """An optional text field: None for missing, never an empty string."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a string or None (got {type(value).__name__})."
        )
    if value == "":
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: empty string. Pass None for a missing value."
        )


def aware(inst: Any, attr: Any, value: Any) -> None:
    """A timezone-aware datetime; a naive one is an error, never a guess."""
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a datetime (got {type(value).__name__})."
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: naive datetime ({value.isoformat()}). "
            "Attach a time zone, e.g. datetime(..., tzinfo=datetime.UTC)."
        )


def optional_aware(inst: Any, attr: Any, value: Any) -> None:
    """None or a timezone-aware datetime."""
    if value is not None:
        aware(inst, attr, value)


def optional_date(inst: Any, attr: Any, value: Any) -> None:
    """None or a calendar date (not a datetime)."""
    if value is None:
        return
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a date (got {type(value).__name__} {value!r})."
        )


def snake_case(inst: Any, attr: Any, value: Any) -> None:
    """A lower snake_case code such as ``add_to_cart``."""
    if not isinstance(value, str) or not _SNAKE.match(value):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: {value!r} is not a lower snake_case code "
            "(letters, digits and underscores, starting with a letter)."
        )


def country(inst: Any, attr: Any, value: Any) -> None:
    """None or an ISO 3166-1 alpha-2 code in upper case."""
    if value is not None and (not isinstance(value, str) or not _COUNTRY.match(value)):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: {value!r} is not an ISO 3166-1 alpha-2 code such as 'DE'."
        )


def positive_int(inst: Any, attr: Any, value: Any) -> None:
    """A whole number >= 1 (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a whole number >= 1 (got {value!r})."
        )


def scalars(inst: Any, attr: Any, value: Any) -> None:
    """A mapping of string keys to JSON-safe scalars."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{_owner(inst)}.{attr.name}: expected a mapping (got {type(value).__name__})."
        )
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise InvalidInputError(
                f"{_owner(inst)}.{attr.name}: keys must be non-empty strings (got {k!r})."
            )
        if v is not None and not isinstance(v, str | int | float | bool):
            raise InvalidInputError(
                f"{_owner(inst)}.{attr.name}[{k!r}]: {type(v).__name__} is not a JSON scalar. "
                "Use str, int, float, bool or None."
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise InvalidInputError(
                f"{_owner(inst)}.{attr.name}[{k!r}]: {v!r} is not JSON-safe. Use None for missing."
            )


def freeze_mapping(value: Mapping[str, Scalar] | None) -> dict[str, Scalar]:
    """Copy a mapping so later changes to the caller's dict do not leak into a value."""
    return {} if value is None else dict(value)
