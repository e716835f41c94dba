"""Keys made of several parts, for module collections keyed by more than one field."""

from __future__ import annotations

import datetime as dt

from crmkit.errors import InvalidInputError

__all__ = ["compound_key"]


def _part(value: str | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InvalidInputError(
                f"key part: naive datetime {value.isoformat()}. Pass a tz-aware datetime."
            )
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    if not isinstance(value, str):
        raise InvalidInputError(f"key part: expected str or datetime (got {type(value).__name__}).")
    if "%" in value or "/" in value:
        return value.replace("%", "%25").replace("/", "%2F")
    return value


def compound_key(*parts: str | dt.datetime) -> str:
    """One collection key from several parts, ``/``-joined with ``%`` and ``/`` escaped.

    Distinct tuples of parts give distinct keys; datetimes become fixed-width UTC ISO strings,
    so keys sharing their leading parts sort in time order.

    Examples:
        >>> import datetime as dt
        >>> compound_key("vip/gold", dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone.utc), "c-1")
        'vip%2Fgold/2024-01-01T01:00:00.000000/c-1'
    """
    return "/".join(_part(p) for p in parts)
