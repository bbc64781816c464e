"""Translated text from gettext catalogues, one catalogue per domain package.

Each domain keeps its own catalogues beside its code, as
``spinestab/<domain>/locale/<lang>/LC_MESSAGES/<domain>.po`` (``care``: the handout and plan
text; ``wearable``: the movement prompt). They are read at run time with Babel
(``babel.messages.pofile.read_po``): no compile step at install. Message ids are stable keys
(``ex.bird_dog.stage1.how``); every language, English included, is a translation, so no
patient-facing sentence lives in code.

Examples
--------
>>> Translator("wearable", "de")("prompt.keep_moving").startswith("Zeit für Bewegung")
True

"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from spinestab.core.validation import check_choice, choices_text, read_setting
from spinestab.errors import require

__all__ = ["LANGUAGES", "Translator", "catalogue", "resolve_language"]

#: Languages with a catalogue in every domain.
LANGUAGES = ("en", "de")


def resolve_language(language: str | None = None) -> str:
    """Choose the language: explicit value, else ``Settings.language`` (``SPINESTAB_LANGUAGE``).

    Raises
    ------
    InputError
        For a language without a catalogue.

    """
    message, expected = "no translation catalogue for this language", choices_text(LANGUAGES)
    if language is None:
        return str(read_setting("language", message=message, expected=expected))
    return check_choice(
        "language", language.strip().lower(), LANGUAGES, message=message, expected=expected
    )


@cache
def catalogue(domain: str, language: str) -> dict[str, str]:
    """Return ``{message id: text}`` of one domain's catalogue (fuzzy entries skipped).

    Parameters
    ----------
    domain : str
        The domain package that owns the catalogue, e.g. ``"care"`` or ``"wearable"``.
    language : str
        ``"en"`` or ``"de"``.

    """
    pofile = require("babel.messages.pofile", extra=domain, feature="translated patient text")
    language = resolve_language(language)
    ref = resources.files(f"spinestab.{domain}").joinpath(
        f"locale/{language}/LC_MESSAGES/{domain}.po"
    )
    with ref.open("rb") as handle:
        cat = pofile.read_po(handle, locale=language, domain=domain)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


class Translator:
    """Look up translated text of one domain in one language.

    Parameters
    ----------
    domain : str
        The domain package whose catalogue is used (``"care"``, ``"wearable"``).
    language : {"en", "de"}, optional
        Defaults to the ``SPINESTAB_LANGUAGE`` setting.

    """

    def __init__(self, domain: str, language: str | None = None) -> None:
        self.domain = domain
        self.language = resolve_language(language)
        self._messages = catalogue(domain, self.language)

    def __call__(self, key: str, **values: Any) -> str:
        """Return the text of ``key`` with ``{placeholders}`` filled in.

        Raises
        ------
        KeyError
            When the catalogue has no text for ``key`` (a missing translation is a bug,
            never silently shown in another language).

        """
        # Singular forms: a key ``<key>.one_<name>`` is used when placeholder ``name`` is 1
        # ("1 set", "1 Satz"), so counts of one read correctly in every language.
        for name, value in values.items():
            if value == 1 and not isinstance(value, bool) and f"{key}.one_{name}" in self._messages:
                key = f"{key}.one_{name}"
                break
        try:
            text = self._messages[key]
        except KeyError:
            raise KeyError(f"no '{self.language}' text for message '{key}'") from None
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        """Whether the catalogue has text for ``key``."""
        return key in self._messages
