"""Shared fixtures for the imaging tests: real data paths and phantoms built once."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = DATA / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
TS_CT = DATA / "totalsegmentator" / "example_ct_sm.nii.gz"
TS_SEG = DATA / "totalsegmentator" / "example_seg.nii.gz"
TS_DICOM_SUBSET = DATA / "totalsegmentator" / "example_ct_dicom_subset"
TP_DIR = DATA / "tptbox_ct_L2-L4"
TP_CT = TP_DIR / "sub-ct_label-22_ct.nii.gz"
TP_VERT = TP_DIR / "sub-ct_seg-vert_label-22_msk.nii.gz"
TP_SUBREG = TP_DIR / "sub-ct_seg-subreg_label-22_msk.nii.gz"


@pytest.fixture(scope="session")
def musclemap():
    from spinestab.imaging.io import read_volume

    return read_volume(MM_IMAGE), read_volume(MM_MASK, as_labels=True)


@pytest.fixture(scope="session")
def phantom():
    from spinestab.imaging.phantom import make_phantom

    return make_phantom()


@pytest.fixture(scope="session")
def strong_bias_phantom():
    from spinestab.imaging.phantom import make_phantom

    return make_phantom(bias_strength=2.0, seed=3)
