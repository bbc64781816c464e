"""Muscle quality from lumbar MRI and CT: per muscle, side and vertebral level.

Reading (:mod:`~spinestab.imaging.io`), label schemes (:mod:`~spinestab.imaging.labels`),
vertebral levels (:mod:`~spinestab.imaging.levels`), fat (:mod:`~spinestab.imaging.fat`),
metrics (:mod:`~spinestab.imaging.muscle`), grades and reference values, phantoms, QA
pictures and segmentation backends (:mod:`~spinestab.imaging.segment`). Heavy optional
libraries (nibabel, pydicom, SimpleITK, scipy, scikit-learn, matplotlib) load only when used.
"""

from spinestab.imaging.fat import (
    FatMap,
    ct_fat,
    dixon_fat_fraction,
    n4_bias_correct,
    pdff_passthrough,
    single_contrast_fat,
)
from spinestab.imaging.grading import GRADING_SCHEMES, GradingScheme, get_grading_scheme
from spinestab.imaging.io import Volume, conform_to, read_dicom_series, read_nifti, read_volume
from spinestab.imaging.labels import LabelScheme, get_scheme
from spinestab.imaging.levels import (
    SliceLevels,
    levels_from_instances,
    levels_from_single_label,
    levels_from_table,
)
from spinestab.imaging.muscle import MuscleQuality, MuscleRow, SliceRow, measure
from spinestab.imaging.phantom import Phantom, make_phantom
from spinestab.imaging.reference import Reference, compare_with_reference

__all__ = [
    "GRADING_SCHEMES",
    "FatMap",
    "GradingScheme",
    "LabelScheme",
    "MuscleQuality",
    "MuscleRow",
    "Phantom",
    "Reference",
    "SliceLevels",
    "SliceRow",
    "Volume",
    "compare_with_reference",
    "conform_to",
    "ct_fat",
    "dixon_fat_fraction",
    "get_grading_scheme",
    "get_scheme",
    "levels_from_instances",
    "levels_from_single_label",
    "levels_from_table",
    "make_phantom",
    "measure",
    "n4_bias_correct",
    "pdff_passthrough",
    "read_dicom_series",
    "read_nifti",
    "read_volume",
    "single_contrast_fat",
]
