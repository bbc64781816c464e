"""Bad input through the imaging API says what is wrong with the user's file, by its name.

A failed upload or analysis job names the uploaded file (or the DICOM series and its file
count, or the mask version and its author) and what is wrong; never a path of the
server's temporary folders, where the upload and the job put their copies.
"""

from __future__ import annotations

import tempfile

import numpy as np

from spinestab.imaging.io import read_volume
from spinestab.imaging.viewer import volume_to_nifti

from .test_imaging_api import API, DATA, MM_IMAGE, MM_MASK, _wait, login

CT_DICOM = DATA / "totalsegmentator" / "example_ct_dicom_subset"


def _no_server_path(message: str) -> None:
    assert tempfile.gettempdir() + "/" not in message, message
    assert "spinestab-" not in message, message


def test_refused_uploads_name_the_uploaded_files(client):
    csrf = login(client, "doc")
    headers = {"X-CSRF-Token": csrf}
    truncated = client.post(
        f"{API}/imaging",
        files=[("image", ("broken_scan.nii.gz", MM_IMAGE.read_bytes()[:5000], "application/gzip"))],
        headers=headers,
    )
    assert truncated.status_code == 422
    detail = truncated.json()["detail"]
    assert detail.startswith("broken_scan.nii.gz: cannot read NIfTI"), detail
    _no_server_path(detail)

    mask = read_volume(MM_MASK, as_labels=True)
    half = volume_to_nifti(mask.__class__(mask.data[:, :, :10], mask.affine), labels=True)
    off_grid = client.post(
        f"{API}/imaging",
        files=[
            ("image", (MM_IMAGE.name, MM_IMAGE.read_bytes(), "application/gzip")),
            ("mask", ("half_mask.nii.gz", half, "application/gzip")),
        ],
        headers=headers,
    )
    assert off_grid.status_code == 422
    detail = off_grid.json()["detail"]
    assert "the mask half_mask.nii.gz" in detail and "not on the image grid" in detail, detail
    assert f"image {MM_IMAGE.name}: shape (256, 208, 20)" in detail, detail
    _no_server_path(detail)

    slices = sorted(CT_DICOM.iterdir())
    gap = client.post(
        f"{API}/imaging",
        files=[
            ("image", (p.name, p.read_bytes(), "application/dicom"))
            for p in slices[:2] + slices[3:]
        ],
        data={"labels": "totalseg_total"},
        headers=headers,
    )
    assert gap.status_code == 422
    detail = gap.json()["detail"]
    assert detail.startswith(f"the DICOM series ({len(slices) - 1} files): slice spacing"), detail
    _no_server_path(detail)
    assert client.get(f"{API}/imaging").json() == []  # nothing stored


def test_a_failed_analysis_names_the_series_and_the_mask_version(client):
    csrf = login(client, "doc")
    headers = {"X-CSRF-Token": csrf}
    slices = sorted(CT_DICOM.iterdir())
    made = client.post(
        f"{API}/imaging",
        files=[("image", (p.name, p.read_bytes(), "application/dicom")) for p in slices],
        data={"labels": "totalseg_total"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    study = made.json()["study"]
    # an outline drawn in the air beside the body: no muscle's CT values there
    series = read_volume(CT_DICOM)
    labels = np.zeros(series.shape, dtype=np.uint8)
    labels[2:12, 2:12, :] = 86  # autochthon left
    saved = client.post(
        f"{API}/imaging/{study}/mask",
        content=volume_to_nifti(series.with_data(labels), labels=True),
        headers=headers | {"content-type": "application/octet-stream"},
    )
    assert saved.status_code == 201, saved.text
    job = _wait(client, saved.json()["job_id"])
    assert job["status"] == "failed"
    (error,) = job["errors"]
    assert error.startswith(f"the DICOM series ({len(slices)} files): CT values"), error
    _no_server_path(error)
    # the viewer's state lists the job with the same words
    jobs = client.get(f"{API}/imaging/{study}").json()["jobs"]
    assert jobs[-1]["errors"] == [error]
    # and the patient's record page lists the job in words (it failed with 500)
    record = client.get("/patients/P-A")
    assert record.status_code == 200 and "Muscle quality (viewer mask)" in record.text


def test_an_analysis_from_the_browser_names_no_server_file(client):
    csrf = login(client, "doc")
    made = client.post(
        f"{API}/imaging",
        files=[
            ("image", (MM_IMAGE.name, MM_IMAGE.read_bytes(), "application/gzip")),
            ("mask", (MM_MASK.name, MM_MASK.read_bytes(), "application/gzip")),
        ],
        headers={"X-CSRF-Token": csrf},
    ).json()
    assert _wait(client, made["job_id"])["status"] == "succeeded"
    scheme = DATA / "custom_scheme.json"  # any file on the server: never opened from here
    for options, said in (
        ({"weights_dir": "/etc"}, "not an option of an analysis asked from the browser"),
        ({"segment": "totalsegmentator"}, "not an option of an analysis asked from the browser"),
        ({"vertebrae_labels": str(scheme)}, "unknown vertebra label scheme"),
    ):
        refused = client.post(
            f"{API}/imaging/{made['study']}/analyses",
            json={"options": options},
            headers={"X-CSRF-Token": csrf},
        )
        assert refused.status_code == 422 and said in refused.json()["detail"], refused.text
    jobs = client.get(f"{API}/imaging/{made['study']}").json()["jobs"]
    assert [j["job_id"] for j in jobs] == [made["job_id"]]  # nothing queued
