"""The rule steps of the triage, in the order of CLINICAL_LOGIC.md §8 (see the package doc)."""

from __future__ import annotations

from spinestab.care.triage.actions import neurostimulation, programme_actions, track_actions
from spinestab.care.triage.deformity import cervical_findings, vertebral_deformity
from spinestab.care.triage.functional import functional_track, movement_control, startback_reason
from spinestab.care.triage.red_flags import (
    derived_red_flag_items,
    earlier_red_flag,
    red_flag_screen,
    red_flags,
    routine_red_flags,
    stratify,
)
from spinestab.care.triage.structural import (
    care_response,
    muscle_fat_not_structural,
    resting_film,
    structural_screen,
)

__all__ = ["TRIAGE_STEPS"]

#: The triage, step by step, in the order of CLINICAL_LOGIC.md §8.
TRIAGE_STEPS = (
    # 1 red flags (§3): items derived from the history first (their confirmation stands
    # also when a flag stops the triage), then every flag's action; a blocking flag: S0
    derived_red_flag_items,
    red_flags,
    vertebral_deformity,
    routine_red_flags,
    red_flag_screen,
    earlier_red_flag,
    # 2 stratify (§2.1)
    stratify,
    # 3 structural screen (§4), only with imaging
    care_response,
    structural_screen,
    cervical_findings,
    resting_film,
    muscle_fat_not_structural,
    # 4 functional track (§4.5, §5)
    movement_control,
    startback_reason,
    functional_track,
    # the actions of the track and of every plan
    track_actions,
    programme_actions,
    # 6 review: neurostimulation assessment (§5.8)
    neurostimulation,
)
