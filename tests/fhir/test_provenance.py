"""Provenance of the FHIR export: who drew the mask and who placed the landmarks.

A patient whose muscle mask was traced in the viewer by a named clinician (a mask version
of method ``manual``) and whose films were read by two readers (each reader's landmark
versions analysed by the landmark tool's job): every analysis gets a Provenance that targets
its DiagnosticReport and Observations and names spinestab's version, the method, the mask
version or the landmark versions (entity) and their author (agent), as the record's
viewer tables say. Export -> import into an empty record -> export is byte-identical, and a
Bundle whose Provenance names another author is refused with nothing stored.
"""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest

pytest.importorskip("fhir.resources")

import fhir_codes
from fhir_fixtures import *  # noqa: F403 (the fixtures)
from fhir_fixtures import ALICE, DEMO, MUSCLEMAP

from spinestab import __version__
from spinestab import record as services
from spinestab.errors import InputError
from spinestab.fhir import build_bundle, read_bundle
from spinestab.fhir.stored import export_from_record, import_into_record

TRACER = services.Actor(username="dr.jane.meier", role="clinician")
READERS = (
    services.Actor(username="dr.first.reader", role="clinician"),
    services.Actor(username="dr.second.reader", role="clinician"),
)
BOB = services.Actor(username="bob", role="clinician")
#: slice table of the MuscleMap image marked in the viewer (as --levels-table)
SLICE_LEVELS = {"L5": [0, 6], "L4": [7, 13], "L3": [14, 19]}


def _context(record, actor, pseudonym):
    from spinestab.service.jobs import JobContext
    from spinestab.settings import Settings

    data_dir = record.artifacts.root.parent
    return JobContext(
        job_id="test",
        actor=actor,
        patient=pseudonym,
        sessions=record.factory,
        settings=Settings(
            data_dir=data_dir, database_url=record.engine.url.render_as_string(hide_password=False)
        ),
    )


@pytest.fixture
def viewer_patient(record, mri_study):
    """P-view: forms; an MRI series whose mask dr.jane.meier traced in the viewer, analysed
    by alice with the levels she marked; three films, each read by two readers."""
    from spinestab.imaging.io import read_volume
    from spinestab.imaging.viewer import read_nifti_bytes, volume_to_nifti
    from spinestab.instability import landmarks_to_dict
    from spinestab.instability.film_phantom import study_films
    from spinestab.record.image_series import add_image_series, save_mask_version, volume_bytes
    from spinestab.record.radiographs import FilmDetails, add_radiograph, save_landmarks
    from spinestab.service.imaging_jobs import run_instability_landmarks, run_mri_mask

    demo = DEMO / "functional_high_risk"
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, "P-view", sex="male", birth_year=1970)
        for name in ("startback", "odi", "nrs", "redflags"):
            services.save_form_file(uow, ALICE, "P-view", demo / f"{name}.json")
        series = add_image_series(uow, ALICE, "P-view", mri_study["series"])
        image = read_nifti_bytes(volume_bytes(uow, ALICE, "P-view", series.id), source="image")
        traced = image.with_data(
            read_volume(MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz", as_labels=True).data
        )
        mask = save_mask_version(
            uow, TRACER, "P-view", series.id, volume_to_nifti(traced, labels=True)
        )
        films = study_films(pixel_spacing_mm=0.3)
        ids = {}
        for view, film in films.items():
            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(film.pixels).save(buffer, format="PNG")
            ids[view] = add_radiograph(
                uow,
                ALICE,
                "P-view",
                buffer.getvalue(),
                FilmDetails(view=view, name=f"{view}.png", pixel_spacing_mm=0.3),
            ).id
        for n, reader in enumerate(READERS):
            for view, film in films.items():
                vertebrae = landmarks_to_dict(film.landmarks)["vertebrae"]
                if n:  # the second reader puts L4's upper front corner 2 px lower
                    corners = vertebrae["L4"]
                    key = next(k for k in corners if "sup" in k and "ant" in k)
                    corners[key] = [corners[key][0], corners[key][1] + 2.0]
                save_landmarks(uow, reader, "P-view", ids[view], vertebrae)
    assert mask.method == "manual" and mask.author == TRACER.username
    done = run_mri_mask(
        _context(record, ALICE.username, "P-view"),
        {"series": series.id, "mask_version": mask.version, "slice_levels": SLICE_LEVELS},
    )
    studies = [done["imaging_study"]]
    for reader in READERS:
        made = run_instability_landmarks(
            _context(record, reader.username, "P-view"), {"reader": reader.username}
        )
        studies.append(made["instability_study"])
    return {"series": series.id, "mask": mask.version, "films": ids, "studies": studies}


def _bundle(record, pseudonym="P-view"):
    with record.unit_of_work() as uow:
        return build_bundle(export_from_record(uow, ALICE, pseudonym, language="en"))


def _of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _by_url(bundle):
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def _study_provenance(bundle, report):
    """The Provenance whose first target is ``report``."""
    url = f"urn:uuid:{report['id']}"
    (prov,) = (p for p in _of(bundle, "Provenance") if p["target"][0]["reference"] == url)
    return prov


def _agents(prov, kind):
    return [a for a in prov["agent"] if a["type"]["coding"][0]["code"] == kind]


def _landmark_versions(record, pseudonym="P-view"):
    """{reader: {(radiograph, version)}} as the record's viewer tables hold them."""
    from spinestab.record.radiographs import list_radiographs

    with record.unit_of_work() as uow:
        films = list_radiographs(uow, ALICE, pseudonym)
    out: dict[str, set] = {}
    for film in films:
        for v in film.landmark_versions:
            out.setdefault(v.reader, set()).add((film.view, film.id, v.version))
    return out


def test_provenance_of_masks_and_landmarks_and_its_round_trip(
    record, other_record, viewer_patient, schema_validator, tmp_path
):
    """One patient (its making takes most of the time), five checks."""
    _check_dicom_seg_names_the_tracer(record, viewer_patient, tmp_path / "pacs")
    _check_the_letter_names_them_too(record)
    bundle = _bundle(record)
    _check_names_the_mask_tracer_and_both_readers(record, viewer_patient, bundle)
    _check_valid_r4b_and_json_schema(bundle, schema_validator)
    _check_a_bundle_naming_another_author_is_refused(other_record, bundle)
    _check_export_import_export_keeps_the_authors_byte_for_byte(other_record, bundle)


def _check_names_the_mask_tracer_and_both_readers(record, viewer_patient, bundle):
    urls = _by_url(bundle)
    (device,) = _of(bundle, "Device")
    assert device["version"] == [{"value": __version__}]
    reports = _of(bundle, "DiagnosticReport")
    mri = next(r for r in reports if r["code"]["coding"][0]["code"] == "muscle-quality-analysis")
    films = [r for r in reports if r["code"]["coding"][0]["code"] == "instability-analysis"]
    assert len(films) == 2

    # the MRI analysis: its report and every Observation it reports, measured by spinestab
    prov = _study_provenance(bundle, mri)
    assert [t["reference"] for t in prov["target"]] == [
        f"urn:uuid:{mri['id']}",
        *(r["reference"] for r in mri["result"]),
    ]
    (performer,) = _agents(prov, "performer")
    assert urls[performer["who"]["reference"]] is device
    methods = {
        c["valueString"]
        for r in mri["result"]
        for c in urls[r["reference"]]["component"]
        if c["code"]["coding"][0]["code"] == "measurement-method"
    }
    assert methods and prov["activity"]["text"] == "; ".join(sorted(methods))
    # ... on the mask dr.jane.meier traced in the viewer (version 1, manual)
    (author,) = _agents(prov, "author")
    assert author["who"]["identifier"] == {"system": "urn:spinestab:user", "value": TRACER.username}
    assert author["role"] == [{"text": "traced the muscle mask"}]
    (entity,) = prov["entity"]
    assert entity["role"] == "source"
    assert entity["what"]["identifier"] == {
        "system": "urn:spinestab:mask-version",
        "value": f"{viewer_patient['series']}/{viewer_patient['mask']}",
    }
    assert entity["what"]["display"].startswith(
        f"muscle mask version 1 of image series {viewer_patient['series']} (manual): mask_v1"
    )
    assert entity["agent"][0]["who"]["identifier"]["value"] == TRACER.username
    assert entity["agent"][0]["role"] == [{"text": "mask method: manual"}]
    # ... with the levels alice marked by slice
    (verifier,) = _agents(prov, "verifier")
    assert verifier["who"]["display"] == ALICE.username

    # each reader's instability analysis: the reader and the landmark versions per view
    held = _landmark_versions(record)
    assert set(held) == {r.username for r in READERS}
    seen = set()
    for report in films:
        prov = _study_provenance(bundle, report)
        assert [t["reference"] for t in prov["target"]] == [
            f"urn:uuid:{report['id']}",
            *(r["reference"] for r in report["result"]),
        ]
        (author,) = _agents(prov, "author")
        reader = author["who"]["identifier"]["value"]
        assert author["role"] == [{"text": "placed the landmarks"}]
        used = set()
        for entity in prov["entity"]:
            assert entity["what"]["identifier"]["system"] == "urn:spinestab:landmark-version"
            film, version = map(int, entity["what"]["identifier"]["value"].split("/"))
            view = entity["what"]["display"].split(" film")[0]
            used.add((view, film, version))
            assert entity["agent"][0]["who"]["identifier"]["value"] == reader
        assert used == held[reader]  # the versions this reader placed, all three views
        seen.add(reader)
    assert seen == {r.username for r in READERS}
    # the two readers' studies differ where the second reader moved a corner
    values = [
        sorted(json.dumps(urls[r["reference"]].get("valueQuantity")) for r in report["result"])
        for report in films
    ]
    assert values[0] != values[1]


def _check_valid_r4b_and_json_schema(bundle, schema_validator):
    _, validator = schema_validator
    fhir_codes.check_bundle(bundle, validator)


def _check_export_import_export_keeps_the_authors_byte_for_byte(other_record, first):
    text = json.dumps(first, indent=2, ensure_ascii=False)
    data = read_bundle(json.loads(text))
    (mri,) = data.imaging
    assert mri.mask_author == TRACER.username and mri.mask_version.method == "manual"
    assert mri.levels_by == ALICE.username
    assert sorted(s.landmarks_author for s in data.instability) == sorted(
        r.username for r in READERS
    )
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, data)
    assert (done.imaging, done.instability) == (1, 2) and not done.not_stored
    assert json.dumps(_bundle(other_record), indent=2, ensure_ascii=False) == text
    # the received analysis names no series of this record (the Bundle carries none): the
    # sender's series id is kept apart, with the reason, and the viewer lists it nowhere
    from spinestab.record.series_analyses import series_results
    from spinestab.store import get_patient

    (sent,) = [
        json.loads(base64.b64decode(r["content"][0]["attachment"]["data"]))
        for r in _of(first, "DocumentReference")
        if r["type"]["coding"][0]["code"] == "imaging:options"
    ]
    with other_record.unit_of_work() as uow:
        (study,) = services.show_record(uow, BOB, "P-view").imaging
        patient = get_patient(uow.session, "P-view")
        assert "series" not in study.options
        kept = study.options["received_series"]
        assert kept["series"] == sent["series"] and "carries no image series" in kept["reason"]
        assert not series_results(uow, patient.id, sent["series"])


#: Provenance edits a Bundle's import refuses (the attached options.json say otherwise)
EDITS = ("mask author", "mask method", "levels", "reader", "landmark version")


def _check_a_bundle_naming_another_author_is_refused(other_record, bundle):
    for edit in EDITS:
        edited = copy.deepcopy(bundle)
        reports = _of(edited, "DiagnosticReport")
        mri = next(
            r for r in reports if r["code"]["coding"][0]["code"] == "muscle-quality-analysis"
        )
        film = next(r for r in reports if r["code"]["coding"][0]["code"] == "instability-analysis")
        prov = _study_provenance(edited, mri if edit in EDITS[:3] else film)
        if edit == "mask author":
            prov["entity"][0]["agent"][0]["who"]["identifier"]["value"] = "dr.someone.else"
            for agent in _agents(prov, "author"):
                agent["who"]["identifier"]["value"] = "dr.someone.else"
        elif edit == "mask method":
            prov["entity"][0]["agent"][0]["role"] = [{"text": "mask method: segmenter musclemap"}]
        elif edit == "levels":
            _agents(prov, "verifier")[0]["who"]["identifier"]["value"] = "dr.someone.else"
        elif edit == "reader":
            _agents(prov, "author")[0]["who"]["identifier"]["value"] = "dr.someone.else"
        else:
            ident = prov["entity"][0]["what"]["identifier"]
            film_id, version = ident["value"].split("/")
            ident["value"] = f"{film_id}/{int(version) + 1}"
        data = read_bundle(edited)
        refused = pytest.raises(
            InputError, match=r"Provenance of an .* disagrees with its attached options"
        )
        with refused, other_record.unit_of_work() as uow:
            import_into_record(uow, BOB, data)
        with other_record.unit_of_work() as uow, pytest.raises(InputError, match="unknown patient"):
            services.get_patient(uow, BOB, "P-view")


def _check_dicom_seg_names_the_tracer(record, viewer_patient, out):
    """dicom export of the viewer's analysis: a MANUAL segmentation by the tracer."""
    import pydicom

    from spinestab.dicom_out.stored import export_stored_study

    with record.unit_of_work() as uow:
        export_stored_study(uow, ALICE, "P-view", viewer_patient["studies"][0], out)
    seg = pydicom.dcmread(out / "muscle_seg.dcm")
    assert seg.ContentCreatorName.family_name == TRACER.username  # the record's user name
    # one component, with the trailing caret highdicom asks for (a name without it warns)
    assert str(seg.ContentCreatorName) == f"{TRACER.username}^"
    assert {s.SegmentAlgorithmType for s in seg.SegmentSequence} == {"MANUAL"}


def _check_the_letter_names_them_too(record):
    """The clinician letter names the mask version and its tracer, and the reader."""
    import html
    import re

    from spinestab.report import render_report_html
    from spinestab.report.record import inputs_from_record

    with record.unit_of_work() as uow:
        inputs = inputs_from_record(uow, ALICE, "P-view", language="en")
    text = re.sub(r"\s+", " ", html.unescape(render_report_html(inputs, language="en")))
    assert "(manual) by dr.jane.meier; levels named by alice" in text
    # the profile reads the latest instability study: the second reader's
    assert f"landmarks placed by {READERS[1].username}" in text
