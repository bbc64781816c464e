"""QA pictures: one PNG per vertebral level, mask contours over the image.

Slices are shown in radiological convention (patient's right on the picture's left,
anterior at the top) whatever the stored orientation, so a swapped side is visible.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from spinestab.errors import require
from spinestab.imaging.io import Volume, slice_axis
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.levels import SliceLevels

__all__ = [
    "PictureOptions",
    "QaPicture",
    "display_slice",
    "pick_slice",
    "render_level_pictures",
    "save_level_pictures",
    "slice_label",
]

logger = logging.getLogger(__name__)

#: Display window for CT (level 40 HU, width 400 HU: a usual soft-tissue window).
CT_SOFT_TISSUE_WINDOW = (-160.0, 240.0)

_COLOURS = {
    "multifidus": "#e6194b",
    "erector_spinae": "#3cb44b",
    "autochthon": "#3cb44b",
    "psoas": "#4363d8",
    "quadratus_lumborum": "#f58231",
}


@dataclass(frozen=True)
class QaPicture:
    """One QA picture as data: a PNG of one slice with the mask contours.

    Attributes
    ----------
    level : str
        The vertebral level shown, or ``all`` (the slice of largest muscle area).
    slice : int
        The slice index along the image's slice axis (0-based, as ``per_slice.csv``).
    title : str
        The title drawn above the image. It names the slice as people count it, from 1
        ("slice 8 of 20" is index 7), as the viewer's slider and level table do.
    png : bytes
        The PNG file's bytes.

    """

    level: str
    slice: int
    title: str
    png: bytes

    @property
    def name(self) -> str:
        """File name of the picture (``qa_<level>.png``)."""
        return f"qa_{self.level}.png"


def display_slice(volume: Volume, data: np.ndarray, k: int) -> np.ndarray:
    """Return slice ``k`` as a 2-D picture in radiological convention.

    Rows run anterior to posterior, columns patient right to patient left.

    Parameters
    ----------
    volume : Volume
        Gives the geometry.
    data : (I, J, K) ndarray
        Values on the volume's grid (image or labels).
    k : int
        Slice index.

    Returns
    -------
    (rows, cols) ndarray

    """
    ax = slice_axis(volume.affine)
    plane = np.take(data, k, axis=ax)
    in_plane = [i for i in range(3) if i != ax]
    rot = volume.affine[:3, :3] / np.linalg.norm(volume.affine[:3, :3], axis=0)
    # which in-plane array axis runs along world x (left-right)
    a, b = in_plane
    if abs(rot[0, a]) >= abs(rot[0, b]):
        x_axis, y_axis, plane_xy = a, b, plane
    else:
        x_axis, y_axis, plane_xy = b, a, plane.T
    if rot[0, x_axis] > 0:  # index increases to patient right: flip so right is on the left
        plane_xy = plane_xy[::-1, :]
    if rot[1, y_axis] > 0:  # index increases anteriorly: flip so anterior is on top
        plane_xy = plane_xy[:, ::-1]
    return plane_xy.T


def pick_slice(levels: SliceLevels, level: str, mask_area: np.ndarray) -> int:
    """Return the slice of ``level`` with the largest muscle area (ties: the middle one)."""
    idx = levels.slices_of(level)
    if idx.size == 0:
        raise ValueError(f"no slice at level {level}")
    area = mask_area[idx]
    best = np.flatnonzero(area == area.max())
    return int(idx[best[len(best) // 2]])


@dataclass(frozen=True)
class PictureOptions:
    """How the QA pictures are drawn.

    Attributes
    ----------
    title : str
        Title prefix (e.g. the image file's name).
    window : tuple of float, optional
        Fixed display window; CT defaults to a soft-tissue window.
    window_pct : tuple of float
        Display window as percentiles of the image (MR).
    extra_levels : sequence of str
        ``("all",)`` adds the slice of largest muscle area.
    level_note : str
        Added to the level name in the titles, e.g. ``" (assumed)"`` when the names rest
        on an assumption (not for ``all``).

    """

    title: str = ""
    window: tuple[float, float] | None = None
    window_pct: tuple[float, float] = (1.0, 99.5)
    extra_levels: Sequence[str] = ("all",)
    level_note: str = ""


def _display_window(image: Volume, options: PictureOptions) -> tuple[float, float]:
    if options.window is not None:
        return options.window
    if image.modality.upper() == "CT":
        return CT_SOFT_TISSUE_WINDOW
    finite = image.data[np.isfinite(image.data)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, options.window_pct)
    return lo, hi


def _contours(axes: Any, lab2: np.ndarray, muscles: dict[int, Any]) -> list[Any]:
    """Draw each muscle's outline (left sides dashed); return the legend handles."""
    from matplotlib.lines import Line2D

    handles = []
    seen = set()
    for value in sorted(muscles):
        entry = muscles[int(value)]
        region = lab2 == value
        if not region.any():
            continue
        colour = _COLOURS.get(entry.name, "#ffe119")
        style: Literal["-", "--"] = "-" if entry.side != "left" else "--"
        axes.contour(
            region.astype(float), levels=[0.5], colors=[colour], linewidths=1.0, linestyles=style
        )
        if (entry.name, entry.side) not in seen:
            seen.add((entry.name, entry.side))
            label = f"{entry.name} {entry.side}"
            handles.append(Line2D([0], [0], color=colour, linestyle=style, label=label))
    return handles


def _picture(
    image: Volume,
    mask: Volume,
    muscles: dict[int, Any],
    k: int,
    heading: str,
    window: tuple[float, float],
) -> bytes:
    """One slice with its outlines, side marks, title and legend, as PNG bytes."""
    from matplotlib.figure import Figure

    img2 = display_slice(image, image.data, k)
    lab2 = display_slice(mask, mask.data, k)
    ax_idx = slice_axis(image.affine)
    in_plane = [image.spacing_mm[i] for i in range(3) if i != ax_idx]
    fig = Figure(figsize=(6, 6 * img2.shape[0] / max(img2.shape[1], 1) + 0.6), dpi=110)
    axes = fig.add_subplot(1, 1, 1)
    axes.imshow(
        img2,
        cmap="gray",
        vmin=window[0],
        vmax=window[1],
        interpolation="nearest",
        aspect=max(in_plane) / min(in_plane) if min(in_plane) > 0 else 1.0,
    )
    handles = _contours(axes, lab2, muscles)
    axes.text(0.01, 0.5, "R", color="yellow", transform=axes.transAxes, fontsize=12)
    axes.text(0.97, 0.5, "L", color="yellow", transform=axes.transAxes, fontsize=12)
    axes.text(0.5, 0.97, "A", color="yellow", transform=axes.transAxes, fontsize=12)
    axes.set_axis_off()
    axes.set_title(heading, fontsize=10)
    if handles:
        axes.legend(  # below the image, so that it never hides a contour
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            fontsize=6,
            ncol=4,
            frameon=False,
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def render_level_pictures(
    image: Volume,
    mask: Volume,
    scheme: LabelScheme,
    levels: SliceLevels,
    options: PictureOptions | None = None,
) -> list[QaPicture]:
    """Draw one PNG per level (plus the slice of largest muscle area as ``all``).

    Parameters
    ----------
    image, mask : Volume
        The image and its muscle labels (same grid).
    scheme : LabelScheme
        Meaning of the labels.
    levels : SliceLevels
        Level of every slice.
    options : PictureOptions, optional
        Title, display window, the ``all`` picture, a note on the level names.

    Returns
    -------
    list of QaPicture
        One per level, cranial to caudal, then ``all``.

    """
    matplotlib = require("matplotlib", extra="imaging", feature="QA pictures")
    matplotlib.use("Agg", force=False)
    options = options or PictureOptions()
    ax_idx = slice_axis(image.affine)
    muscles = scheme.muscles()
    in_muscle = np.isin(mask.data, np.asarray(sorted(muscles), dtype=np.int64))
    area = np.moveaxis(in_muscle, ax_idx, -1).reshape(-1, image.shape[ax_idx]).sum(axis=0)
    window = _display_window(image, options)
    targets = [(lv, pick_slice(levels, lv, area)) for lv in levels.names()]
    if "all" in options.extra_levels and area.max() > 0:
        targets.append(("all", int(np.argmax(area))))
    pictures = []
    count = image.shape[ax_idx]
    for level, k in targets:
        note = options.level_note if level != "all" else ""
        heading = f"{options.title} level {level}{note}, {slice_label(k, count)}".strip()
        png = _picture(image, mask, muscles, k, heading, window)
        pictures.append(QaPicture(level, int(k), heading, png))
    return pictures


def slice_label(index: int, count: int) -> str:
    """Name a slice for people: counted from 1, with the series' slice count.

    Every slice number a person reads (QA titles, the viewer's slider and level table)
    counts from 1; files for programs (``per_slice.csv``'s ``slice``, ``--levels-table``,
    the API's slice spans) keep the 0-based array index.

    Examples
    --------
    >>> slice_label(0, 20)
    'slice 1 of 20'

    """
    return f"slice {int(index) + 1} of {int(count)}"


def save_level_pictures(
    image: Volume,
    mask: Volume,
    scheme: LabelScheme,
    levels: SliceLevels,
    out_dir: str | Path,
    **options: Any,
) -> list[Path]:
    """Write the pictures of :func:`render_level_pictures` into ``out_dir``.

    Returns
    -------
    list of Path
        The written files (``qa_<level>.png``).

    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for picture in render_level_pictures(image, mask, scheme, levels, PictureOptions(**options)):
        path = out_dir / picture.name
        path.write_bytes(picture.png)
        written.append(path)
        logger.info("wrote %s", path)
    return written
