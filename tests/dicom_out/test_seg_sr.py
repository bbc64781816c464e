"""DICOM SEG and SR of a muscle analysis, read back with highdicom and pydicom."""

from __future__ import annotations

import csv
import math

import numpy as np
import pydicom
import pytest

highdicom = pytest.importorskip("highdicom")

from spinestab.dicom_out import (  # noqa: E402
    export_muscle_study,
    make_segmentation,
    read_measurement_report,
    read_source_series,
)
from spinestab.dicom_out.codes import LATERALITY, MUSCLE_CODES, VERTEBRA_CODES  # noqa: E402
from spinestab.errors import InputError  # noqa: E402
from spinestab.imaging.io import conform_to, read_dicom_seg, read_nifti  # noqa: E402
from spinestab.imaging.labels import get_scheme  # noqa: E402

from .conftest import TS_DICOM_SUBSET  # noqa: E402

#: MuscleMap abdomen labels (MANIFEST): value -> (muscle, side)
MUSCLEMAP = {
    1: ("multifidus", "right"),
    2: ("multifidus", "left"),
    3: ("erector_spinae", "right"),
    4: ("erector_spinae", "left"),
    5: ("psoas", "right"),
    6: ("psoas", "left"),
    7: ("quadratus_lumborum", "right"),
    8: ("quadratus_lumborum", "left"),
}


@pytest.fixture(scope="module")
def exported(mr_study, tmp_path_factory):
    series, table, mask = mr_study
    out = tmp_path_factory.mktemp("dicom_export")
    result = export_muscle_study(
        series=series,
        mask=mask,
        labels="musclemap",
        muscle_quality=table,
        out_dir=out,
        algorithm_name="MuscleMap",
        algorithm_version="abdomen v0.0",
        mask_author="Doe^Jane",
    )
    return result, series, table, mask


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_seg_segments_are_coded_per_muscle_and_side(exported):
    result = exported[0]
    seg = highdicom.seg.segread(result.seg_path)
    assert seg.number_of_segments == 8
    seen = set()
    for desc in seg.SegmentSequence:
        prop = desc.SegmentedPropertyTypeCodeSequence[0]
        side_code = prop.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue
        side = next(k for k, v in LATERALITY.items() if v.value == side_code)
        muscle = next(k for k, v in MUSCLE_CODES.items() if v.value == prop.CodeValue)
        assert desc.SegmentLabel == f"{muscle.replace('_', ' ')} {side}"
        assert desc.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "123037004"
        assert desc.SegmentAlgorithmType == "AUTOMATIC"
        assert desc.SegmentAlgorithmName == "MuscleMap"
        seen.add((muscle, side))
    assert seen == set(MUSCLEMAP.values())


def test_seg_references_the_source_series(exported):
    result, series, _, _ = exported
    ds = pydicom.dcmread(result.seg_path)
    source = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(series.iterdir())]
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == source[0].SeriesInstanceUID
    assert ds.StudyInstanceUID == source[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == source[0].FrameOfReferenceUID
    referenced = {
        item.ReferencedSOPInstanceUID
        for item in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced <= {s.SOPInstanceUID for s in source}
    assert len(referenced) == 20  # every slice holds muscle
    assert ds.ContentCreatorName == "Doe^Jane"


def test_seg_voxels_equal_the_mask(exported):
    """Placed back on the image grid (an independent reader), every voxel equals the mask."""
    result, series, _, mask = exported
    source = read_source_series(series)
    back = read_dicom_seg(result.seg_path, source.volume)
    truth = conform_to(source.volume, read_nifti(mask, as_labels=True)).data
    names = back.meta["segments"]
    for value, (muscle, side) in MUSCLEMAP.items():
        number = next(
            n for n, label in names.items() if label == f"{muscle.replace('_', ' ')} {side}"
        )
        assert np.array_equal(back.data == number, truth == value), (muscle, side)


def test_sr_values_equal_muscle_quality_csv(exported):
    result, _, table, _ = exported
    groups = read_measurement_report(result.sr_path)
    rows = _csv_rows(table)
    assert len(groups) == len(rows) == 32
    columns = ("csa_max_mm2", "csa_mean_mm2", "lean_csa_mean_mm2", "fat_fraction_pct", "volume_ml")
    by_id = {g.tracking_id: g for g in groups}
    for row in rows:
        group = by_id[f"{row['muscle']} {row['side']} {row['level']}"]
        assert group.laterality == row["side"]
        assert group.muscle_code == MUSCLE_CODES[row["muscle"]].value
        assert group.level == row["level"]
        has_fat = row["fat_fraction_pct"] != "" or row["lean_csa_mean_mm2"] != ""
        assert group.fat_method == (row["fat_method"] if has_fat else "")
        expected = {c: float(row[c]) for c in columns if row[c] != ""}
        assert group.values == expected, group.tracking_id
    uids = {g.tracking_uid for g in groups}
    assert len(uids) == 32


def test_sr_read_with_pydicom_alone(exported):
    """Walk the SR tree with pydicom: TID 1500 root, UCUM units, one group per row."""
    result, _, table, _ = exported
    ds = pydicom.dcmread(result.sr_path)
    assert ds.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.CompletionFlag == "COMPLETE"
    numbers: list[tuple[str, str, float]] = []

    def walk(items):
        for item in items:
            if item.ValueType == "NUM":
                mv = item.MeasuredValueSequence[0]
                unit = mv.MeasurementUnitsCodeSequence[0]
                assert unit.CodingSchemeDesignator == "UCUM"
                numbers.append(
                    (
                        item.ConceptNameCodeSequence[0].CodeValue,
                        unit.CodeValue,
                        float(mv.NumericValue),
                    )
                )
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(ds.ContentSequence)
    rows = _csv_rows(table)
    n_values = sum(
        row[c] != ""
        for row in rows
        for c in (
            "csa_max_mm2",
            "csa_mean_mm2",
            "lean_csa_mean_mm2",
            "fat_fraction_pct",
            "volume_ml",
        )
    )
    assert len(numbers) == n_values
    fat = sorted(v for code, unit, v in numbers if code == "129100")
    assert all(unit == "%" for code, unit, _ in numbers if code == "129100")
    assert fat == sorted(float(r["fat_fraction_pct"]) for r in rows if r["fat_fraction_pct"])
    levels = {item for item in VERTEBRA_CODES.values() if item.value in str(ds)}
    assert {c.meaning for c in levels} == {"L3 vertebra", "L4 vertebra", "L5 vertebra"}


def test_rows_of_another_mask_are_refused(exported, tmp_path):
    _, series, table, mask = exported
    rows = _csv_rows(table)
    rows[0]["muscle"] = "autochthon"
    bad = tmp_path / "muscle_quality.csv"
    with bad.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="no segment"):
        export_muscle_study(
            series=series,
            mask=mask,
            labels="musclemap",
            muscle_quality=bad,
            out_dir=out,
            algorithm_name="MuscleMap",
        )
    assert not out.exists() or not any(out.iterdir())


def test_mask_off_the_series_grid_is_refused(mr_study, tmp_path):
    series, table, _ = mr_study
    ts_mask = TS_DICOM_SUBSET.parents[0] / "example_seg.nii.gz"
    with pytest.raises(InputError):
        export_muscle_study(
            series=series,
            mask=ts_mask,
            labels="total",
            muscle_quality=table,
            out_dir=tmp_path / "o",
            algorithm_name="TotalSegmentator",
        )
    assert not (tmp_path / "o").exists()


def test_automatic_mask_needs_its_algorithm(mr_study):
    series, _, mask = mr_study
    source = read_source_series(series)
    with pytest.raises(InputError, match="algorithm"):
        make_segmentation(source, read_nifti(mask, as_labels=True), get_scheme("musclemap"))
    manual = make_segmentation(
        source, read_nifti(mask, as_labels=True), get_scheme("musclemap"), algorithm_type="manual"
    )
    assert manual.dataset.SegmentSequence[0].SegmentAlgorithmType == "MANUAL"


def test_compressed_ct_series_gets_a_seg(tmp_path):
    """The real JPEG 2000 CT subset: a SEG on its grid references its instances."""
    pytest.importorskip("openjpeg")
    from spinestab.imaging.io import Volume

    source = read_source_series(TS_DICOM_SUBSET)
    hu = source.volume.data
    labels = np.zeros(hu.shape, dtype=np.int16)
    # a soft-tissue box left and right of the midline stands in for the muscles
    box = (hu > -29) & (hu < 150)
    mid = hu.shape[0] // 2
    labels[mid + 20 : mid + 60, 300:360][box[mid + 20 : mid + 60, 300:360]] = 86
    labels[mid - 60 : mid - 20, 300:360][box[mid - 60 : mid - 20, 300:360]] = 87
    mask = Volume(labels, source.volume.affine.copy(), "SEG", "box")
    seg = make_segmentation(
        source, mask, get_scheme("total"), algorithm_type="manual", content_creator="Doe^Jane"
    )
    path = tmp_path / "seg.dcm"
    seg.dataset.save_as(path, enforce_file_format=True)
    back = read_dicom_seg(path, source.volume)
    for number, value in ((s.number, s.label_value) for s in seg.segments):
        assert np.array_equal(back.data == number, labels == value)
    ds = pydicom.dcmread(path)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == source.series_uid
    assert {s.muscle for s in seg.segments} == {"autochthon"}
    assert not math.isnan(float(ds.SegmentSequence[0].SegmentNumber))


def test_export_from_an_mri_result_equals_export_from_its_csv(mr_study, tmp_path):
    """analyse_mri's result in memory gives the same SR values as its muscle_quality.csv."""
    from spinestab.imaging.options import MriOptions
    from spinestab.imaging.pipeline import LevelInputs, analyse_mri

    from .conftest import LEVELS

    series, table, mask = mr_study
    levels = tmp_path / "levels.csv"
    levels.write_text(LEVELS, encoding="utf-8")
    result = analyse_mri(
        series,
        mask,
        options=MriOptions(labels="musclemap", qa=False),
        levels=LevelInputs(levels_table=levels),
    )
    kwargs = {"series": series, "mask": mask, "labels": "musclemap", "algorithm_name": "MuscleMap"}
    a = export_muscle_study(muscle_quality=result, out_dir=tmp_path / "a", **kwargs)
    b = export_muscle_study(muscle_quality=table, out_dir=tmp_path / "b", **kwargs)
    ga = {g.tracking_id: g.values for g in read_measurement_report(a.sr_path)}
    gb = {g.tracking_id: g.values for g in read_measurement_report(b.sr_path)}
    assert ga.keys() == gb.keys()
    for key, values in gb.items():
        assert ga[key] == pytest.approx(values, rel=1e-9), key
