"""The documentation site: its examples run, its pages are in the navigation, it builds.

- Every ``pycon`` block of ``docs/*.md`` runs with doctest and gives what it shows.
- Every page under ``docs/`` is in the navigation of ``mkdocs.yml``.
- ``mkdocs build --strict`` passes (a broken link, a missing page or a docstring that
  mkdocstrings cannot read is an error), when mkdocs is installed (the ``dev`` extra).
"""

from __future__ import annotations

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((str(page.relative_to(ROOT)), line, match.group(1)))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(
    ("page", "line", "code"), EXAMPLES, ids=[f"{p}:{n}" for p, n, _ in EXAMPLES]
)
def test_an_example_runs_as_shown(page, line, code):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, {}, f"{page}:{line}", page, line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{page}:{line}: an example gives another result (see above)"


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [p for item in node for p in _nav_pages(item)]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    return []


def _load_mkdocs() -> dict:
    class Loader(yaml.SafeLoader):
        """mkdocs.yml may hold ``!!python/name:`` tags (material's emoji); read them as text."""

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def test_every_page_is_in_the_navigation():
    nav = set(_nav_pages(_load_mkdocs()["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in PAGES}
    assert not pages - nav, f"pages missing from the nav of mkdocs.yml: {sorted(pages - nav)}"
    assert not {p for p in nav if p.endswith(".md")} - pages, "nav names a missing page"


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mkdocs not installed (extra dev)")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
