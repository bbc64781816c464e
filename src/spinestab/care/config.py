"""Care rules as data: thresholds with their source and evidence tag, overridable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from spinestab.care.rule_values import RuleValues, validate_rule_values
from spinestab.core.safe_load import load_yaml, parse_yaml
from spinestab.core.validation import check_choice
from spinestab.errors import InputError

__all__ = ["CareRules", "Reason", "Rule", "load_rules"]

EVIDENCE_TAGS = ("V", "R", "D")
#: Former rule names still accepted in rule files and overrides: ``{old: new}``.
RENAMED = {"phase_levels": "phase_stages"}


@dataclass(frozen=True)
class Rule:
    """One configurable rule or threshold.

    Attributes
    ----------
    name : str
        Key in ``rules.yaml``.
    value : Any
        The threshold or setting.
    source : str
        Where it comes from (CLINICAL_LOGIC.md section and primary source).
    evidence : {"V", "R", "D"}
        Evidence tag of CLINICAL_LOGIC.md.
    overridden : bool
        True when a user rule file replaced the bundled value.

    """

    name: str
    value: Any
    source: str
    evidence: str
    overridden: bool = False

    @property
    def configurable(self) -> bool:
        """Whether the rule is a recalled [R] or design [D] rule (always configurable)."""
        return self.evidence in ("R", "D")


@dataclass(frozen=True)
class Reason:
    """A reason for a decision, with its source and evidence tag.

    Attributes
    ----------
    code : str
        Stable machine code, e.g. ``"sbst_high"``.
    text : str
        Clinician-facing explanation (English).
    source : str
        Source of the rule that produced it.
    evidence : str
        Evidence tag (``V``, ``R`` or ``D``); several tags are joined with ``/``.
    configurable : bool
        True for [R] and [D] rules: the value can be changed in the rule file.
    rules : tuple of str
        Names of the rules (``rules.yaml`` keys) the reason depends on.

    """

    code: str
    text: str
    source: str
    evidence: str
    configurable: bool = False
    rules: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "code": self.code,
            "text": self.text,
            "source": self.source,
            "evidence": self.evidence,
            "configurable": self.configurable,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class CareRules:
    """The set of care rules in force (bundled defaults plus overrides).

    Attributes
    ----------
    rules : mapping of str to Rule
        Every rule with its value, source and evidence tag.
    origin : str
        The bundled file and any user file or overrides, for messages and outputs.
    values : RuleValues
        The same values, typed and validated (:mod:`spinestab.care.rule_values`):
        ``rules.values.chronic_weeks``.

    """

    rules: Mapping[str, Rule]
    origin: str = "spinestab/care/rules.yaml"
    values: RuleValues = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # validated here, so a CareRules never exists with a value of the wrong type
        parsed = validate_rule_values(
            {name: r.value for name, r in self.rules.items()}, origin=self.origin
        )
        object.__setattr__(self, "values", parsed)

    def __getitem__(self, name: str) -> Any:
        """Return the value of rule ``name``."""
        return self.rule(name).value

    def rule(self, name: str) -> Rule:
        """Return the full :class:`Rule` ``name``."""
        check_choice(name, name, sorted(self.rules), message="unknown care rule")
        return self.rules[name]

    def reason(
        self,
        code: str,
        text: str,
        *names: str,
        source: str | None = None,
        evidence: str | None = None,
    ) -> Reason:
        """Build a :class:`Reason` citing the rules ``names``.

        Parameters
        ----------
        code, text : str
            Machine code and clinician-facing text.
        *names : str
            Rule names whose sources and evidence tags are cited.
        source, evidence : str, optional
            An extra source (and its tag) that is not a rule-file entry.

        """
        sources = [self.rules[n].source for n in names]
        tags = [self.rules[n].evidence for n in names]
        if source:
            sources.insert(0, source)
        if evidence:
            tags.insert(0, evidence)
        tags = list(dict.fromkeys(tags)) or ["D"]
        configurable = any(t in ("R", "D") for t in tags)
        return Reason(
            code,
            text,
            "; ".join(dict.fromkeys(sources)),
            "/".join(tags),
            configurable,
            tuple(names),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return every rule with value, source, tag and whether it was overridden."""
        return {
            name: {
                "value": r.value,
                "source": r.source,
                "evidence": r.evidence,
                "configurable": True,
                "overridden": r.overridden,
            }
            for name, r in self.rules.items()
        }


def _parse(raw: Any, origin: str) -> dict[str, Rule]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules"), Mapping):
        raise InputError(
            "not a care rule file", source=origin, expected="a YAML mapping with a 'rules' mapping"
        )
    parsed: dict[str, Rule] = {}
    for name, spec in raw["rules"].items():
        if not isinstance(spec, Mapping) or "value" not in spec:
            raise InputError(
                "rule without a value",
                source=origin,
                item=str(name),
                expected="{value, source, evidence}",
            )
        evidence = check_choice(
            str(name),
            str(spec.get("evidence", "D")),
            EVIDENCE_TAGS,
            source=origin,
            message="unknown evidence tag",
            expected="V, R or D",
        )
        parsed[str(name)] = Rule(
            str(name), spec["value"], " ".join(str(spec.get("source", origin)).split()), evidence
        )
    return parsed


@cache
def _bundled() -> dict[str, Rule]:
    text = resources.files("spinestab.care").joinpath("rules.yaml").read_text("utf-8")
    return _parse(parse_yaml(text), "spinestab/care/rules.yaml")


def load_rules(
    path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> CareRules:
    """Load the care rules: bundled defaults, then a user file, then explicit overrides.

    Parameters
    ----------
    path : path-like, optional
        A YAML file with the same layout as the bundled ``rules.yaml``; any subset of
        the rules may be given. A value given without a source is cited as the file.
    overrides : mapping, optional
        ``{rule name: value}`` applied last (source: "override").

    Returns
    -------
    CareRules

    """
    rules = dict(_bundled())
    origin = "spinestab/care/rules.yaml"
    if path is not None:
        source = str(path)
        if not Path(path).exists():
            raise InputError("rule file not found", source=source)
        raw = load_yaml(path)  # bounded: size, aliases, nesting, duplicate keys
        for given, rule in _parse(raw, source).items():
            name = RENAMED.get(given, given)
            check_choice(name, name, sorted(rules), source=source, message="unknown care rule")
            rules[name] = Rule(name, rule.value, rule.source, rule.evidence, True)
        origin += f" + {source}"
    for given, value in (overrides or {}).items():
        name = RENAMED.get(given, given)
        check_choice(name, name, sorted(rules), message="unknown care rule")
        base = rules[name]
        rules[name] = Rule(name, value, f"override of: {base.source}", "D", True)
    return CareRules(rules, origin)
