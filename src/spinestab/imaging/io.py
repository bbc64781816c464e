"""Read images and masks into one :class:`Volume`: NIfTI (nibabel) and DICOM series (pydicom).

Geometry is kept as a 4x4 voxel-to-world affine in RAS+ millimetres (the NIfTI / nibabel
convention), whatever the orientation of the stored array. DICOM (LPS+) positions are
converted to RAS+ by flipping the sign of x and y.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinestab.errors import InputError, MissingDependencyError, require

__all__ = [
    "Volume",
    "as_label_volume",
    "check_same_grid",
    "conform_to",
    "is_dicom_seg",
    "list_dicom_series",
    "read_dicom_seg",
    "read_dicom_series",
    "read_nifti",
    "read_volume",
    "slice_axis",
]

logger = logging.getLogger(__name__)

#: Default tolerance when comparing two grids: mm for positions, unitless for directions.
GRID_TOLERANCE_MM = 1e-3  # [D]: accepts the ~3e-6 mm of the real MuscleMap pair


@dataclass(frozen=True)
class Volume:
    """A 3-D image or label map with its geometry.

    Parameters
    ----------
    data : (I, J, K) ndarray
        Voxel values in array order. Images keep their stored dtype after scaling
        (CT in Hounsfield units); label maps are integers.
    affine : (4, 4) ndarray
        Voxel index ``(i, j, k, 1)`` to world RAS+ millimetres.
    modality : str
        ``"CT"``, ``"MR"`` or ``"unknown"``.
    source : str
        Where it came from (file or folder), for messages.
    meta : dict
        Extra facts from the header (series UID, description, transfer syntax...).

    """

    data: np.ndarray
    affine: np.ndarray
    modality: str = "unknown"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape ``(I, J, K)``."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along the three array axes in mm."""
        s = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(s[0]), float(s[1]), float(s[2]))

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm^3 (absolute determinant of the affine)."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def axcodes(self) -> str:
        """Orientation codes such as ``"LPS"`` or ``"RAS"`` (nibabel's ``aff2axcodes``)."""
        return "".join(_axcodes(self.affine))

    def with_data(self, data: np.ndarray, **changes: Any) -> Volume:
        """Return a copy with new voxel data on the same grid."""
        if data.shape != self.data.shape:
            raise ValueError(f"shape {data.shape} differs from {self.data.shape}")
        return Volume(
            data=data,
            affine=self.affine,
            modality=changes.get("modality", self.modality),
            source=changes.get("source", self.source),
            meta=changes.get("meta", self.meta),
        )


def _axcodes(affine: np.ndarray) -> tuple[str, str, str]:
    labels = (("L", "R"), ("P", "A"), ("I", "S"))
    codes = []
    rot = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    for col in range(3):
        world_axis = int(np.argmax(np.abs(rot[:, col])))
        positive = rot[world_axis, col] > 0
        codes.append(labels[world_axis][1] if positive else labels[world_axis][0])
    return codes[0], codes[1], codes[2]


def slice_axis(affine: np.ndarray) -> int:
    """Return the array axis closest to the cranio-caudal (world S) axis.

    Parameters
    ----------
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine.

    Returns
    -------
    int
        0, 1 or 2: the axis along which "axial slices" are stacked.

    Examples
    --------
    >>> slice_axis(np.diag([1.0, 1.0, 4.4, 1.0]))
    2

    """
    rot = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return int(np.argmax(np.abs(rot[2, :])))


def check_same_grid(
    a: Volume,
    b: Volume,
    *,
    tolerance_mm: float = GRID_TOLERANCE_MM,
    what: str = "mask",
) -> None:
    """Fail unless ``b`` lies on the same voxel grid as ``a`` (shape and affine).

    Origins may differ by up to ``tolerance_mm`` (the real MuscleMap pair differs by
    about 3e-6 mm); directions and spacings by a relative ``1e-4``.

    Raises
    ------
    InputError
        With both geometries in the message.

    """
    problem = None
    if a.shape != b.shape:
        problem = "shape differs"
    else:
        origin_diff = float(np.max(np.abs(a.affine[:3, 3] - b.affine[:3, 3])))
        scale = max(float(np.max(np.abs(a.affine[:3, :3]))), 1e-12)
        matrix_diff = float(np.max(np.abs(a.affine[:3, :3] - b.affine[:3, :3]))) / scale
        if origin_diff > tolerance_mm:
            problem = f"origin differs by {origin_diff:.4g} mm (tolerance {tolerance_mm} mm)"
        elif matrix_diff > 1e-4:
            problem = f"orientation/spacing differ (relative {matrix_diff:.3g})"
    if problem:
        raise InputError(
            f"{what} is not on the image grid: {problem}. "
            f"image {a.source or '?'}: {_describe_grid(a)}; "
            f"{what} {b.source or '?'}: {_describe_grid(b)}",
            source=b.source or None,
            expected="the same shape, spacing, orientation and origin as the image",
        )


def conform_to(
    reference: Volume,
    other: Volume,
    *,
    tolerance_mm: float = GRID_TOLERANCE_MM,
    what: str = "mask",
) -> Volume:
    """Return ``other`` on the grid of ``reference``, reordering its axes if needed.

    A mask written by another tool may store the same voxels in another axis order or
    direction (e.g. LAS instead of LPS). That is the same grid, so the array is
    reoriented (no interpolation). Anything else fails as in :func:`check_same_grid`.
    """
    try:
        check_same_grid(reference, other, tolerance_mm=tolerance_mm, what=what)
        return other
    except InputError as first_error:
        from nibabel import orientations as nio

        if sorted(reference.shape) != sorted(other.shape):
            raise
        transform = nio.ornt_transform(
            nio.io_orientation(other.affine), nio.io_orientation(reference.affine)
        )
        data = nio.apply_orientation(other.data, transform)
        affine = other.affine @ nio.inv_ornt_aff(transform, other.data.shape)
        moved = Volume(np.ascontiguousarray(data), affine, other.modality, other.source, other.meta)
        try:
            check_same_grid(reference, moved, tolerance_mm=tolerance_mm, what=what)
        except InputError:
            raise first_error from None
        logger.info("%s: reoriented %s -> %s", other.source, other.axcodes, reference.axcodes)
        return moved


def _describe_grid(v: Volume) -> str:
    sp = ", ".join(f"{s:.4g}" for s in v.spacing_mm)
    org = ", ".join(f"{o:.4g}" for o in v.affine[:3, 3])
    return f"shape {v.shape}, spacing ({sp}) mm, orient {v.axcodes}, origin ({org})"


# --------------------------------------------------------------------------------------
# NIfTI
# --------------------------------------------------------------------------------------


def read_nifti(path: str | Path, *, modality: str = "unknown", as_labels: bool = False) -> Volume:
    """Read a 3-D NIfTI file (``.nii`` or ``.nii.gz``).

    Parameters
    ----------
    path : str or Path
        The file.
    modality : str, optional
        ``"CT"``, ``"MR"`` or ``"unknown"``; NIfTI does not record it.
    as_labels : bool, optional
        Return integer labels; non-integer values fail.

    Returns
    -------
    Volume

    Raises
    ------
    InputError
        Missing, corrupt or truncated file, or not 3-D.

    """
    nib = require("nibabel", extra="imaging", feature="Reading NIfTI")
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("file not found", source=src, expected="an existing NIfTI file")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds for corrupt files
        raise InputError(
            f"cannot read NIfTI ({type(exc).__name__}: {exc})",
            source=src,
            expected="a complete, uncorrupted .nii or .nii.gz file",
        ) from exc
    affine = np.asarray(img.affine, dtype=float)
    data = _squeeze_to_3d(data, src)
    if as_labels:
        data = _as_labels(data, src)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError("the affine is singular or not finite", source=src, value=affine.tolist())
    return Volume(data=data, affine=affine, modality=modality, source=src)


def _squeeze_to_3d(data: np.ndarray, src: str) -> np.ndarray:
    if data.ndim > 3:
        extra = data.shape[3:]
        if all(n == 1 for n in extra):
            data = data.reshape(data.shape[:3])
        else:
            raise InputError(
                "image has more than 3 dimensions",
                source=src,
                value=tuple(data.shape),
                expected="a 3-D volume (one time point / echo)",
            )
    if data.ndim != 3 or min(data.shape) < 1:
        raise InputError(
            "image is not 3-D",
            source=src,
            value=tuple(data.shape),
            expected="a 3-D volume of axial slices",
        )
    return data


def as_label_volume(volume: Volume) -> Volume:
    """Return ``volume`` with integer labels; non-integer values fail (as ``as_labels``)."""
    return volume.with_data(_as_labels(volume.data, volume.source or "label map"))


def _as_labels(data: np.ndarray, src: str) -> np.ndarray:
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.int32, copy=False)
    if not np.all(np.isfinite(data)):
        raise InputError("label map has NaN or infinite values", source=src)
    rounded = np.rint(data)
    if not np.allclose(rounded, data, rtol=0.0, atol=1e-3):  # float-stored labels pass
        raise InputError(
            "label map has non-integer values",
            source=src,
            expected="integer labels (a segmentation, not a probability map)",
        )
    return rounded.astype(np.int32)


# --------------------------------------------------------------------------------------
# DICOM
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One series found in a folder."""

    series_uid: str
    description: str
    modality: str
    files: tuple[Path, ...]


def _has_dicm_preamble(path: Path) -> bool:
    """Return whether the file carries the DICOM Part 10 marker ``DICM`` at byte 128."""
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _is_known_non_image(ds: Any) -> bool:
    """Return whether the dataset names a SOP class that is not an image (DICOMDIR, SR, ...)."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(ds, "SOPClassUID", None) or (
        getattr(meta, "MediaStorageSOPClassUID", None) if meta is not None else None
    )
    if not uid:
        return False
    name = str(getattr(uid, "name", "") or "")
    return bool(name) and name != str(uid) and "Image Storage" not in name


def list_dicom_series(folder: str | Path) -> list[DicomSeriesInfo]:
    """List the DICOM series in a folder (headers only, no pixel data).

    Files that are not DICOM are skipped; a folder with no DICOM image fails.
    """
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", source=str(folder), expected="a DICOM series folder")
    groups: dict[str, list[Path]] = {}
    meta: dict[str, tuple[str, str]] = {}
    bad: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except Exception as exc:
            if _has_dicm_preamble(path):  # a DICOM file that cannot be parsed: corrupt
                raise InputError(
                    f"corrupt DICOM file ({type(exc).__name__}: {exc})",
                    source=str(path),
                    expected="complete, readable DICOM files (remove or replace this one)",
                ) from exc
            bad.append(path.name)
            continue
        if not any(k in ds for k in ("PixelData", "ImagePositionPatient", "NumberOfFrames")):
            if _has_dicm_preamble(path) and not _is_known_non_image(ds):
                # an image file cut short, or one whose header is garbled: skipping it would
                # silently drop a slice at either end of the series
                raise InputError(
                    "corrupt or truncated DICOM file: no pixel data or slice position "
                    "and no non-image SOP class",
                    source=str(path),
                    expected="complete, readable DICOM files (remove or replace this one)",
                )
            continue  # not an image (e.g. a DICOMDIR or a structured report)
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        groups.setdefault(uid, []).append(path)
        meta.setdefault(
            uid,
            (str(getattr(ds, "SeriesDescription", "") or ""), str(getattr(ds, "Modality", ""))),
        )
    if not groups:
        raise InputError(
            "no DICOM images in folder" + (f" ({len(bad)} unreadable files)" if bad else ""),
            source=str(folder),
            expected="a folder of DICOM files of one series",
        )
    if bad:
        logger.warning("%s: skipped %d non-DICOM files", folder, len(bad))
    return [
        DicomSeriesInfo(uid, meta[uid][0], meta[uid][1], tuple(files))
        for uid, files in sorted(groups.items())
    ]


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None) -> Volume:
    """Read one DICOM series into a :class:`Volume` with slices sorted by position.

    Parameters
    ----------
    folder : str or Path
        Folder holding the series' files.
    series_uid : str, optional
        SeriesInstanceUID to read when the folder holds several series.

    Returns
    -------
    Volume
        ``data[i, j, k]`` is column ``i``, row ``j`` of slice ``k`` (slices in order along
        the slice normal). Values are rescaled (``RescaleSlope``/``RescaleIntercept``),
        so CT is in HU.

    Raises
    ------
    InputError
        No series, several series without a choice (all are listed), mixed slice
        geometry, missing or duplicated slice positions, unreadable pixel data.
    MissingDependencyError
        Compressed pixel data without a decoder (e.g. JPEG 2000 needs
        ``spinestab[jpeg2000]``).

    """
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM")
    series = list_dicom_series(folder)
    src = str(folder)
    if series_uid is not None:
        chosen = [s for s in series if s.series_uid == series_uid]
        if not chosen:
            raise InputError(
                "series not found",
                source=src,
                value=series_uid,
                expected="one of " + _list_series(series),
            )
        info = chosen[0]
    elif len(series) > 1:
        raise InputError(
            f"folder holds {len(series)} series; choose one by SeriesInstanceUID",
            source=src,
            expected="one of " + _list_series(series),
        )
    else:
        info = series[0]

    datasets = []
    for path in info.files:
        try:
            datasets.append(pydicom.dcmread(str(path)))
        except Exception as exc:
            raise InputError(f"cannot read DICOM file ({exc})", source=str(path)) from exc
    return _stack_datasets(datasets, src=src, info=info)


def _list_series(series: Sequence[DicomSeriesInfo]) -> str:
    return "; ".join(
        f"{s.series_uid} ({s.modality} '{s.description}', {len(s.files)} files)" for s in series
    )


def info_files_sorted(info: DicomSeriesInfo, order: np.ndarray) -> list[Path]:
    """Return the series' files in slice order."""
    return [info.files[i] for i in order]


def _decoder_available(ts: Any) -> bool:
    try:
        from pydicom.pixels import get_decoder

        return bool(get_decoder(ts).is_available)
    except Exception:  # unknown transfer syntax: no decoder
        return False


def _seq_item(ds: Any, *names: str) -> Any:
    """Follow nested one-item sequences (``ds.A[0].B[0]``...); None when one is missing."""
    node = ds
    for name in names:
        seq = getattr(node, name, None)
        if not seq:
            return None
        node = seq[0]
    return node


def _stack_multiframe(ds: Any, *, src: str, info: DicomSeriesInfo) -> Volume:
    """One multi-frame (enhanced) DICOM file: frames placed by their per-frame positions.

    Geometry comes from the functional groups (PS3.3 C.7.6.16): per-frame
    ``PlanePositionSequence``, and ``PlaneOrientationSequence`` / ``PixelMeasuresSequence`` /
    ``PixelValueTransformationSequence`` per frame or shared.
    """
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    per_frame = list(getattr(ds, "PerFrameFunctionalGroupsSequence", None) or [])
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    if len(per_frame) != frames:
        raise InputError(
            "multi-frame DICOM without per-frame geometry",
            source=src,
            value=f"{frames} frames, {len(per_frame)} per-frame groups",
            expected="an enhanced DICOM with PerFrameFunctionalGroupsSequence",
        )

    def group(frame: Any, *names: str) -> Any:
        item = _seq_item(frame, *names)
        return item if item is not None else _seq_item(shared, *names) if shared else None

    iops, positions, spacings, slopes, inters = [], [], [], [], []
    for n, frame in enumerate(per_frame):
        pos = group(frame, "PlanePositionSequence")
        ori = group(frame, "PlaneOrientationSequence")
        pix = group(frame, "PixelMeasuresSequence")
        if pos is None or ori is None or pix is None:
            raise InputError(
                "multi-frame DICOM frame lacks position, orientation or pixel spacing",
                source=src,
                item=f"frame {n + 1}",
                expected="PlanePosition, PlaneOrientation and PixelMeasures sequences",
            )
        positions.append([float(v) for v in pos.ImagePositionPatient])
        iops.append([float(v) for v in ori.ImageOrientationPatient])
        spacings.append([float(v) for v in pix.PixelSpacing])
        tr = group(frame, "PixelValueTransformationSequence")
        slopes.append(float(getattr(tr, "RescaleSlope", 1.0) or 1.0) if tr else 1.0)
        inters.append(float(getattr(tr, "RescaleIntercept", 0.0) or 0.0) if tr else 0.0)
    iop = np.asarray(iops)
    if not np.allclose(iop, iop[0], atol=1e-4) or not np.allclose(spacings, spacings[0]):
        raise InputError(
            "frames differ in orientation or pixel spacing",
            source=src,
            expected="one stack of parallel frames",
        )
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise _pixel_error(ds, src, exc) from exc
    if pixels.ndim != 3 or pixels.shape[0] != frames:
        raise InputError(
            "multi-frame colour DICOM is not supported", source=src, value=pixels.shape
        )
    return _assemble(
        pixels,
        np.asarray(positions),
        iop[0],
        tuple(spacings[0]),
        np.asarray(slopes),
        np.asarray(inters),
        src=src,
        modality=str(getattr(ds, "Modality", "unknown") or "unknown"),
        meta={
            "series_uid": info.series_uid,
            "series_description": info.description,
            "transfer_syntax": str(getattr(ds.file_meta, "TransferSyntaxUID", "")),
            "n_files": 1,
            "n_frames": frames,
        },
    )


def _pixel_error(ds: Any, src: str, exc: Exception) -> Exception:
    ts = getattr(ds.file_meta, "TransferSyntaxUID", None)
    if ts is not None and ts.is_compressed and not _decoder_available(ts):
        return MissingDependencyError(
            f"{src}: no decoder for compressed DICOM pixel data ({ts.name}, {ts}). "
            "Install the decoders with: pip install 'spinestab[jpeg2000]'"
        )
    fname = getattr(ds, "filename", None)
    return InputError(
        f"cannot decode pixel data ({type(exc).__name__}: {exc})",
        source=str(fname) if isinstance(fname, str) and fname else src,
        expected="complete, readable DICOM files",
    )


def _check_slice_positions(along: np.ndarray, *, src: str) -> None:
    """Check sorted slice positions: at least two, distinct and equally spaced.

    Parameters
    ----------
    along : (S,) ndarray
        Slice positions along the slice normal, mm, sorted ascending.
    src : str
        Source named in the error.

    """
    if len(along) < 2:
        raise InputError(
            "series has one slice", source=src, value=1, expected="a 3-D series of slices"
        )
    steps = np.diff(along)
    if np.any(steps < 1e-3):
        raise InputError(
            "two slices share one position", source=src, expected="distinct slice positions"
        )
    if np.max(steps) - np.min(steps) > max(0.01 * float(np.median(steps)), 1e-3):
        raise InputError(
            "slice spacing is not uniform (missing slices?)",
            source=src,
            value=[round(float(s), 3) for s in steps],
            expected="equally spaced slices",
        )


def _assemble(
    pixels: np.ndarray,
    positions: np.ndarray,
    iop: np.ndarray,
    pixel_spacing: tuple[float, float],
    slopes: np.ndarray,
    inters: np.ndarray,
    *,
    src: str,
    modality: str,
    meta: dict[str, Any],
) -> Volume:
    """Sort frames along the slice normal, check spacing, rescale, build the RAS+ affine."""
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along, positions = along[order], positions[order]
    pixels, slopes, inters = pixels[order], slopes[order], inters[order]
    _check_slice_positions(along, src=src)
    if np.all(slopes == 1.0) and np.all(inters == np.round(inters)):
        data = pixels.astype(np.int32) + inters.astype(np.int32)[:, None, None]
    else:
        data = pixels.astype(np.float64) * slopes[:, None, None] + inters[:, None, None]
    # (slices, rows, cols) -> (cols, rows, slices): i along the row direction.
    data = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    row_spacing, col_spacing = pixel_spacing
    step = (positions[-1] - positions[0]) / (len(positions) - 1)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * col_spacing
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return Volume(data=data, affine=affine, modality=modality, source=src, meta=meta)


def _stack_datasets(datasets: list[Any], *, src: str, info: DicomSeriesInfo) -> Volume:
    first = datasets[0]
    frames = int(getattr(first, "NumberOfFrames", 1) or 1)
    if frames > 1:
        if len(datasets) > 1:
            raise InputError(
                f"series holds {len(datasets)} multi-frame files",
                source=src,
                expected="one enhanced (multi-frame) file per series, or one file per slice",
            )
        return _stack_multiframe(first, src=src, info=info)
    for name in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing"):
        if name not in first:
            raise InputError(f"DICOM header lacks {name}", source=src, expected="a 3-D series")
    iop = np.asarray([float(v) for v in first.ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    shape2d = (int(first.Rows), int(first.Columns))
    for ds in datasets[1:]:
        other = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        if not np.allclose(other, iop, atol=1e-4) or (int(ds.Rows), int(ds.Columns)) != shape2d:
            raise InputError(
                "slices differ in orientation or size",
                source=src,
                expected="one series with one slice geometry",
            )
    positions = np.asarray([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along = along[order]
    positions = positions[order]
    datasets = [datasets[i] for i in order]
    # checked here too, before any pixel data is decoded
    _check_slice_positions(along, src=src)

    for ds, path in zip(datasets, info_files_sorted(info, order), strict=True):
        if "PixelData" not in ds:
            raise InputError("DICOM file has no pixel data (truncated?)", source=str(path))
    current = first
    try:
        planes = []
        for ds in datasets:
            current = ds  # the file that fails is the one named in the message
            planes.append(np.asarray(ds.pixel_array))
        pixels = np.stack(planes, axis=0)
    except Exception as exc:
        raise _pixel_error(current, src, exc) from exc
    if pixels.ndim != 3:
        raise InputError("colour DICOM is not supported", source=src, value=pixels.shape)
    slopes = np.asarray([float(getattr(ds, "RescaleSlope", 1.0) or 1.0) for ds in datasets])
    inters = np.asarray([float(getattr(ds, "RescaleIntercept", 0.0) or 0.0) for ds in datasets])
    return _assemble(
        pixels,
        positions,
        iop,
        tuple(float(v) for v in first.PixelSpacing),
        slopes,
        inters,
        src=src,
        modality=str(getattr(first, "Modality", "unknown") or "unknown"),
        meta={
            "series_uid": info.series_uid,
            "series_description": info.description,
            "transfer_syntax": str(getattr(first.file_meta, "TransferSyntaxUID", "")),
            "n_files": len(datasets),
        },
    )


def read_volume(
    path: str | Path,
    *,
    series_uid: str | None = None,
    modality: str | None = None,
    as_labels: bool = False,
) -> Volume:
    """Read a NIfTI file or a DICOM series folder.

    Parameters
    ----------
    path : str or Path
        ``.nii``/``.nii.gz`` file or a folder of DICOM files.
    series_uid : str, optional
        Series to read from a folder with several.
    modality : str, optional
        Override the modality (NIfTI does not record it).
    as_labels : bool, optional
        Read as an integer label map.

    """
    path = Path(path)
    if path.is_dir():
        vol = read_dicom_series(path, series_uid=series_uid)
        if as_labels:
            vol = vol.with_data(_as_labels(vol.data, str(path)))
        if modality:
            vol = vol.with_data(vol.data, modality=modality)
        return vol
    return read_nifti(path, modality=modality or "unknown", as_labels=as_labels)


# --------------------------------------------------------------------------------------
# DICOM-SEG
# --------------------------------------------------------------------------------------

#: Segmentation Storage SOP class (PS3.4 B.5).
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def is_dicom_seg(path: str | Path) -> bool:
    """Whether ``path`` is a DICOM-SEG file, or a folder holding one."""
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM-SEG")
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for f in files if path.exists() else []:
        if f.name.endswith((".nii", ".nii.gz")):
            continue
        try:
            ds = pydicom.dcmread(str(f), stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except Exception:
            continue
        if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS:
            return True
    return False


def read_dicom_seg(path: str | Path, reference: Volume) -> Volume:
    """Read a DICOM-SEG (binary or fractional) as a label map on the grid of ``reference``.

    Every frame is one segment in one plane (PS3.3 C.8.20); its pixels are placed on the
    reference grid through the frame's position, orientation and pixel spacing, so the
    frames must lie on that grid (the SEG was made on this image). The label value is the
    segment number; fractional frames count from 0.5 of their maximum [D].

    Raises
    ------
    InputError
        No or several SEG files, frames off the reference grid, overlapping segments.

    """
    pydicom = require("pydicom", extra="imaging", feature="Reading DICOM-SEG")
    path = Path(path)
    src = str(path)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    segs = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except Exception:
            continue
        if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS:
            segs.append(ds)
    if len(segs) != 1:
        raise InputError(
            f"{len(segs)} DICOM-SEG files",
            source=src,
            expected="one DICOM-SEG file (or a folder holding one)",
        )
    ds = segs[0]
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    per_frame = list(getattr(ds, "PerFrameFunctionalGroupsSequence", None) or [])
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    if len(per_frame) != frames:
        raise InputError("DICOM-SEG without per-frame groups", source=src, value=frames)
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise _pixel_error(ds, src, exc) from exc
    pixels = pixels.reshape(frames, int(ds.Rows), int(ds.Columns))
    kind = str(getattr(ds, "SegmentationType", "BINARY")).upper()
    if kind == "FRACTIONAL":
        top = float(getattr(ds, "MaximumFractionalValue", 255) or 255)
        on = pixels >= 0.5 * top
    else:
        on = pixels > 0

    def group(frame: Any, *names: str) -> Any:
        item = _seq_item(frame, *names)
        return item if item is not None else _seq_item(shared, *names) if shared else None

    inv = np.linalg.inv(reference.affine)
    labels = np.zeros(reference.shape, dtype=np.int32)
    rows, cols = np.nonzero(np.ones(pixels.shape[1:], dtype=bool))
    for n, frame in enumerate(per_frame):
        seg = group(frame, "SegmentIdentificationSequence")
        pos = group(frame, "PlanePositionSequence")
        ori = group(frame, "PlaneOrientationSequence")
        pix = group(frame, "PixelMeasuresSequence")
        if seg is None or pos is None or ori is None or pix is None:
            raise InputError(
                "DICOM-SEG frame lacks its segment number or geometry",
                source=src,
                item=f"frame {n + 1}",
            )
        if not on[n].any():
            continue
        number = int(seg.ReferencedSegmentNumber)
        iop = np.asarray([float(v) for v in ori.ImageOrientationPatient])
        row_sp, col_sp = (float(v) for v in pix.PixelSpacing)
        flip = np.array([-1.0, -1.0, 1.0])  # LPS -> RAS
        origin = flip * np.asarray([float(v) for v in pos.ImagePositionPatient])
        step_c = flip * iop[:3] * col_sp  # along a row: next column
        step_r = flip * iop[3:] * row_sp  # down a column: next row
        base = inv[:3, :3] @ origin + inv[:3, 3]
        dc, dr = inv[:3, :3] @ step_c, inv[:3, :3] @ step_r
        r, c = rows[on[n].ravel()], cols[on[n].ravel()]
        ijk = base[None, :] + c[:, None] * dc[None, :] + r[:, None] * dr[None, :]
        idx = np.rint(ijk).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.asarray(reference.shape)), axis=1)
        if np.max(np.abs(ijk - idx)) > 1e-2 or not inside.all():
            raise InputError(
                "DICOM-SEG frame does not lie on the image grid",
                source=src,
                item=f"frame {n + 1} (segment {number})",
                expected="a segmentation made on this image's grid",
            )
        target = labels[idx[:, 0], idx[:, 1], idx[:, 2]]
        clash = (target != 0) & (target != number)
        if clash.any():
            raise InputError(
                "DICOM-SEG segments overlap; a label map holds one label per voxel",
                source=src,
                value=sorted({int(v) for v in target[clash]} | {number}),
            )
        labels[idx[:, 0], idx[:, 1], idx[:, 2]] = number
    names = {
        int(s.SegmentNumber): str(getattr(s, "SegmentLabel", ""))
        for s in getattr(ds, "SegmentSequence", None) or []
    }
    return Volume(
        labels,
        reference.affine.copy(),
        "SEG",
        src,
        {"segments": names, "segmentation_type": kind, "n_frames": frames},
    )
