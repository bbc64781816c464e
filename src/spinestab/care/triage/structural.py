"""Triage step 3 (CLINICAL_LOGIC.md §4, §8 step 3): the structural screen, only with imaging.

S1 (surgical consultation) needs the structural criterion (high grade, progression, or
dynamic instability with concordant symptoms) and failed active care or a neurological
deficit; other structural findings are S2 (monitored conservative care). Degenerative
findings, resting-film criteria and multifidus fat never make a structural track.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinestab.care.config import CareRules, Reason
from spinestab.care.profile import History, InstabilityFindings, LevelFinding
from spinestab.care.triage.facts import HIERARCHY_SOURCE, CareResponse, care_response_facts
from spinestab.care.triage.model import Decision, StepResult, Track, TriageInput

__all__ = ["care_response", "muscle_fat_not_structural", "resting_film", "structural_screen"]


def care_response(inp: TriageInput, so_far: Decision) -> StepResult:
    """Record the active care so far and its response (the structural screen uses them)."""
    h = inp.profile.clinical.history
    resp = care_response_facts(inp.profile, inp.rules)
    return StepResult(
        findings={
            "active_care_weeks": resp.weeks,
            "active_care_weeks_from": h.source_of("active_care_weeks"),
            "adherence_pct": h.adherence_pct,
            "adherence_from": h.source_of("adherence_pct"),
            "previous_response": resp.status,
            "previous_response_from": resp.status_from,
            "failed_active_care": resp.failed,
            "neuro_deficit": h.neuro_deficit,
            "concordant_symptoms": h.concordant_symptoms,
        }
    )


def _slip_present(level: LevelFinding, rules: CareRules) -> bool:
    """Whether a segment has a slip: the producer's grade 0 ("no listhesis") always wins.

    ``spinestab instability`` gives grade 0 below its listhesis floor (3 mm, or 8 % when
    magnification is unknown), so a 3.5 mm slip on an uncorrected film can be grade 0: the
    mm value alone must not overrule it. Without a grade the ``slip_present_min_mm`` rule
    decides.
    """
    if level.meyerding_grade == 0:
        return False
    min_mm = float(rules["slip_present_min_mm"])
    if level.slip_mm is not None:
        return abs(level.slip_mm) >= min_mm
    return (level.meyerding_grade or 0) >= 1


def _slip_label(level: LevelFinding) -> str:
    """Name a slip with its direction and grade, e.g. ``L4-L5 (anterolisthesis, grade 2)``."""
    what = [level.listhesis] if level.listhesis not in (None, "none") else []
    if level.meyerding_grade is not None:
        what.append(f"grade {level.meyerding_grade}")
    return f"{level.level} ({', '.join(what)})" if what else level.level


@dataclass(frozen=True)
class _Structural:
    """The structural findings of the instability measures (§4, §8 step 3)."""

    slips: tuple[LevelFinding, ...]
    grade: int
    high_grade: bool
    progression: bool
    unstable: tuple[str, ...]
    borderline: tuple[str, ...]
    resting: tuple[str, ...]

    @property
    def finding(self) -> bool:
        """Whether there is a structural finding at all."""
        return bool(
            self.slips or self.unstable or self.borderline or self.high_grade or self.progression
        )

    def dynamic(self) -> str:
        """Return the dynamic findings in words."""
        return ", ".join(self.unstable + self.borderline) or "none"

    def slip_text(self) -> str:
        """Return the slips in words."""
        return ", ".join(map(_slip_label, self.slips)) or "-"


def _structural(inst: InstabilityFindings, h: History, rules: CareRules) -> _Structural:
    return _Structural(
        slips=tuple(lvl for lvl in inst.levels if _slip_present(lvl, rules)),
        grade=inst.max_grade or 0,
        high_grade=(inst.max_grade or 0) >= int(rules["high_grade_meyerding"]),
        progression=bool(h.slip_progression),
        unstable=tuple(lvl.level for lvl in inst.levels if lvl.verdict == "unstable"),
        borderline=tuple(lvl.level for lvl in inst.levels if lvl.verdict == "borderline"),
        resting=tuple(lvl.level for lvl in inst.levels if lvl.static_verdict == "unstable"),
    )


def _structural_findings(s: _Structural, inst: InstabilityFindings) -> dict[str, Any]:
    return {
        "slip_levels": [lvl.level for lvl in s.slips],
        "slips": [
            {
                "level": lvl.level,
                "listhesis": lvl.listhesis,
                "meyerding_grade": lvl.meyerding_grade,
                "slip_mm": lvl.slip_mm,
                "slip_pct": lvl.slip_pct,
            }
            for lvl in s.slips
        ],
        "max_meyerding_grade": inst.max_grade,
        "high_grade": s.high_grade,
        "slip_progression": s.progression,
        "unstable_levels": list(s.unstable),
        "borderline_levels": list(s.borderline),
        "resting_film_unstable_levels": list(s.resting),
        "structural_finding": s.finding,
    }


def _s1_criterion(s: _Structural, h: History) -> bool:
    """§8 step 3 S1 criterion: high grade, progression, or dynamic instability + concordance."""
    return s.high_grade or s.progression or bool(s.unstable and h.concordant_symptoms)


def _s1_reason(s: _Structural, h: History, resp: CareResponse, rules: CareRules) -> Reason:
    what = []
    if s.high_grade:
        what.append(f"Meyerding grade {s.grade} (high grade)")
    if s.progression:
        what.append("documented slip progression")
    if s.unstable and h.concordant_symptoms:
        what.append(f"dynamic instability at {', '.join(s.unstable)} with concordant symptoms")
    if h.neuro_deficit:
        why = "a neurological deficit"
    elif resp.failed:
        why = f"{resp.weeks:g} weeks of failed active care"
    elif resp.undocumented_weeks:
        why = (
            f"{resp.weeks:g} weeks of active care whose response is not documented "
            "(§8 step 3 counts the weeks; rule unknown_response_counts_as_failed)"
        )
    else:
        why = "no waiting for a high-grade or progressing slip (§4.4 option)"
    return rules.reason(
        "s1_structural",
        f"S1: {'; '.join(what)}, with {why}.",
        "high_grade_meyerding",
        "failed_active_care_weeks",
        "s1_structural_requires_waiting",
        *(("unknown_response_counts_as_failed",) if resp.undocumented_weeks else ()),
        source=HIERARCHY_SOURCE,
        evidence="D",
    )


def _s2_pending(s: _Structural, h: History, resp: CareResponse, rules: CareRules) -> list[str]:
    """Why an S2 finding is not (yet) S1, in words."""
    pending = []
    if _s1_criterion(s, h) and resp.status == "responder":
        pending.append(
            "the S1 structural criterion is met but active care reached the MIC "
            f"(responder, {resp.status_from}) and there is no neurological deficit"
        )
    elif _s1_criterion(s, h):
        pending.append(
            "the S1 structural criterion is met but active care has not "
            f"yet failed for {rules['failed_active_care_weeks']} weeks "
            "and there is no neurological deficit"
        )
    if h.concordant_symptoms is None:
        pending.append("symptom concordance is unknown")
    elif not h.concordant_symptoms:
        pending.append("symptoms are not concordant with the finding")
    if not resp.failed:
        pending.append(
            f"active care so far: {resp.weeks if resp.weeks is not None else '?'} "
            f"weeks, response {resp.status or 'unknown'}"
        )
    return pending


def _structural_track(
    s: _Structural, h: History, resp: CareResponse, rules: CareRules
) -> tuple[Track | None, Reason]:
    """Apply §8 step 3 (and the §4.5 S2 escalation) to the structural findings."""
    no_wait = (not rules["s1_structural_requires_waiting"]) and (s.high_grade or s.progression)
    if _s1_criterion(s, h) and (
        resp.failed or resp.undocumented_weeks or h.neuro_deficit or no_wait
    ):
        return "S1", _s1_reason(s, h, resp, rules)
    if s.finding and h.neuro_deficit:
        return "S1", rules.reason(
            "s1_neuro_deficit",
            "S1: structural finding with a neurological deficit (§4.5 S1: 'or any neuro deficit').",
            "slip_present_min_mm",
            source=HIERARCHY_SOURCE,
            evidence="D",
        )
    escalate = rules["s2_escalation_concordant_after_failed_care"]
    if s.finding and h.concordant_symptoms and resp.failed and escalate:
        return "S1", rules.reason(
            "s2_escalation_failed_care",
            f"S1: structural finding (slip at {s.slip_text()}; dynamic {s.dynamic()}) with "
            f"concordant symptoms and {resp.weeks:g} weeks of active care without reaching "
            f"the MIC ({resp.status_from}): §4.5 S2 says refer.",
            "s2_escalation_concordant_after_failed_care",
            "failed_active_care_weeks",
            "slip_present_min_mm",
            source=HIERARCHY_SOURCE,
            evidence="D",
        )
    if s.finding:
        return "S2", rules.reason(
            "s2_structural",
            f"S2: structural finding (slip at {s.slip_text()}, grade {s.grade}; dynamic "
            f"{s.dynamic()}) without S1 criteria: "
            + "; ".join(_s2_pending(s, h, resp, rules))
            + ". Reassess at 12 weeks.",
            "slip_present_min_mm",
            "failed_active_care_weeks",
            source=HIERARCHY_SOURCE,
            evidence="D",
        )
    return None, rules.reason(
        "imaging_not_structural",
        "Imaging measures present but without a slip, dynamic instability or "
        "progression: degenerative findings do not change the track (§1.3, §8).",
        "slip_present_min_mm",
        source=HIERARCHY_SOURCE,
        evidence="D",
    )


def structural_screen(inp: TriageInput, so_far: Decision) -> StepResult:
    """§8 step 3: S1 (surgical consultation) or S2 (monitored care), only with imaging."""
    inst = inp.profile.instability
    if inst is None or not inst.levels:  # no lumbar segment (cervical ones are apart, §4.7)
        return StepResult()
    h = inp.profile.clinical.history
    s = _structural(inst, h, inp.rules)
    track, reason = _structural_track(s, h, care_response_facts(inp.profile, inp.rules), inp.rules)
    return StepResult(
        reasons=(reason,), findings={"structural": _structural_findings(s, inst)}, track=track
    )


def resting_film(inp: TriageInput, so_far: Decision) -> StepResult:
    """Resting-film instability criteria are shown, never counted as dynamic instability."""
    inst = inp.profile.instability
    resting = [lvl.level for lvl in inst.levels if lvl.static_verdict == "unstable"] if inst else []
    if not resting:
        return StepResult()
    reason = inp.rules.reason(
        "resting_film_criteria",
        f"Resting-film instability criteria met at {', '.join(resting)} "
        "(instability.json static_verdict): shown, not counted as dynamic "
        "instability; the structural tracks use slips and flexion-extension "
        "findings (§8 step 3).",
        source=HIERARCHY_SOURCE,
        evidence="D",
    )
    return StepResult(reasons=(reason,))


def muscle_fat_not_structural(inp: TriageInput, so_far: Decision) -> StepResult:
    """§5.9: multifidus fat shapes the plan's emphasis and dose, never the track."""
    muscle = inp.profile.muscle
    if muscle is None or muscle.multifidus_fat_pct is None:
        return StepResult()
    reason = inp.rules.reason(
        "fi_not_structural",
        f"Multifidus fat {muscle.multifidus_fat_pct:.0f} % modifies the plan's "
        "emphasis and dose only; it never makes a structural finding (§5.9).",
        "fi_grade_cutoffs_pct",
        source="CLINICAL_LOGIC.md §5.9",
        evidence="D",
    )
    return StepResult(reasons=(reason,))
