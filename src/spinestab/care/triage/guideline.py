"""The guideline set in force where guidelines disagree (CLINICAL_LOGIC.md §1.1, §1.2, §1.5).

``NICE`` (NG59) or ``ACP`` (2017), chosen by the jurisdiction setting [D]: which options are
never offered, which may be discussed as adjuncts, and notes for the clinician.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ACP_SOURCE", "NICE_SOURCE", "SYNTHESIS_SOURCE", "guideline_set"]

NICE_SOURCE = "NICE NG59 (2016, updated 2020), non-invasive treatment (CLINICAL_LOGIC.md §1.1) [R]"
ACP_SOURCE = "ACP 2017 (Qaseem et al., Ann Intern Med 2017;166:514-30; CLINICAL_LOGIC.md §1.2) [V]"
SYNTHESIS_SOURCE = "CLINICAL_LOGIC.md §1.5 synthesis: passive modalities excluded from the plan [D]"


def guideline_set(jurisdiction: str, *, chronic: bool | None) -> dict[str, Any]:
    """Return the options a guideline set offers and does not offer.

    Parameters
    ----------
    jurisdiction : {"NICE", "ACP"}
        Which guideline applies where the guidelines disagree (§1.2, [D] setting).
    chronic : bool or None
        Pain for more than 12 weeks (ACP definitions); None when unknown.

    Returns
    -------
    dict
        ``name``, ``source``, ``not_offered`` (never in the plan), ``adjunct_options``
        (may be discussed with the clinician, never as the only treatment), ``notes``.

    """
    excluded_always = [
        "tens",
        "ultrasound",
        "interferential_therapy",
        "traction",
        "belts_corsets",
        "foot_orthotics",
        "bed_rest",
    ]
    if jurisdiction == "ACP":
        if chronic is False:
            adjuncts = ["superficial_heat", "massage", "acupuncture", "spinal_manipulation"]
            note = "ACP rec. 1 (acute/subacute): non-drug first; heat (moderate quality)."
        else:
            adjuncts = [
                "multidisciplinary_rehabilitation",
                "acupuncture",
                "mindfulness_based_stress_reduction",
                "tai_chi",
                "yoga",
                "progressive_relaxation",
                "cbt",
                "spinal_manipulation",
            ]
            note = "ACP rec. 2 (chronic): exercise and motor control exercise first-line."
        return {
            "name": "ACP",
            "source": ACP_SOURCE,
            "not_offered": excluded_always,
            "adjunct_options": adjuncts,
            "notes": [
                note,
                "Passive modalities stay out of the plan by product rule ("
                + SYNTHESIS_SOURCE
                + ").",
            ],
        }
    return {
        "name": "NICE",
        "source": NICE_SOURCE,
        "not_offered": [*excluded_always, "rocker_sole_shoes", "acupuncture", "pens"],
        "adjunct_options": [
            "manual_therapy_with_exercise",
            "cbt_with_exercise",
            "group_exercise_programme",
        ],
        "notes": [
            "Manual therapy and psychological therapy only as part of a package that "
            "includes exercise.",
            "Acupuncture: do not offer (NICE NG59); ACP 2017 "
            "recommends it: the jurisdiction setting decides (§1.2 [D]).",
        ],
    }
