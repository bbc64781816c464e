"""Uploads (size limits, content sniffing) and analyses as background jobs, over the API.

The truths: the bundled MuscleMap MRI and mask (max CSA of the right multifidus 13.58 cm2,
MuscleMap MANIFEST), the demo landmarks (the CLI's instability.json of the same files), an
Axivity CWA file (the CLI's daily.csv of the same file).
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .conftest import login, make_settings, seed

TESTS = Path(__file__).resolve().parents[1]
MM_IMAGE = TESTS / "data" / "imaging" / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = TESTS / "data" / "imaging" / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
CWA = TESTS / "data" / "wearable" / "ax6_sample.cwa"
LANDMARKS = TESTS.parent / "src" / "spinestab" / "data" / "demo_patients"
LANDMARKS = LANDMARKS / "structural_spondylolisthesis" / "landmarks"


@pytest.fixture
def doc(client):
    client.headers["X-CSRF-Token"] = login(client, "doc")
    return client


def upload(client, kind, path, *, pseudonym="P-A", name=None, data=None):
    content = data if data is not None else Path(path).read_bytes()
    return client.post(
        f"/api/v1/patients/{pseudonym}/files",
        data={"kind": kind},
        files={"file": (name or Path(path).name, content, "application/octet-stream")},
    )


def wait(client, job_id, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_uploads_are_sniffed_and_limited(doc, app):
    ok = upload(doc, "mri", MM_IMAGE)
    assert ok.status_code == 201, ok.text
    assert set(ok.json()) >= {"id", "kind", "name", "sha256", "size_bytes"}
    assert ok.json()["size_bytes"] == MM_IMAGE.stat().st_size
    # the bytes are in the artifact store under their hash
    assert app.state.spinestab.record.artifacts.get(ok.json()["sha256"]) == MM_IMAGE.read_bytes()
    # a NIfTI named without its suffix is stored with it (the readers go by the suffix)
    renamed = upload(doc, "mask", MM_MASK, name="mask")
    assert renamed.status_code == 201 and renamed.json()["name"] == "mask.nii.gz"
    # content that is not the kind's: 415, never stored
    assert upload(doc, "mri", None, name="x.nii.gz", data=b"just text\n").status_code == 415
    assert upload(doc, "landmarks", MM_MASK).status_code == 415
    assert (
        upload(
            doc, "wearable", None, name="a.png", data=b"\x89PNG\r\n\x1a\n" + b"0" * 64
        ).status_code
        == 415
    )
    # too large for the kind (landmarks: 1 MiB) and empty files
    big = b"x," * (600 * 1024)
    assert upload(doc, "landmarks", None, name="l.csv", data=big).status_code == 413
    assert upload(doc, "landmarks", None, name="l.csv", data=b"").status_code == 422
    assert upload(doc, "brain", MM_IMAGE).status_code == 422
    # the kind as a query parameter works too; no kind at all is a clear 422
    mask = MM_MASK.read_bytes()
    by_query = doc.post("/api/v1/patients/P-A/files?kind=mask", files={"file": ("m.nii.gz", mask)})
    assert by_query.status_code == 201 and by_query.json()["kind"] == "mask"
    no_kind = doc.post("/api/v1/patients/P-A/files", files={"file": ("m.nii.gz", mask)})
    assert no_kind.status_code == 422 and "kind" in no_kind.json()["detail"]
    # another patient's upload is not ours; an unknown patient is 404
    assert upload(doc, "mri", MM_IMAGE, pseudonym="P-404").status_code == 404
    listed = doc.get("/api/v1/patients/P-A/files").json()
    ids = [by_query.json()["id"], renamed.json()["id"], ok.json()["id"]]
    assert [f["id"] for f in listed] == ids


def test_analysis_requests_are_checked_before_a_job_is_queued(doc):
    image = upload(doc, "mri", MM_IMAGE).json()["id"]
    theirs = upload(doc, "mri", MM_IMAGE, pseudonym="P-B").json()["id"]

    def start(body, pseudonym="P-A"):
        return doc.post(f"/api/v1/patients/{pseudonym}/analyses", json=body)

    assert start({"kind": "mri", "files": [theirs]}).status_code == 404
    assert start({"kind": "mri", "files": [image], "options": {"nope": 1}}).status_code == 422
    refused = start({"kind": "mri", "files": [image], "options": {"weights_dir": "/etc"}})
    assert refused.status_code == 422 and "server" in refused.json()["detail"]
    assert start({"kind": "wearable", "files": [image]}).status_code == 422
    assert start({"kind": "surgery", "files": [image]}).status_code == 422
    assert (
        start({"kind": "instability", "files": [{"id": image, "role": "neutral"}]}).status_code
        == 422
    )
    bad_set = start(
        {"kind": "instability", "files": [image], "options": {"thresholds": "/etc/passwd"}}
    )
    assert bad_set.status_code == 422


def test_mri_job_saves_the_study_with_the_manifest_csa(doc):
    image = upload(doc, "mri", MM_IMAGE).json()["id"]
    mask = upload(doc, "mask", MM_MASK).json()["id"]
    started = doc.post(
        "/api/v1/patients/P-A/analyses",
        json={"kind": "mri", "files": [image, mask], "options": {"labels": "musclemap"}},
    )
    assert started.status_code == 202, started.text
    job = wait(doc, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["errors"] == []
    assert job["result"]["entity"] == "imaging" and job["result"]["rows"] == 8
    (study,) = doc.get("/api/v1/patients/P-A").json()["imaging"]
    assert study["id"] == job["result"]["id"] and study["options"]["labels"] == "musclemap"
    mf = next(r for r in study["rows"] if r["muscle"] == "multifidus" and r["side"] == "right")
    assert float(mf["csa_max_mm2"]) / 100 == pytest.approx(13.58, abs=0.005)
    roles = {f["role"] for f in study["files"]}
    assert {"table", "summary", "input:image", "input:mask", "qa_picture"} <= roles
    # the QA picture is served to the clinician as a PNG
    picture = next(f for f in study["files"] if f["role"] == "qa_picture")
    png = doc.get(f"/patients/P-A/files/{picture['id']}")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.headers["content-type"] == "image/png"


def test_failed_job_says_why_and_stores_nothing(doc):
    text = b'{"not": "an image"}'
    image = upload(doc, "mri", MM_IMAGE).json()["id"]
    wrong_mask = upload(doc, "mask", MM_IMAGE, name="image_as_mask.nii.gz").json()["id"]
    started = doc.post(
        "/api/v1/patients/P-A/analyses",
        json={"kind": "mri", "files": [image, wrong_mask], "options": {"labels": "musclemap"}},
    )
    job = wait(doc, started.json()["job_id"])
    assert job["status"] == "failed" and job["errors"] and text not in job["errors"][0].encode()
    assert doc.get("/api/v1/patients/P-A").json()["imaging"] == []


def test_instability_job_equals_the_command_line(doc, tmp_path):
    from typer.testing import CliRunner

    from spinestab.cli import app as cli

    ids = {
        view: upload(doc, "landmarks", LANDMARKS / f"{view}.json").json()["id"]
        for view in ("neutral", "flexion", "extension")
    }
    files = [{"id": i, "role": view} for view, i in ids.items()]
    started = doc.post(
        "/api/v1/patients/P-A/analyses", json={"kind": "instability", "files": files}
    )
    assert started.status_code == 202, started.text
    job = wait(doc, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    out = tmp_path / "cli"
    args = ["instability", "--out", str(out)]
    for view in ids:
        args += [f"--{view}", str(LANDMARKS / f"{view}.json")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    expected = json.loads((out / "instability.json").read_text())
    (study,) = doc.get("/api/v1/patients/P-A").json()["instability"]
    assert [lv["level"] for lv in study["levels"]] == [lv["level"] for lv in expected["levels"]]
    assert [lv["verdict"] for lv in study["levels"]] == [
        lv.get("verdict") for lv in expected["levels"]
    ]


def test_wearable_job_equals_the_command_line(doc, tmp_path):
    from typer.testing import CliRunner

    from spinestab.cli import app as cli

    trunk = upload(doc, "wearable", CWA).json()["id"]
    started = doc.post("/api/v1/patients/P-A/analyses", json={"kind": "wearable", "files": [trunk]})
    assert started.status_code == 202, started.text
    job = wait(doc, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    out = tmp_path / "cli"
    assert (
        CliRunner().invoke(cli, ["wearable", "--trunk", str(CWA), "--out", str(out)]).exit_code == 0
    )
    daily = list(csv.DictReader(io.StringIO((out / "daily.csv").read_text())))
    (rec,) = doc.get("/api/v1/patients/P-A").json()["wearable"]
    assert [d["date"] for d in rec["days"]] == [d["date"] for d in daily]
    assert [float(d["steps"]) for d in rec["days"]] == [float(d["steps"]) for d in daily]
    assert {"input:trunk", "timeline", "table"} <= {f["role"] for f in rec["files"]}


def test_jobs_are_for_clinicians_only(tmp_path, database_url, make_app, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    application = make_app(make_settings(tmp_path, database_url, job_workers=0))
    seed(application)
    with TestClient(application) as client:
        client.headers["X-CSRF-Token"] = login(client, "doc")
        trunk = upload(client, "wearable", CWA).json()["id"]
        job = client.post(
            "/api/v1/patients/P-A/analyses", json={"kind": "wearable", "files": [trunk]}
        ).json()
        assert client.get(f"/api/v1/jobs/{job['job_id']}").json()["status"] == "queued"
    with TestClient(application) as patient:
        login(patient, "pa")
        assert patient.get(f"/api/v1/jobs/{job['job_id']}").status_code == 403
