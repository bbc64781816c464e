"""Triage by the stabilization hierarchy (CLINICAL_LOGIC.md §4.5 and §8), as rule steps.

Tracks, checked in this order:

* **S0** red flag: an open emergency / same-day / urgent red flag; its action, no plan.
* **S1** structural, refer: surgical *consultation* (§8 step 3, §4.5).
* **S2** structural, monitored conservative care.
* **F2** STarT Back high risk: F1 plus a psychologically informed approach.
* **F1** functional instability / motor control (movement-control signs, Hicks rule, or
  STarT Back medium risk).
* **F3** STarT Back low risk: advice, reassurance, self-management, home programme.

Every decision carries reasons with source and evidence tag; [R] and [D] rules are marked
configurable (``rules.yaml``). Multifidus fat never makes a structural track (§5.9).

How the triage runs
-------------------
The triage is the ordered list :data:`~spinestab.care.triage.steps.TRIAGE_STEPS`, read
top to bottom like §8, one module per part:

- :mod:`~spinestab.care.triage.red_flags`: red flags, the screen, the risk group (§8 1-2);
- :mod:`~spinestab.care.triage.structural`: the structural screen, S1/S2 (§8 3);
- :mod:`~spinestab.care.triage.functional`: movement control and F1/F2/F3 (§8 4);
- :mod:`~spinestab.care.triage.actions`: the actions of the track and of every plan, and the
  §5.8 neurostimulation review (§8 4, 6).

Each step is a function ``step(inp: TriageInput, so_far: Decision) -> StepResult``:

- ``inp`` holds the profile, the rules and the guideline set; ``so_far`` the decision the
  earlier steps built (its ``track`` once a step decided one);
- the :class:`~spinestab.care.triage.model.StepResult` lists the actions, reasons and
  findings the step adds, a ``track`` if it decides one (the first decided track stands),
  ``draft=True`` if something must be confirmed before the plan starts, and ``stop=True``
  to end the triage (a blocking red flag: track S0, no plan).

The driver :func:`triage` appends the results in order and puts the reason for the track
first. To add a rule (e.g. vertebral deformity findings, red-flag items derived from the
record), write one step function in the module of its part (or a new one) and insert it
in ``TRIAGE_STEPS`` (:mod:`~spinestab.care.triage.steps`) where §8 places it; for one call, pass
``triage(profile, steps=(*TRIAGE_STEPS, my_step))``. Each step can be tested alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from spinestab.care.config import CareRules, load_rules
from spinestab.care.profile import StabilityProfile
from spinestab.care.triage.actions import neurostimulation_assessment
from spinestab.care.triage.facts import HIERARCHY_SOURCE, response_status
from spinestab.care.triage.guideline import guideline_set
from spinestab.care.triage.model import (
    TRACKS,
    Action,
    Decision,
    StepResult,
    Track,
    Triage,
    TriageInput,
)
from spinestab.care.triage.steps import TRIAGE_STEPS
from spinestab.core.validation import check_choice

__all__ = [
    "JURISDICTIONS",
    "TRACKS",
    "TRIAGE_STEPS",
    "Action",
    "Decision",
    "StepResult",
    "Triage",
    "TriageInput",
    "TriageStep",
    "guideline_set",
    "neurostimulation_assessment",
    "response_status",
    "triage",
]

#: One rule step of the triage.
TriageStep = Callable[[TriageInput, Decision], StepResult]

JURISDICTIONS = ("NICE", "ACP")


def triage(
    profile: StabilityProfile,
    *,
    rules: CareRules | None = None,
    jurisdiction: str = "NICE",
    steps: Sequence[TriageStep] = TRIAGE_STEPS,
) -> Triage:
    """Assign the track of the stabilization hierarchy, with actions and reasons.

    Parameters
    ----------
    profile : StabilityProfile
        The patient's profile.
    rules : CareRules, optional
        Thresholds and settings (bundled ``rules.yaml`` by default).
    jurisdiction : {"NICE", "ACP"}
        Guideline set where guidelines disagree.
    steps : sequence of step functions
        The rule steps, in order (default :data:`TRIAGE_STEPS`).

    Returns
    -------
    Triage

    """
    rules = rules or load_rules()
    check_choice(
        "jurisdiction",
        jurisdiction,
        JURISDICTIONS,
        message="unknown jurisdiction",
        expected="NICE or ACP",
    )
    h = profile.clinical.history
    chronic = (
        None if h.pain_duration_weeks is None else h.pain_duration_weeks > rules["chronic_weeks"]
    )
    inp = TriageInput(profile, rules, jurisdiction, guideline_set(jurisdiction, chronic=chronic))
    decision = Decision()
    for step in steps:
        result = step(inp, decision)
        decision = decision.add(result)
        if result.stop:
            return decision.to_triage(inp, track=decision.track or "S0", plan_allowed=False)
    track: Track = decision.track or rules["unknown_risk_track"]
    first = rules.reason(
        f"track_{track}", f"Track {track}: {TRACKS[track]}.", source=HIERARCHY_SOURCE, evidence="D"
    )
    decision = Decision(
        decision.actions, (first, *decision.reasons), decision.findings, track, decision.draft
    )
    return decision.to_triage(inp, track=track, plan_allowed=True)
