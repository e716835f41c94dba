"""Every model value survives make_converter() → JSON text → make_converter(), unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit import model
from crmkit.serialization import make_converter
from crmkit.testing import strategies as cst

_CONVERTER = make_converter()

_CASES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (model.Money, cst.money()),
    (model.Address, cst.addresses()),
    (model.Identifier, cst.identifiers()),
    (model.SourceRecord, cst.source_records()),
    (model.Customer, cst.customers()),
    (model.Consent, cst.consents()),
    (model.Product, cst.products()),
    (model.OrderLine, cst.order_lines()),
    (model.Order, cst.orders()),
    (model.ReturnLine, cst.return_lines()),
    (model.Return, cst.returns()),
    (model.Event, cst.events()),
    (model.Contact, cst.contacts()),
]


def test_every_value_type_has_a_strategy() -> None:
    """Each attrs class exported by crmkit.model has a round-trip case here."""
    import attrs

    exported = [getattr(model, n) for n in model.__all__]
    values = {c for c in exported if isinstance(c, type) and attrs.has(c)}
    assert values == {cls for cls, _ in _CASES}


@pytest.mark.parametrize(("cls", "strategy"), _CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_json_round_trip(cls: type[Any], strategy: st.SearchStrategy[Any]) -> None:
    """unstructure → json.dumps → json.loads → structure gives back an equal value."""

    @settings(max_examples=40, derandomize=True, database=None, deadline=None)
    @given(value=strategy)
    def check(value: Any) -> None:
        text = json.dumps(_CONVERTER.unstructure(value), ensure_ascii=False)
        back = _CONVERTER.structure(json.loads(text), cls)
        assert back == value
        assert type(back) is cls

    check()
