"""Muscle metrics per muscle x side x vertebral level, and over all slices (level ``all``).

All per-slice sums come from one ``np.bincount`` over (label, slice) keys, so the cost is a
few passes over the voxels whatever the number of labels and slices
(:mod:`~spinestab.imaging.muscle_sums`); one label at one level becomes a row in
:mod:`~spinestab.imaging.muscle_rows`. :func:`measure` runs the steps.

Definitions
-----------
* area (mm^2): voxels of the label in the slice x in-plane pixel area.
* csa_max_mm2 / csa_mean_mm2: maximum / mean of the per-slice areas over the slices of the
  level in which the muscle is present.
* volume_ml: voxels x voxel volume / 1000.
* fat_fraction_pct: voxel-weighted mean of the voxel fat fraction x 100 (voxels with an
  undefined fat fraction are left out and counted in ``flags``).
* lean_csa_mean_mm2: mean over slices of area x (1 - slice fat fraction).
* asymmetry_pct: ``100 * (right - left) / mean(right, left)`` of csa_mean_mm2 (signed;
  positive = right larger), the same value on both rows of a pair. No threshold is applied.
* csa_to_vertebral_body: csa_mean_mm2 / mean vertebral-body area over the same slices,
  where a vertebral body mask is given.
* level ``all``: every slice of the image, assigned to a level or not.
* flags: ``empty_at_level``, ``absent_from_mask`` (the other side is present),
  ``nan_voxels:N``, ``fat_undefined_voxels:N``,
  ``fat_classes_weakly_separated`` (single contrast: the intensity classes explain less
  than :data:`~spinestab.imaging.fat.MIN_CLASS_SEPARATION` of the variance), level and
  laterality flags (see the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from spinestab.core.results import MUSCLE_QUALITY_COLUMNS, MuscleRow
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.imaging.fat import FatMap
from spinestab.imaging.grading import GRADING_SCHEMES, GradingScheme
from spinestab.imaging.io import Volume, conform_to, slice_axis
from spinestab.imaging.labels import LabelEntry, LabelScheme, check_labels_known, label_values
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.muscle_rows import (
    LabelSlices,
    RowContext,
    add_asymmetry,
    add_study_flags,
    aggregate,
    level_rank,
    swapped_sides,
    to_muscle_row,
    weakly_separated,
)
from spinestab.imaging.muscle_sums import (
    SliceTable,
    in_plane_pixel_area_mm2,
    per_slice_sums,
    with_autochthon,
)
from spinestab.imaging.reference import BUILTIN_REFERENCES, Reference, span_levels

__all__ = [
    "MUSCLE_COLUMNS",
    "PER_SLICE_COLUMNS",
    "MeasureOptions",
    "MuscleQuality",
    "MuscleRow",
    "SliceRow",
    "in_plane_pixel_area_mm2",
    "measure",
    "per_slice_sums",
]

UNASSIGNED = "unassigned"

PER_SLICE_COLUMNS = (
    "slice",
    "level",
    "muscle",
    "side",
    "area_mm2",
    "mean_intensity",
    "fat_fraction_pct",
)
#: The columns of ``muscle_quality.csv`` (defined once, in :mod:`spinestab.core.results`).
MUSCLE_COLUMNS = MUSCLE_QUALITY_COLUMNS


@dataclass(frozen=True)
class SliceRow:
    """One muscle in one slice (a row of ``per_slice.csv``)."""

    slice: int
    level: str
    muscle: str
    side: str
    area_mm2: float
    mean_intensity: float
    fat_fraction_pct: float
    label_value: int = 0


@dataclass(frozen=True)
class MuscleQuality:
    """Everything measured for one study."""

    rows: tuple[MuscleRow, ...]
    slices: tuple[SliceRow, ...]
    levels: SliceLevels
    fat_method: str
    grading: GradingScheme
    scheme: LabelScheme
    meta: dict[str, Any] = field(default_factory=dict)

    def row(self, muscle: str, side: str, level: str) -> MuscleRow:
        """Return the row of one muscle, side and level."""
        for r in self.rows:
            if (r.muscle, r.side, r.level) == (muscle, side, level):
                return r
        raise KeyError((muscle, side, level))

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "label_scheme": {"name": self.scheme.name, "source": self.scheme.source},
            "levels": {
                "method": self.levels.method,
                "present": self.levels.names(),
                "per_slice": list(self.levels.levels),
            },
            "fat_method": self.fat_method,
            "grading": {"name": self.grading.label, "source": self.grading.source},
            "rows": [asdict(r) for r in self.rows],
            **self.meta,
        }


@dataclass(frozen=True)
class MeasureOptions:
    """Options of :func:`measure` besides the data.

    Attributes
    ----------
    grading : GradingScheme, optional
        Default ``three_grade_20_50``.
    sex, age : optional
        For the reference comparison (sex ``female`` or ``male``).
    references : tuple of Reference
        Reference values (default: the built-in ones).
    derive_autochthon : bool
        Add ``autochthon`` rows (multifidus + erector spinae of one side together, flagged
        ``derived``, label value -1) where the mask has both and no autochthon label; they
        match TotalSegmentator's muscle and Crawford 2016's reference. Not in per_slice.
    level_names : str, optional
        How far the level names can be trusted (``named``, ``assumed``, ``doubtful``,
        ``confirmed``; :mod:`~spinestab.imaging.level_names`); by default read from
        ``levels.method``. ``assumed`` and ``doubtful`` flag every level row.
    grid_tolerance_mm : float
        Accepted origin difference between image and mask.

    """

    grading: GradingScheme | None = None
    sex: str | None = None
    age: float | None = None
    references: tuple[Reference, ...] = field(default=BUILTIN_REFERENCES)
    derive_autochthon: bool = False
    level_names: str | None = None
    grid_tolerance_mm: float = 1e-3

    def __post_init__(self) -> None:
        """Refuse an unknown sex; keep the references as a tuple."""
        if self.sex is not None:
            check_choice(
                "sex",
                self.sex,
                ("female", "male"),
                message="unknown sex",
                expected="female or male",
            )
        object.__setattr__(self, "references", tuple(self.references))


@dataclass(frozen=True)
class _Study:
    """The checked inputs of one :func:`measure` call (internal)."""

    image: Volume
    mask: Volume
    levels: SliceLevels
    fat: FatMap | None
    grading: GradingScheme
    names_state: str
    axis: int
    n_slices: int


def _check(
    image: Volume,
    mask: Volume,
    scheme: LabelScheme,
    levels: SliceLevels | None,
    fat: FatMap | None,
    options: MeasureOptions,
) -> tuple[_Study, np.ndarray]:
    """Check the inputs against each other; return them and the label values present."""
    from spinestab.imaging.level_names import level_names_state

    mask = conform_to(image, mask, tolerance_mm=options.grid_tolerance_mm, what="mask")
    present = label_values(mask.data)
    check_labels_known(present, scheme, source=mask.source, kinds=("muscle",))
    grading = options.grading or GRADING_SCHEMES["three_grade_20_50"]
    grading.grade(0.0)  # fails now, with the reason, if the scheme lacks cut-offs
    axis = slice_axis(image.affine)
    n_slices = image.shape[axis]
    if levels is None:
        levels = SliceLevels(tuple("" for _ in range(n_slices)), "none given")
    state = options.level_names or level_names_state(levels)
    if len(levels.levels) != n_slices:
        raise InputError(
            "level table length differs from the number of slices",
            value=len(levels.levels),
            expected=str(n_slices),
        )
    if fat is not None and fat.fraction.shape != image.shape:
        raise InputError(
            "fat map is not on the image grid",
            value=fat.fraction.shape,
            expected=str(image.shape),
        )
    names_state = state if state in ("assumed", "doubtful") else ""
    study = _Study(image, mask, levels, fat, grading, names_state, axis, n_slices)
    return study, present


def _labels_to_measure(
    scheme: LabelScheme, present: np.ndarray
) -> tuple[list[int], list[LabelEntry], set[int]]:
    """Label values to measure, their entries, and those absent whose other side is present.

    A muscle whose other side is in the mask gets rows even when it is absent itself
    (flagged), so that a missing side is seen, not silently left out.
    """
    muscle_entries = scheme.muscles()
    present_set = {int(v) for v in present}
    present_sides = {(e.name, e.side) for v, e in muscle_entries.items() if v in present_set}
    opposite = {"left": "right", "right": "left"}
    absent = {
        v
        for v, e in muscle_entries.items()
        if v not in present_set
        and e.side in opposite
        and (e.name, opposite[e.side]) in present_sides
        and (e.name, e.side) not in present_sides
    }
    values = [v for v in sorted(muscle_entries) if v in present_set or v in absent]
    return values, [muscle_entries[v] for v in values], absent


def _vertebral_body_area(
    vertebral_body: np.ndarray | None, study: _Study, pix_area: float
) -> np.ndarray | None:
    """Vertebral-body area (mm^2) of every slice, or None without a body mask."""
    if vertebral_body is None:
        return None
    if vertebral_body.shape != study.image.shape:
        raise InputError(
            "vertebral body mask is not on the image grid",
            value=vertebral_body.shape,
            expected=str(study.image.shape),
        )
    vb = np.moveaxis(np.asarray(vertebral_body, dtype=bool), study.axis, -1)
    return vb.reshape(-1, study.n_slices).sum(axis=0).astype(np.float64) * pix_area


def _span_fat(table: SliceTable, r: int, spans: dict[str, np.ndarray]) -> dict[str, float]:
    """Fat fraction (%) of label ``r`` over the slices of each reference span (e.g. L1-L5)."""
    if not table.has_fat:
        return {}
    out = {}
    for name, in_span in spans.items():
        fn = float(table.sums["fat_n"][r][in_span].sum())
        out[name] = (
            100.0 * float(table.sums["fat_sum"][r][in_span].sum()) / fn if fn else float("nan")
        )
    return out


def _raw_rows(
    table: SliceTable,
    entries: Sequence[LabelEntry],
    values: Sequence[int],
    absent: set[int],
    level_arr: np.ndarray,
    vb_area: np.ndarray | None,
    *,
    vox_ml: float,
    references: tuple[Reference, ...],
) -> list[dict[str, Any]]:
    """One dict per label and level (the levels present, then ``all``)."""
    names = sorted({str(v) for v in level_arr if v != UNASSIGNED}, key=level_rank)
    truncated = {lv for lv in names if level_arr[0] == lv or level_arr[-1] == lv}
    groups = [(lv, level_arr == lv) for lv in names]
    groups.append(("all", np.ones(len(level_arr), dtype=bool)))
    unassigned = level_arr == UNASSIGNED
    spans = {
        ref.level: np.isin(level_arr, span_levels(ref.level) or [])
        for ref in references
        if span_levels(ref.level) is not None
    }
    raw: list[dict[str, Any]] = []
    for r, entry in enumerate(entries):
        lab = LabelSlices.of(table, r)
        extra = {
            "outside": bool(table.count[r][unassigned].sum() > 0),
            "span_ff": _span_fat(table, r, spans),
        }
        for level, in_level in groups:
            d = aggregate(
                entry,
                values[r],
                level,
                in_level,
                lab,
                vb_area,
                vox_ml=vox_ml,
                truncated=level in truncated,
            )
            raw.append(d | extra)
            if values[r] in absent:
                raw[-1]["flags"].append("absent_from_mask")
    return raw


def measure(
    image: Volume,
    mask: Volume,
    scheme: LabelScheme,
    *,
    levels: SliceLevels | None = None,
    fat: FatMap | None = None,
    vertebral_body: np.ndarray | None = None,
    options: MeasureOptions | None = None,
) -> MuscleQuality:
    """Measure every muscle of ``mask`` per slice, per level and over all slices.

    Parameters
    ----------
    image : Volume
        Intensities for ``mean_intensity`` (HU for CT).
    mask : Volume
        Muscle label map on the image grid (any axis order of that grid).
    scheme : LabelScheme
        Meaning of the mask's labels.
    levels : SliceLevels, optional
        Level of every slice; without it only level ``all`` is reported.
    fat : FatMap, optional
        Voxel fat fractions; without it fat columns are NaN.
    vertebral_body : (I, J, K) ndarray of bool, optional
        Vertebral body voxels on the image grid, for ``csa_to_vertebral_body``.
    options : MeasureOptions, optional
        Grading, sex and age for the references, derived autochthon rows, level-name state.

    Raises
    ------
    InputError
        Grid mismatch, unknown labels, no muscle labels.

    """
    options = options or MeasureOptions()
    study, present = _check(image, mask, scheme, levels, fat, options)
    values, entries, absent = _labels_to_measure(scheme, present)
    sums = per_slice_sums(
        study.mask.data,
        values,
        study.axis,
        image=image.data,
        fat=None if fat is None else fat.fraction,
        affine=study.mask.affine,
    )
    pix_area = in_plane_pixel_area_mm2(image.affine)
    table = SliceTable.of(sums, pix_area, has_fat=fat is not None)
    vb_area = _vertebral_body_area(vertebral_body, study, pix_area)
    level_arr = np.asarray([lv or UNASSIGNED for lv in study.levels.levels], dtype=object)
    slices = _slice_rows(
        entries, values, table.area, table.mean_intensity(), table.slice_ff, level_arr
    )
    if options.derive_autochthon:
        entries, values, sums = with_autochthon(entries, values, sums)
        table = SliceTable.of(sums, pix_area, has_fat=fat is not None)
    raw = _raw_rows(
        table,
        entries,
        values,
        absent,
        level_arr,
        vb_area,
        vox_ml=image.voxel_volume_mm3 / 1000.0,
        references=options.references,
    )
    add_asymmetry(raw)
    swapped = swapped_sides(entries, sums["x_sum"], sums["count"].sum(axis=1))
    name_flag = f"level_names_{study.names_state}" if study.names_state else ""
    add_study_flags(
        raw, weak=weakly_separated(fat, entries, values), swapped=swapped, name_flag=name_flag
    )
    rows = _rows(raw, study, options)
    meta = {
        "pixel_area_mm2": pix_area,
        "voxel_volume_mm3": image.voxel_volume_mm3,
        "slice_axis": study.axis,
        "n_slices": study.n_slices,
        "fat_details": {} if fat is None else _jsonable(fat.details),
        "laterality_suspect": sorted(swapped),
    }
    fat_method = fat.method if fat is not None else "none"
    return MuscleQuality(
        tuple(rows), tuple(slices), study.levels, fat_method, study.grading, scheme, meta
    )


def _rows(raw: list[dict[str, Any]], study: _Study, options: MeasureOptions) -> list[MuscleRow]:
    """Graded, reference-compared rows, sorted by muscle, side and level."""
    present_levels = study.levels.names()
    level_arr = study.levels.levels
    ends = {level_arr[0], level_arr[-1]}
    ctx = RowContext(
        fat_method=study.fat.method if study.fat is not None else "none",
        has_fat=study.fat is not None,
        grading=study.grading,
        present_levels=present_levels,
        truncated={lv for lv in present_levels if lv in ends},
        names_state=study.names_state,
        sex=options.sex,
        age=options.age,
        references=options.references,
    )
    rows = [to_muscle_row(d, ctx) for d in raw]
    rows.sort(key=lambda r: (r.muscle, r.side, level_rank(r.level)))
    return rows


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _slice_rows(
    entries: Sequence[LabelEntry],
    values: Sequence[int],
    area: np.ndarray,
    mean_int: np.ndarray,
    slice_ff: np.ndarray,
    level_arr: np.ndarray,
) -> list[SliceRow]:
    rr, kk = np.nonzero(area > 0)
    order = np.lexsort((rr, kk))
    rows = []
    for r, k in zip(rr[order].tolist(), kk[order].tolist(), strict=True):
        e = entries[r]
        rows.append(
            SliceRow(
                slice=k,
                level=str(level_arr[k]),
                muscle=e.name,
                side=e.side,
                area_mm2=float(area[r, k]),
                mean_intensity=float(mean_int[r, k]),
                fat_fraction_pct=float(slice_ff[r, k] * 100.0),
                label_value=int(values[r]),
            )
        )
    return rows
