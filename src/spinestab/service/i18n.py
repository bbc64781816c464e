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

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from babel.numbers import format_decimal

from spinestab.core.i18n import LANGUAGES, Translator, catalogue

__all__ = [
    "LANGUAGES",
    "Messages",
    "RuleText",
    "choose_language",
    "local_date",
    "local_number",
    "local_value",
    "messages",
    "red_flag_actions",
    "rule_text",
]

DOMAIN = "service"


class Messages:
    """Page text of one language; a missing key is a bug (``KeyError``), as in core.i18n."""

    def __init__(self, language: str) -> None:
        self._translate = Translator(DOMAIN, language if language in LANGUAGES else "en")
        self.language = self._translate.language

    def __call__(self, key: str, **values: Any) -> str:
        """Return the text of ``key`` with ``{placeholders}`` filled in.

        Numbers with decimals and dates among the values are written as the language
        writes them (:func:`local_value`: "0,6" and "26.10.2026" in German).
        """
        if self.language != "en":
            values = {name: local_value(v, self.language) for name, v in values.items()}
        return self._translate(key, **values)

    def has(self, key: str) -> bool:
        """Whether the catalogue has text for ``key``."""
        return self._translate.has(key)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?\S*)?$")
_DECIMAL = re.compile(r"^[-+]?\d+\.\d+$")


def local_number(value: Any, language: str, *, digits: int | None = None) -> str:
    """Return a number as ``language`` writes it (German: a decimal comma, no grouping).

    ``digits`` fixes the decimals shown; by default whole numbers show none and others
    up to 3. Not a number: returned as text unchanged.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if digits is None:
        pattern = "0" if number.is_integer() else "0.###"
    else:
        pattern = "0." + "0" * digits if digits else "0"
    return format_decimal(
        number, format=pattern, locale=language if language in LANGUAGES else "en"
    )


def local_date(value: Any, language: str) -> str:
    """Return a date (or ``YYYY-MM-DD[ HH:MM]`` text) as ``language`` writes it.

    German: ``26.10.2026`` (and ``26.10.2026 15:19``); English keeps ISO 8601 as stored.
    Anything else is returned as text unchanged.
    """
    if isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ", timespec="minutes")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    text = str(value)
    match = _ISO_DATE.match(text)
    if language == "en" or match is None:
        return text
    year, month, day, time = match.groups()
    return f"{day}.{month}.{year}" + (f" {time}" if time else "")


def local_value(value: Any, language: str) -> Any:
    """Return a placeholder value written as ``language`` writes numbers and dates.

    Floats, decimal texts ("0.6") and dates change; whole numbers, codes (L4-L5) and
    words stay as they are. English: unchanged.
    """
    if language == "en" or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return local_number(value, language)
    if isinstance(value, dt.date):
        return local_date(value, language)
    if isinstance(value, str):
        if _DECIMAL.match(value):
            return local_number(value, language, digits=len(value.split(".")[1]))
        if _ISO_DATE.match(value):
            return local_date(value, language)
    return value


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
_NESTED = {
    "criteria": ("criterion", ", "),
    "flags": ("flag", "; "),
    "derived": ("derived", "; "),
    "flag_action": ("flag_action", "\n"),  # one red-flag action (it has "; " in it)
    "s1_what": ("s1_what", "; "),  # the S1 structural findings
    "s1_why": ("s1_why", "\n"),  # why S1 now (one reason)
}
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
    if said := red_flag_actions(language).get(" ".join(text.split())):  # any kind quoting it
        return RuleText(said)
    return RuleText(text, english=True)


@cache
def red_flag_actions(language: str) -> dict[str, str]:
    """Return ``{English action: translation}`` of the bundled red-flag rules.

    ``clinical/data/redflags.yaml`` has each rule's ``action`` in English (the text the
    screen stores, with its sources) and beside it ``action_<language>``, a translation of
    it. A screen scored with another rule file has no translation here and stays English.
    """
    from importlib import resources

    from spinestab.core.safe_load import parse_yaml

    path = resources.files("spinestab.clinical").joinpath("data/redflags.yaml")
    raw = parse_yaml(path.read_text("utf-8"))
    return {
        " ".join(str(rule["action"]).split()): " ".join(str(rule[f"action_{language}"]).split())
        for condition in raw["conditions"].values()
        for rule in condition["rules"]
        if rule.get(f"action_{language}")
    }
