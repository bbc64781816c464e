"""Typed results of scoring a questionnaire."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["RedFlagAction", "Score", "Urgency"]

Urgency = Literal["emergency", "same_day", "urgent", "routine"]

#: Order of urgency, most urgent first.
URGENCY_ORDER: tuple[Urgency, ...] = ("emergency", "same_day", "urgent", "routine")

#: FHIR ``ServiceRequest.priority`` for each urgency (CLINICAL_LOGIC.md §3, rule engine) [D].
FHIR_PRIORITY: dict[str, str] = {
    "emergency": "stat",
    "same_day": "asap",
    "urgent": "urgent",
    "routine": "routine",
}


@dataclass(frozen=True)
class RedFlagAction:
    """One action that a red-flag screen calls for.

    Attributes
    ----------
    condition : str
        The condition the answers screen for, e.g. ``"cauda_equina"``.
    label : str
        Human-readable name of the condition.
    urgency : {"emergency", "same_day", "urgent", "routine"}
        How soon the patient must be seen.
    action : str
        What the clinician (and patient) must do, in plain words.
    items : tuple of str
        The answers that triggered the action.
    source : str
        Where the rule comes from.
    evidence : str
        Evidence tag from CLINICAL_LOGIC.md: ``V`` verified, ``R`` recalled, ``D`` design.
    blocks_exercise : bool
        Whether the exercise plan is paused while this flag is open.

    """

    condition: str
    label: str
    urgency: Urgency
    action: str
    items: tuple[str, ...]
    source: str
    evidence: str
    blocks_exercise: bool

    @property
    def fhir_priority(self) -> str:
        """FHIR ``ServiceRequest.priority`` for this urgency."""
        return FHIR_PRIORITY[self.urgency]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["items"] = list(self.items)
        data["fhir_priority"] = self.fhir_priority
        return data


@dataclass(frozen=True)
class Score:
    """The result of scoring one questionnaire.

    ``score`` is ``None`` whenever ``complete`` is False: an incomplete form never yields a
    guessed score. ``missing`` names the items that are missing.

    Attributes
    ----------
    instrument : str
        ``startback``, ``odi``, ``rmdq``, ``nrs``, ``psfs`` or ``redflags``.
    date : datetime.date or None
        Date of the assessment.
    score : float or None
        Total score (STarT Back total, ODI raw section sum, RMDQ count, NRS, PSFS mean,
        number of positive red-flag answers).
    max : float or None
        Highest possible score for the answered items.
    complete : bool
        Whether enough items were answered for a valid score.
    missing : tuple of str
        Items not answered.
    risk, psychosocial : STarT Back risk group and psychosocial subscale.
    percent, band : ODI percentage and interpretation band.
    actions : tuple of RedFlagAction
        Red-flag actions, most urgent first.
    notes : tuple of str
        Remarks on how the score was reached (double answers, skipped sections).
    source : str
        The scoring rule's source.

    """

    instrument: str
    date: dt.date | None
    score: float | None
    max: float | None
    complete: bool
    missing: tuple[str, ...] = ()
    risk: str | None = None
    psychosocial: int | None = None
    percent: float | None = None
    band: str | None = None
    actions: tuple[RedFlagAction, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The form's main number: the ODI percentage, else the score.

        Raises
        ------
        ValueError
            For an incomplete form, which has no score.

        """
        number = self.percent if self.instrument == "odi" else self.score
        if not self.complete or number is None:
            raise ValueError(f"an incomplete {self.instrument} form has no score")
        return float(number)

    @property
    def highest_urgency(self) -> str | None:
        """The most urgent red-flag action, or None."""
        return self.actions[0].urgency if self.actions else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with every field."""
        return {
            "instrument": self.instrument,
            "date": self.date.isoformat() if self.date else None,
            "score": self.score,
            "max": self.max,
            "complete": self.complete,
            "missing": list(self.missing),
            "risk": self.risk,
            "psychosocial": self.psychosocial,
            "percent": self.percent,
            "band": self.band,
            "actions": [action.to_dict() for action in self.actions],
            "notes": list(self.notes),
            "source": self.source,
            "details": self.details,
        }
