"""The imaging API against the CLI and the library, on SQLite and PostgreSQL.

Independent truths: ``spinestab mri`` / ``spinestab instability`` run on the very files the
record stored (the CLI is the reference: same inputs, same rows); masks edited with known
changes; films made from landmark sets with known slips and angles; a second reader's
landmarks built with known differences.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from spinestab.cli import app as cli_app
from spinestab.imaging.io import read_volume
from spinestab.imaging.viewer import read_nifti_bytes, volume_to_nifti
from spinestab.instability import landmarks_to_dict
from spinestab.instability.film_phantom import STUDY_TRUTH, study_films
from spinestab.service.accounts import add_user
from spinestab.store import session_scope

from .conftest import login

DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = DATA / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
TS_IMAGE = DATA / "totalsegmentator" / "example_ct_sm.nii.gz"
TS_MASK = DATA / "totalsegmentator" / "example_seg.nii.gz"
API = "/api/v1/patients/P-A"


def _wait(client, job_id, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _cli_rows(tmp_path, *args):
    out = tmp_path / f"cli{len(list(tmp_path.glob('cli*')))}"
    result = CliRunner().invoke(cli_app, ["mri", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "muscle_quality.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _upload(client, csrf, image, mask=None, **form):
    files = [("image", (image.name, image.read_bytes(), "application/gzip"))]
    if mask is not None:
        files.append(("mask", (mask.name, mask.read_bytes(), "application/gzip")))
    response = client.post(f"{API}/imaging", files=files, data=form, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    return response.json()


def _result(client, study, version):
    state = client.get(f"{API}/imaging/{study}").json()
    return [r for r in state["results"] if r["mask_version"] == version][-1]


def _check_crop_and_cache(client, study, mask):
    """The viewer's cropped mask puts back to the stored one; ETags spare repeat transfers."""
    got = client.get(f"{API}/imaging/{study}/mask?crop=true&version=1")
    assert got.status_code == 200 and got.headers["x-mask-version"] == "1"
    box = read_nifti_bytes(got.content, source="crop", as_labels=True)
    origin = [int(v) for v in got.headers["x-mask-crop-origin"].split(",")]
    assert [int(v) for v in got.headers["x-mask-full-shape"].split(",")] == list(mask.shape)
    header = gzip.decompress(got.content)[:348]
    assert np.frombuffer(header[70:72], "<i2")[0] == 2  # NIfTI datatype 2: uint8
    assert box.data.size < mask.data.size
    put_back = np.zeros(mask.shape, dtype=np.uint8)
    i, j, k = origin
    put_back[i : i + box.shape[0], j : j + box.shape[1], k : k + box.shape[2]] = box.data
    assert np.array_equal(put_back, mask.data)  # nothing labelled lies outside the box
    # the box's voxel (0, 0, 0) lies in the world where the grid's voxel `origin` lies
    assert np.allclose(box.affine[:3, 3], (mask.affine @ [*origin, 1])[:3], atol=1e-3)
    assert np.allclose(box.affine[:3, :3], mask.affine[:3, :3], atol=1e-5)
    for url in (f"{API}/imaging/{study}/volume", f"{API}/imaging/{study}/mask?crop=true"):
        first = client.get(url)
        assert first.headers["cache-control"] == "private, no-cache"
        etag = first.headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        stale = client.get(url, headers={"If-None-Match": '"not-this-one"'})
        assert stale.status_code == 200 and stale.content == first.content
    whole, cropped = client.get(f"{API}/imaging/{study}/mask"), got
    assert whole.headers["etag"] != cropped.headers["etag"]


def test_musclemap_study_mask_versions_and_cli_equality(client, tmp_path):
    csrf = login(client, "doc")
    made = _upload(client, csrf, MM_IMAGE, MM_MASK, mask_method="segmenter musclemap")
    study = made["study"]
    assert made["mask_version"] == 1
    assert _wait(client, made["job_id"])["status"] == "succeeded"

    # the viewer's volume and mask are the files' voxels on the files' grid
    image, mask = read_volume(MM_IMAGE), read_volume(MM_MASK, as_labels=True)
    volume = client.get(f"{API}/imaging/{study}/volume")
    assert volume.status_code == 200 and volume.headers["content-type"] == "application/gzip"
    shown = read_nifti_bytes(volume.content, source="volume")
    assert np.array_equal(shown.data, image.data)
    assert np.allclose(shown.affine, image.affine, atol=1e-4)
    got = client.get(f"{API}/imaging/{study}/mask")
    assert got.headers["x-mask-version"] == "1"
    assert np.array_equal(read_nifti_bytes(got.content, source="m", as_labels=True).data, mask.data)
    _check_crop_and_cache(client, study, mask)
    # the viewer's way: the same NIfTI gzip-encoded by HTTP (the client inflates it)
    url = f"{API}/imaging/{study}/volume?transfer=http"
    plain = client.get(url)
    assert plain.headers["content-encoding"] == "gzip"
    assert plain.headers["content-type"] == "application/octet-stream"
    assert plain.content == gzip.decompress(volume.content)  # inflated by httpx: plain NIfTI
    assert plain.headers["etag"] != volume.headers["etag"]
    assert client.get(url, headers={"If-None-Match": plain.headers["etag"]}).status_code == 304

    # version 1's stored rows equal `spinestab mri` on the same image and mask
    first = _result(client, study, 1)
    assert (first["mask_method"], first["mask_author"]) == ("segmenter musclemap", "doc")
    cli = _cli_rows(tmp_path, "--image", str(MM_IMAGE), "--mask", str(MM_MASK))
    assert first["rows"] == cli
    assert first["pictures"] and first["fat_url"] and first["fat_classes"]
    picture = client.get(first["pictures"][0]["url"])
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"

    # a correction: erase the right multifidus on slice 10, paint left QL on slice 12
    edited = mask.data.copy()
    erased = int(np.count_nonzero(edited[:, :, 10] == 1))
    edited[:, :, 10][edited[:, :, 10] == 1] = 0
    edited[100:110, 60:70, 12] = 8
    painted = int(np.count_nonzero(mask.data[100:110, 60:70, 12] != 8))
    body = volume_to_nifti(mask.with_data(edited), labels=True)
    saved = client.post(
        f"{API}/imaging/{study}/mask?from_version=1&note=multifidus%20border",
        content=body,
        headers={"X-CSRF-Token": csrf, "content-type": "application/octet-stream"},
    )
    assert saved.status_code == 201, saved.text
    v2 = saved.json()
    assert (v2["version"], v2["method"], v2["author"], v2["parent_version"]) == (
        2,
        "edited",
        "doc",
        1,
    )
    changes = {c["name"]: (c["added"], c["removed"]) for c in v2["edit"]["labels"]}
    assert changes["multifidus right"] == (0, erased)
    assert changes["quadratus_lumborum left"][0] == painted
    assert v2["edit"]["slices"] == [10, 12]
    assert _wait(client, v2["job_id"])["status"] == "succeeded"
    # the viewer's state names each version's analysis jobs (the page follows a running one)
    jobs = client.get(f"{API}/imaging/{study}").json()["jobs"]
    assert [(j["job_id"], j["mask_version"], j["status"]) for j in jobs] == [
        (made["job_id"], 1, "succeeded"),
        (v2["job_id"], 2, "succeeded"),
    ]
    stored = client.get(f"{API}/imaging/{study}/mask?version=2").content
    saved_mask = tmp_path / "v2.nii.gz"
    saved_mask.write_bytes(stored)
    second = _result(client, study, 2)
    assert second["mask_method"] == "edited"
    assert second["rows"] == _cli_rows(
        tmp_path, "--image", str(MM_IMAGE), "--mask", str(saved_mask)
    )
    assert second["rows"] != first["rows"]
    record = client.get("/patients/P-A")  # the record page lists the viewer's jobs in words
    assert record.status_code == 200 and "Muscle quality (viewer mask)" in record.text
    assert "see the muscle quality results" in record.text
    # every imaging result on the record page names its mask version and author
    assert "mask v1 (segmenter musclemap, doc)" in record.text
    assert "mask v2 (edited, doc)" in record.text


def test_a_mask_that_does_not_fit_is_refused_and_nothing_stored(client):
    csrf = login(client, "doc")
    study = _upload(client, csrf, MM_IMAGE)["study"]
    mask = read_volume(MM_MASK, as_labels=True)
    headers = {"X-CSRF-Token": csrf, "content-type": "application/octet-stream"}
    shifted = mask.__class__(mask.data, mask.affine + np.pad([[5.0]], ((0, 3), (3, 0))))
    cases = {
        "not on the image grid": volume_to_nifti(shifted, labels=True),
        "labels not in the scheme musclemap": volume_to_nifti(
            mask.with_data(np.where(mask.data == 1, 42, mask.data)), labels=True
        ),
        "the mask has no muscle": volume_to_nifti(mask.with_data(mask.data * 0), labels=True),
        "cannot read NIfTI": b"\x1f\x8b" + b"broken" * 10,
    }
    for message, body in cases.items():
        response = client.post(f"{API}/imaging/{study}/mask", content=body, headers=headers)
        assert response.status_code == 422, (message, response.text)
        assert message in response.json()["detail"], response.text
    state = client.get(f"{API}/imaging/{study}").json()
    assert state["mask_versions"] == [] and state["results"] == []
    assert client.get(f"{API}/imaging/{study}/mask").status_code == 404
    # drawn from nothing: manual; the same again from version 1: nothing changed
    drawn = volume_to_nifti(mask, labels=True)
    first = client.post(f"{API}/imaging/{study}/mask", content=drawn, headers=headers).json()
    assert (first["version"], first["method"]) == (1, "manual")
    same = client.post(f"{API}/imaging/{study}/mask?from_version=1", content=drawn, headers=headers)
    assert same.status_code == 422 and "nothing changed" in same.json()["detail"]
    # multipart, as the viewer sends it (gzip compressed)
    multipart = client.post(
        f"{API}/imaging/{study}/mask",
        files={"mask": ("mask.nii.gz", gzip.compress(gzip.decompress(drawn)), "application/gzip")},
        data={"from_version": "1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert multipart.status_code == 422 and "nothing changed" in multipart.json()["detail"]
    assert _wait(client, first["job_id"])["status"] == "succeeded"


def test_level_names_corrected_by_an_anchor_are_recomputed(client, tmp_path):
    csrf = login(client, "doc")
    made = _upload(
        client,
        csrf,
        TS_IMAGE,
        TS_MASK,
        labels="totalseg_total",
        mask_method="segmenter totalsegmentator",
    )
    assert _wait(client, made["job_id"])["status"] == "succeeded"
    study = made["study"]
    found = _result(client, study, 1)
    assert found["levels_present"] == ["T11", "T12", "L1", "L2"]
    assert {s["level"] for s in found["level_slices"]} >= {"all", "T11", "L2"}
    job = client.post(
        f"{API}/imaging/{study}/analyses",
        json={"level_names": {"rename": {"T12": "L1"}}},
        headers={"X-CSRF-Token": csrf},
    )
    assert job.status_code == 202, job.text
    assert _wait(client, job.json()["job_id"])["status"] == "succeeded"
    corrected = _result(client, study, 1)
    assert corrected["levels_present"] == ["T12", "L1", "L2", "L3"]
    assert corrected["level_names"]["confirmed_by"] == "doc"
    cli = _cli_rows(
        tmp_path,
        "--image", str(TS_IMAGE), "--mask", str(TS_MASK), "--labels", "totalseg_total",
        "--rename-levels", "T12=L1",
    )  # fmt: skip
    assert [r["level"] for r in corrected["rows"]] == [r["level"] for r in cli]
    assert [r["fat_fraction_pct"] for r in corrected["rows"]] == [
        r["fat_fraction_pct"] for r in cli
    ]
    bad = client.post(
        f"{API}/imaging/{study}/analyses",
        json={"level_names": {"rename": {"T12": "X9"}}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422 and "unknown vertebra" in bad.text


def test_levels_marked_by_slice_where_the_mask_names_no_vertebrae(client, tmp_path):
    """MuscleMap's mask has no vertebrae: the clinician's slice table gives the levels,
    and the rows equal ``spinestab mri --levels-table`` with the same table."""
    csrf = login(client, "doc")
    made = _upload(client, csrf, MM_IMAGE, MM_MASK)
    assert _wait(client, made["job_id"])["status"] == "succeeded"
    study = made["study"]
    assert {r["level"] for r in _result(client, study, 1)["rows"]} == {"all"}
    headers = {"X-CSRF-Token": csrf}
    # the image's third axis runs caudal -> cranial (LPS): L5 on the first slices
    table = {"L5": [0, 6], "L4": [7, 13], "L3": [14, 19]}
    queued = len(client.get(f"{API}/imaging/{study}").json()["jobs"])
    for bad, message in (
        ({"L3": [0, 6], "L4": [7, 13], "L5": [14, 19]}, "out of anatomical order"),
        ({"L5": [0, 25]}, "out of bounds"),
        ({"L5": [0, 7], "L4": [7, 13]}, "slice given two levels"),
    ):
        refused = client.post(
            f"{API}/imaging/{study}/analyses", json={"slice_levels": bad}, headers=headers
        )
        assert refused.status_code == 422 and message in refused.text, refused.text
    assert len(client.get(f"{API}/imaging/{study}").json()["jobs"]) == queued  # none queued
    job = client.post(
        f"{API}/imaging/{study}/analyses", json={"slice_levels": table}, headers=headers
    )
    assert job.status_code == 202, job.text
    assert _wait(client, job.json()["job_id"])["status"] == "succeeded"
    marked = _result(client, study, 1)
    assert (marked["slice_levels"], marked["slice_levels_by"]) == (table, "doc")
    csv_table = tmp_path / "levels.csv"
    csv_table.write_text(
        "level,first_slice,last_slice\n" + "".join(f"{k},{a},{b}\n" for k, (a, b) in table.items())
    )
    cli = _cli_rows(
        tmp_path, "--image", str(MM_IMAGE), "--mask", str(MM_MASK), "--levels-table", str(csv_table)
    )
    assert marked["rows"] == cli
    assert {r["level"] for r in cli} == {"L3", "L4", "L5", "all"}
    spans = {s["level"]: (s["first"], s["last"]) for s in marked["level_slices"]}
    assert spans["L4"] == (7, 13)
    # a corrected mask saved with the same table is analysed with it
    mask = read_volume(MM_MASK, as_labels=True)
    edited = mask.data.copy()
    edited[:, :, 3][edited[:, :, 3] == 2] = 0
    saved = client.post(
        f"{API}/imaging/{study}/mask",
        files={"mask": ("mask.nii.gz", volume_to_nifti(mask.with_data(edited), labels=True))},
        data={"from_version": "1", "slice_levels": json.dumps(table)},
        headers=headers,
    )
    assert saved.status_code == 201, saved.text
    assert _wait(client, saved.json()["job_id"])["status"] == "succeeded"
    assert _result(client, study, 2)["slice_levels"] == table
    wrong = client.post(
        f"{API}/imaging/{study}/mask?slice_levels=%7B%22L5%22%3A%5B0%2C99%5D%7D",
        content=volume_to_nifti(mask.with_data(edited[::-1].copy()), labels=True),
        headers=headers | {"content-type": "application/octet-stream"},
    )
    assert wrong.status_code == 422 and "out of bounds" in wrong.text
    assert [v["version"] for v in client.get(f"{API}/imaging").json()[-1]["mask_versions"]] == [
        1,
        2,
    ]  # nothing stored


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _add_film(client, csrf, view, pixels, **form):
    response = client.post(
        f"{API}/radiographs",
        files={"file": (f"{view}.png", _png(pixels), "image/png")},
        data={"view": view, **form},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _mid(a, b):
    return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]


def _shifted(vertebrae, level, dx):
    out = json.loads(json.dumps(vertebrae))
    for point in out[level].values():
        if point is not None:
            point[0] += dx
    return out


def test_landmarks_instability_morphometry_and_a_second_reader(app, client, tmp_path):
    with session_scope(app.state.spinestab.sessions) as session:
        add_user(
            session, "doc2", role="clinician", password="second clinician 2",
            passwords=app.state.spinestab.passwords, actor="seed",
        )  # fmt: skip
    csrf = login(client, "doc")
    films = study_films(pixel_spacing_mm=0.3)
    ids = {}
    for view, phantom in films.items():
        film = _add_film(
            client,
            csrf,
            view,
            phantom.pixels,
            pixel_spacing_mm="0.3",
            magnification_corrected="true",
        )
        assert film["pixel_spacing_mm"] == [0.3, 0.3] and film["magnification_corrected"] is True
        ids[view] = film["id"]
        truth = landmarks_to_dict(phantom.landmarks)["vertebrae"]
        if view == "neutral":  # L3's endplate mid-points, as the tool places them (issue 17)
            c = truth["L3"]
            truth["L3"]["mid_superior"] = _mid(c["anterior_superior"], c["posterior_superior"])
            truth["L3"]["mid_inferior"] = _mid(c["anterior_inferior"], c["posterior_inferior"])
        saved = client.post(
            f"{API}/radiographs/{film['id']}/landmarks",
            json={"vertebrae": truth},
            headers={"X-CSRF-Token": csrf},
        )
        assert saved.status_code == 201, saved.text
        assert (saved.json()["version"], saved.json()["reader"]) == (1, "doc")
    job = client.post(f"{API}/instability", json={}, headers={"X-CSRF-Token": csrf})
    assert job.status_code == 202, job.text
    done = _wait(client, job.json()["job_id"])
    assert done["status"] == "succeeded", done["errors"]
    (first,) = client.get(f"{API}/instability").json()
    l45 = next(lv for lv in first["result"]["levels"] if lv["level"] == "L4-L5")
    assert l45["slip_mm"] == pytest.approx(STUDY_TRUTH["neutral"][0][3], abs=0.05)
    assert l45["translation_mm"] == pytest.approx(4.5, abs=0.05)
    assert l45["angulation_deg"] == pytest.approx(11.0, abs=0.05)
    assert first["landmark_versions"]["neutral"]["reader"] == "doc"
    assert [v["level"] for v in first["morphometry"]["vertebrae"]][:5] == [
        "L1",
        "L2",
        "L3",
        "L4",
        "L5",
    ]
    morpho = {v["level"]: v for v in first["morphometry"]["vertebrae"]}
    l3 = morpho["L3"]  # a wedge of 1 deg: the middle height lies between the other two
    assert l3["middle_height_mm"] is not None and morpho["L2"]["middle_height_mm"] is None
    low, high = sorted([l3["anterior_height_mm"], l3["posterior_height_mm"]])
    assert low - 0.05 <= l3["middle_height_mm"] <= high + 0.05
    assert "biconcave_unknown" in morpho["L2"]["flags"] and "biconcave_unknown" not in l3["flags"]
    assert {p["role"] for p in first["pictures"]} >= {"picture"}
    # ... and goes to the record's morphometry studies (as `spinestab morphometry --patient`),
    # where the profile and the suspected-fracture red flag read it. This film's L1 is taller
    # in front: a wedge loss of -4.9 % (1 - Ha/Hp, as `spinestab morphometry` writes it),
    # which the record keeps as given.
    l1 = morpho["L1"]
    assert l1["anterior_height_mm"] > l1["posterior_height_mm"] and l1["wedge_loss_pct"] < 0
    assert len(client.get(API).json()["morphometry"]) == 1
    assert done["result"]["morphometry_study"] is not None
    assert done["result"]["morphometry_not_in_record"] is None
    figure = client.get(next(p["url"] for p in first["pictures"] if p["role"] == "picture"))
    assert figure.status_code == 200 and figure.content[:4] == b"\x89PNG"

    # the stored result equals `spinestab instability` on the stored landmark JSON files
    args = []
    for view, film_id in ids.items():
        film = client.get(f"{API}/radiographs/{film_id}").json()
        path = tmp_path / f"{view}.json"
        path.write_text(json.dumps(film["landmark_versions"][-1]["landmarks"]), encoding="utf-8")
        args += [f"--{view}", str(path)]
    cli = CliRunner().invoke(cli_app, ["instability", *args, "--out", str(tmp_path / "cli_i")])
    assert cli.exit_code == 0, cli.output
    expected = json.loads((tmp_path / "cli_i" / "instability.json").read_text(encoding="utf-8"))
    assert first["result"]["levels"] == expected["levels"]

    # a second reader places L4 1.0 mm (3.33 px) further anterior on the neutral film only
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    csrf2 = login(client, "doc2", "second clinician 2")
    for view, phantom in films.items():
        vertebrae = landmarks_to_dict(phantom.landmarks)["vertebrae"]
        if view == "neutral":
            vertebrae = _shifted(vertebrae, "L4", -1.0 / 0.3)
        response = client.post(
            f"{API}/radiographs/{ids[view]}/landmarks",
            json={"vertebrae": vertebrae},
            headers={"X-CSRF-Token": csrf2},
        )
        assert response.status_code == 201 and response.json()["reader"] == "doc2"
    job = client.post(f"{API}/instability", json={}, headers={"X-CSRF-Token": csrf2}).json()
    assert _wait(client, job["job_id"])["status"] == "succeeded"
    studies = client.get(f"{API}/instability").json()
    assert [s["reader"] for s in studies] == ["doc", "doc2"]
    compared = client.get(
        f"{API}/instability/compare?first={studies[0]['id']}&second={studies[1]['id']}"
    ).json()
    diffs = {
        (d["level"], d["measure"]): d["difference"] for d in compared["instability"]["differences"]
    }
    # moving L4 anteriorly along x by 1 mm: its slip over L5 grows by 1 mm times the cosine
    # of L5's endplate tilt, and L3-L4's slip shrinks by the same along L4's endplate
    assert diffs[("L4-L5", "slip_mm")] > 0.5
    assert diffs[("L1-L2", "slip_mm")] == pytest.approx(0.0, abs=0.011)
    assert diffs[("L3-L4", "slip_mm")] < -0.5
    assert diffs[("L4-L5", "translation_mm")] == pytest.approx(0.0, abs=0.011)  # dynamic films same
    page = client.get("/patients/P-A/instability")
    assert page.status_code == 200 and "doc2" in page.text and "reader-differences" in page.text
    # the patient's record page lists the landmark tool's jobs in words (it failed with 500)
    record = client.get("/patients/P-A")
    assert record.status_code == 200 and "Instability (landmark tool)" in record.text
    # and names the landmark versions and reader of each instability study
    assert "landmarks neutral v1, flexion v1, extension v1 by doc<" in record.text
    assert "by doc2<" in record.text


def test_a_film_without_scale_needs_a_calibration(client):
    csrf = login(client, "doc")
    phantom = study_films(pixel_spacing_mm=0.3)["neutral"]
    film = _add_film(client, csrf, "neutral", phantom.pixels)
    assert film["pixel_spacing_mm"] is None and film["spacing_source"].startswith("none")
    vertebrae = landmarks_to_dict(phantom.landmarks)["vertebrae"]
    url = f"{API}/radiographs/{film['id']}"
    refused = client.post(
        f"{url}/landmarks", json={"vertebrae": vertebrae}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 422 and "no scale" in refused.json()["detail"]
    calibrated = client.post(
        f"{url}/calibration",
        json={"start_px": [10, 20], "end_px": [10, 120], "length_mm": 30.0},
        headers={"X-CSRF-Token": csrf},
    )
    assert calibrated.status_code == 200, calibrated.text
    assert calibrated.json()["pixel_spacing_mm"] == pytest.approx([0.3, 0.3])
    assert "calibration object: 30 mm over 100.0 px" in calibrated.json()["spacing_source"]
    outside = _shifted(vertebrae, "L1", 10_000)
    off = client.post(
        f"{url}/landmarks", json={"vertebrae": outside}, headers={"X-CSRF-Token": csrf}
    )
    assert off.status_code == 422 and "landmark outside the film" in off.json()["detail"]
    bad = dict(vertebrae)
    bad["L2"] = {"anterior_superior": [1, 2]}
    refused = client.post(
        f"{url}/landmarks", json={"vertebrae": bad}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 422 and "corners missing" in refused.json()["detail"]
    ok = client.post(
        f"{url}/landmarks", json={"vertebrae": vertebrae}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201
    stored = ok.json()["landmarks"]
    assert stored["pixel_spacing_mm"] == pytest.approx([0.3, 0.3])
    assert stored["magnification_corrected"] is True and stored["view"] == "neutral"
    image = client.get(f"{url}/image")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(image.content))), phantom.pixels)
    assert (
        client.post(
            f"{API}/radiographs",
            files={"file": ("x.png", _png(phantom.pixels), "image/png")},
            data={"view": "neutral"},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        == 409
    )


def test_a_dicom_series_is_converted_for_the_viewer(client):
    pytest.importorskip("pylibjpeg")
    csrf = login(client, "doc")
    folder = DATA / "totalsegmentator" / "example_ct_dicom_subset"
    files = [
        ("image", (p.name, p.read_bytes(), "application/dicom")) for p in sorted(folder.iterdir())
    ]
    response = client.post(
        f"{API}/imaging",
        files=files,
        data={"labels": "totalseg_total"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    study = response.json()["study"]
    state = client.get(f"{API}/imaging/{study}").json()
    assert state["study"]["source_kind"] == "dicom" and state["study"]["modality"] == "CT"
    shown = read_nifti_bytes(client.get(f"{API}/imaging/{study}/volume").content, source="ct")
    series = read_volume(folder)
    assert np.array_equal(shown.data, series.data.astype(np.int16))
    assert np.allclose(shown.affine, series.affine, atol=1e-4)
