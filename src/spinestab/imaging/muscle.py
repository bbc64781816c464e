"""Muscle metrics per muscle x side x vertebral level, and over all slices (level ``all``).

All per-slice sums come from one ``np.bincount`` over (label, slice) keys, so the cost is a
few passes over the voxels whatever the number of labels and slices.

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

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from spinestab.core.results import MUSCLE_QUALITY_COLUMNS, MuscleRow
from spinestab.errors import InputError
from spinestab.imaging.fat import FatMap
from spinestab.imaging.grading import GRADING_SCHEMES, GradingScheme
from spinestab.imaging.io import Volume, conform_to, slice_axis
from spinestab.imaging.labels import (
    LabelEntry,
    LabelScheme,
    check_labels_known,
    label_values,
    vertebra_order,
)
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.reference import (
    BUILTIN_REFERENCES,
    MISSING_NOTE,
    Reference,
    compare_with_reference,
    span_levels,
)

__all__ = [
    "MUSCLE_COLUMNS",
    "PER_SLICE_COLUMNS",
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


def in_plane_pixel_area_mm2(affine: np.ndarray) -> float:
    """Area (mm^2) of one voxel face in the axial plane (exact for any affine)."""
    ax = slice_axis(affine)
    a, b = (i for i in range(3) if i != ax)
    return float(np.linalg.norm(np.cross(affine[:3, a], affine[:3, b])))


def per_slice_sums(
    labels: np.ndarray,
    values: Sequence[int],
    axis: int,
    *,
    image: np.ndarray | None = None,
    fat: np.ndarray | None = None,
    affine: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per (label, slice) voxel counts and sums.

    Parameters
    ----------
    labels : (I, J, K) ndarray of int
        Label map.
    values : sequence of int
        Label values to measure (row order of the outputs).
    axis : int
        Slice axis.
    image, fat : (I, J, K) ndarray, optional
        Intensities and voxel fat fractions (NaN = undefined).
    affine : (4, 4) ndarray, optional
        With it, ``x_sum``: per-label sums of the world x (RAS+, mm) of the voxels.

    Returns
    -------
    dict of (n_values, n_slices) ndarrays
        ``count``; with ``image``: ``sum``, ``nan``; with ``fat``: ``fat_sum``, ``fat_n``;
        with ``affine``: ``x_sum`` of shape (n_values,).

    """
    lab = np.asarray(labels)
    shape = lab.shape
    n_slices = shape[axis]
    # flatten in the order the labels are stored (NIfTI arrays are Fortran-ordered), so
    # nothing is copied; every other array is flattened the same way
    order = "F" if lab.flags.f_contiguous and not lab.flags.c_contiguous else "C"
    if order == "C":
        stride = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    else:
        stride = int(np.prod(shape[:axis], dtype=np.int64))
    values = np.asarray(values, dtype=np.int64)
    nv = values.size
    lab_flat = lab.reshape(-1, order=order)
    lo = int(min(lab_flat.min(initial=0), 0))
    hi = int(max(lab_flat.max(initial=0), values.max(initial=0)))
    lut = np.full(hi - lo + 1, -1, dtype=np.int16 if nv < 32_000 else np.int64)
    lut[values - lo] = np.arange(nv)
    row = lut[lab_flat - lo] if lo else lut[lab_flat]
    sel = np.flatnonzero(row >= 0)
    k = (sel // stride) % n_slices
    key = row[sel].astype(np.int64) * n_slices + k
    size = nv * n_slices
    out = {"count": np.bincount(key, minlength=size).reshape(nv, n_slices)}
    if affine is not None:
        ijk = np.unravel_index(sel, shape, order=order)
        x = affine[0, 3] + sum(affine[0, d] * ijk[d] for d in range(3))
        out["x_sum"] = np.bincount(row[sel], weights=x, minlength=nv)
    if image is not None:
        img = np.asarray(image).reshape(-1, order=order)[sel].astype(np.float64)
        bad = ~np.isfinite(img)
        out["nan"] = np.bincount(key, weights=bad, minlength=size).reshape(nv, n_slices)
        if bad.any():
            img = np.where(bad, 0.0, img)
        out["sum"] = np.bincount(key, weights=img, minlength=size).reshape(nv, n_slices)
    if fat is not None:
        ff = np.asarray(fat).reshape(-1, order=order)[sel].astype(np.float64)
        ok = np.isfinite(ff)
        out["fat_n"] = np.bincount(key, weights=ok, minlength=size).reshape(nv, n_slices)
        out["fat_sum"] = np.bincount(key, weights=np.where(ok, ff, 0.0), minlength=size).reshape(
            nv, n_slices
        )
    return out


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _fmt_flags(flags: Iterable[str]) -> str:
    return ";".join(sorted(set(flags)))


def measure(
    image: Volume,
    mask: Volume,
    scheme: LabelScheme,
    *,
    levels: SliceLevels | None = None,
    fat: FatMap | None = None,
    vertebral_body: np.ndarray | None = None,
    grading: GradingScheme | None = None,
    sex: str | None = None,
    age: float | None = None,
    references: Iterable[Reference] = BUILTIN_REFERENCES,
    grid_tolerance_mm: float = 1e-3,
    derive_autochthon: bool = False,
    level_names: str | None = None,
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
    grading : GradingScheme, optional
        Default ``three_grade_20_50``.
    sex, age : optional
        For the reference comparison.
    references : iterable of Reference
        Reference values (default: the built-in ones).
    grid_tolerance_mm : float
        Accepted origin difference between image and mask.
    derive_autochthon : bool
        Add ``autochthon`` rows (multifidus + erector spinae of one side together, flagged
        ``derived``, label value -1) where the mask has both and no autochthon label; they
        match TotalSegmentator's muscle and Crawford 2016's reference. Not in per_slice.
    level_names : str, optional
        How far the level names can be trusted (``named``, ``assumed``, ``doubtful``,
        ``confirmed``; :mod:`~spinestab.imaging.level_names`); by default read from
        ``levels.method``. ``assumed`` and ``doubtful`` flag every level row.

    Raises
    ------
    InputError
        Grid mismatch, unknown labels, no muscle labels.

    """
    mask = conform_to(image, mask, tolerance_mm=grid_tolerance_mm, what="mask")
    present = label_values(mask.data)
    check_labels_known(present, scheme, source=mask.source, kinds=("muscle",))
    grading = grading or GRADING_SCHEMES["three_grade_20_50"]
    grading.grade(0.0)  # fails now, with the reason, if the scheme lacks cut-offs
    axis = slice_axis(image.affine)
    n_slices = image.shape[axis]
    if levels is None:
        levels = SliceLevels(tuple("" for _ in range(n_slices)), "none given")
    if level_names is None:
        from spinestab.imaging.level_names import level_names_state

        level_names = level_names_state(levels)
    names_state = level_names if level_names in ("assumed", "doubtful") else ""
    if len(levels.levels) != n_slices:
        raise InputError(
            "level table length differs from the number of slices",
            value=len(levels.levels),
            expected=str(n_slices),
        )
    if sex is not None and sex not in ("female", "male"):
        raise InputError("unknown sex", value=sex, expected="female or male")
    if fat is not None and fat.fraction.shape != image.shape:
        raise InputError(
            "fat map is not on the image grid",
            value=fat.fraction.shape,
            expected=str(image.shape),
        )

    muscle_entries = scheme.muscles()
    present_set = {int(v) for v in present}
    present_sides = {(e.name, e.side) for v, e in muscle_entries.items() if v in present_set}
    opposite = {"left": "right", "right": "left"}
    # a muscle whose other side is in the mask gets rows even when it is absent itself
    # (flagged), so that a missing side is seen, not silently left out
    absent = {
        v
        for v, e in muscle_entries.items()
        if v not in present_set
        and e.side in opposite
        and (e.name, opposite[e.side]) in present_sides
        and (e.name, e.side) not in present_sides
    }
    values = [v for v in sorted(muscle_entries) if v in present_set or v in absent]
    entries = [muscle_entries[v] for v in values]
    sums = per_slice_sums(
        mask.data,
        values,
        axis,
        image=image.data,
        fat=None if fat is None else fat.fraction,
        affine=mask.affine,
    )
    pix_area = in_plane_pixel_area_mm2(image.affine)
    vox_ml = image.voxel_volume_mm3 / 1000.0
    count = sums["count"].astype(np.float64)
    area = count * pix_area
    valid_n = count - sums["nan"]
    mean_int = _safe_div(sums["sum"], valid_n)
    if fat is not None:
        slice_ff = _safe_div(sums["fat_sum"], sums["fat_n"])
    else:
        slice_ff = np.full(count.shape, np.nan)

    vb_area = None
    if vertebral_body is not None:
        if vertebral_body.shape != image.shape:
            raise InputError(
                "vertebral body mask is not on the image grid",
                value=vertebral_body.shape,
                expected=str(image.shape),
            )
        vb = np.moveaxis(np.asarray(vertebral_body, dtype=bool), axis, -1)
        vb_area = vb.reshape(-1, n_slices).sum(axis=0).astype(np.float64) * pix_area

    level_arr = np.asarray([lv or UNASSIGNED for lv in levels.levels], dtype=object)
    slices = _slice_rows(entries, values, area, mean_int, slice_ff, level_arr)
    if derive_autochthon:
        entries, values, sums = _with_autochthon(entries, values, sums)
        count = sums["count"].astype(np.float64)
        area = count * pix_area
        valid_n = count - sums["nan"]
        if fat is not None:
            slice_ff = _safe_div(sums["fat_sum"], sums["fat_n"])
        else:
            slice_ff = np.full(count.shape, np.nan)
    present_levels = levels.names()
    truncated = {lv for lv in present_levels if level_arr[0] == lv or level_arr[-1] == lv}

    groups: list[tuple[str, np.ndarray]] = [(lv, level_arr == lv) for lv in present_levels]
    groups.append(("all", np.ones(n_slices, dtype=bool)))
    fat_method = fat.method if fat is not None else "none"
    raw: list[dict[str, Any]] = []
    unassigned = level_arr == UNASSIGNED
    references = tuple(references)
    spans = {
        ref.level: np.isin(level_arr, span_levels(ref.level) or [])
        for ref in references
        if span_levels(ref.level) is not None
    }
    for r, entry in enumerate(entries):
        outside = bool(count[r][unassigned].sum() > 0)
        span_ff = {}
        if fat is not None:
            for name, in_span in spans.items():
                fn = float(sums["fat_n"][r][in_span].sum())
                span_ff[name] = (
                    100.0 * float(sums["fat_sum"][r][in_span].sum()) / fn if fn else math.nan
                )
        for level, in_level in groups:
            raw.append(
                _aggregate(
                    entry,
                    values[r],
                    level,
                    in_level,
                    count[r],
                    area[r],
                    sums["sum"][r],
                    valid_n[r],
                    sums["nan"][r],
                    None if fat is None else sums["fat_sum"][r],
                    None if fat is None else sums["fat_n"][r],
                    slice_ff[r],
                    vb_area,
                    vox_ml=vox_ml,
                    truncated=level in truncated,
                )
                | {"outside": outside, "span_ff": span_ff}
            )
            if values[r] in absent:
                raw[-1]["flags"].append("absent_from_mask")
    _add_asymmetry(raw)
    weak = _weakly_separated(fat, entries, values)
    for d in raw:
        if d["n_slices"] and (d["muscle"], d["side"]) in weak:
            d["flags"].append("fat_classes_weakly_separated")
    swapped = _swapped_sides(entries, sums["x_sum"], sums["count"].sum(axis=1))
    for d in raw:
        if d["muscle"] in swapped:
            d["flags"].append("laterality_suspect")  # right side not at larger world x
    rows = []
    name_flag = f"level_names_{names_state}" if names_state else ""
    for d in raw:
        if name_flag and d["level"] != "all":
            d["flags"].append(name_flag)
        note, ref, z = compare_with_reference(
            d["fat_fraction_pct"],
            muscle=d["muscle"],
            level=d["level"],
            levels_covered=present_levels,
            fat_method=fat_method,
            sex=sex,
            age=age,
            references=references,
            truncated_levels=truncated,
            outside_levels=d["outside"],
            level_names=names_state,
            span_values=d["span_ff"] if d["level"] == "all" else None,
        )
        if fat is None:
            note = "no fat estimate; " + MISSING_NOTE
        grade = grading.grade(d["fat_fraction_pct"])
        rows.append(
            MuscleRow(
                muscle=d["muscle"],
                side=d["side"],
                level=d["level"],
                csa_max_mm2=d["csa_max_mm2"],
                csa_mean_mm2=d["csa_mean_mm2"],
                volume_ml=d["volume_ml"],
                fat_fraction_pct=d["fat_fraction_pct"],
                fat_method=fat_method,
                lean_csa_mean_mm2=d["lean_csa_mean_mm2"],
                grade=grade,
                asymmetry_pct=d["asymmetry_pct"],
                reference_note=note,
                n_slices=d["n_slices"],
                mean_intensity=d["mean_intensity"],
                csa_to_vertebral_body=d["csa_to_vertebral_body"],
                grade_scheme=grading.label,
                reference_mean_pct=ref.mean_pct if ref else math.nan,
                reference_sd_pct=ref.sd_pct if ref else math.nan,
                reference_z=z if z is not None else math.nan,
                label_value=d["label_value"],
                flags=_fmt_flags(d["flags"]),
            )
        )
    rows.sort(key=lambda r: (r.muscle, r.side, _level_rank(r.level)))
    meta = {
        "pixel_area_mm2": pix_area,
        "voxel_volume_mm3": image.voxel_volume_mm3,
        "slice_axis": axis,
        "n_slices": n_slices,
        "fat_details": {} if fat is None else _jsonable(fat.details),
        "laterality_suspect": sorted(swapped),
    }
    return MuscleQuality(tuple(rows), tuple(slices), levels, fat_method, grading, scheme, meta)


def _level_rank(level: str) -> int:
    if level == "all":
        return 10_000
    try:
        return vertebra_order(level)
    except InputError:
        return 9_999


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


def _aggregate(
    entry: LabelEntry,
    value: int,
    level: str,
    in_level: np.ndarray,
    count: np.ndarray,
    area: np.ndarray,
    int_sum: np.ndarray,
    valid_n: np.ndarray,
    nan_n: np.ndarray,
    fat_sum: np.ndarray | None,
    fat_n: np.ndarray | None,
    slice_ff: np.ndarray,
    vb_area: np.ndarray | None,
    *,
    vox_ml: float,
    truncated: bool,
) -> dict[str, Any]:
    flags: list[str] = []
    if entry.note:
        flags.append("note:" + entry.note.replace(";", ","))
    present = in_level & (count > 0)
    n = int(present.sum())
    nan = math.nan
    out: dict[str, Any] = {
        "muscle": entry.name,
        "side": entry.side,
        "level": level,
        "label_value": value,
        "n_slices": n,
        "flags": flags,
        "csa_to_vertebral_body": nan,
        "asymmetry_pct": nan,
    }
    if n == 0:
        flags.append("empty_at_level")
        out.update(
            csa_max_mm2=nan,
            csa_mean_mm2=nan,
            volume_ml=0.0,
            fat_fraction_pct=nan,
            lean_csa_mean_mm2=nan,
            mean_intensity=nan,
        )
        return out
    if truncated:
        flags.append("level_truncated_by_field_of_view")
    a = area[present]
    csa_mean = float(a.mean())
    out["csa_max_mm2"] = float(a.max())
    out["csa_mean_mm2"] = csa_mean
    out["volume_ml"] = float(count[present].sum() * vox_ml)
    n_nan = int(nan_n[present].sum())
    if n_nan:
        flags.append(f"nan_voxels:{n_nan}")
    vn = float(valid_n[present].sum())
    out["mean_intensity"] = float(int_sum[present].sum() / vn) if vn > 0 else nan
    if fat_sum is not None and fat_n is not None:
        fn = float(fat_n[present].sum())
        undefined = int(count[present].sum() - fn)
        if undefined:
            flags.append(f"fat_undefined_voxels:{undefined}")
        ff = float(fat_sum[present].sum() / fn) if fn > 0 else nan
        out["fat_fraction_pct"] = ff * 100.0
        lean = a * (1.0 - slice_ff[present])
        out["lean_csa_mean_mm2"] = float(np.nanmean(lean)) if np.isfinite(lean).any() else nan
    else:
        out["fat_fraction_pct"] = nan
        out["lean_csa_mean_mm2"] = nan
    if vb_area is not None:
        vb = vb_area[present]
        vb = vb[vb > 0]
        if vb.size:
            out["csa_to_vertebral_body"] = csa_mean / float(vb.mean())
        else:
            flags.append("no_vertebral_body_at_level")
    return out


def _weakly_separated(
    fat: FatMap | None, entries: Sequence[LabelEntry], values: Sequence[int]
) -> set[tuple[str, str]]:
    """(muscle, side) whose single-contrast fat classes explain too little of the variance."""
    from spinestab.imaging.fat import MIN_CLASS_SEPARATION

    if fat is None:
        return set()
    by_label = fat.details.get("classifier_by_label") or {}
    weak_keys = {
        k for k, info in by_label.items() if info.get("separation", 1.0) < MIN_CLASS_SEPARATION
    }
    if not weak_keys:
        return set()
    weak = {
        (e.name, e.side)
        for e, v in zip(entries, values, strict=True)
        if v >= 0 and ("all" in weak_keys or str(v) in weak_keys)
    }
    for e in entries:  # derived rows inherit the flag of their parts
        if e.value == -1 and any(
            (part, e.side) in weak for part in ("multifidus", "erector_spinae")
        ):
            weak.add((e.name, e.side))
    return weak


def _with_autochthon(
    entries: list[LabelEntry], values: list[int], sums: dict[str, np.ndarray]
) -> tuple[list[LabelEntry], list[int], dict[str, np.ndarray]]:
    """Append multifidus + erector spinae per side as a derived ``autochthon`` row."""
    index = {(e.name, e.side): r for r, e in enumerate(entries)}
    extra = []
    for side in ("right", "left", "none"):
        parts = [index.get(("multifidus", side)), index.get(("erector_spinae", side))]
        if None in parts or ("autochthon", side) in index:
            continue
        extra.append((side, parts))
    if not extra:
        return entries, values, sums
    out = dict(sums)
    for key, arr in sums.items():
        rows = [arr[p].sum(axis=0) for _side, p in extra]
        out[key] = np.concatenate([arr, np.stack(rows)], axis=0)
    note = "derived: multifidus + erector spinae"
    new_entries = list(entries) + [
        LabelEntry(-1, "muscle", "autochthon", side, note) for side, _ in extra
    ]
    return new_entries, list(values) + [-1] * len(extra), out


def _swapped_sides(entries: Sequence[LabelEntry], x_sum: np.ndarray, count: np.ndarray) -> set[str]:
    """Muscles whose right label does not lie at larger world x than the left one."""
    centre = {
        (e.name, e.side): float(x_sum[r] / count[r]) for r, e in enumerate(entries) if count[r] > 0
    }
    return {
        name
        for (name, side), x in centre.items()
        if side == "right" and (name, "left") in centre and x < centre[(name, "left")]
    }


def _add_asymmetry(raw: list[dict[str, Any]]) -> None:
    index = {(d["muscle"], d["side"], d["level"]): d for d in raw}
    for (muscle, side, level), d in index.items():
        if side != "right":
            continue
        left = index.get((muscle, "left", level))
        if left is None:
            continue
        r, lft = d["csa_mean_mm2"], left["csa_mean_mm2"]
        if math.isfinite(r) and math.isfinite(lft) and r + lft > 0:
            asym = 100.0 * (r - lft) / ((r + lft) / 2.0)
            d["asymmetry_pct"] = asym
            left["asymmetry_pct"] = asym
