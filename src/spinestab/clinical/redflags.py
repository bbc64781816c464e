"""Red-flag screen: answers -> conditions screened -> actions with urgency.

The rules are data (``data/redflags.yaml``, from CLINICAL_LOGIC.md §3 and §8 step 1), so a
clinic can review and replace them. Red flags always win: a positive answer is reported even
when the form is otherwise incomplete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.clinical.result import URGENCY_ORDER, RedFlagAction, Score, Urgency
from spinestab.core.safe_load import load_yaml, parse_yaml
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["RedFlagRules", "load_red_flag_rules", "screen_red_flags"]


@dataclass(frozen=True)
class _Rule:
    clauses: tuple[Mapping[str, Any], ...]
    urgency: Urgency
    evidence: str
    action: str
    blocks_exercise: bool


@dataclass(frozen=True)
class _Condition:
    key: str
    label: str
    source: str
    rules: tuple[_Rule, ...]


@dataclass(frozen=True)
class RedFlagRules:
    """A parsed red-flag rule set: the items and, per condition, rules in order."""

    items: Mapping[str, str]
    conditions: tuple[_Condition, ...]
    origin: str


def _clause_items(clause: Mapping[str, Any]) -> list[str]:
    if "any" in clause:
        return list(clause["any"])
    if "all" in clause:
        return list(clause["all"])
    return list(clause["of"])


def _parse_rules(raw: Mapping[str, Any], origin: str) -> RedFlagRules:
    items = dict(raw["items"])
    conditions = []
    for key, spec in raw["conditions"].items():
        rules = []
        for rule in spec["rules"]:
            urgency: Urgency = check_choice(
                key,
                rule["urgency"],
                URGENCY_ORDER,
                source=origin,
                message="unknown urgency",
                expected=", ".join(URGENCY_ORDER),
            )
            for clause in rule["when"]:
                unknown = [i for i in _clause_items(clause) if i not in items]
                if unknown:
                    raise InputError(
                        "rule names an item that is not defined",
                        source=origin,
                        item=key,
                        value=unknown[0],
                    )
            rules.append(
                _Rule(
                    tuple(rule["when"]),
                    urgency,
                    str(rule["evidence"]),
                    " ".join(str(rule["action"]).split()),
                    bool(rule["blocks_exercise"]),
                )
            )
        conditions.append(
            _Condition(key, spec["label"], " ".join(spec["source"].split()), tuple(rules))
        )
    return RedFlagRules(items, tuple(conditions), origin)


@cache
def _default_rules() -> RedFlagRules:
    text = resources.files("spinestab.clinical").joinpath("data/redflags.yaml").read_text("utf-8")
    return _parse_rules(parse_yaml(text), "spinestab/clinical/data/redflags.yaml")


def load_red_flag_rules(path: str | Path | None = None) -> RedFlagRules:
    """Load a red-flag rule set; the bundled one (CLINICAL_LOGIC.md §3) by default."""
    if path is None:
        return _default_rules()
    return _parse_rules(load_yaml(path), str(path))


def _clause_holds(clause: Mapping[str, Any], positive: set[str]) -> tuple[bool, list[str]]:
    members = _clause_items(clause)
    hits = [item for item in members if item in positive]
    if "any" in clause:
        return bool(hits), hits
    if "all" in clause:
        return len(hits) == len(members), hits
    if "at_least" in clause:
        return len(hits) >= int(clause["at_least"]), hits
    return len(hits) == int(clause["exactly"]), hits


def _evaluate(rules: RedFlagRules, positive: set[str]) -> list[RedFlagAction]:
    actions = []
    for condition in rules.conditions:
        for rule in condition.rules:
            results = [_clause_holds(clause, positive) for clause in rule.clauses]
            if all(ok for ok, _ in results):
                triggered = tuple(dict.fromkeys(i for _, hits in results for i in hits))
                actions.append(
                    RedFlagAction(
                        condition=condition.key,
                        label=condition.label,
                        urgency=rule.urgency,
                        action=rule.action,
                        items=triggered,
                        source=condition.source,
                        evidence=rule.evidence,
                        blocks_exercise=rule.blocks_exercise,
                    )
                )
                break
    return sorted(actions, key=lambda a: URGENCY_ORDER.index(a.urgency))


def screen_red_flags(
    answers: Mapping[str, Any] | Sequence[str],
    *,
    date: dt.date | None = None,
    rules: RedFlagRules | None = None,
) -> Score:
    """Screen red-flag answers and return the actions they call for.

    Parameters
    ----------
    answers : mapping or sequence
        ``{item: true | false | null}`` for the items of the rule set, or the list of items
        answered "yes" (all others counted as answered "no"). An empty list answers no
        item (the screen is incomplete): record "no" answers as ``{item: false}``.
    date : datetime.date, optional
        Date of the screen.
    rules : RedFlagRules, optional
        Rule set; the bundled CLINICAL_LOGIC.md §3 rules by default.

    Returns
    -------
    Score
        ``score`` is the number of positive answers, ``actions`` the actions (most urgent
        first). ``complete`` is False when items are unanswered, but positive answers are
        always acted on.

    """
    rules = rules or load_red_flag_rules()
    if isinstance(answers, Mapping):
        mapping = dict(answers)
    elif isinstance(answers, list | tuple) and not answers:
        # an empty list answers nothing: it cannot tell "all no" from "not asked", so every
        # item stays unanswered and the screen is incomplete (never reported complete)
        mapping = dict.fromkeys(rules.items)
    elif isinstance(answers, list | tuple):
        duplicates = {a for a in answers if list(answers).count(a) > 1}
        if duplicates:
            raise InputError(
                "duplicated item", item=str(sorted(duplicates)[0]), expected="each item once"
            )
        # items not listed were answered "no"; unknown items are refused by the loop below
        mapping = dict.fromkeys(rules.items, False) | dict.fromkeys(answers, True)
    else:
        raise InputError(
            "red-flag answers have the wrong shape",
            value=type(answers).__name__,
            expected="an object {item: true/false} or a list of positive items",
        )
    positive: set[str] = set()
    for key, value in mapping.items():
        check_choice(str(key), key, rules.items, message="unknown red-flag item")
        if value is None:
            continue
        if not isinstance(value, bool):
            check_choice(
                str(key),
                value,
                (0, 1),
                message="wrongly typed answer",
                expected="true/false (yes/no)",
            )
        if value:
            positive.add(key)
    missing = tuple(item for item in rules.items if mapping.get(item) is None)
    actions = tuple(_evaluate(rules, positive))
    notes = []
    if missing:
        notes.append(
            "unanswered items: ask them before any plan is started; positive "
            "answers are acted on regardless"
        )
    return Score(
        "redflags",
        date,
        len(positive),
        len(rules.items),
        not missing,
        missing,
        actions=actions,
        notes=tuple(notes),
        source="CLINICAL_LOGIC.md §3 red flags (" + rules.origin + ")",
        details={
            "positive": sorted(positive),
            "blocks_exercise": any(a.blocks_exercise for a in actions),
        },
    )
