"""Patient-facing text of care (handout, plan) from the ``care`` gettext catalogues.

The catalogues are ``locale/<lang>/LC_MESSAGES/care.po`` in this package, read by the
shared loader :mod:`spinestab.core.i18n` (Babel, no compile step). Message ids are stable
keys (``ex.bird_dog.stage1.how``).
"""

from __future__ import annotations

from spinestab.core import i18n as _core
from spinestab.core.i18n import LANGUAGES, resolve_language

__all__ = ["DOMAIN", "LANGUAGES", "Translator", "catalogue", "resolve_language"]

DOMAIN = "care"


def catalogue(language: str) -> dict[str, str]:
    """Return ``{message id: text}`` of one language's care catalogue."""
    return _core.catalogue(DOMAIN, language)


class Translator(_core.Translator):
    """Look up care text in one language (see :class:`spinestab.core.i18n.Translator`).

    Parameters
    ----------
    language : {"en", "de"}, optional
        Defaults to the ``SPINESTAB_LANGUAGE`` setting.

    """

    def __init__(self, language: str | None = None) -> None:
        super().__init__(DOMAIN, language)
