"""mkdocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

The docstrings cross-reference in Sphinx's roles (``:func:`~spinestab.core.outdir.x```), which
mkdocstrings shows as typed. This hook turns each role into a link to the object's
entry in the Python API pages (mkdocs-autorefs resolves it, or leaves plain code where the
object has no entry), shortened as the ``~`` asks.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):<code>(~?)([\w.]+)</code>"
)


def _link(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    text = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{target}" optional><code>{text}</code></autoref>'


def on_page_content(html: str, **_: Any) -> str:
    """Replace the Sphinx roles left in the rendered docstrings."""
    return ROLE.sub(_link, html)
