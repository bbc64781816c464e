"""Checks that keep the structure readable (issue 16.7), read from the source.

- No module over :data:`MAX_LINES` lines unless its docstring says why, in a paragraph
  starting ``Long module:`` (so a reader knows why it is one file).
- The import rules and the absence of import cycles are checked in ``test_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "spinestab"
MAX_LINES = 500
MARK = "Long module:"


def _length_and_reason(path: Path) -> tuple[int, str | None]:
    text = path.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(text)) or ""
    reason = next(
        (p.split(MARK, 1)[1].strip() for p in doc.split("\n\n") if p.startswith(MARK)), None
    )
    return text.count("\n"), reason


def long_modules_without_a_reason(root: Path = SRC) -> list[str]:
    """Return ``"path (N lines)"`` of every module over the limit with no reason given."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        n, reason = _length_and_reason(path)
        if n > MAX_LINES and not reason:
            found.append(f"{path.relative_to(root.parent)} ({n} lines)")
    return found


def test_no_long_module_without_a_reason():
    bad = long_modules_without_a_reason()
    assert not bad, (
        f"modules over {MAX_LINES} lines: split them, or say why in a docstring paragraph "
        f"starting '{MARK}': {bad}"
    )


def test_the_check_sees_a_long_module(tmp_path):
    body = "x = 1\n" * (MAX_LINES + 1)
    (tmp_path / "plain.py").write_text('"""A module."""\n' + body)
    (tmp_path / "told.py").write_text('"""A module.\n\nLong module: a table of data.\n"""\n' + body)
    (tmp_path / "empty.py").write_text('"""A module.\n\nLong module:\n"""\n' + body)
    (tmp_path / "short.py").write_text('"""A module."""\nx = 1\n')
    found = long_modules_without_a_reason(tmp_path)
    assert [f.split(" (")[0] for f in found] == [
        f"{tmp_path.name}/{n}.py" for n in ("empty", "plain")
    ]
    assert found[1].endswith(f"({MAX_LINES + 2} lines)")
