"""The README's and the quickstart's code blocks run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", ["README.md", "docs/tutorials/quickstart.md"])
def test_documented_code_blocks_run(
    page: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of the page executes, and every printed check is True."""
    monkeypatch.chdir(tmp_path)  # examples may write files such as shop.sqlite
    namespace: dict[str, object] = {}
    for block in python_blocks(ROOT / page):
        exec(compile(block, page, "exec"), namespace)
    printed = capsys.readouterr().out.split()
    assert printed and "False" not in printed
