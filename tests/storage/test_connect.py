"""connect(url): built-in schemes, registered factories, entry-point plugins and their errors."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import crmkit
from crmkit.errors import InvalidInputError, PluginError
from crmkit.storage import _connect, available_stores, connect, register_store
from crmkit.storage.memory import MemoryStore
from crmkit.storage.sqlite import SQLiteStore


def test_builtin_schemes_open_their_adapters(tmp_path: Path) -> None:
    """memory:// opens the memory store and sqlite:///path the SQLite store at that path."""
    with connect("memory://") as store:
        assert isinstance(store, MemoryStore)
    with crmkit.connect(f"sqlite:///{tmp_path / 'a.db'}") as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "a.db").exists()


def test_unknown_scheme_suggests_close_matches() -> None:
    """A misspelt scheme raises PluginError naming the closest known schemes."""
    with pytest.raises(PluginError, match="Did you mean 'memory'"):
        connect("memroy://")


def test_not_a_url_is_rejected() -> None:
    """A string without a scheme raises InvalidInputError saying what a URL looks like."""
    with pytest.raises(InvalidInputError, match="sqlite:///"):
        connect("shop.db")


def test_registered_factory_gets_url_and_options() -> None:
    """A registered factory receives the URL and the keyword options of connect."""
    seen: dict[str, Any] = {}

    def factory(url: str, **options: Any) -> MemoryStore:
        seen.update(url=url, **options)
        return MemoryStore(url)

    register_store("unit-test", factory)
    store = connect("unit-test://x", flavour="plain")
    assert seen == {"url": "unit-test://x", "flavour": "plain"}
    assert "unit-test" in available_stores()
    store.close()


class _EntryPoint:
    def __init__(self, name: str, value: str, error: Exception | None = None) -> None:
        self.name, self.value, self._error = name, value, error
        self.dist = type("Dist", (), {"name": "crmkit-fancy", "version": "1.2.3"})()
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1
        if self._error is not None:
            raise self._error
        return lambda url, **options: MemoryStore(url)


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[_EntryPoint]) -> None:
    def entry_points(*, group: str, name: str | None = None) -> list[_EntryPoint]:
        assert group == "crmkit.stores"
        return [ep for ep in eps if name is None or ep.name == name]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    monkeypatch.setattr(_connect, "_loaded", {})


def test_entry_point_is_loaded_lazily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed adapter loads only when its scheme is first used, and only once."""
    fancy, other = _EntryPoint("fancy", "fancy:open"), _EntryPoint("other", "other:open")
    _fake_entry_points(monkeypatch, [fancy, other])
    assert fancy.loads == 0
    connect("fancy://a").close()
    connect("fancy://b").close()
    assert (fancy.loads, other.loads) == (1, 0)


def test_failed_load_names_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter whose import fails raises PluginError naming its distribution and version."""
    _fake_entry_points(monkeypatch, [_EntryPoint("fancy", "fancy:open", ImportError("no psycopg"))])
    with pytest.raises(PluginError, match=r"crmkit-fancy 1\.2\.3.*no psycopg") as info:
        connect("fancy://a")
    assert isinstance(info.value.__cause__, ImportError)


def test_unknown_scheme_suggests_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Suggestions include installed entry-point names."""
    _fake_entry_points(monkeypatch, [_EntryPoint("postgresql", "pg:open")])
    with pytest.raises(PluginError, match="'postgresql'"):
        connect("postgres://x")
