"""Page text in English and German from the ``service`` catalogue of the shared i18n layer.

The catalogue is ``spinestab/service/locale/<lang>/LC_MESSAGES/service.po``, read by
:mod:`spinestab.core.i18n`; message ids are stable keys (``nav.patients``), and English is a
translation like any other, so no page sentence lives in a template.

Rule texts (triage reasons and actions, a progression's reasons, a plan's status reason)
come from care and the record in English, with their values written in. :func:`rule_text`
gives them in the page's language: the English catalogue holds each text's pattern
(``rule.<kind>.<code>``, its values as ``{placeholders}``), the other language's catalogue
the same key with the same placeholders. A text whose pattern matches and whose values are
codes, numbers or dates is shown translated; any other (no pattern yet, or a value that is
English prose) is shown in English and marked as such (:class:`RuleText` ``english``), never
mixed in silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinestab.core.i18n import LANGUAGES, Translator, catalogue

__all__ = ["LANGUAGES", "Messages", "RuleText", "choose_language", "messages", "rule_text"]

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


@dataclass(frozen=True)
class RuleText:
    """A rule text as a page shows it; ``english`` when shown in English in another language."""

    text: str
    english: bool = False


#: Placeholders whose value is a list of nested rule texts: (kind, separator).
_NESTED = {"criteria": ("criterion", ", "), "flags": ("flag", "; "), "derived": ("derived", "; ")}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: A value token that is no prose: a number (with a unit sign), a date, a code with a digit,
#: an underscore or in capitals (L4-L5, S1, ODI), a section mark, or a dash.
_PLAIN = re.compile(
    r"^(?:[-+<>=~]*[\d.,:/%°–-]+[a-z%°]{0,2}|[\w-]*[\d_][\w-]*|[A-Z][A-Z0-9-]*|§[\d.]+|[-–?])$"
)
_CODE_LIST = re.compile(r"^[\w-]+(?:, [\w-]+)*$")


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    out = []
    for i, part in enumerate(parts):
        out.append(f"(?P<{part}>.+?)" if i % 2 else re.escape(part))
    return re.compile("".join(out), re.DOTALL)


def _plain(name: str, value: str) -> bool:
    if name.endswith("ids"):  # a list of codes (item names, exercise ids, guideline codes)
        return bool(_CODE_LIST.match(value))
    return all(_PLAIN.match(token) for token in re.split(r"[\s,;()]+", value) if token)


@cache
def _keys(kind: str) -> tuple[str, ...]:
    prefix = f"rule.{kind}."
    return tuple(k for k in catalogue(DOMAIN, "en") if k.startswith(prefix))


def _candidates(kind: str, code: str | None) -> list[str]:
    keys = _keys(kind)
    if code is None:
        return list(keys)
    out = []
    parts = code.split("_")
    for n in range(len(parts), 0, -1):  # the code, then shorter prefixes (red_flag_<condition>)
        base = f"rule.{kind}.{'_'.join(parts[:n])}"
        out += [k for k in keys if k == base or k.startswith(base + ".")]
    return out


def _value(name: str, value: str, language: str) -> str | None:
    if name in _NESTED:
        kind, separator = _NESTED[name]
        items = [rule_text(v, language=language, kind=kind) for v in value.split(separator)]
        return None if any(i.english for i in items) else separator.join(i.text for i in items)
    word = f"rule.word.{value}"
    if messages(language).has(word):
        return messages(language)(word)
    return value if _plain(name, value) else None


def rule_text(text: str, *, language: str, kind: str, code: str | None = None) -> RuleText:
    """Return a rule text of care or the record in ``language``.

    Parameters
    ----------
    text : str
        The English text as stored (``triage.json``, ``plan.json``, the plan's status).
    language : {"en", "de"}
        The page's language.
    kind : str
        ``reason``, ``action`` (triage), ``progress`` (a progression's reasons),
        ``status`` (a plan's status reason); ``criterion`` and ``flag`` are parts of them.
    code : str, optional
        The reason's or action's code (tried first, then its shorter prefixes).

    Returns
    -------
    RuleText
        The translated text, or the English text marked ``english`` when the catalogue
        has no pattern for it or a value in it is English prose.

    """
    if language == "en" or not text:
        return RuleText(text)
    english, target = messages("en"), messages(language)
    for key in _candidates(kind, code):
        if not target.has(key):
            continue
        match = _pattern(english(key)).fullmatch(text)
        if match is None:
            continue
        values = {n: _value(n, v, language) for n, v in match.groupdict().items()}
        if all(v is not None for v in values.values()):
            return RuleText(target(key, **values))
    return RuleText(text, english=True)
