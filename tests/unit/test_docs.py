"""The docs' examples run: every ``python`` block of a docs page that starts with a
``# <file>.py`` comment is written to that file, and the ``test_*`` functions of the
``test_*.py`` files are called."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"```python\n# (\w+\.py)\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", ["joins.md", "record-cache.md", "testing.md", "windowing.md"])
def test_docs_examples_pass(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = dict(_BLOCK.findall((DOCS / page).read_text()))
    assert any(name.startswith("test_") for name in files), f"{page} has no tested example"
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ran = 0
    for name in files:
        if name.startswith("test_"):
            module = importlib.import_module(name[:-3])
            for attr in dir(module):
                if attr.startswith("test_"):
                    getattr(module, attr)()
                    ran += 1
    for name in files:
        sys.modules.pop(name[:-3], None)
    assert ran
