"""The one cattrs converter of crmkit: JSON-safe, tz-aware ISO datetimes, Money, enums by value."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter as _json_converter

from crmkit.errors import CrmkitError, InvalidInputError
from crmkit.model._checks import Scalar

__all__ = ["dump", "dumps", "load", "loads", "make_converter"]

T = TypeVar("T")


def _structure_datetime(value: Any, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{value!r} is not an ISO 8601 timestamp") from exc
    else:
        raise InvalidInputError(f"expected an ISO 8601 timestamp string (got {value!r})")
    if parsed.tzinfo is None:
        raise InvalidInputError(f"naive timestamp {value!r}: add a UTC offset such as +00:00 or Z")
    return parsed


def _structure_date(value: Any, _: type) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{value!r} is not an ISO 8601 date") from exc
    raise InvalidInputError(f"expected an ISO 8601 date string (got {value!r})")


def _structure_time(value: Any, _: type) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{value!r} is not an ISO 8601 time of day") from exc
    raise InvalidInputError(f"expected an ISO 8601 time of day string (got {value!r})")


def _structure_scalar(value: Any, _: Any) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidInputError(f"{type(value).__name__} is not a JSON scalar")


def make_converter() -> cattrs.Converter:
    """A new cattrs converter for every crmkit value, with detailed validation.

    Datetimes become ISO 8601 strings with their offset (naive ones are rejected on the way in),
    dates ISO dates, times of day (wall-clock hours such as a send window's) ISO times, enums
    their values, frozensets sorted lists; Money stays integer minor units.
    The converter is new on every call: register your own hooks on it freely; crmkit never touches
    ``cattrs.global_converter``.

    Examples:
        >>> import datetime as dt
        >>> from crmkit.model import Money, OrderLine
        >>> conv = make_converter()
        >>> line = OrderLine(product_id="p1", quantity=2, unit_price=Money.of("2.50", "EUR"))
        >>> data = conv.unstructure(line)
        >>> data["unit_price"]
        {'amount_minor': 250, 'currency': 'EUR'}
        >>> conv.structure(data, OrderLine) == line
        True
    """
    conv = _json_converter(detailed_validation=True, forbid_extra_keys=True)
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_unstructure_hook(dt.time, lambda t: t.isoformat())
    conv.register_structure_hook(dt.time, _structure_time)
    conv.register_structure_hook(Scalar, _structure_scalar)
    conv.register_unstructure_hook_func(
        lambda t: t is frozenset or getattr(t, "__origin__", None) is frozenset, sorted
    )
    conv.register_structure_hook(int, _strict(int))
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(bool, _strict(bool))
    return conv


def _strict(kind: type[T]) -> Any:
    def hook(value: Any, _: type) -> T:
        # No silent coercion: "5" is not an int and 1.7 is not 1; bools are not ints.
        if type(value) is not kind:
            raise InvalidInputError(
                f"expected {kind.__name__} (got {type(value).__name__} {value!r:.80})"
            )
        return value

    return hook


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"expected a number (got {type(value).__name__} {value!r:.80})")
    return float(value)


_CONVERTER = make_converter()


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, CrmkitError):
        return f"{exc}"
    if isinstance(exc, KeyError):
        return "required field missing"
    return cattrs.v.format_exception(exc, type_)


def load(data: Any, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """Structure plain data (from JSON) into a crmkit value; every bad field is reported by path.

    Raises [`InvalidInputError`][crmkit.errors.InvalidInputError] whose message lists each problem
    as ``$.path: problem``, the way ``cattrs.transform_error`` does.

    Examples:
        >>> from crmkit.model import Money
        >>> load({"amount_minor": 5, "currency": "EUR"}, Money)
        Money(amount_minor=5, currency='EUR')
        >>> from crmkit.model import Order
        >>> try:
        ...     load({"order_id": "o1", "customer_id": "", "currency": "EUR",
        ...           "placed_at": "2024-01-01T00:00:00", "lines": []}, Order)
        ... except InvalidInputError as exc:
        ...     print(str(exc).splitlines()[0])
        Order: 1 invalid field(s)
    """
    conv = converter or _CONVERTER
    try:
        return conv.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = [
            f"{where}: {what}"
            for what, _, where in (
                line.rpartition(" @ ")
                for line in cattrs.transform_error(exc, path="$", format_exception=_describe)
            )
        ]
        raise InvalidInputError(
            f"{cls.__name__}: {len(problems)} invalid field(s)\n" + "\n".join(problems)
        ) from exc
    except CrmkitError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(f"{cls.__name__}: cannot structure {data!r:.200} ({exc})") from exc


def dump(value: Any, *, converter: cattrs.Converter | None = None) -> Any:
    """Unstructure a crmkit value (or a list of them) into JSON-safe plain data.

    Examples:
        >>> from crmkit.model import Money
        >>> dump([Money.of("1", "USD")])
        [{'amount_minor': 100, 'currency': 'USD'}]
    """
    return (converter or _CONVERTER).unstructure(value)


def dumps(value: Any, *, converter: cattrs.Converter | None = None) -> str:
    """``dump`` then ``json.dumps`` with sorted keys (deterministic text).

    Examples:
        >>> from crmkit.model import Money
        >>> dumps(Money.of("1", "USD"))
        '{"amount_minor": 100, "currency": "USD"}'
    """
    return json.dumps(dump(value, converter=converter), sort_keys=True, ensure_ascii=False)


def loads(text: str | bytes, cls: type[T], *, converter: cattrs.Converter | None = None) -> T:
    """``json.loads`` then ``load``.

    Examples:
        >>> from crmkit.model import Money
        >>> loads('{"amount_minor": 100, "currency": "USD"}', Money).currency
        'USD'
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"text: not valid JSON ({exc}).") from exc
    return load(data, cls, converter=converter)
