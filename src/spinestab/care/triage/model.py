"""The types of the triage: tracks, actions, one rule step's result, and the decision.

:mod:`spinestab.care.triage` runs the rule steps of :mod:`spinestab.care.triage_steps`
over these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from spinestab.care.config import CareRules, Reason
from spinestab.care.profile import StabilityProfile

__all__ = ["TRACKS", "Action", "Decision", "StepResult", "Track", "Triage", "TriageInput"]

Track = Literal["S0", "S1", "S2", "F1", "F2", "F3"]

TRACKS: dict[str, str] = {
    "S0": "Red flag: escalate, no exercise programme",
    "S1": "Structural: surgical consultation",
    "S2": "Structural: monitored conservative care",
    "F1": "Functional: motor control -> endurance -> strength",
    "F2": "Functional, psychosocially driven: F1 plus psychologically informed care",
    "F3": "Low risk: advice, reassurance, self-management",
}

_FHIR_PRIORITY = {"emergency": "stat", "same_day": "asap", "urgent": "urgent", "routine": "routine"}


@dataclass(frozen=True)
class Action:
    """One thing to do, for clinician and patient.

    Attributes
    ----------
    code : str
        Machine code (also the key of the patient-facing message, ``action.<code>``).
    kind : str
        ``escalation``, ``referral``, ``programme``, ``review``, ``screen`` or ``advice``.
    urgency : str
        ``emergency``, ``same_day``, ``urgent`` or ``routine``.
    text : str
        Clinician-facing text (English).
    source, evidence : str
        Source and evidence tag.
    configurable : bool
        True when the rule behind it is [R] or [D].

    """

    code: str
    kind: str
    urgency: str
    text: str
    source: str
    evidence: str
    configurable: bool = False

    @classmethod
    def routine(cls, code: str, kind: str, text: str, source: str, evidence: str) -> Action:
        """Return a routine action, configurable when its evidence tag includes R or D."""
        return cls(code, kind, "routine", text, source, evidence, _configurable(evidence))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (with the FHIR ServiceRequest priority)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "urgency": self.urgency,
            "fhir_priority": _FHIR_PRIORITY.get(self.urgency, "routine"),
            "text": self.text,
            "source": self.source,
            "evidence": self.evidence,
            "configurable": self.configurable,
        }


def _configurable(evidence: str) -> bool:
    return evidence in ("R", "D") or "D" in evidence


@dataclass(frozen=True)
class Triage:
    """The triage decision.

    Attributes
    ----------
    track : {"S0", "S1", "S2", "F1", "F2", "F3"}
    plan_allowed : bool
        False while an emergency or urgent red flag is open (track S0).
    actions : tuple of Action
    reasons : tuple of Reason
        Why the track was chosen (and why others were not), each with its source.
    jurisdiction : {"NICE", "ACP"}
    guideline : dict
        The guideline set in force: options offered and not offered.
    findings : dict
        The structural and functional findings the decision used.
    draft : bool
        True when the red-flag screen is missing: the plan is a draft until it is done.

    """

    track: Track
    plan_allowed: bool
    actions: tuple[Action, ...]
    reasons: tuple[Reason, ...]
    jurisdiction: str
    guideline: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    draft: bool = False
    rules_origin: str = ""

    @property
    def action_codes(self) -> tuple[str, ...]:
        """Codes of all actions, in order."""
        return tuple(a.code for a in self.actions)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """Codes of all reasons, in order."""
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``triage.json``)."""
        configurable = sorted({n for r in self.reasons if r.configurable for n in r.rules})
        return {
            "track": self.track,
            "track_label": TRACKS[self.track],
            "plan_allowed": self.plan_allowed,
            "draft": self.draft,
            "jurisdiction": self.jurisdiction,
            "actions": [a.to_dict() for a in self.actions],
            "reasons": [r.to_dict() for r in self.reasons],
            "configurable_rules_used": configurable,
            "guideline": self.guideline,
            "findings": self.findings,
            "rules_origin": self.rules_origin,
            "note": "Supports decisions; does not diagnose. Rules tagged R or D are "
            "configurable (rules.yaml) and need clinical review.",
        }


@dataclass(frozen=True)
class TriageInput:
    """What every rule step may read: the profile, the rules and the guideline set.

    Attributes
    ----------
    profile : StabilityProfile
    rules : CareRules
    jurisdiction : {"NICE", "ACP"}
    guideline : dict
        :func:`spinestab.care.guideline.guideline_set` for the jurisdiction.

    """

    profile: StabilityProfile
    rules: CareRules
    jurisdiction: str
    guideline: Mapping[str, Any]


@dataclass(frozen=True)
class StepResult:
    """What one rule step adds to the decision.

    Attributes
    ----------
    actions, reasons : tuple
        Appended, in order, to the decision's actions and reasons.
    findings : mapping
        Merged into the decision's findings (``triage.json`` ``findings``).
    track : str or None
        The track, for a step that decides one (the first decided track stands).
    draft : bool
        True makes the plan a draft (something must be confirmed first).
    stop : bool
        True ends the triage here (a red flag that blocks every plan: track S0).

    """

    actions: tuple[Action, ...] = ()
    reasons: tuple[Reason, ...] = ()
    findings: Mapping[str, Any] = field(default_factory=dict)
    track: Track | None = None
    draft: bool = False
    stop: bool = False


@dataclass(frozen=True)
class Decision:
    """The decision so far, as the steps have built it (read-only for a step)."""

    actions: tuple[Action, ...] = ()
    reasons: tuple[Reason, ...] = ()
    findings: Mapping[str, Any] = field(default_factory=dict)
    track: Track | None = None
    draft: bool = False

    def add(self, result: StepResult) -> Decision:
        """Return the decision with one step's result added."""
        return replace(
            self,
            actions=self.actions + result.actions,
            reasons=self.reasons + result.reasons,
            findings={**self.findings, **result.findings},
            track=self.track or result.track,
            draft=self.draft or result.draft,
        )

    def to_triage(self, inp: TriageInput, *, track: Track, plan_allowed: bool) -> Triage:
        """Return the final :class:`Triage`."""
        return Triage(
            track,
            plan_allowed,
            self.actions,
            self.reasons,
            inp.jurisdiction,
            dict(inp.guideline),
            dict(self.findings),
            draft=self.draft,
            rules_origin=inp.rules.origin,
        )
