"""Per-level instability findings from neutral and/or flexion-extension views.

:func:`assess` combines the views measured by :func:`~spinestab.instability.measures.measure_view`,
computes the dynamic measures (translation, angulation) per motion segment, grades the slip
(Meyerding) and applies a cited threshold set (one per region). Each segment's record is built by
:func:`~spinestab.instability.segments.segment_record`. The result is JSON-ready through
:meth:`InstabilityReport.to_dict` (schema documented in the README, section
"Structural instability").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from spinestab.core.levels import level_index
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.instability.landmarks import LandmarkSet
from spinestab.instability.measures import ViewResult, measure_view
from spinestab.instability.quality import QualityIssue
from spinestab.instability.segments import dynamic_values, geometry_by_view, segment_record
from spinestab.instability.thresholds import ThresholdSet, load_threshold_set, segment_region
from spinestab.instability.verdicts import rounded

__all__ = ["SCHEMA", "InstabilityReport", "assess"]

log = logging.getLogger(__name__)

SCHEMA = "spinestab.instability/1"


DISCLAIMER = (
    "Supports clinical decisions; does not diagnose. No lumbar instability test is validated "
    "[V: Hipp JA et al. 2023, doi 10.21203/rs.3.rs-3659900/v1]; thresholds are study or trial "
    "definitions. Manual landmarking varies by about 1-3 mm and 2-5 deg between observers "
    "[R: CLINICAL_LOGIC.md §4.3]."
)
#: Descriptions of the translation (slip) methods, by id (``CLINICAL_LOGIC.md`` §4.3).


TRANSLATION_METHODS = {
    "corner": (
        "corner: posterior-inferior corner of the upper body projected on the superior "
        "endplate of the lower body, from its posterior-superior corner (CLINICAL_LOGIC.md "
        "§4.3 [D]); + = anterior"
    ),
    "posterior-wall": (
        "posterior-wall: perpendicular distance between the posterior-wall lines of the upper "
        "and lower bodies at the level of the lower superior endplate (Morgan-King / "
        "Boden-Wiesel style, CLINICAL_LOGIC.md §4.3 [R]); for S1 (no inferior corners) the "
        "lower wall is taken perpendicular to its superior endplate; + = anterior"
    ),
}


TRANSLATION_METHOD = TRANSLATION_METHODS["corner"]


@dataclass
class InstabilityReport:
    """Findings of one study: per-level records, per-vertebra geometry, quality, settings."""

    thresholds: ThresholdSet
    views: dict[str, ViewResult]
    levels: list[dict[str, Any]]
    vertebrae: list[dict[str, Any]]
    lordosis: dict[str, Any]
    quality: list[QualityIssue]
    notes: list[str] = field(default_factory=list)
    translation_method: str = "corner"
    cervical_thresholds: ThresholdSet | None = None

    @property
    def magnification_known(self) -> bool:
        """True when every view's lengths are true sizes (CT/MRI or calibrated films)."""
        return all(v.magnification_known for v in self.views.values())

    def record(self, level: str) -> dict[str, Any]:
        """Return the per-level record of a motion segment, e.g. ``"L4-L5"``."""
        for rec in self.levels:
            if rec["level"] == level:
                return rec
        raise KeyError(level)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``instability.json`` content."""
        from spinestab import __version__

        return {
            "schema": SCHEMA,
            "spinestab_version": __version__,
            "disclaimer": DISCLAIMER,
            "thresholds": self.thresholds.to_dict(),
            **(
                {"cervical_thresholds": self.cervical_thresholds.to_dict()}
                if self.cervical_thresholds is not None
                else {}
            ),
            "inputs": {
                name: {
                    "source": v.source,
                    "unit": v.unit,
                    "magnification_known": v.magnification_known,
                    "levels": list(v.coords),
                }
                for name, v in self.views.items()
            },
            "magnification_known": self.magnification_known,
            "preferred_measures": "mm" if self.magnification_known else "pct",
            "translation_method": TRANSLATION_METHODS[self.translation_method],
            "translation_method_id": self.translation_method,
            "notes": self.notes,
            "levels": self.levels,
            "vertebrae": self.vertebrae,
            "lordosis": self.lordosis,
            "quality": [q.to_dict() for q in self.quality],
        }


_LUMBAR = ("L1", "L2", "L3", "L4", "L5", "L6", "S1")


def _all_kyphotic_check(levels: list[dict[str, Any]]) -> list[QualityIssue]:
    """Warn when every lumbar segment of a neutral or extension view is kyphotic.

    Anterior and posterior corners swapped consistently on every body pass the per-body
    order checks (there is no body to compare with) but flip the sign of every slip and
    angle. Lumbar segments are normally lordotic on neutral and extension films, so a view
    in which all of at least two lumbar segments are kyphotic is reported (a warning: flat
    or kyphotic lumbar spines exist). Only the sign is used, no angle threshold [D].
    """
    found = []
    for view in ("neutral", "extension"):
        angles = [
            rec["views"][view]["segmental_angle_deg"]
            for rec in levels
            if rec["upper"] in _LUMBAR
            and rec["lower"] in _LUMBAR
            and view in rec.get("views", {})
            and rec["views"][view].get("segmental_angle_deg") is not None
        ]
        if len(angles) >= 2 and all(a < 0 for a in angles):
            found.append(
                QualityIssue(
                    view,
                    "all",
                    "corner_order",
                    "warning",
                    f"every lumbar segment is kyphotic on the {view} view "
                    f"({', '.join(f'{a:.1f}' for a in angles)} deg): lumbar segments are "
                    "normally lordotic, so the anterior and posterior corners may be swapped "
                    "on every body (which also flips the sign of every slip). Check the "
                    "corner names.",
                )
            )
    return found


def _check_inputs(
    views: dict[str, LandmarkSet | None], *, translation_method: str
) -> dict[str, LandmarkSet]:
    """Return the views given under their names; a dynamic study needs both films."""
    flexion, extension = views["flexion"], views["extension"]
    if (flexion is None) != (extension is None):
        given = "flexion" if flexion is not None else "extension"
        raise InputError(
            "a dynamic study needs both flexion and extension views",
            item=given,
            expected="both --flexion and --extension",
        )
    if views["neutral"] is None and flexion is None:
        raise InputError(
            "no landmarks given",
            item="views",
            expected="a neutral view, a flexion + extension pair, or both",
        )
    for name, ls in views.items():
        if ls is not None and ls.view != name:
            raise InputError(
                f"the {ls.view} view was given as {name}",
                source=ls.source,
                item="view",
                value=ls.view,
                expected=name,
            )
    check_choice(
        "--translation-method",
        translation_method,
        TRANSLATION_METHODS,
        message="unknown translation method",
        expected=" or ".join(TRANSLATION_METHODS),
    )
    return {name: ls for name, ls in views.items() if ls is not None}


def _study_notes(
    views: dict[str, ViewResult], tsets: list[ThresholdSet], *, dynamic: bool
) -> list[str]:
    """Return notes on magnification, pixels and the criteria the threshold sets hold."""
    notes: list[str] = []
    if not all(v.magnification_known for v in views.values()):
        notes.append(
            "Radiographic magnification is unknown: % measures (slip %, translation %) are "
            "preferred because they are ratios of two lengths on the same film; mm values are "
            "not corrected for magnification, and mm criteria that have a % twin are not applied."
        )
    if any(v.unit == "px" for v in views.values()):
        notes.append(
            "At least one view is in pixels without a pixel spacing: mm measures are not "
            "available there; % measures and angles assume square pixels."
        )
    for tset in tsets:
        if dynamic and not any(r.dynamic for r in tset.rules):
            notes.append(f"Threshold set {tset.name} has no flexion-extension criteria.")
        if "neutral" in views and all(r.dynamic for r in tset.rules):
            notes.append(
                f"Threshold set {tset.name} has no resting-film criteria: the neutral view gives "
                "measures and the Meyerding grade, not a verdict."
            )
    if not dynamic:
        notes.append("No flexion-extension pair: dynamic measures and verdicts not available.")
    return notes


def _segment_names(views: dict[str, ViewResult], given: dict[str, LandmarkSet]) -> list[str]:
    names = sorted(
        {n for v in views.values() for n in v.segments},
        key=lambda n: level_index(n.split("-")[0]),
    )
    if not names:
        raise InputError(
            "no motion segment to measure",
            source=", ".join(v.source for v in views.values()),
            item="levels",
            value={name: list(ls.vertebrae) for name, ls in given.items()},
            expected="two adjacent levels (e.g. L4 and L5) in at least one view "
            f"({ {name: v.source for name, v in views.items()} })",
        )
    return names


def _view_issues(views: dict[str, ViewResult]) -> list[QualityIssue]:
    issues = [i for v in views.values() for i in v.issues]
    if "flexion" in views and views["flexion"].unit != views["extension"].unit:
        issues.append(
            QualityIssue(
                "flexion/extension",
                "all",
                "mixed_units",
                "warning",
                f"flexion is in {views['flexion'].unit} and extension in "
                f"{views['extension'].unit} (no pixel spacing for one of them): translation "
                "is given in % only.",
            )
        )
    return issues


def _vertebra_rows(views: dict[str, ViewResult]) -> list[dict[str, Any]]:
    return [
        {
            "level": lv,
            "view": vn,
            "superior_endplate_depth_mm": rounded(v.mm(g.superior_depth)),
            "inferior_endplate_depth_mm": rounded(v.mm(g.inferior_depth)),
            "anterior_height_mm": rounded(v.mm(g.anterior_height)),
            "posterior_height_mm": rounded(v.mm(g.posterior_height)),
            "wedge_deg": rounded(g.wedge_deg),
        }
        for vn, v in views.items()
        for lv, g in v.vertebrae.items()
    ]


def _cervical_set(
    cervical: ThresholdSet | str | None, lumbar: ThresholdSet, names: list[str]
) -> ThresholdSet | None:
    """Return the cervical set if a cervical segment is present (bundled default if not given)."""
    if not any(segment_region(n) == "cervical" for n in names):
        return None
    if isinstance(cervical, ThresholdSet):
        if cervical.region != "cervical":
            raise InputError(
                f"threshold set {cervical.name} judges {cervical.region} segments",
                item="--cervical-thresholds",
                value=cervical.name,
                expected="a cervical set such as white-panjabi-cervical",
            )
        return cervical
    # the same measurement-margin setting as the lumbar set (--no-margin switches both off)
    return load_threshold_set(cervical, region="cervical", margin=lumbar.margin is not None)


def assess(
    *,
    neutral: LandmarkSet | None = None,
    flexion: LandmarkSet | None = None,
    extension: LandmarkSet | None = None,
    thresholds: ThresholdSet | str | None = None,
    translation_method: str = "corner",
    cervical_thresholds: ThresholdSet | str | None = None,
) -> InstabilityReport:
    """Measure and judge every motion segment.

    Parameters
    ----------
    neutral : LandmarkSet, optional
        Neutral (resting) view: slip, Meyerding grade, disc heights, angles, lordosis and
        resting-film criteria.
    flexion, extension : LandmarkSet, optional
        The dynamic pair; both or neither. Translation (``slip_flexion - slip_extension``)
        and angulation (``angle_extension - angle_flexion``, the segment's sagittal ROM).
    thresholds : ThresholdSet or str, optional
        A loaded set or a set name for the lumbar region (every segment without a cervical
        vertebra); default: the bundled default (``white-panjabi``).
    translation_method : {"corner", "posterior-wall"}
        How slip and translation are measured (``CLINICAL_LOGIC.md`` §4.3): from the upper
        posterior-inferior corner along the lower endplate (default), or between the
        posterior-wall lines (Morgan-King / Boden-Wiesel style [R]). Named in the output.
    cervical_thresholds : ThresholdSet or str, optional
        The set for C2-C3 to C6-C7 (``CLINICAL_LOGIC.md`` §4.7); default: the bundled
        ``white-panjabi-cervical``, with the lumbar set's margin setting. Lumbar thresholds
        are never applied to a cervical segment; C1-C2 and C7-T1 are not judged.

    Returns
    -------
    InstabilityReport

    Raises
    ------
    InputError
        No view given, only one of flexion/extension, a view given under the wrong name, or
        a threshold set of the wrong region.

    """
    given = _check_inputs(
        {"neutral": neutral, "flexion": flexion, "extension": extension},
        translation_method=translation_method,
    )
    tset = thresholds if isinstance(thresholds, ThresholdSet) else load_threshold_set(thresholds)
    if tset.region != "lumbar":
        raise InputError(
            f"threshold set {tset.name} judges {tset.region} segments",
            item="--thresholds",
            value=tset.name,
            expected=f"a lumbar set here; give {tset.name} as --cervical-thresholds",
        )
    views = {
        name: measure_view(ls, translation_method=translation_method) for name, ls in given.items()
    }
    magnification_known = all(v.magnification_known for v in views.values())
    dynamic = flexion is not None
    names = _segment_names(views, given)
    cervical = _cervical_set(cervical_thresholds, tset, names)
    judging = {"lumbar": tset, "cervical": cervical}
    regions = {segment_region(n) for n in names}
    used = [t for t in (tset, cervical) if t is not None and t.region in regions]
    notes = _study_notes(views, used, dynamic=dynamic)
    issues = _view_issues(views)
    roms = {n: dynamic_values(geometry_by_view(n, views), views)[2] for n in names}
    levels: list[dict[str, Any]] = []
    for name in names:
        rec, found = segment_record(
            name,
            views,
            judging.get(segment_region(name) or ""),
            dynamic=dynamic,
            magnification_known=magnification_known,
            roms=roms,
            listhesis=tset,
        )
        issues += found
        levels.append(rec)
    issues += _all_kyphotic_check(levels)
    for rec in levels:
        keep = (rec["level"], rec["upper"], rec["lower"], "all")
        rec["quality"] = [q.to_dict() for q in issues if q.level in keep]
    lordosis = {
        "levels": "L1-S1",
        "method": "Cobb angle between the superior endplates of L1 and S1; + = lordosis",
        "by_view": {vn: rounded(v.lordosis_deg) for vn, v in views.items()},
        "notes": {vn: v.lordosis_note for vn, v in views.items() if v.lordosis_deg is None},
    }
    return InstabilityReport(
        thresholds=tset,
        views=views,
        levels=levels,
        vertebrae=_vertebra_rows(views),
        lordosis=lordosis,
        quality=issues,
        notes=notes,
        translation_method=translation_method,
        cervical_thresholds=cervical,
    )
