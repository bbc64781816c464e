"""An image series uploaded as DICOM takes its performed date from the series' own header.

Truth: the StudyDate written into the synthetic series' headers (pydicom), so "performed
last" (record._latest) orders viewer studies by when they were acquired, not stored.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from spinestab.record import create_patient
from spinestab.record.image_series import SeriesDetails, add_image_series

from .conftest import CLINICIAN

pytest.importorskip("pydicom")


def _volume(seed: int):
    from spinestab.imaging.io.volume import Volume

    data = np.random.default_rng(seed).integers(0, 900, size=(12, 10, 3)).astype(float)
    return Volume(data=data, affine=np.diag([0.8, 0.8, 4.0, 1.0]), modality="MR", source="x")


def test_a_dicom_series_is_dated_by_its_header(record, tmp_path):
    from spinestab.dicom_out.synthetic import write_synthetic_series
    from spinestab.imaging.io._dicom_base import study_date

    dated = write_synthetic_series(
        _volume(1), tmp_path / "a", patient_id="P-date", study_date=dt.date(2023, 5, 17)
    )
    other = write_synthetic_series(
        _volume(2), tmp_path / "b", patient_id="P-date", study_date=dt.date(2022, 1, 3)
    )
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P-date", sex="female", birth_year=1980)
        found = add_image_series(uow, CLINICIAN, "P-date", dated[0].parent)
        told = add_image_series(
            uow,
            CLINICIAN,
            "P-date",
            other[0].parent,
            details=SeriesDetails(performed_on=dt.date(2022, 2, 1)),
        )
    assert found.performed_on == dt.date(2023, 5, 17)
    assert told.performed_on == dt.date(2022, 2, 1)  # what the clinician says wins
    # a header without a usable date: none, never an error
    blank = type("Header", (), {"StudyDate": "", "SeriesDate": "2023-05-17"})()
    assert study_date(blank) is None
    late = type("Header", (), {"StudyDate": "", "AcquisitionDate": "20240229"})()
    assert study_date(late) == "2024-02-29"
