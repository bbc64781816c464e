"""Which axial slices belong to which vertebral level.

Slices are compared with vertebrae in world coordinates (the S axis of RAS+), so the
vertebra mask may lie on another grid than the image (e.g. a sagittal SPINEPS mask for an
axial muscle image). Three sources of levels, each a pure function on arrays:

* vertebra instance labels (:func:`levels_from_instances`);
* one label for all vertebrae, split and named from discs or an anchor
  (:func:`~spinestab.imaging.vertebra_split.levels_from_single_label`, with the discs in
  :mod:`~spinestab.imaging.discs`);
* an explicit slice table (:func:`levels_from_table`; the file is read by
  :func:`spinestab.imaging.io.read_slice_table`).

This module is the public face of all three (the names below are importable from here).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinestab.core.levels import vertebra_order
from spinestab.errors import InputError
from spinestab.imaging.discs import (
    MAX_DISC_FLATNESS,
    DiscSet,
    find_discs,
    name_pieces_from_discs,
    parse_disc_name,
)
from spinestab.imaging.io import Volume
from spinestab.imaging.labels import LabelScheme
from spinestab.imaging.slice_levels import (
    SliceLevels,
    assign_slices,
    instance_extents,
    slice_positions_s,
)
from spinestab.imaging.vertebra_split import (
    MAX_VERTEBRA_EXTENT_MM,
    levels_from_single_label,
    split_vertebrae,
)

__all__ = [
    "MAX_DISC_FLATNESS",
    "MAX_VERTEBRA_EXTENT_MM",
    "DiscSet",
    "SliceLevels",
    "find_discs",
    "levels_from_instances",
    "levels_from_single_label",
    "levels_from_table",
    "name_pieces_from_discs",
    "parse_disc_name",
    "slice_positions_s",
    "split_vertebrae",
]


def levels_from_instances(
    vertebrae: Volume,
    scheme: LabelScheme,
    image: Volume,
    *,
    fill_gaps: bool = True,
) -> SliceLevels:
    """Levels of the image's slices from a vertebra instance mask.

    Parameters
    ----------
    vertebrae : Volume
        Label map with one value per vertebra (any grid sharing the world frame).
    scheme : LabelScheme
        Says which value is which vertebra (``kind == "vertebra"``).
    image : Volume
        The image whose slices get levels.
    fill_gaps : bool
        Give slices between two vertebrae (discs) the nearest vertebra.

    Raises
    ------
    InputError
        No vertebra of the scheme in the mask.

    """
    values = {v: e.name for v, e in scheme.vertebrae().items()}
    extents = instance_extents(vertebrae.data, vertebrae.affine, values)
    if not extents:
        present = [int(v) for v in np.unique(vertebrae.data) if v]
        raise InputError(
            f"no vertebra labels of scheme '{scheme.name}' in the vertebra mask",
            source=vertebrae.source or None,
            value=present[:20],
            expected="a vertebra instance mask (SPINEPS seg-vert, TotalSegmentator vertebrae_*)",
        )
    _check_order(extents, scheme.name, vertebrae.source)
    slice_s = slice_positions_s(image.affine, image.shape)
    levels = assign_slices(slice_s, extents, fill_gaps=fill_gaps)
    return SliceLevels(
        levels, f"vertebra instances ({scheme.name})", {n: e[2] for n, e in extents.items()}
    )


def _check_order(extents: Mapping[str, tuple[float, float, float]], scheme: str, src: str) -> None:
    """Vertebrae named by the scheme must lie in anatomical order from head to feet."""
    by_height = sorted(extents, key=lambda n: -extents[n][2])
    ranks = [vertebra_order(n) for n in by_height]
    if any(b <= a for a, b in itertools.pairwise(ranks)):
        raise InputError(
            "vertebra labels are out of anatomical order (cranial to caudal: "
            + ", ".join(by_height)
            + ")",
            source=src or None,
            item=scheme,
            expected="the label scheme the mask was made with (--vertebrae-labels)",
        )


def levels_from_table(
    table: Mapping[str, tuple[int, int]] | Sequence[tuple[str, Any, Any]],
    n_slices: int,
    *,
    slice_s: np.ndarray | None = None,
    source: str = "slice table",
) -> SliceLevels:
    """Levels from an explicit slice table.

    Parameters
    ----------
    table : mapping or sequence
        ``{"L4": (first, last), ...}``, or rows ``(level, first, last)`` as
        :func:`spinestab.imaging.io.read_slice_table` reads them from a CSV or JSON file
        (0-based, inclusive slice numbers).
    n_slices : int
        Number of slices of the image.
    slice_s : (n_slices,) ndarray, optional
        World S coordinate (mm) of every slice; with it, levels named in the wrong
        cranio-caudal order for the image's slice direction are refused.
    source : str
        Where the table came from, for messages.

    Raises
    ------
    InputError
        A level named twice, non-integer or out-of-range slices, a slice given two levels,
        levels out of anatomical order.

    Examples
    --------
    >>> levels_from_table([("L4", "0", "1"), ("L5", 2, 2)], 4).levels
    ('L4', 'L4', 'L5', '')

    """
    src = source
    if isinstance(table, Mapping):
        pairs = [(str(k), *_pair(v, src, str(k))) for k, v in table.items()]
    else:
        pairs = [(str(name), first, last) for name, first, last in table]
    rows = _parse_rows(pairs, src)
    levels = [""] * n_slices
    for name, (lo, hi) in rows.items():
        _check_row(name, lo, hi, n_slices, src)
        for k in range(lo, hi + 1):
            if levels[k] and levels[k] != name:
                raise InputError(
                    "slice given two levels", source=src, item=str(k), value=(levels[k], name)
                )
            levels[k] = name
    if slice_s is not None and len(rows) > 1:
        _check_table_order(rows, np.asarray(slice_s, dtype=np.float64), src)
    return SliceLevels(tuple(levels), "explicit slice table")


def _parse_rows(pairs: Sequence[tuple[str, Any, Any]], src: str) -> dict[str, tuple[int, int]]:
    rows: dict[str, tuple[int, int]] = {}
    for name, first, last in pairs:
        if name in rows:  # a dict would keep only the last range, silently
            raise InputError("level named twice in the slice table", source=src, item=name)
        try:
            lo, hi = _slice_index(first), _slice_index(last)
        except (TypeError, ValueError) as exc:
            raise InputError(
                "slice numbers are not integers",
                source=src,
                item=name,
                value=(first, last),
                expected="0-based integer slice indices",
            ) from exc
        rows[name] = (lo, hi)
    return rows


def _check_row(name: str, lo: int, hi: int, n_slices: int, src: str) -> None:
    try:
        vertebra_order(name)
    except InputError as exc:
        raise InputError(
            exc.message, source=src, item=name, value=exc.value, expected=exc.expected
        ) from exc
    if lo > hi or lo < 0 or hi >= n_slices:
        raise InputError(
            "slice range out of bounds",
            source=src,
            item=name,
            value=(lo, hi),
            expected=f"0 <= first <= last < {n_slices}",
        )


def _check_table_order(rows: Mapping[str, tuple[int, int]], s: np.ndarray, src: str) -> None:
    mean_s = {n: float(s[lo : hi + 1].mean()) for n, (lo, hi) in rows.items()}
    ordered = sorted(mean_s, key=vertebra_order)  # cranial to caudal
    if any(mean_s[a] <= mean_s[b] for a, b in itertools.pairwise(ordered)):
        raise InputError(
            "levels of the slice table are out of anatomical order for this image "
            "(a cranial level lies below a caudal one along the image's S axis)",
            source=src,
            value={n: round(mean_s[n], 1) for n in ordered},
            expected="slice ranges that follow the image's slice direction "
            "(see summary.json geometry)",
        )


def _pair(value: Any, src: str, name: str) -> tuple[Any, Any]:
    from spinestab.imaging.io.tables import pair

    return pair(value, src, name)


def _slice_index(value: Any) -> int:
    """Parse a slice index, refusing fractions ("5.5") and booleans."""
    if isinstance(value, bool):
        raise TypeError("bool")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())
