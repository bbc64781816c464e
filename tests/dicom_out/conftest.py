"""A real MRI (MuscleMap, MIT) written as a DICOM series with a synthetic header, analysed once."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = DATA / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
TS_DICOM_SUBSET = DATA / "totalsegmentator" / "example_ct_dicom_subset"
#: levels declared for the test (by eye the 20 slices run from about L3 down to L5/S1,
#: slice 0 caudal in this LPS image); a slice table as `spinestab mri --levels-table` takes
LEVELS = "level,first_slice,last_slice\nL5,0,6\nL4,7,13\nL3,14,19\n"


@pytest.fixture(scope="session")
def mr_study(tmp_path_factory):
    """(series folder, muscle_quality.csv, mask path) of the MuscleMap MRI as DICOM."""
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io import read_nifti
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.outputs import write_mri_outputs
    from spinestab.imaging.pipeline import LevelInputs, analyse_mri

    root = tmp_path_factory.mktemp("mr_study")
    series = root / "series"
    write_synthetic_series(read_nifti(MM_IMAGE), series, patient_id="demo-001")
    table = root / "levels.csv"
    table.write_text(LEVELS, encoding="utf-8")
    out = root / "mri"
    result = analyse_mri(
        series,
        MM_MASK,
        options=MriOptions(labels="musclemap", qa=False),
        levels=LevelInputs(levels_table=table),
    )
    write_mri_outputs(result, out)
    return series, out / "muscle_quality.csv", MM_MASK
