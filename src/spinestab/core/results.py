"""Typed results shared by the domains: muscle quality per muscle, side and level.

``spinestab mri`` (imaging) produces them and writes them as ``muscle_quality.csv``; care
reads them (from that table or from a result in memory) into the stability profile; the
record stores them. One type for all, so the column contract lives in one place.

The table's columns, in order, are :data:`MUSCLE_QUALITY_COLUMNS`; a table made by another
tool needs only :data:`MUSCLE_QUALITY_REQUIRED` (the other columns are then blank).

Examples
--------
>>> rows = (
...     MuscleRow(muscle="multifidus", side="left", level="L4", fat_fraction_pct=21.0),
...     MuscleRow(muscle="multifidus", side="right", level="L4", fat_fraction_pct=25.5),
...     MuscleRow(muscle="multifidus", side="left", level="all", fat_fraction_pct=20.0),
... )
>>> quality = MuscleQuality(rows=rows, fat_method="dixon")
>>> quality.levels(), quality.row("multifidus", "right", "L4").fat_fraction_pct
(('L4',), 25.5)
>>> MUSCLE_QUALITY_COLUMNS[:4]
('muscle', 'side', 'level', 'csa_max_mm2')

"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from spinestab.core.levels import level_sort_key

__all__ = [
    "MUSCLE_QUALITY_COLUMNS",
    "MUSCLE_QUALITY_REQUIRED",
    "SUMMARY_LEVELS",
    "MuscleQuality",
    "MuscleRow",
    "level_names_state",
]

#: Level names of the summary rows: ``all`` (every slice of the image) and ``unassigned``
#: (slices outside the labelled vertebrae).
SUMMARY_LEVELS = ("all", "unassigned")


def level_names_state(level: str, flags: str) -> str:
    """Return how far a row's level name can be trusted: ``doubtful``, ``assumed`` or ``""``.

    From the row's flags (``level_names_doubtful`` wins over ``level_names_assumed``);
    ``""`` for a named or confirmed level and for the summary rows (``all``,
    ``unassigned``), whose names rest on no vertebra.

    Examples
    --------
    >>> level_names_state("L4", "level_names_assumed;laterality_suspect")
    'assumed'
    >>> level_names_state("all", "level_names_doubtful")
    ''

    """
    if level in SUMMARY_LEVELS:
        return ""
    found = set(filter(None, (flags or "").split(";")))
    for state in ("doubtful", "assumed"):
        if f"level_names_{state}" in found:
            return state
    return ""


@dataclass(frozen=True, kw_only=True)
class MuscleRow:
    """One muscle x side x level: one row of ``muscle_quality.csv``.

    The fields are the table's columns in order (see :data:`MUSCLE_QUALITY_COLUMNS`).
    Numbers not measured are NaN, texts not given are empty.

    Attributes
    ----------
    muscle : str
        Canonical muscle name (``multifidus``, ``erector_spinae``, ``autochthon``,
        ``psoas``, ``quadratus_lumborum``).
    side : str
        ``left``, ``right`` (the patient's side) or ``none``.
    level : str
        A vertebra (``L4``) or a summary level (``all``, ``unassigned``).
    csa_max_mm2, csa_mean_mm2 : float
        Largest and mean cross-sectional area over the level's slices (mm^2).
    volume_ml : float
        Muscle volume within the level (ml).
    fat_fraction_pct : float
        Voxel-weighted mean fat fraction (%).
    fat_method : str
        How fat was measured (``dixon``, ``pdff``, ``ct_hu``, single-contrast methods).
    lean_csa_mean_mm2 : float
        Mean over slices of area x (1 - fat fraction) (mm^2).
    grade : str
        Fat grade of ``grade_scheme``.
    asymmetry_pct : float
        ``100 * (right - left) / mean(right, left)`` of ``csa_mean_mm2``.
    reference_note : str
        Which reference the row was compared with, or why none.
    n_slices : int
        Slices of the level in which the muscle is present (0 when not reported).
    mean_intensity : float
        Mean image intensity in the muscle.
    csa_to_vertebral_body : float
        ``csa_mean_mm2`` over the mean vertebral-body area of the same slices.
    grade_scheme : str
        The grading scheme's label.
    reference_mean_pct, reference_sd_pct, reference_z : float
        Reference band and the row's z score against it.
    label_value : int
        The label value in the mask (0 when not reported).
    flags : str
        Semicolon-separated quality flags.

    """

    muscle: str
    side: str
    level: str
    csa_max_mm2: float = math.nan
    csa_mean_mm2: float = math.nan
    volume_ml: float = math.nan
    fat_fraction_pct: float = math.nan
    fat_method: str = ""
    lean_csa_mean_mm2: float = math.nan
    grade: str = ""
    asymmetry_pct: float = math.nan
    reference_note: str = ""
    n_slices: int = 0
    mean_intensity: float = math.nan
    csa_to_vertebral_body: float = math.nan
    grade_scheme: str = ""
    reference_mean_pct: float = math.nan
    reference_sd_pct: float = math.nan
    reference_z: float = math.nan
    label_value: int = 0
    flags: str = ""

    @property
    def is_summary(self) -> bool:
        """Whether this is a summary row (``all``/``unassigned``), not one vertebral level."""
        return self.level in SUMMARY_LEVELS

    def as_dict(self) -> dict[str, Any]:
        """Return the row as ``{column: value}`` in column order."""
        return asdict(self)


#: The columns of ``muscle_quality.csv``, in order (the public contract of ``spinestab mri``).
MUSCLE_QUALITY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(MuscleRow))
#: The columns a ``muscle_quality.csv`` made elsewhere must have for the care profile.
MUSCLE_QUALITY_REQUIRED = ("muscle", "side", "level", "fat_fraction_pct", "fat_method")


@dataclass(frozen=True)
class MuscleQuality:
    """Muscle quality of one study: its rows and how they were measured.

    Attributes
    ----------
    rows : tuple of MuscleRow
        One row per muscle, side and level (summary levels included).
    fat_method : str
        How fat was measured for the study (empty when not known).
    source : str
        Where the rows came from (a file, or ``spinestab mri``).
    meta : dict
        Anything else the producer reports (geometry, label scheme, ...).

    """

    rows: tuple[MuscleRow, ...]
    fat_method: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def row(self, muscle: str, side: str, level: str) -> MuscleRow:
        """Return the row of one muscle, side and level (KeyError when absent)."""
        for r in self.rows:
            if (r.muscle, r.side, r.level) == (muscle, side, level):
                return r
        raise KeyError((muscle, side, level))

    def of_muscle(self, muscle: str) -> tuple[MuscleRow, ...]:
        """Rows of one muscle, in table order."""
        return tuple(r for r in self.rows if r.muscle == muscle)

    def muscles(self) -> tuple[str, ...]:
        """Return the muscles in the table, sorted by name."""
        return tuple(sorted({r.muscle for r in self.rows}))

    def levels(self) -> tuple[str, ...]:
        """Return the vertebral levels measured (no summary levels), cranial to caudal."""
        return tuple(sorted({r.level for r in self.rows if not r.is_summary}, key=level_sort_key))
