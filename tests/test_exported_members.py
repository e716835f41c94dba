"""Every public package keeps an honest, sorted ``__all__`` of documented objects."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import crmkit

#: Public packages whose import needs an optional dependency (pytest, hypothesis) or has a cost.
OPTIONAL = {"crmkit.testing": "pytest", "crmkit.testing.strategies": "hypothesis"}


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def public_modules() -> list[str]:
    names = ["crmkit"]
    for info in pkgutil.walk_packages(crmkit.__path__, prefix="crmkit."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or parts[1] in {"cli"}:
            continue
        names.append(info.name)
    return sorted(names)


def load(name: str) -> ModuleType:
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(name)


@pytest.mark.parametrize("name", public_modules())
def test_all_is_sorted_and_every_name_resolves(name: str) -> None:
    """__all__ exists, is sorted, has no duplicates, and every entry is importable."""
    module = load(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=isort_key), f"{name}.__all__ unsorted"
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


@pytest.mark.parametrize("name", public_modules())
def test_public_objects_have_docstrings_with_examples(name: str) -> None:
    """Every exported class and function documents itself with a runnable example."""
    module = load(name)
    assert module.__doc__, f"{name} has no module docstring"
    missing = []
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        if ">>>" not in doc:
            missing.append(attr)
    assert not missing, f"{name}: no docstring example for {missing}"
