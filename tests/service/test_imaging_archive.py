"""The viewer's tables travel with the record: restore(export(r)) == r, masks and films included.

Also: the ORM models of the viewer's tables equal migration 0006 (autogenerate finds no
difference), and refusals of the record services are audited.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from record.test_archive import archive_rows, normalise  # tests/record (on sys.path)
from spinestab.imaging.io import read_volume
from spinestab.imaging.viewer import volume_to_nifti
from spinestab.instability import landmarks_to_dict
from spinestab.instability.film_phantom import study_films
from spinestab.record import Actor, create_patient, open_record
from spinestab.record.archive import export_record, restore_record
from spinestab.record.image_series import SeriesDetails, add_image_series, save_mask_version
from spinestab.record.radiographs import FilmDetails, add_radiograph, save_landmarks
from spinestab.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "imaging"
MM_IMAGE = DATA / "musclemap" / "sub-0001_axial_lumbar_mri.nii.gz"
MM_MASK = DATA / "musclemap" / "sub-0001_axial_lumbar_mri_dseg.nii.gz"
DOC = Actor(username="doc", role="clinician")


def _record(tmp_path, name):
    settings = Settings(
        data_dir=tmp_path / f"{name}-data", database_url=f"sqlite:///{tmp_path / name}.sqlite3"
    )
    return open_record(settings)


def test_viewer_tables_are_exported_and_restored(tmp_path):
    first, second = _record(tmp_path, "a"), _record(tmp_path, "b")
    try:
        with first.unit_of_work() as uow:
            create_patient(uow, DOC, "P1", sex="male", birth_year=1960)
            series = add_image_series(
                uow,
                DOC,
                "P1",
                MM_IMAGE,
                mask=MM_MASK,
                details=SeriesDetails(mask_method="segmenter musclemap"),
            )
            mask = read_volume(MM_MASK, as_labels=True)
            edited = mask.data.copy()
            edited[:, :, 5][edited[:, :, 5] == 3] = 0
            save_mask_version(
                uow,
                DOC,
                "P1",
                series.id,
                volume_to_nifti(mask.with_data(edited), labels=True),
                from_version=1,
                note="erector spinae border",
            )
            phantom = study_films(pixel_spacing_mm=0.3)["neutral"]
            buffer = io.BytesIO()
            Image.fromarray(phantom.pixels).save(buffer, format="PNG")
            film = add_radiograph(
                uow, DOC, "P1", buffer.getvalue(), FilmDetails(view="neutral", pixel_spacing_mm=0.3)
            )
            save_landmarks(
                uow, DOC, "P1", film.id, landmarks_to_dict(phantom.landmarks)["vertebrae"]
            )
        out = tmp_path / "p1.zip"
        with first.unit_of_work() as uow:
            exported = export_record(uow, DOC, "P1", out)
        assert exported.rows["mask_versions"] == 2 and exported.rows["landmark_versions"] == 1
        assert exported.rows["image_series"] == 1 and exported.rows["radiographs"] == 1
        with second.unit_of_work() as uow:
            restored = restore_record(uow, DOC, out)
        assert restored.rows == exported.rows
        again = tmp_path / "again.zip"
        with second.unit_of_work() as uow:
            export_record(uow, DOC, "P1", again)
        a, b = archive_rows(out), archive_rows(again)
        b["audit_events"] = b["audit_events"][: len(a["audit_events"])]
        assert normalise(a) == normalise(b)
        with zipfile.ZipFile(out) as x, zipfile.ZipFile(again) as y:
            names = sorted(n for n in x.namelist() if n.startswith("artifacts/"))
            assert names == sorted(n for n in y.namelist() if n.startswith("artifacts/"))
            # the image, both masks, the film and its display copy are among them
            assert len(names) >= 5
        versions = {row["version"]: row for row in b["mask_versions"]}
        assert versions[2]["method"] == "edited"
        assert versions[2]["parent_id"] == versions[1]["id"]
        assert np.isclose(b["radiographs"][0]["pixel_spacing_mm"][0], 0.3)
    finally:
        first.close()
        second.close()


def test_viewer_models_match_migration_0006(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import spinestab.service.models  # noqa: F401  (the web app's tables)
    from spinestab.store import imaging_models
    from spinestab.store.models import Base

    record = _record(tmp_path, "m")
    try:
        with record.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        record.close()
    assert imaging_models.MaskVersion.__table__.name in Base.metadata.tables
    relevant = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert relevant == []
