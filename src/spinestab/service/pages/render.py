"""Rendering pages: the Jinja2 environment, the page context and error pages."""

from __future__ import annotations

from functools import partial
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from spinestab.core.results import level_names_state
from spinestab.service.i18n import (
    LANGUAGES,
    choose_language,
    local_date,
    local_number,
    messages,
    rule_text,
)
from spinestab.service.static_files import static_url

__all__ = [
    "LANG_COOKIE",
    "make_templates",
    "page_context",
    "page_language",
    "render",
    "render_error",
    "rule_html",
]

LANG_COOKIE = "spinestab_lang"


def make_templates() -> Jinja2Templates:
    """Return the templates of the service (autoescaped HTML)."""
    folder = resources.files("spinestab.service").joinpath("templates")
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # the templates ship with the package: compiled once, no file check per page
        auto_reload=False,
    )
    env.filters["num"] = _num_filter
    env.filters["day"] = _day_filter
    env.globals["level_names_state"] = level_names_state
    env.globals["static_url"] = static_url
    return Jinja2Templates(env=env)


def number_text(value: object, *, language: str = "en", digits: int | None = None) -> str:
    """Return a number as a page shows it, in the page's language (German: "0,6").

    Without ``digits``: whole without ``.0``, else to 1 decimal; with ``digits``: that many
    decimals. None or empty: a dash.
    """
    if value is None or value == "":
        return "—"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if digits is None:
        digits = 0 if number.is_integer() else 1
    return local_number(number, language, digits=digits)


@pass_context
def _num_filter(context: Any, value: object, digits: int | None = None) -> str:
    """``{{ x|num }}``, ``{{ x|num(2) }}``: a number in the page's language."""
    return number_text(value, language=context.get("lang", "en"), digits=digits)


@pass_context
def _day_filter(context: Any, value: object) -> str:
    """``{{ d|day }}``: a date (or ``YYYY-MM-DD[ HH:MM]``) in the page's language."""
    if value is None or value == "":
        return "—"
    return local_date(value, context.get("lang", "en"))


def rule_html(text: str | None, kind: str, code: str | None = None, *, language: str) -> Markup:
    """Return a rule text for a page in its language, or in English marked as such.

    The mark is visible (a badge saying that no translation exists yet) and the English
    text carries ``lang="en"`` for screen readers.
    """
    if not text:
        return Markup("")
    said = rule_text(str(text), language=language, kind=kind, code=code)
    if not said.english:
        return Markup(escape(said.text))
    return Markup('<span lang="en">{}</span> <span class="badge untranslated">{}</span>').format(
        said.text, messages(language)("rule.english_only")
    )


def page_language(request: Request) -> str:
    """Return the language of this request's page."""
    principal = getattr(request.state, "principal", None)
    settings = request.app.state.spinestab.settings
    return choose_language(
        user_language=principal.language if principal else None,
        cookie=request.cookies.get(LANG_COOKIE),
        accept=request.headers.get("accept-language"),
        default=settings.language,
    )


def page_context(request: Request, *, principal: Any = None) -> dict[str, Any]:
    """Return the context every page has (``principal``: the request's unless given)."""
    state = request.app.state.spinestab
    if principal is None:
        principal = getattr(request.state, "principal", None)
    language = page_language(request)
    return {
        "t": messages(language),
        "rule": partial(rule_html, language=language),
        "lang": language,
        "languages": LANGUAGES,
        "user": principal,
        "csrf": principal.csrf_token if principal else "",
        "path": request.url.path,
        "settings": state.settings,
    }


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the common page context."""
    templates = request.app.state.spinestab.templates
    return templates.TemplateResponse(
        request, name, page_context(request) | context, status_code=status
    )


def render_error(request: Request, *, status: int, detail: str) -> HTMLResponse:
    """Render an error page in the page's language."""
    return render(request, "error.html", status=status, status_code=status, detail=detail)
