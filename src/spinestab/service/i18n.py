"""Page text in English and German from the ``service`` gettext catalogue.

The catalogue files are ``locale/<lang>/LC_MESSAGES/service.po``, read at run time with
Babel (no compile step); message ids are stable keys (``nav.patients``), and English is a
translation like any other, so no page sentence lives in a template.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

__all__ = ["LANGUAGES", "Messages", "choose_language", "messages"]

LANGUAGES = ("en", "de")
DOMAIN = "service"


@cache
def _catalogue(language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    ref = resources.files("spinestab.service").joinpath(
        f"locale/{language}/LC_MESSAGES/{DOMAIN}.po"
    )
    with ref.open("rb") as handle:
        cat = read_po(handle, locale=language, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


class Messages:
    """Look up page text in one language; a missing key shows the key itself."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self._messages = _catalogue(self.language)
        self._fallback = _catalogue("en")

    def __call__(self, key: str, **values: Any) -> str:
        """Return the text of ``key`` with ``{placeholders}`` filled in."""
        text = self._messages.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text


@cache
def messages(language: str) -> Messages:
    """Return the (cached) messages of one language."""
    return Messages(language)


def choose_language(
    *, user_language: str | None, cookie: str | None, accept: str | None, default: str
) -> str:
    """Pick the page language: the user's choice, a cookie, the browser's, the default."""
    for candidate in (user_language, cookie):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    for part in (accept or "").split(","):
        code = part.split(";", 1)[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "en"
