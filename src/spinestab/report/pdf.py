"""HTML to PDF through WeasyPrint: A4, page numbers, pseudonym and date on every page.

WeasyPrint lays out HTML and CSS for paged media itself (no browser) and embeds the fonts it
uses as subsets; it needs Debian's Pango (``libpango-1.0-0``, ``libpangoft2-1.0-0``).
"""

from __future__ import annotations

import logging
from typing import Any

from spinestab.errors import MissingDependencyError, require

__all__ = ["css_string", "html_to_pdf", "page_css"]

logger = logging.getLogger(__name__)


def css_string(text: str) -> str:
    """Quote ``text`` as a CSS string, every character outside ``[A-Za-z0-9]`` escaped.

    User text (a pseudonym) goes into page margin boxes through CSS ``content``; escaping
    each other character as a 6-digit hex escape keeps it text whatever it contains (spaces
    too: CSS swallows one whitespace after an escape).
    """
    out = []
    for ch in text:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):06x}")
    return '"' + "".join(out) + '"'


def page_css(*, left: str, right_template: tuple[str, str]) -> str:
    """Return the ``@page`` rules: A4, margins, ``left`` text and page numbers in the footer.

    Parameters
    ----------
    left : str
        Footer text on the left of every page (pseudonym, date).
    right_template : (str, str)
        Words around the page numbers, e.g. ``("Page", "of")`` -> "Page 2 of 5".

    """
    word, of = right_template
    return f"""
@page {{
  size: A4;
  margin: 16mm 14mm 18mm 14mm;
  @bottom-left {{ content: {css_string(left)}; font-size: 8pt; color: #555;
    font-family: "DejaVu Sans", sans-serif; }}
  @bottom-right {{
    content: {css_string(word + " ")} counter(page) {css_string(" " + of + " ")} counter(pages);
    font-size: 8pt; color: #555; font-family: "DejaVu Sans", sans-serif;
  }}
}}
body {{ margin: 0; }}
"""


def html_to_pdf(html: str, *, extra_css: str = "", base_url: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes.

    Parameters
    ----------
    html : str
        A complete, self-contained HTML document (pictures as data URIs; nothing is
        fetched: a ``url_fetcher`` refuses every non-``data:`` URL).
    extra_css : str
        Stylesheet applied after the document's own (e.g. :func:`page_css`); it must not
        contain ``</style>``.
    base_url : str, optional
        Base for relative URLs (none are expected).

    Raises
    ------
    MissingDependencyError
        WeasyPrint, or the Pango library it needs, is not installed.

    """
    try:
        weasyprint = require("weasyprint", extra="report", feature="PDF reports")
    except OSError as exc:  # the Python package is there, Pango is not
        raise MissingDependencyError(
            f"WeasyPrint cannot load Pango ({exc}); install Debian's libpango-1.0-0 "
            "and libpangoft2-1.0-0 (see README, set-up)"
        ) from exc

    fetcher = _embedded_only_fetcher(weasyprint)
    if extra_css:
        # an author style after the document's own, so it wins the cascade (a user
        # stylesheet passed to write_pdf would lose against the page's styles)
        style = f"<style>{extra_css}</style>"
        head_end = html.lower().rfind("</head>")
        html = html[:head_end] + style + html[head_end:] if head_end >= 0 else style + html
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    pdf = document.write_pdf()
    logger.info("PDF: %d bytes", len(pdf))
    return pdf


def _embedded_only_fetcher(weasyprint: Any) -> Any:
    """Return a URL fetcher serving ``data:`` URLs only (nothing from files or network)."""
    urls = weasyprint.urls
    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 66
        return urls.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(url: str, timeout: int = 10, ssl_context: Any = None) -> dict:
        if not url.startswith("data:"):
            raise ValueError(f"report resources must be embedded, not fetched: {url[:80]}")
        return urls.default_url_fetcher(url)

    return fetch
