"""The quickstart's code blocks run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", ["tutorials/quickstart.md"])
def test_tutorial_code_blocks_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every python block of the page executes, and every printed check is True."""
    namespace: dict[str, object] = {}
    for block in python_blocks(DOCS / page):
        exec(compile(block, page, "exec"), namespace)
    printed = capsys.readouterr().out.split()
    assert printed and "False" not in printed
