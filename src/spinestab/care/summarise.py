"""The profile's parts from validated inputs: muscle, movement and clinical summaries.

Pure functions (no file access): :mod:`spinestab.care.io` reads and validates the files,
these functions summarise what was read, :mod:`spinestab.care.folder` puts them together.

- :func:`summarise_muscle`: the multifidus fat fraction and asymmetry over the levels to
  consider (CLINICAL_LOGIC.md §5.9), from the shared muscle-quality rows.
- :func:`summarise_daily`: per-day means over the valid wear days of ``daily.csv``.
- :func:`clinical_state_from_scores`: current, baseline and change per instrument, and the
  red flags of the latest screen.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable
from typing import Any

from spinestab.care.config import CareRules
from spinestab.care.derived_flags import (
    apply_derived_items,
    derive_red_flag_items,
    screen_answers,
)
from spinestab.care.profile import (
    ClinicalState,
    History,
    MovementSummary,
    MuscleFindings,
    RedFlag,
)
from spinestab.clinical import Score, compare_scores
from spinestab.core.levels import level_sort_key
from spinestab.core.results import MuscleQuality, MuscleRow
from spinestab.errors import InputError

__all__ = ["clinical_state_from_scores", "summarise_daily", "summarise_muscle"]


# ------------------------------------------------------------------------------ muscle
def _wanted_levels(symptomatic_levels: Iterable[str]) -> set[str]:
    """Return the symptomatic levels as vertebrae: a segment ``L4-L5`` gives L4 and L5."""
    wanted: set[str] = set()
    for level in symptomatic_levels:
        wanted.update(part.strip().upper() for part in str(level).split("-") if part.strip())
    return wanted


def _fat_method_note(methods: str | None) -> str | None:
    """Say what the fat figure is, from the ``fat_method`` tags of ``spinestab mri``."""
    if not methods:
        return None
    notes = []
    for method in methods.split(", "):
        tag = method.strip().lower()
        if tag.startswith(("dixon", "pdff")):
            notes.append(f"{method}: quantitative MRI fat fraction")
        elif tag.startswith("ct_hu"):
            notes.append(
                f"{method}: share of CT voxels in the fat HU range, not an MRI fat fraction"
            )
        else:
            notes.append(f"{method}: single-contrast MRI threshold estimate, not PDFF")
    return "; ".join(notes) + (
        ""
        if all(n.endswith("quantitative MRI fat fraction") for n in notes)
        # CLINICAL_LOGIC.md §5.9: quantitative MRI (Dixon / PDFF) preferable when available [R]
        else " (CLINICAL_LOGIC.md §5.9 prefers Dixon/PDFF; grade with care)"
    )


def _value(number: float) -> float | None:
    return None if math.isnan(number) else number


def _row_dict(row: MuscleRow) -> dict[str, Any]:
    """Return the fields of a row that the profile shows (``profile.json`` muscle rows)."""
    return {
        "muscle": row.muscle,
        "level": row.level,
        "side": row.side,
        "fat_fraction_pct": _value(row.fat_fraction_pct),
        "fat_method": row.fat_method,
        "asymmetry_pct": _value(row.asymmetry_pct),
        "grade": row.grade or None,
        "grade_scheme": row.grade_scheme or None,
        "flags": row.flags or None,
    }


def _considered(quality: MuscleQuality, muscle: str, wanted: set[str]) -> list[MuscleRow]:
    """Rows of ``muscle`` to consider: the wanted levels, else every level, else ``all``."""
    mine = quality.of_muscle(muscle)
    per_level = [r for r in mine if not r.is_summary]
    chosen = [r for r in per_level if r.level in wanted] or per_level
    return chosen or [r for r in mine if r.level == "all"]


def _fat_summary(chosen: list[MuscleRow]) -> dict[str, Any]:
    fats = [r.fat_fraction_pct for r in chosen if not math.isnan(r.fat_fraction_pct)]
    methods = sorted({r.fat_method for r in chosen if r.fat_method})
    return {
        "fat_pct": max(fats) if fats else None,
        "levels": sorted({r.level for r in chosen}, key=level_sort_key),
        "fat_method": ", ".join(methods) if methods else None,
    }


def summarise_muscle(
    quality: MuscleQuality, *, symptomatic_levels: Iterable[str] = ()
) -> MuscleFindings:
    """Summarise the multifidus (and the other muscles) of a muscle-quality table.

    Parameters
    ----------
    quality : MuscleQuality
        The rows of ``muscle_quality.csv`` (or of an MRI result in memory).
    symptomatic_levels : iterable of str
        Levels to prefer (vertebrae such as ``L4``; a segment ``L4-L5`` counts as L4 and
        L5); when none of them is measured, all levels are used.

    Returns
    -------
    MuscleFindings
        Highest multifidus fat fraction (%) and largest left/right CSA asymmetry over the
        levels considered (per-level rows; the ``all`` summary row only when no per-level
        row exists), plus the same fat summary for every other muscle in the table.

    """
    wanted = _wanted_levels(symptomatic_levels)
    chosen = _considered(quality, "multifidus", wanted)
    fat = _fat_summary(chosen)
    measured = set(quality.levels())
    note = None
    if wanted and not wanted & measured:
        note = (
            f"symptomatic levels {', '.join(sorted(wanted, key=level_sort_key))} not in the table "
            f"(measured: {', '.join(sorted(measured, key=level_sort_key)) or 'whole scan only'}): "
            "all measured levels used"
        )
    # the asymmetry of the levels considered (§5.9: "asymmetric atrophy at the symptomatic
    # level"), not of other levels or the whole-scan row
    asyms = [abs(r.asymmetry_pct) for r in chosen if not math.isnan(r.asymmetry_pct)]
    others = {
        muscle: _fat_summary(_considered(quality, muscle, wanted))
        for muscle in quality.muscles()
        if muscle != "multifidus"
    }
    return MuscleFindings(
        fat_method_note=_fat_method_note(fat["fat_method"]),
        note=note,
        multifidus_fat_pct=fat["fat_pct"],
        multifidus_levels=tuple(fat["levels"]),
        fat_method=fat["fat_method"],
        multifidus_asymmetry_pct=max(asyms) if asyms else None,
        rows=tuple(_row_dict(r) for r in chosen),
        other_muscles=others,
    )


# ------------------------------------------------------------------------------ movement
def summarise_daily(rows: list[dict[str, Any]], *, rules: CareRules) -> MovementSummary:
    """Summarise daily rows over the valid wear days (rule ``valid_wear_day_min``)."""
    min_wear = float(rules["valid_wear_day_min"])
    # the wearable command's own valid_day flag when present, else the wear-time rule
    valid = [
        r
        for r in rows
        if (r["valid_day"] if r.get("valid_day") is not None else (r["wear_min"] or 0) >= min_wear)
    ]

    def mean(col: str) -> float | None:
        vals = [r[col] for r in valid if r[col] is not None]
        return float(statistics.fmean(vals)) if vals else None

    def median(col: str) -> float | None:
        vals = [r[col] for r in valid if r[col] is not None]
        return float(statistics.median(vals)) if vals else None

    # Trunk-only recordings cannot tell sitting from standing: spinestab wearable then puts
    # both into upright_static and writes 0 for sitting and standing. 0 is not "never sat".
    separated = not any(
        (r["upright_static_min"] or 0) > 0
        and not (r["sitting_min"] or 0) > 0
        and not (r["standing_min"] or 0) > 0
        for r in valid
    )
    notes = []
    if not separated:
        notes.append(
            "sitting and standing not separated (trunk-only recording: both are "
            "upright_static); sitting_min and standing_min unknown"
        )
    dates = sorted(r["date"] for r in rows)
    return MovementSummary(
        days=len(rows),
        valid_days=len(valid),
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
        wear_min=mean("wear_min"),
        sitting_min=mean("sitting_min") if separated else None,
        standing_min=mean("standing_min") if separated else None,
        walking_min=mean("walking_min"),
        upright_static_min=mean("upright_static_min"),
        steps=median("steps"),
        static_bouts_over_30min=mean("static_bouts_over_30min"),
        longest_static_bout_min=median("longest_static_bout_min"),
        breaks=mean("breaks"),
        forward_ge20_min=mean("forward_ge20_min"),
        forward_ge60_min=mean("forward_ge60_min"),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------ clinical
def _date_key(score: Score) -> dt.date:
    """Sort key: the form's date (an undated score first)."""
    return score.date or dt.date.min


def _answered_any(screen: Score) -> bool:
    """Whether a red-flag screen answered at least one item."""
    return screen.max is None or len(screen.missing) < screen.max


def clinical_state_from_scores(scores: Iterable[Score], history: History) -> ClinicalState:
    """Combine scored questionnaires (``spinestab.clinical.Score``) and the history.

    The latest complete score per instrument is the current value; the earliest complete
    one is the baseline; the MIC status between them comes from
    :func:`spinestab.clinical.compare_scores`. Red flags come from the latest screen.
    """
    by_instrument: dict[str, list[Score]] = {}
    for score in scores:
        by_instrument.setdefault(score.instrument, []).append(score)
    for instrument, items in by_instrument.items():
        items.sort(key=_date_key)
        dates = [s.date for s in items]
        if len(set(dates)) != len(dates):
            raise InputError(
                "two forms of the same instrument on the same date",
                item=instrument,
                value=str(dates),
                expected="one form per instrument and date",
            )
    current: dict[str, Score] = {}
    baseline: dict[str, float] = {}
    change: dict[str, dict[str, Any]] = {}
    for instrument, items in by_instrument.items():
        complete = [s for s in items if s.complete]
        if not complete:
            continue
        current[instrument] = complete[-1]
        if instrument in ("odi", "rmdq", "nrs", "psfs"):
            first = complete[0]
            baseline[instrument] = first.value
            if len(complete) > 1:
                change[instrument] = compare_scores(first, complete[-1]).to_dict()
    red = by_instrument.get("redflags", [])
    latest_screen = red[-1] if red else None
    dates = [s.date for items in by_instrument.values() for s in items]
    # red-flag items the history makes positive count as positive (the safer answer, §3)
    screened, derived = apply_derived_items(
        latest_screen,
        derive_red_flag_items(
            history,
            age_uncertainty_years=history.age_uncertainty_years,
            form=screen_answers(latest_screen) if latest_screen is not None else None,
        ),
        date=max((d for d in dates if d is not None), default=None),
    )
    flags = tuple(
        RedFlag(
            a.condition,
            a.urgency,
            a.action,
            tuple(a.items),
            a.source,
            a.evidence,
            bool(a.blocks_exercise),
        )
        for a in (screened.actions if screened else ())
    )
    sbst = current.get("startback")
    nrs = current.get("nrs")
    form_dates = [d for items in by_instrument.values() for s in items if (d := s.date) is not None]
    return ClinicalState(
        date=max(form_dates) if form_dates else None,
        startback_risk=sbst.risk if sbst else None,
        startback_total=sbst.value if sbst else None,
        startback_psychosocial=sbst.psychosocial if sbst else None,
        odi_pct=current["odi"].value if "odi" in current else None,
        rmdq=current["rmdq"].value if "rmdq" in current else None,
        nrs=nrs.value if nrs else None,
        leg_pain_nrs=(
            float(nrs.details["leg_pain"]) if nrs and "leg_pain" in nrs.details else None
        ),
        psfs=current["psfs"].value if "psfs" in current else None,
        # a screen that answers no item (an empty form) is no screen: the plan stays a draft
        red_flag_screen=latest_screen is not None and _answered_any(latest_screen),
        red_flag_screen_complete=bool(latest_screen and latest_screen.complete),
        red_flags=flags,
        baseline=baseline,
        change=change,
        scores=tuple(s for items in by_instrument.values() for s in items),
        history=history,
        derived_red_flag_items=derived,
    )
