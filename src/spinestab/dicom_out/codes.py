"""Coded concepts for muscles, sides, levels and measurements in DICOM SEG and SR.

Every code names where it was checked. Evidence tags as in CLINICAL_LOGIC.md:
[V] found in a published code list (DICOM PS3.16 as shipped in pydicom's concept
dictionary, or TotalSegmentator's SNOMED mapping for its DICOM-SEG output), [R] found in one
secondary list and not yet checked in a SNOMED CT browser. Concepts without a standard code
use spinestab's private coding scheme :data:`LOCAL_SCHEME` (DICOM PS3.3 8.2: private
designators begin with "99").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ANATOMICAL_STRUCTURE",
    "ILIOPSOAS",
    "LATERALITY",
    "LOCAL_SCHEME",
    "LUMBAR_SPINE",
    "MEASUREMENTS",
    "MUSCLE_CODES",
    "VERTEBRA_CODES",
    "CodeSpec",
    "fat_method_code",
    "muscle_code",
]

#: spinestab's private DICOM coding scheme designator
LOCAL_SCHEME = "99SPINESTAB"


@dataclass(frozen=True)
class CodeSpec:
    """One coded concept: value, scheme designator, meaning and where it was checked."""

    value: str
    scheme: str
    meaning: str
    source: str

    def code(self) -> Any:
        """Return the concept as a ``pydicom.sr.coding.Code``."""
        from pydicom.sr.coding import Code

        return Code(self.value, self.scheme, self.meaning)


_PYDICOM = "DICOM PS3.16 concept as shipped in pydicom's sr concept dictionary [V]"
_TS = "TotalSegmentator resources/totalsegmentator_snomed_mapping.csv (DICOM-SEG output) [V]"
_FHIR_BODY_SITE = (
    "SNOMED CT body structures as listed in HL7 FHIR R4's body-site value set, seen in one "
    "public copy of that list [R]; not in CLINICAL_LOGIC §6.2 nor DICOM PS3.16 CID 6116"
)

#: SegmentedPropertyCategory of every muscle segment
ANATOMICAL_STRUCTURE = CodeSpec("123037004", "SCT", "Anatomical Structure", _TS)
#: anatomic region of every segment
LUMBAR_SPINE = CodeSpec("122496007", "SCT", "Lumbar spine", _PYDICOM)

#: canonical muscle name (spinestab.imaging.labels.MUSCLES) -> SNOMED CT concept
MUSCLE_CODES: dict[str, CodeSpec] = {
    "erector_spinae": CodeSpec("44947003", "SCT", "Erector spinae muscle", _PYDICOM),
    # TotalSegmentator's "autochthon" (erector spinae and multifidus together)
    "autochthon": CodeSpec("244849004", "SCT", "Deep muscle of back", _TS),
    # The next three are not in CLINICAL_LOGIC.md §6.2 (it lists no muscle codes), not in
    # DICOM PS3.16 CID 6116 "Muscular Anatomy" and not in pydicom's concept dictionary
    # (checked by tests/dicom_out/test_codes.py). Each is used with the one secondary source
    # named here and stays [R] until checked in a SNOMED CT browser before release.
    "multifidus": CodeSpec(
        "5709001",
        "SCT",
        "Multifidus muscles",
        _FHIR_BODY_SITE,
    ),
    "quadratus_lumborum": CodeSpec(
        "6001004",
        "SCT",
        "Quadratus lumborum muscle",
        _FHIR_BODY_SITE,
    ),
    # No code for psoas major alone was found; "Psoas muscle" (major and minor) is the
    # nearest concept found. It lies outside the range of the body-site list above.
    "psoas": CodeSpec(
        "276167002",
        "SCT",
        "Psoas muscle",
        "UBERON psoas muscle (UBERON:0008450) cross-reference to SNOMED CT [R]; not in "
        "CLINICAL_LOGIC §6.2 nor DICOM PS3.16; psoas major alone not found",
    ),
}

#: TotalSegmentator's iliopsoas (psoas and iliacus together), when a scheme notes it
ILIOPSOAS = CodeSpec("68455001", "SCT", "Iliopsoas muscle", _TS)

#: side -> SNOMED CT laterality qualifier
LATERALITY: dict[str, CodeSpec] = {
    "right": CodeSpec("24028007", "SCT", "Right", _PYDICOM),
    "left": CodeSpec("7771000", "SCT", "Left", _PYDICOM),
    "both": CodeSpec("51440002", "SCT", "Bilateral", _PYDICOM),
}

#: vertebral level -> SNOMED CT vertebra (the level a measurement group belongs to)
VERTEBRA_CODES: dict[str, CodeSpec] = {
    "T12": CodeSpec("23215003", "SCT", "T12 vertebra", _TS),
    "L1": CodeSpec("66794005", "SCT", "L1 vertebra", _TS),
    "L2": CodeSpec("14293000", "SCT", "L2 vertebra", _TS),
    "L3": CodeSpec("36470004", "SCT", "L3 vertebra", _TS),
    "L4": CodeSpec("11994002", "SCT", "L4 vertebra", _TS),
    "L5": CodeSpec("49668003", "SCT", "L5 vertebra", _TS),
    "S1": CodeSpec("65985001", "SCT", "S1 vertebra", _TS),
}

#: measurement name -> (concept, UCUM unit, derivation or None)
MEASUREMENTS: dict[str, tuple[CodeSpec, CodeSpec, CodeSpec | None]] = {
    "csa_max_mm2": (
        CodeSpec("42798000", "SCT", "Area", _PYDICOM),
        CodeSpec("mm2", "UCUM", "square millimeter", _PYDICOM),
        CodeSpec("56851009", "SCT", "Maximum", _PYDICOM),
    ),
    "csa_mean_mm2": (
        CodeSpec("42798000", "SCT", "Area", _PYDICOM),
        CodeSpec("mm2", "UCUM", "square millimeter", _PYDICOM),
        CodeSpec("373098007", "SCT", "Mean", _PYDICOM),
    ),
    "lean_csa_mean_mm2": (
        CodeSpec(
            "lean_csa",
            LOCAL_SCHEME,
            "Lean muscle cross-sectional area",
            "no standard code found: area x (1 - fat fraction) per slice [D]",
        ),
        CodeSpec("mm2", "UCUM", "square millimeter", _PYDICOM),
        CodeSpec("373098007", "SCT", "Mean", _PYDICOM),
    ),
    "fat_fraction_pct": (
        CodeSpec("129100", "DCM", "Fat fraction", _PYDICOM),
        CodeSpec("%", "UCUM", "Percent", _PYDICOM),
        None,
    ),
    "volume_ml": (
        CodeSpec("118565006", "SCT", "Volume", _PYDICOM),
        CodeSpec("ml", "UCUM", "milliliter", "UCUM [V]"),
        None,
    ),
}


def muscle_code(muscle: str, note: str = "") -> CodeSpec:
    """Return the concept of a canonical muscle name.

    A TotalSegmentator "psoas" label noted as iliopsoas gets the iliopsoas concept.
    """
    if muscle == "psoas" and "iliopsoas" in note.lower():
        return ILIOPSOAS
    try:
        return MUSCLE_CODES[muscle]
    except KeyError:
        raise KeyError(f"no code for muscle {muscle!r}") from None


def fat_method_code(method: str) -> CodeSpec:
    """Return a private concept naming a fat method tag (e.g. ``dixon``, ``t1w_n4_otsu2``)."""
    return CodeSpec(
        f"fat:{method}"[:16],
        LOCAL_SCHEME,
        f"spinestab fat method {method}",
        "spinestab method tag (README, muscle quality from MRI) [D]",
    )
