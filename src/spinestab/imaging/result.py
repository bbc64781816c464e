"""The typed result of a muscle-quality run (:class:`MriResult`) and its parts.

Everything is plain data (tuples, dicts, strings, numbers, PNG bytes), so a result is
picklable (Dask, background jobs) and converts to ``summary.json`` and back
(:meth:`MriResult.to_summary`, :meth:`MriResult.from_summary`); the rows are also the
CSV tables (:mod:`spinestab.imaging.outputs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from spinestab.core.results import MuscleQuality, MuscleRow
from spinestab.imaging.level_names import apply_level_names, level_names_state
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.muscle import SliceRow
from spinestab.imaging.options import LevelNames
from spinestab.imaging.qa import QaPicture

__all__ = ["Geometry", "LevelAssignment", "MriResult", "Provenance"]

#: the tables and the summary every run writes; QA pictures and a segmenter's folder add to it
TABLE_FILES = ("muscle_quality.csv", "per_slice.csv", "summary.json")


@dataclass(frozen=True)
class LevelAssignment:
    """The vertebral level of every slice and how the names were found.

    Attributes
    ----------
    levels : SliceLevels
        One name per slice (``""`` unassigned) and the method, in words.
    source : str
        Where they came from (a vertebra mask, the muscle mask's vertebra labels, a slice
        table) or ``none``.
    state : str
        One of :data:`~spinestab.imaging.level_names.LEVEL_NAME_STATES`.
    found_as : str
        The state before a clinician's confirmation (``assumed``...), else ``state``.
    confirmed_by : str
        Who confirmed or corrected the names (``confirmed`` only).
    renamed : dict
        Computed name to the name given by the clinician (``confirmed`` only).

    """

    levels: SliceLevels
    source: str = "none"
    state: str = "none"
    found_as: str = ""
    confirmed_by: str = ""
    renamed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        found: SliceLevels | None,
        source: str,
        n_slices: int,
        *,
        correction: LevelNames | None = None,
    ) -> LevelAssignment:
        """Wrap levels found by one of the ``levels_from_*`` functions (or none).

        With ``correction`` the clinician's confirmation or correction is applied.
        """
        if found is None:
            found = SliceLevels(tuple("" for _ in range(n_slices)), "none given")
            if correction is None:
                return cls(found, source, "none", "none")
        state = level_names_state(found)
        if correction is None:
            return cls(found, source, state, state)
        fixed = apply_level_names(found, correction)
        renamed = {n: fixed.levels[i] for i, n in enumerate(found.levels) if n}
        renamed = {a: b for a, b in renamed.items() if a != b}
        return cls(fixed, source, "confirmed", state, correction.by or "a clinician", renamed)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``level_names`` block of ``summary.json``."""
        return {
            "state": self.state,
            "found_as": self.found_as,
            "confirmed_by": self.confirmed_by or None,
            "renamed": dict(self.renamed),
            "how": self.levels.method,
        }

    @property
    def present(self) -> list[str]:
        """The levels present, cranial to caudal."""
        return self.levels.names()

    @property
    def assumed(self) -> bool:
        """Whether the names rest on an assumption (or a failed check)."""
        return self.state in ("assumed", "doubtful")


@dataclass(frozen=True)
class Geometry:
    """The measured image's grid (``summary.json`` ``geometry``)."""

    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    orientation: str
    slice_tilt_from_axial_deg: float
    affine: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, volume: Any) -> Geometry:
        """Return the geometry of a :class:`~spinestab.imaging.io.Volume`."""
        affine = np.asarray(volume.affine, dtype=np.float64)
        return cls(
            tuple(volume.shape),
            tuple(volume.spacing_mm),
            volume.axcodes,
            slice_tilt_deg(affine),
            tuple(tuple(float(v) for v in row) for row in affine),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON block."""
        return {
            "shape": list(self.shape),
            "spacing_mm": list(self.spacing_mm),
            "orientation": self.orientation,
            "slice_tilt_from_axial_deg": self.slice_tilt_from_axial_deg,
            "affine": [list(r) for r in self.affine],
        }


def slice_tilt_deg(affine: np.ndarray) -> float:
    """Angle (degrees) between the normal of the measured slices and the world S axis.

    CSA is measured in the stored slice plane; an oblique plane at angle t shows a muscle
    running along S about 1/cos(t) larger than a true axial cut.
    """
    from spinestab.imaging.io import slice_axis

    a = np.asarray(affine, dtype=np.float64)[:3, :3]
    k = slice_axis(a)
    others = [d for d in range(3) if d != k]
    normal = np.cross(a[:, others[0]], a[:, others[1]])
    cos = abs(normal[2]) / np.linalg.norm(normal)
    return round(float(np.degrees(np.arccos(min(1.0, cos)))), 2)


@dataclass(frozen=True)
class Provenance:
    """Which inputs and software made a result.

    Attributes
    ----------
    software : str
        ``spinestab VERSION``.
    input_sha256 : dict
        Input name (``image``, ``mask``, ``vertebrae``...) to the SHA-256 of its file (a
        folder: of its files and their names; a volume in memory: of its voxels and
        affine).
    options : dict
        The run's :class:`~spinestab.imaging.options.MriOptions` as JSON values.

    """

    software: str
    input_sha256: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, *, input_sha256: Mapping[str, str], options: Mapping[str, Any]) -> Provenance:
        """Provenance with this installation's software version."""
        from spinestab import __version__

        return cls(f"spinestab {__version__}", dict(input_sha256), dict(options))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON block."""
        return {
            "software": self.software,
            "input_sha256": dict(self.input_sha256),
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class MriResult:
    """Everything a muscle-quality run found.

    Attributes
    ----------
    rows : tuple of MuscleRow
        ``muscle_quality.csv``: one row per muscle, side and level (and ``all``).
    slices : tuple of SliceRow
        ``per_slice.csv``: one row per muscle, side and slice.
    levels : LevelAssignment
        Level of every slice, how it was named and from what.
    fat_method : str
        The fat method tag (``dixon``, ``pdff``, ``ct_hu[-190..-30]``, ``t1w_n4_otsu2``...).
    label_scheme : dict
        ``{"name", "source"}`` of the muscle mask's scheme.
    grading : dict
        ``{"name", "source"}`` of the grading scheme.
    measurement : dict
        Pixel area, voxel volume, slice axis, slice count, fat-method details and the
        muscles whose sides look swapped (``laterality_suspect``).
    inputs : dict
        The inputs as named in ``summary.json``.
    geometry : Geometry
        The measured image's grid.
    modality : str
        ``CT`` or ``MR``.
    modality_how : str
        How the modality was decided.
    image_nan_voxels : int
        Voxels of the image that are not finite.
    pictures : tuple of QaPicture
        QA pictures as PNG bytes.
    timings_s : dict
        Seconds from the start at the end of each step.
    provenance : Provenance, optional
        Input hashes, software version, options.
    segmentation : dict of str to bytes
        A segmenter's output files (relative path to content), when one ran.

    """

    rows: tuple[MuscleRow, ...]
    slices: tuple[SliceRow, ...]
    levels: LevelAssignment
    fat_method: str
    label_scheme: dict[str, str]
    grading: dict[str, str]
    measurement: dict[str, Any]
    inputs: dict[str, Any]
    geometry: Geometry
    modality: str
    modality_how: str
    image_nan_voxels: int = 0
    pictures: tuple[QaPicture, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None
    segmentation: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_measurement(cls, quality: Any, *, levels: LevelAssignment, **parts: Any) -> MriResult:
        """Assemble a result from :func:`~spinestab.imaging.muscle.measure`'s output."""
        modality, how = parts.pop("modality")
        return cls(
            rows=tuple(quality.rows),
            slices=tuple(quality.slices),
            levels=levels,
            fat_method=quality.fat_method,
            label_scheme={"name": quality.scheme.name, "source": quality.scheme.source},
            grading={"name": quality.grading.label, "source": quality.grading.source},
            measurement=dict(quality.meta),
            modality=modality,
            modality_how=how,
            **parts,
        )

    # ---- reading the result ----------------------------------------------------------

    def row(self, muscle: str, side: str, level: str) -> MuscleRow:
        """Return the row of one muscle, side and level (KeyError when absent)."""
        for r in self.rows:
            if (r.muscle, r.side, r.level) == (muscle, side, level):
                return r
        raise KeyError((muscle, side, level))

    def muscle_quality(self) -> MuscleQuality:
        """Return the rows as the shared :class:`~spinestab.core.results.MuscleQuality`.

        The type care reads into the stability profile and the record stores; its ``meta``
        carries how the levels were named and the study's flags.
        """
        meta = {
            "level_names": self.levels.to_dict(),
            "flags": list(self.flags),
            "modality": self.modality,
            "provenance": self.provenance.to_dict() if self.provenance else None,
        }
        return MuscleQuality(
            rows=tuple(self.rows), fat_method=self.fat_method, source="spinestab mri", meta=meta
        )

    @property
    def flags(self) -> tuple[str, ...]:
        """Study-level flags, sorted: the level-name state and every row flag's kind.

        ``level_names_assumed`` / ``level_names_doubtful``, ``laterality_suspect:MUSCLE``,
        ``absent_from_mask:MUSCLE SIDE``, ``fat_classes_weakly_separated:MUSCLE SIDE``, and
        the other row flags by name (``level_truncated_by_field_of_view``...).
        """
        found: set[str] = set()
        if self.levels.state in ("assumed", "doubtful"):
            found.add(f"level_names_{self.levels.state}")
        for muscle in self.measurement.get("laterality_suspect", []):
            found.add(f"laterality_suspect:{muscle}")
        per_side = ("absent_from_mask", "fat_classes_weakly_separated")
        for r in self.rows:
            for flag in filter(None, r.flags.split(";")):
                name = flag.split(":", 1)[0]
                if name in per_side:
                    found.add(f"{name}:{r.muscle} {r.side}")
                elif name not in ("note", "empty_at_level", "laterality_suspect") and not (
                    name.startswith("level_names_")
                ):
                    found.add(name)
        return tuple(sorted(found))

    @property
    def notes(self) -> tuple[str, ...]:
        """How the numbers were made, in words (modality, levels, fat, grading, scheme)."""
        return (
            f"modality {self.modality}: {self.modality_how}",
            f"levels: {self.levels.levels.method} (from {self.levels.source})",
            f"fat: {self.fat_method}",
            f"grading: {self.grading['name']}: {self.grading['source']}",
            f"label scheme: {self.label_scheme['name']}: {self.label_scheme['source']}",
        )

    def output_names(self) -> list[str]:
        """Return the files the result is written as (``summary.json`` ``outputs``)."""
        return [*TABLE_FILES, *(p.name for p in self.pictures)]

    # ---- summary.json ----------------------------------------------------------------

    def to_summary(self) -> dict[str, Any]:
        """Return ``summary.json`` as a dict (NaN kept; the writer turns it into null)."""
        return {
            "label_scheme": dict(self.label_scheme),
            "levels": {
                "method": self.levels.levels.method,
                "present": self.levels.present,
                "per_slice": list(self.levels.levels.levels),
            },
            "level_names": self.levels.to_dict(),
            "flags": list(self.flags),
            "fat_method": self.fat_method,
            "grading": dict(self.grading),
            "rows": [asdict(r) for r in self.rows],
            **self.measurement,
            "inputs": dict(self.inputs),
            "geometry": self.geometry.to_dict(),
            "modality": {"value": self.modality, "how": self.modality_how},
            "image_nan_voxels": self.image_nan_voxels,
            "qa_pictures": [p.name for p in self.pictures],
            "timings_s": dict(self.timings_s),
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "outputs": self.output_names(),
        }

    @classmethod
    def from_summary(
        cls,
        summary: Mapping[str, Any],
        *,
        slices: tuple[SliceRow, ...] = (),
        pictures: tuple[QaPicture, ...] = (),
        segmentation: Mapping[str, bytes] | None = None,
    ) -> MriResult:
        """Rebuild a result from ``summary.json`` (and the per-slice rows and pictures)."""
        lv = summary["levels"]
        found = SliceLevels(tuple(lv["per_slice"]), lv["method"])
        source = str(summary.get("inputs", {}).get("levels_from", "none"))
        names = summary.get("level_names")
        if names:
            levels = LevelAssignment(
                found,
                source,
                names["state"],
                names.get("found_as", ""),
                names.get("confirmed_by") or "",
                dict(names.get("renamed") or {}),
            )
        else:  # written before the block existed
            state = level_names_state(found)
            levels = LevelAssignment(found, source, state, state)
        measurement_keys = (
            "pixel_area_mm2",
            "voxel_volume_mm3",
            "slice_axis",
            "n_slices",
            "fat_details",
            "laterality_suspect",
        )
        geometry = summary["geometry"]
        prov = summary.get("provenance")
        return cls(
            rows=tuple(_row_from_json(r) for r in summary["rows"]),
            slices=tuple(slices),
            levels=levels,
            fat_method=summary["fat_method"],
            label_scheme=dict(summary["label_scheme"]),
            grading=dict(summary["grading"]),
            measurement={k: summary[k] for k in measurement_keys if k in summary},
            inputs=dict(summary.get("inputs", {})),
            geometry=Geometry(
                tuple(geometry["shape"]),
                tuple(geometry["spacing_mm"]),
                geometry["orientation"],
                geometry["slice_tilt_from_axial_deg"],
                tuple(tuple(r) for r in geometry["affine"]),
            ),
            modality=summary["modality"]["value"],
            modality_how=summary["modality"]["how"],
            image_nan_voxels=int(summary.get("image_nan_voxels", 0)),
            pictures=tuple(pictures),
            timings_s=dict(summary.get("timings_s", {})),
            provenance=Provenance(**prov) if prov else None,
            segmentation=dict(segmentation or {}),
        )


def _row_from_json(data: Mapping[str, Any]) -> MuscleRow:
    """Return a row from its JSON form (``null`` numbers back to NaN)."""
    values = dict(data)
    for key, value in values.items():
        if value is None:
            values[key] = math.nan
    return MuscleRow(**values)
