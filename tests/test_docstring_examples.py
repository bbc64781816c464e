"""Every Examples section in ``src`` runs and gives what it shows (issue 16.6).

Found from the source (any module with a ``>>>`` line), so a new example is run without
being listed; modules whose examples need a file or a tool say so with doctest's SKIP.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts)
    for p in SRC.rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_examples_are_found():
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{name}: an example gives another result (see above)"
