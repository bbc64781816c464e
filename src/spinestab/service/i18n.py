"""Page text in English and German from the ``service`` catalogue of the shared i18n layer.

The catalogue is ``spinestab/service/locale/<lang>/LC_MESSAGES/service.po``, read by
:mod:`spinestab.core.i18n`; message ids are stable keys (``nav.patients``), and English is a
translation like any other, so no page sentence lives in a template.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from spinestab.core.i18n import LANGUAGES, Translator

__all__ = ["LANGUAGES", "Messages", "choose_language", "messages"]

DOMAIN = "service"


class Messages:
    """Page text of one language; a missing key is a bug (``KeyError``), as in core.i18n."""

    def __init__(self, language: str) -> None:
        self._translate = Translator(DOMAIN, language if language in LANGUAGES else "en")
        self.language = self._translate.language

    def __call__(self, key: str, **values: Any) -> str:
        """Return the text of ``key`` with ``{placeholders}`` filled in."""
        return self._translate(key, **values)

    def has(self, key: str) -> bool:
        """Whether the catalogue has text for ``key``."""
        return self._translate.has(key)


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
            return str(candidate)
    for part in (accept or "").split(","):
        code = part.split(";", 1)[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "en"
