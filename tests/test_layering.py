"""The package layering of DESIGN.md, read from the source with ``ast``.

- ``spinestab.core`` (the shared layer) imports nothing of spinestab except ``errors`` and
  ``settings``.
- The domain packages (imaging, instability, wearable, clinical, care) import only the shared
  layer, ``errors``, ``settings``, ``spinestab`` itself (``__version__``) and their own
  insides. One downstream use is allowed: care (profile, triage, plan) consumes clinical's
  typed results (DESIGN.md data flow: questionnaires -> ClinicalState -> StabilityProfile),
  through the public ``spinestab.clinical`` package only, never a module of it.
- No package imports another package's private module (``_name``).
- No import cycles: neither between packages (any import, lazy ones included) nor between
  modules at import time (module-level imports).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "spinestab"
DOMAINS = ("imaging", "instability", "wearable", "clinical", "care")
SHARED = ("spinestab.core", "spinestab.errors", "spinestab.settings")
#: Imports across domains that the design allows: (importing package, imported module).
ALLOWED_ACROSS = {("care", "spinestab.clinical")}
#: Known exceptions, each with its reason; remove an entry once its reason is gone.
TRANSITIONAL: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at import time)`` of every import in one file.

    ``from pkg import name`` yields ``pkg.name`` when that is a module, else ``pkg``.
    Imports under ``if TYPE_CHECKING:`` are left out.
    """
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, top))
        inner = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return [(name, top) for name, top in found if name.split(".")[0] == "spinestab"]


FILES = sorted(PACKAGE.rglob("*.py"))
MODULES = {_module_name(p) for p in FILES}
IMPORTS = {_module_name(p): _imports(p) for p in FILES}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_shared_layer_imports_only_errors_and_settings():
    bad = [
        (module, name)
        for module, names in IMPORTS.items()
        if _package(module) == "core"
        for name, _ in names
        if not any(_within(name, s) for s in SHARED)
    ]
    assert not bad, bad


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_imports_the_shared_layer_and_its_own_insides_only(domain):
    bad = []
    for module, names in IMPORTS.items():
        if _package(module) != domain:
            continue
        for name, _ in names:
            ok = (
                name == "spinestab"
                or _within(name, f"spinestab.{domain}")
                or any(_within(name, s) for s in SHARED)
                or (domain, name) in ALLOWED_ACROSS
                or (domain, name) in TRANSITIONAL
            )
            if not ok:
                bad.append((module, name))
    assert not bad, bad


def test_no_package_imports_a_private_module_of_another():
    bad = []
    for module, names in IMPORTS.items():
        for name in {n for n, _ in names}:
            parts = name.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_") and i > 0]
            if not private:
                continue
            owner = ".".join(parts[: private[0]])  # the package holding the private part
            allowed = _within(module, owner) or ("spinestab", name) in {
                ("spinestab", "spinestab.__version__")
            }
            if not allowed and (_package(module), name) not in TRANSITIONAL:
                bad.append((module, name))
    assert not bad, bad


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of ``graph`` as a list of nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, names in IMPORTS.items():
        for name, _ in names:
            a, b = _package(module), _package(name)
            if a and b and a != b:
                graph[a].add(b)
    assert _cycle(graph) is None, _cycle(graph)


def test_no_import_cycles_between_modules_at_import_time():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, names in IMPORTS.items():
        for name, top in names:
            # importing a.b.c runs a/__init__ and a/b/__init__ first; count the leaf only
            if top and name in MODULES and name != module and not _within(module, name):
                graph[module].add(name)
    assert _cycle(graph) is None, _cycle(graph)


def test_the_checker_sees_imports_it_must_refuse(tmp_path):
    # the checker itself: a lazy cross-domain import and a relative private import are seen
    src = tmp_path / "spinestab" / "wearable"
    src.mkdir(parents=True)
    (src / "x.py").write_text(
        "def f():\n    from spinestab.care.i18n import Translator\n"
        "from .._outdir import make_out_dir\n"
    )
    global SRC
    old, SRC = SRC, tmp_path
    try:
        found = _imports(src / "x.py")
    finally:
        SRC = old
    assert ("spinestab.care.i18n", False) in found
    assert ("spinestab._outdir", True) in found
