"""Radiographs for the landmark tool: formats, scale precedence, display, and the whole chain
from a synthetic film's true corners to the instability measures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from spinestab.errors import InputError
from spinestab.instability import assess, landmarks_from_dict, landmarks_to_dict
from spinestab.instability.film_phantom import STUDY_TRUTH, render_film, study_films
from spinestab.instability.radiograph import (
    NO_SCALE,
    Calibration,
    display_png,
    read_radiograph,
)

DX = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation


def _dicom(pixels: np.ndarray, **tags) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = DX, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gradient():
    rows, cols = 64, 80
    return (np.arange(rows)[:, None] * 100 + np.arange(cols)[None, :] * 3).astype(np.uint16)


def test_dicom_imager_spacing_is_the_detector_plane(gradient):
    film = read_radiograph(_dicom(gradient, ImagerPixelSpacing=[0.139, 0.14]), name="dx.dcm")
    assert film.shape == gradient.shape
    assert film.pixel_spacing_mm == pytest.approx((0.139, 0.14))
    assert film.magnification_corrected is False
    assert "ImagerPixelSpacing" in film.spacing_source
    assert np.array_equal(film.pixels, gradient.astype(np.float32))
    header = film.landmark_header(view="flexion")
    assert header == {
        "units": "px",
        "view": "flexion",
        "pixel_spacing_mm": [0.139, 0.14],
        "magnification_corrected": False,
    }


def test_dicom_calibrated_pixel_spacing_counts_as_corrected(gradient):
    data = _dicom(
        gradient,
        PixelSpacing=[0.12, 0.12],
        ImagerPixelSpacing=[0.14, 0.14],
        PixelSpacingCalibrationType="GEOMETRY",
    )
    film = read_radiograph(data)
    assert film.pixel_spacing_mm == pytest.approx((0.12, 0.12))
    assert film.magnification_corrected is True
    plain = read_radiograph(_dicom(gradient, PixelSpacing=[0.12, 0.12]))
    assert plain.magnification_corrected is False


def test_monochrome1_is_inverted_and_its_window_follows(gradient):
    film = read_radiograph(
        _dicom(
            gradient,
            PhotometricInterpretation="MONOCHROME1",
            WindowCenter=1000,
            WindowWidth=400,
            ImagerPixelSpacing=[0.1, 0.1],
        )
    )
    expected = gradient.max() + gradient.min() - gradient.astype(np.float32)
    assert np.array_equal(film.pixels, expected)
    assert film.window == (float(gradient.max() + gradient.min()) - 1000.0, 400.0)


def test_scale_precedence_calibration_then_declared_then_header(gradient):
    data = _dicom(gradient, ImagerPixelSpacing=[0.14, 0.14])
    declared = read_radiograph(data, pixel_spacing_mm=0.2, magnification_corrected=True)
    assert declared.pixel_spacing_mm == (0.2, 0.2)
    assert declared.magnification_corrected is True
    assert declared.spacing_source.startswith("declared")
    calibration = Calibration((5.0, 10.0), (5.0, 50.0), 10.0)  # 40 px = 10 mm
    calibrated = read_radiograph(data, pixel_spacing_mm=0.2, calibration=calibration)
    assert calibrated.pixel_spacing_mm == pytest.approx((0.25, 0.25))
    assert calibrated.magnification_corrected is True
    assert "calibration object: 10 mm over 40.0 px" in calibrated.spacing_source


def test_png_without_scale_says_so_and_png_round_trips(gradient):
    eight_bit = (gradient % 256).astype(np.uint8)
    film = read_radiograph(_png(eight_bit), name="film.png")
    assert film.kind == "png" and film.pixel_spacing_mm is None
    assert film.spacing_source == NO_SCALE
    assert "pixel_spacing_mm" not in film.landmark_header(view="neutral")
    shown = np.asarray(Image.open(io.BytesIO(display_png(film))))
    assert np.array_equal(shown, eight_bit)


def test_sixteen_bit_png_is_windowed_to_its_percentiles(gradient):
    film = read_radiograph(_png(gradient.astype(np.uint16)), pixel_spacing_mm=[0.1, 0.1])
    shown = np.asarray(Image.open(io.BytesIO(display_png(film))))
    assert shown.shape == gradient.shape and shown.dtype == np.uint8
    lo, hi = np.percentile(gradient, (0.5, 99.5))
    expected = np.clip((gradient - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"not a picture at all" * 10, "cannot read the picture"),
        (_png(np.zeros((64, 64), np.uint8))[:60], "cannot read the picture|truncated"),
    ],
)
def test_bad_files_are_refused_with_their_name(data, message):
    with pytest.raises(InputError, match=message) as info:
        read_radiograph(data, name="upload.png")
    if data:
        assert "upload.png" in str(info.value)


def test_a_truncated_picture_is_refused_even_where_pillow_is_lenient(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = _png(np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8))
    with pytest.raises(InputError, match="truncated picture"):
        read_radiograph(whole[: len(whole) // 2], name="cut.png")
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(buffer, format="JPEG")
    with pytest.raises(InputError, match="truncated picture"):
        read_radiograph(buffer.getvalue()[:-10], name="cut.jpg")


def test_other_dicom_modalities_and_truncation_are_refused(gradient):
    with pytest.raises(InputError, match=r"Modality: not a radiograph \(got 'CT'\)"):
        read_radiograph(_dicom(gradient, Modality="CT"))
    whole = _dicom(gradient, ImagerPixelSpacing=[0.1, 0.1])
    with pytest.raises(InputError, match="cannot"):
        read_radiograph(whole[: len(whole) - 3000])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pixel_spacing_mm": 0}, "out of range"),
        ({"pixel_spacing_mm": [0.1, 0.1, 0.1]}, "one or two numbers"),
        ({"pixel_spacing_mm": "x"}, "one or two numbers"),
    ],
)
def test_bad_declared_spacing(gradient, kwargs, message):
    with pytest.raises(InputError, match=message):
        read_radiograph(_png((gradient % 256).astype(np.uint8)), **kwargs)


def test_calibration_checks():
    assert Calibration((0, 0), (30, 40), 10.0).spacing_mm == pytest.approx(0.2)
    with pytest.raises(InputError, match="too close"):
        Calibration((0, 0), (5, 5), 10.0)
    with pytest.raises(InputError, match="length out of range"):
        Calibration((0, 0), (100, 0), -1.0)
    with pytest.raises(InputError, match="not a number"):
        Calibration((0, 0), (100, 0), True)


def test_film_phantom_paints_the_bodies_where_the_corners_are():
    films = study_films(pixel_spacing_mm=0.3)
    neutral = films["neutral"]
    l4 = neutral.landmarks.vertebrae["L4"]
    centre = np.rint(l4.mean(axis=0)).astype(int)
    assert neutral.pixels[centre[1], centre[0]] == 200
    assert neutral.pixels[2, 2] == 60
    # a corner pixel is partly covered: the edge is anti-aliased, not snapped
    corner = l4[0]
    value = neutral.pixels[round(corner[1]), round(corner[0])]
    assert 60 < value < 200
    # painted area equals the quadrilateral's area (shoelace) within the edge pixels
    quad = l4
    area = 0.5 * abs(
        np.dot(quad[:, 0], np.roll(quad[:, 1], 1)) - np.dot(quad[:, 1], np.roll(quad[:, 0], 1))
    )
    alone = render_film(
        landmarks_from_dict(
            {
                "units": "px",
                "view": "neutral",
                "vertebrae": {
                    "L4": dict(
                        zip(
                            (
                                "anterior_superior",
                                "posterior_superior",
                                "posterior_inferior",
                                "anterior_inferior",
                            ),
                            l4.tolist(),
                            strict=True,
                        )
                    )
                },
            }
        ),
        shape=neutral.pixels.shape,
        pixel_spacing_mm=0.3,
    )
    painted = (alone.astype(float) - 60).sum() / (200 - 60)
    assert painted == pytest.approx(area, rel=0.005)


def test_corners_read_off_the_film_give_the_true_slip_and_angles():
    """The landmark tool's chain without the browser: corners in px on the film, the
    film's declared scale in the landmark header, then the analysis."""
    films = study_films(pixel_spacing_mm=0.3)
    views = {}
    for view, phantom in films.items():
        film = read_radiograph(
            _png(phantom.pixels), pixel_spacing_mm=0.3, magnification_corrected=True
        )
        doc = film.landmark_header(view=view) | {
            "vertebrae": landmarks_to_dict(phantom.landmarks)["vertebrae"]
        }
        views[view] = landmarks_from_dict(doc, source=f"{view} film")
    report = assess(**views)
    slips, angles, _ = STUDY_TRUTH["neutral"]
    l45 = report.record("L4-L5")
    assert l45["slip_mm"] == pytest.approx(slips[3], abs=0.05)
    assert l45["segmental_angle_deg"] == pytest.approx(angles[3], abs=0.05)
    flexion_slip, extension_slip = STUDY_TRUTH["flexion"][0][3], STUDY_TRUTH["extension"][0][3]
    assert l45["translation_mm"] == pytest.approx(flexion_slip - extension_slip, abs=0.05)
    rom = STUDY_TRUTH["extension"][1][3] - STUDY_TRUTH["flexion"][1][3]
    assert l45["angulation_deg"] == pytest.approx(rom, abs=0.05)
