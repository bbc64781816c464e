"""Checks that keep the structure readable (issue 16.7), read from the source.

- No module over :data:`MAX_LINES` lines unless its docstring says why, in a paragraph
  starting ``Long module:`` (so a reader knows why it is one file).
- Settings only through the settings object: no module reads the environment
  (``os.environ``, ``os.getenv``) except where :data:`ENVIRONMENT_USES` says why.
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


#: Modules that touch the environment, and why (none of them reads a setting).
ENVIRONMENT_USES = {
    "spinestab/imaging/segment/tools.py": "hands the environment to a segmenter's process",
    "spinestab/cli/serve.py": "hands --production to uvicorn's worker processes",
}


def environment_uses(root: Path = SRC) -> set[str]:
    """Return the modules that use ``os.environ``, ``os.getenv`` or ``os.putenv``."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            attr = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv")
            imported = (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in ("environ", "getenv", "putenv") for a in node.names)
            )
            if attr or imported:
                found.add(str(path.relative_to(root.parent)))
    return found


def test_settings_only_through_the_settings_object():
    assert environment_uses() == set(ENVIRONMENT_USES)


def test_the_check_sees_an_environment_read(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("import os\nLANG = os.environ.get('SPINESTAB_LANGUAGE')\n")
    (pkg / "b.py").write_text("from os import getenv\n")
    (pkg / "c.py").write_text("import os\nos.path.join('a')\n")
    assert environment_uses(pkg) == {"pkg/a.py", "pkg/b.py"}
