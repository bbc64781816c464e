"""Red-flag items derived from the history (age, pain duration), and the safer answer.

Facts entered twice can disagree: the history says age 71 while the red-flag form leaves
"age over 70" unticked. CLINICAL_LOGIC.md §3 makes red flags win, so the screen takes the
**safer answer**: an item the history makes positive counts as positive even when the form
says no or is silent, and the triage carries a clinician action to confirm it
(:func:`spinestab.care.triage.red_flags.derived_red_flag_items`). A positive answer on the
form is never turned negative by the history.

Which items, from what, and the thresholds with their sources are data
(``derived_red_flags.yaml`` beside this module; another file can be passed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.care.profile import History
from spinestab.errors import InputError

__all__ = [
    "DerivationRules",
    "DerivedItem",
    "apply_derived_items",
    "derive_red_flag_items",
    "load_derivation_rules",
    "screen_answers",
]

_WEEKS_PER_YEAR = 365.25 / 7


@dataclass(frozen=True)
class DerivedItem:
    """A red-flag item the history makes positive.

    Attributes
    ----------
    item : str
        The red-flag item key (``clinical/data/redflags.yaml``).
    basis : str
        The facts it rests on, e.g. ``"age 71"`` or ``"onset at age 30 (age 39, pain for
        9.0 years)"``.
    form_answer : bool or None
        What the latest red-flag form answered (None: silent, or no form).
    source : str
        Where the threshold comes from.
    evidence : str
        Evidence tag (V, R, D).

    """

    item: str
    basis: str
    form_answer: bool | None
    source: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class DerivationRules:
    """The thresholds of the derivation, each with its source and evidence tag."""

    values: Mapping[str, Any]
    sources: Mapping[str, tuple[str, str]]
    origin: str

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def cite(self, *names: str) -> tuple[str, str]:
        """Return the sources (joined) and the weakest evidence tag of ``names``."""
        sources = list(dict.fromkeys(self.sources[n][0] for n in names))
        tags = [self.sources[n][1] for n in names]
        weakest = "D" if "D" in tags else "R" if "R" in tags else "V"
        return "; ".join(sources), weakest


_REQUIRED = (
    "age_over_70_above",
    "age_new_pain_above",
    "age_new_pain_below",
    "new_pain_max_weeks",
    "axspa_onset_age_below",
    "axspa_duration_weeks_above",
    "axspa_early_onset_age_below",
)


def _parse(raw: Any, origin: str) -> DerivationRules:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules"), Mapping):
        raise InputError("not a derivation rule file", source=origin, expected="a 'rules' map")
    values, sources = {}, {}
    for name in _REQUIRED:
        spec = raw["rules"].get(name)
        if not isinstance(spec, Mapping) or not {"value", "source", "evidence"} <= set(spec):
            raise InputError(
                "missing or incomplete rule",
                source=origin,
                item=name,
                expected="{value, source, evidence}",
            )
        value = spec["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError("not a non-negative number", source=origin, item=name, value=value)
        if spec["evidence"] not in ("V", "R", "D"):
            raise InputError(
                "unknown evidence tag", source=origin, item=name, value=spec["evidence"]
            )
        values[name] = float(value)
        sources[name] = (" ".join(str(spec["source"]).split()), str(spec["evidence"]))
    return DerivationRules(values, sources, origin)


@cache
def _bundled() -> DerivationRules:
    from spinestab.core.safe_load import parse_yaml

    text = resources.files("spinestab.care").joinpath("derived_red_flags.yaml").read_text("utf-8")
    return _parse(parse_yaml(text), "spinestab/care/derived_red_flags.yaml")


def load_derivation_rules(path: str | Path | None = None) -> DerivationRules:
    """Load the derivation thresholds: the bundled file, or another (same layout)."""
    if path is None:
        return _bundled()
    from spinestab.core.safe_load import load_yaml

    return _parse(load_yaml(path), str(path))


def derive_red_flag_items(
    history: History,
    *,
    age_uncertainty_years: int = 0,
    form: Mapping[str, bool | None] | None = None,
    rules: DerivationRules | None = None,
) -> tuple[DerivedItem, ...]:
    """Return the red-flag items the history makes positive.

    Parameters
    ----------
    history : History
        Age (years) and ``pain_duration_weeks`` are used; unknown facts derive nothing.
    age_uncertainty_years : int
        1 when the age comes from a birth year only (it may be one year less); each item
        then uses the bound of the age that is safer for it.
    form : mapping, optional
        The latest red-flag form's answers (item -> True/False/None), to record what the
        form said beside each derived item.
    rules : DerivationRules, optional
        Thresholds (bundled by default).

    """
    rules = rules or load_derivation_rules()
    form = form or {}
    age, weeks = history.age, history.pain_duration_weeks
    out: list[DerivedItem] = []

    def add(item: str, basis: str, *names: str) -> None:
        source, evidence = rules.cite(*names)
        out.append(DerivedItem(item, basis, form.get(item), source, evidence))

    if age is None:
        return ()
    high, low = age, age - age_uncertainty_years  # the age lies within [low, high]
    shown = f"age {age}" if not age_uncertainty_years else f"age {low}-{high} (birth year)"
    if high > rules["age_over_70_above"]:
        add("age_over_70", shown, "age_over_70_above")
    if (
        weeks is not None
        and weeks <= rules["new_pain_max_weeks"]
        and (high > rules["age_new_pain_above"] or low < rules["age_new_pain_below"])
    ):
        add(
            "age_over_50_new_pain",
            f"{shown}, pain for {weeks:g} weeks (new)",
            "age_new_pain_above",
            "age_new_pain_below",
            "new_pain_max_weeks",
        )
    if weeks is not None:
        onset = low - weeks / _WEEKS_PER_YEAR  # the earliest the pain can have started
        years = weeks / _WEEKS_PER_YEAR
        basis = f"onset at about age {onset:.0f} ({shown}, pain for {years:.1f} years)"
        if onset < rules["axspa_onset_age_below"] and weeks > rules["axspa_duration_weeks_above"]:
            add(
                "onset_before_45_over_3_months",
                basis,
                "axspa_onset_age_below",
                "axspa_duration_weeks_above",
            )
        if onset < rules["axspa_early_onset_age_below"]:
            add("onset_before_35", basis, "axspa_early_onset_age_below")
    return tuple(out)


def screen_answers(score: Any, items: Any = None) -> dict[str, bool | None]:
    """Return the answers of a scored red-flag screen: positive, no, or unanswered.

    ``items``: the rule set's items (default: the bundled red-flag rules).
    """
    if items is None:
        from spinestab.clinical import load_red_flag_rules

        items = load_red_flag_rules().items
    positive = set(score.details.get("positive", ()))
    missing = set(score.missing)
    return {
        item: (True if item in positive else None if item in missing else False) for item in items
    }


def apply_derived_items(
    screen: Any, derived: tuple[DerivedItem, ...], *, date: dt.date | None = None
) -> tuple[Any, tuple[DerivedItem, ...]]:
    """Screen again with the derived items positive (the safer answer).

    Parameters
    ----------
    screen : Score or None
        The latest red-flag screen (``spinestab.clinical`` Score), or None when there is
        none: the derived items alone are screened then (unanswered items stay unanswered).
    derived : tuple of DerivedItem
        From :func:`derive_red_flag_items`.
    date : datetime.date, optional
        Date of the screen made when there is none.

    Returns
    -------
    screen : Score or None
        The screen with the derived items counted (the input when nothing changed).
    applied : tuple of DerivedItem
        The derived items that changed an answer (the form said no, or was silent): a
        clinician confirms them.

    """
    from spinestab.clinical import load_red_flag_rules, screen_red_flags

    items = load_red_flag_rules().items
    answers = screen_answers(screen, items) if screen is not None else dict.fromkeys(items, None)
    applied = tuple(d for d in derived if answers.get(d.item) is not True)
    if not applied:
        return screen, ()
    for d in applied:
        answers[d.item] = True
    when = screen.date if screen is not None else date
    return screen_red_flags(answers, date=when), applied
