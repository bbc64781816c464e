"""A muscle mask as a DICOM Segmentation (SEG) that references its source series."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinestab import __version__
from spinestab.core.validation import check_choice
from spinestab.dicom_out.codes import (
    ANATOMICAL_STRUCTURE,
    LATERALITY,
    LUMBAR_SPINE,
    muscle_code,
)
from spinestab.dicom_out.series import SourceSeries, frames_from_volume
from spinestab.errors import InputError, require
from spinestab.imaging.io import Volume, conform_to
from spinestab.imaging.labels import LabelScheme, label_values

__all__ = ["MuscleSegment", "SegmentationResult", "make_segmentation"]

logger = logging.getLogger(__name__)

#: algorithm types of DICOM PS3.3 C.8.20.2 (Segment Algorithm Type)
ALGORITHM_TYPES = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")


@dataclass(frozen=True)
class MuscleSegment:
    """One segment of the SEG: a muscle on one side."""

    number: int
    label_value: int
    muscle: str
    side: str
    label: str


@dataclass(frozen=True)
class SegmentationResult:
    """The SEG dataset and what each segment holds."""

    dataset: Any
    segments: tuple[MuscleSegment, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def segment_of(self, muscle: str, side: str) -> MuscleSegment:
        """Return the segment of a muscle and side."""
        for s in self.segments:
            if (s.muscle, s.side) == (muscle, side):
                return s
        raise KeyError((muscle, side))


def make_segmentation(
    source: SourceSeries,
    mask: Volume,
    scheme: LabelScheme,
    *,
    algorithm_type: str = "AUTOMATIC",
    algorithm_name: str | None = None,
    algorithm_version: str | None = None,
    content_creator: str | None = None,
    series_number: int = 901,
) -> SegmentationResult:
    """Build a binary DICOM SEG of the muscle labels of ``mask``, one segment per muscle and side.

    Parameters
    ----------
    source : SourceSeries
        The image series the mask was drawn on.
    mask : Volume
        Label map on the series grid (any axis order of the same grid is accepted).
    scheme : LabelScheme
        Meaning of the label values; only muscle labels become segments, other labels
        (vertebrae, discs) are left out.
    algorithm_type : {"AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"}
        How the mask was made (DICOM Segment Algorithm Type).
    algorithm_name, algorithm_version : str, optional
        The segmenter (e.g. "MuscleMap", "TotalSegmentator"); needed unless ``MANUAL``.
    content_creator : str, optional
        Who drew or checked the mask (DICOM PN, e.g. "Doe^Jane").
    series_number : int
        SeriesNumber of the new SEG series.

    Returns
    -------
    SegmentationResult

    Raises
    ------
    InputError
        A mask off the series grid, a mask without muscle labels, an unknown algorithm type.

    """
    hd = require("highdicom", extra="dicom", feature="DICOM SEG export")
    from highdicom.sr.coding import CodedConcept

    kind = algorithm_type.upper()
    check_choice(
        "algorithm_type",
        kind,
        ALGORITHM_TYPES,
        message="unknown segment algorithm type",
        expected=str(ALGORITHM_TYPES),
    )
    on_grid = conform_to(source.volume, mask, what="mask")
    labels = np.asarray(on_grid.data)
    present = {int(v) for v in label_values(labels)}
    muscles = {v: e for v, e in scheme.muscles().items() if v in present}
    if not muscles:
        raise InputError(
            "mask holds no muscle label of the scheme",
            source=mask.source,
            value=sorted(present),
            expected=f"muscle labels of {scheme.name}",
        )
    algorithm = None
    if kind != "MANUAL":
        if not algorithm_name:
            raise InputError(
                "an automatic or semi-automatic mask needs the algorithm's name",
                item="algorithm_name",
                expected="e.g. MuscleMap, TotalSegmentator",
            )
        algorithm = hd.AlgorithmIdentificationSequence(
            name=algorithm_name,
            version=algorithm_version or "unknown",
            family=CodedConcept("123109", "DCM", "Manual Processing")
            if kind == "SEMIAUTOMATIC"
            else CodedConcept("113037", "DCM", "Artificial Intelligence"),
        )
    segments: list[MuscleSegment] = []
    descriptions = []
    remap = np.zeros(max(present) + 1, dtype=np.uint16)
    order = sorted(muscles.items(), key=lambda kv: (kv[1].name, kv[1].side, kv[0]))
    for number, (value, entry) in enumerate(order, start=1):
        muscle = muscle_code(entry.name, entry.note)
        label = f"{entry.name.replace('_', ' ')} {entry.side}".strip()
        desc = hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=ANATOMICAL_STRUCTURE.code(),
            segmented_property_type=muscle.code(),
            algorithm_type=kind,
            algorithm_identification=algorithm,
            tracking_uid=hd.UID(),
            tracking_id=f"{entry.name} {entry.side}",
            anatomic_regions=[LUMBAR_SPINE.code()],
        )
        if entry.side in LATERALITY:
            side = LATERALITY[entry.side]
            desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                CodedConcept(side.value, side.scheme, side.meaning)
            ]
        descriptions.append(desc)
        remap[value] = number
        segments.append(MuscleSegment(number, value, entry.name, entry.side, label))
    frames = frames_from_volume(remap[np.clip(labels, 0, max(present))], source.datasets)
    first = source.datasets[0]
    description = f"Muscle masks for {getattr(first, 'SeriesDescription', '') or 'series'}"
    seg = hd.seg.Segmentation(
        source_images=list(source.datasets),
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="spinestab",
        manufacturer_model_name="spinestab",
        software_versions=__version__,
        device_serial_number="none",
        content_description="Paraspinal and psoas muscle masks",
        content_label="MUSCLES",
        content_creator_name=content_creator,
        series_description=description[:64],
    )
    logger.info("SEG with %d segments for series %s", len(segments), source.series_uid)
    return SegmentationResult(seg, tuple(segments), {"label_scheme": scheme.name})
