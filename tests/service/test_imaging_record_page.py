"""The record page says when a result's level names rest on an assumption, and titles by modality.

Truth: TotalSegmentator's example CT (upper abdomen, T11-L2 by its own instance labels, no
sacrum). Its mask written as TotalSegmentator ``total_mr`` writes one (the muscles, and the
vertebrae as one "vertebrae" label) makes the default anchor name the lowest piece L5:
names assumed (and wrong). The clinician's anchor (L3 is T12)
confirms them; the new result's rows carry no assumption mark, the earlier one keeps its.
"""

from __future__ import annotations

import re
import time

import nibabel as nib
import numpy as np

from .conftest import login
from .test_imaging_api import API, TS_IMAGE, TS_MASK

#: TotalSegmentator v2 ``total`` label -> ``total_mr`` label (builtin_schemes.py, from its
#: class maps): autochthon and iliopsoas left/right; vertebrae L2, L1, T12, T11 -> vertebrae
TOTAL_TO_TOTAL_MR = {86: 46, 87: 47, 88: 48, 89: 49, 30: 19, 31: 19, 32: 19, 33: 19}


def _wait(client, job_id, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _total_mr_mask() -> bytes:
    seg = nib.load(str(TS_MASK))
    total = np.asarray(seg.dataobj).astype(np.int16)
    data = np.zeros_like(total)
    for value, value_mr in TOTAL_TO_TOTAL_MR.items():
        data[total == value] = value_mr
    return nib.Nifti1Image(data, seg.affine).to_bytes()


def _articles(html: str) -> list[str]:
    """The record page's muscle-quality result articles, newest first (as shown)."""
    pattern = r'<article class="result" aria-labelledby="img-\d+">.*?</article>'
    return re.findall(pattern, html, re.S)


def _level_cells(article: str) -> list[str]:
    return [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<tr><td[^>]*>(.*?)</td>", article)]


def test_assumed_level_names_are_marked_until_confirmed(client):
    csrf = login(client, "doc")
    headers = {"X-CSRF-Token": csrf}
    files = [
        ("image", (TS_IMAGE.name, TS_IMAGE.read_bytes(), "application/gzip")),
        ("mask", ("mask.nii", _total_mr_mask(), "application/octet-stream")),
    ]
    made = client.post(
        f"{API}/imaging",
        files=files,
        data={"labels": "totalseg_total_mr", "mask_method": "segmenter totalsegmentator"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    _wait(client, made.json()["job_id"])
    study = made.json()["study"]

    page = client.get("/patients/P-A").text
    assumed = _articles(page)[0]
    assert "Muscle quality (CT)" in assumed  # titled by the series' modality, not "(MRI)"
    cells = _level_cells(assumed)
    levels = [c for c in cells if not c.startswith("all")]
    assert {c.split()[0] for c in levels} == {"L3", "L4", "L5"}  # wrong names: no sacrum
    assert levels and all(c.endswith("(assumed)") for c in levels), cells
    assert not any(c.endswith("(assumed)") for c in cells if c.startswith("all"))

    job = client.post(
        f"{API}/imaging/{study}/analyses",
        json={"level_names": {"rename": {"L3": "T12"}}},
        headers=headers,
    )
    assert job.status_code == 202, job.text
    _wait(client, job.json()["job_id"])
    page = client.get("/patients/P-A").text
    confirmed, earlier = _articles(page)[:2]
    cells = _level_cells(confirmed)
    assert {c.split()[0] for c in cells} >= {"T12", "L1", "L2"}
    assert "(assumed)" not in confirmed and "(doubtful)" not in confirmed
    assert "(assumed)" in earlier  # the earlier result keeps saying what it rested on


def test_the_viewer_has_words_for_every_flag_the_analysis_names(client):
    """Every study flag the CLI explains (and the level-name states) has words in both
    languages; the viewer page carries them (its script shows them instead of the codes),
    and the words for every muscle a mask can label (its level table names them as the
    record page does, not by code)."""
    import html
    import json

    from spinestab.cli.mri import FLAG_TEXT
    from spinestab.imaging.labels import MUSCLES
    from spinestab.service.pages.imaging import FLAG_NAMES

    assert set(FLAG_TEXT) | {"level_names_assumed", "level_names_doubtful"} <= set(FLAG_NAMES)
    csrf = login(client, "doc")
    files = [("image", (TS_IMAGE.name, TS_IMAGE.read_bytes(), "application/gzip"))]
    made = client.post(f"{API}/imaging", files=files, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    words = {}
    for lang in ("en", "de"):
        client.get(f"/lang/{lang}?next=/worklist")
        page = client.get(f"/patients/P-A/imaging/{made.json()['study']}").text
        found = re.search(r'data-flags="([^"]*)"', page)
        assert found, "the viewer page carries no flag words"
        words[lang] = json.loads(html.unescape(found.group(1)))
        assert set(words[lang]) == set(FLAG_NAMES)
        assert all(text and text != code for code, text in words[lang].items())
        muscles = re.search(r'data-muscles="([^"]*)"', page)
        assert muscles, "the viewer page carries no muscle names"
        names = json.loads(html.unescape(muscles.group(1)))
        assert set(names) == set(MUSCLES)
        assert all(name and "_" not in name and "result." not in name for name in names.values())
        if lang == "de":
            assert names["autochthon"].startswith("autochthone Rückenmuskulatur")
    assert (
        words["en"]["level_truncated_by_field_of_view"]
        == FLAG_TEXT["level_truncated_by_field_of_view"]
    )
    assert all(words["de"][code] != words["en"][code] for code in FLAG_NAMES)


def _one_uncut_vertebra_column(folder) -> None:
    """``spinestab mri`` on a total_mr map whose vertebrae run 210 mm without a disc.

    The split cannot part them, so the analysis flags the level names doubtful (as
    tests/imaging/test_blackbox.py checks on the CLI's own output).
    """
    from typer.testing import CliRunner

    from spinestab.cli import app as cli

    shape = (40, 40, 70)
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    x, y = np.meshgrid(np.arange(40) - 19.5, np.arange(40) - 19.5, indexing="ij")
    disc = (x**2 + y**2 <= 36)[..., None] & np.ones(shape, bool)
    labels = np.zeros(shape, np.uint8)
    labels[disc] = 19  # vertebrae
    labels[:, :, :4][(x**2 + y**2 <= 36)] = 18  # sacrum below
    labels[((x - 12) ** 2 + (y + 8) ** 2 <= 25)[..., None] & np.ones(shape, bool)] = 47
    labels[((x + 12) ** 2 + (y + 8) ** 2 <= 25)[..., None] & np.ones(shape, bool)] = 46
    nib.save(nib.Nifti1Image(labels, affine), str(folder / "seg.nii.gz"))
    ff = np.where(labels > 0, 10.0, 0.0).astype(np.float32)
    nib.save(nib.Nifti1Image(ff, affine), str(folder / "ff.nii.gz"))
    args = ["mri", "--ff", str(folder / "ff.nii.gz"), "--mask", str(folder / "seg.nii.gz")]
    args += ["--labels", "total_mr", "--out", str(folder / "out"), "--no-qa"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_doubtful_level_names_are_marked_doubtful(app, client, tmp_path):
    import csv

    from spinestab.record import Actor, save_imaging_folder

    _one_uncut_vertebra_column(tmp_path)
    out = tmp_path / "out"
    with (out / "muscle_quality.csv").open(newline="") as fh:
        levels = {r["level"] for r in csv.DictReader(fh) if "level_names_doubtful" in r["flags"]}
    assert levels  # the analysis says which rows' names are doubtful
    with app.state.spinestab.record.unit_of_work() as uow:
        save_imaging_folder(uow, Actor(username="doc", role="clinician"), "P-A", out)
    login(client, "doc")
    (article,) = _articles(client.get("/patients/P-A").text)
    cells = _level_cells(article)
    marked = {c.split()[0] for c in cells if c.endswith("(doubtful)")}
    assert marked == levels - {"all", "unassigned"} and marked
    assert not any("(assumed)" in c for c in cells)  # doubtful wins over assumed
    client.cookies.set("spinestab_lang", "de")
    (article,) = _articles(client.get("/patients/P-A").text)
    assert {c.split()[0] for c in _level_cells(article) if c.endswith("(fraglich)")} == marked
