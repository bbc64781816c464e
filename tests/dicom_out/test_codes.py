"""Every coded concept of the DICOM and FHIR exports names its source, and the sources hold:
a concept said to come from DICOM PS3.16 as shipped in pydicom is there with that meaning;
the muscle codes tagged [R] are not (yet) in any list the project can check, and not in
CLINICAL_LOGIC §6.2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spinestab.dicom_out import codes

ROOT = Path(__file__).resolve().parents[2]
CLINICAL_LOGIC = ROOT.parent / "shared" / "clinical" / "CLINICAL_LOGIC.md"
SPECS = {
    **{f"muscle {k}": v for k, v in codes.MUSCLE_CODES.items()},
    **{f"side {k}": v for k, v in codes.LATERALITY.items()},
    **{f"level {k}": v for k, v in codes.VERTEBRA_CODES.items()},
    "anatomical structure": codes.ANATOMICAL_STRUCTURE,
    "lumbar spine": codes.LUMBAR_SPINE,
    "iliopsoas": codes.ILIOPSOAS,
    **{
        f"{m} {n}": spec
        for m, specs in codes.MEASUREMENTS.items()
        for n, spec in zip(("concept", "unit", "derivation"), specs, strict=True)
        if spec is not None
    },
}


def _pydicom_concepts() -> dict[str, dict[str, set[str]]]:
    """scheme -> code -> every meaning pydicom's concept dictionary gives it."""
    from pydicom.sr._concepts_dict import concepts

    out: dict[str, dict[str, set[str]]] = {}
    for scheme, names in concepts.items():
        for entries in names.values():
            for code, (meaning, _cids) in entries.items():
                out.setdefault(scheme, {}).setdefault(code, set()).add(meaning)
    return out


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_code_names_its_source_with_an_evidence_tag(name):
    assert re.search(r"\[(V|R|D)\]", SPECS[name].source), SPECS[name]


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if "pydicom" in s.source))
def test_codes_said_to_be_in_pydicom_are_there_with_that_meaning(name):
    spec = SPECS[name]
    meanings = _pydicom_concepts().get(spec.scheme, {}).get(spec.value)
    assert meanings, f"{spec.scheme} {spec.value} not in pydicom's dictionary"
    assert spec.meaning.lower() in {m.lower() for m in meanings}, (meanings, spec.meaning)


def test_the_unverified_muscle_codes_stay_tagged_r():
    """5709001, 6001004 and 276167002: found in no list the project can check."""
    known = _pydicom_concepts().get("SCT", {})
    section = ""
    if CLINICAL_LOGIC.is_file():
        text = CLINICAL_LOGIC.read_text(encoding="utf-8")
        start = text.index("### 6.2 Codes found or checked")
        section = text[start : text.index("\n## ", start)]
    for muscle in ("multifidus", "quadratus_lumborum", "psoas"):
        spec = codes.MUSCLE_CODES[muscle]
        assert "[R]" in spec.source and "§6.2" in spec.source
        assert spec.value not in known  # were it found there, tag it [V] and say so
        assert spec.value not in section
