"""Intervertebral discs: names, finding them in a label map, naming vertebrae from them.

Disc names are ``L4-L5`` or SPINEPS-style ``disc_below_L4``; a map may also hold one label
for all discs (split into connected components). A vertebra piece with ``d`` discs above it
lies between disc ``d - 1`` and disc ``d``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from spinestab.core.levels import VERTEBRAE, normal_sequence
from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.imaging.labels import LabelScheme, label_values

__all__ = [
    "MAX_DISC_FLATNESS",
    "DiscSet",
    "find_discs",
    "name_pieces_from_discs",
    "parse_disc_name",
]

logger = logging.getLogger(__name__)


#: A disc piece whose least / greatest spread exceeds this is taken as two discs joined [D]:
#: single real SPINEPS cervical discs give 0.21-0.24, the two joined 0.45; phantoms 0.25.
MAX_DISC_FLATNESS = 0.4


_DISC_SPLIT = re.compile(r"^\s*([CTLS]\d{1,2})\s*[-/_]?\s*([CTLS]\d{1,2})\s*$", re.IGNORECASE)


_DISC_BELOW = re.compile(r"^(?:disc|ivd)_below_([CTLS]\d{1,2})$", re.IGNORECASE)


def parse_disc_name(name: str) -> tuple[str, str] | None:
    """Return the vertebrae above and below a named disc (None for an unnamed disc label).

    Accepts ``"L4-L5"``, ``"L4/L5"``, ``"L4L5"`` and SPINEPS-style ``"disc_below_L4"``
    (the vertebra below is the next one in the usual sequence).

    Examples
    --------
    >>> parse_disc_name("L5-S1"), parse_disc_name("disc_below_T12"), parse_disc_name("ivd")
    (('L5', 'S1'), ('T12', 'L1'), None)

    """
    m = _DISC_SPLIT.match(name)
    if m:
        upper, lower = m.group(1).upper(), m.group(2).upper()
        if upper in VERTEBRAE and lower in VERTEBRAE:
            seq = normal_sequence([upper, lower])
            if upper in seq and lower in seq and seq.index(lower) == seq.index(upper) + 1:
                return upper, lower
            raise InputError(
                "disc name does not join two neighbouring vertebrae",
                value=name,
                expected="e.g. L4-L5 or L5-S1",
            )
        return None
    m = _DISC_BELOW.match(name.strip())
    if m:
        upper = m.group(1).upper()
        seq = normal_sequence([upper])
        if upper in seq and seq.index(upper) + 1 < len(seq):
            return upper, seq[seq.index(upper) + 1]
    return None


@dataclass(frozen=True)
class DiscSet:
    """Intervertebral discs found in a label map, from cranial to caudal.

    Attributes
    ----------
    heights_mm : tuple of float
        World S coordinate (RAS+, mm) of each disc's centroid, decreasing.
    bottoms_mm : tuple of float
        Lowest S coordinate of each disc (mm).
    names : tuple
        ``(upper, lower)`` vertebra names of each disc where its label names it, else None.
    source : str
        Which labels they came from, for messages.
    centres_mm, normals : (n, 3) ndarray, optional
        Centroid (RAS+ mm) and unit normal (the direction of least spread, pointing
        cranially) of each disc: the disc planes that cut the vertebrae apart.
    flatness : tuple of float
        Least over greatest spread (SD) of each disc's voxels: about 0.2-0.25 for one disc
        (real SPINEPS cervical discs, phantoms), more for two discs joined into one piece.

    """

    heights_mm: tuple[float, ...]
    bottoms_mm: tuple[float, ...]
    names: tuple[tuple[str, str] | None, ...]
    source: str = ""
    centres_mm: np.ndarray | None = None
    normals: np.ndarray | None = None
    flatness: tuple[float, ...] = ()

    @property
    def named(self) -> bool:
        """Whether any disc carries its own name."""
        return any(n is not None for n in self.names)


def find_discs(
    labels: np.ndarray,
    affine: np.ndarray,
    scheme: LabelScheme,
    *,
    min_fraction: float = 0.05,  # [D] as for vertebra pieces: drops specks
) -> DiscSet | None:
    """Discs of a label map: one per named disc value, or the components of a disc label.

    Parameters
    ----------
    labels : (I, J, K) ndarray of int
        Label map.
    affine : (4, 4) ndarray
        Voxel to RAS+ world affine.
    scheme : LabelScheme
        Its ``disc`` entries: named (``L4-L5``, ``disc_below_L4``) or one label for all discs
        (split into connected components; discs are kept apart by the vertebral bodies).
    min_fraction : float
        Components smaller than this fraction of the largest disc are dropped.

    Returns
    -------
    DiscSet or None
        None when the map holds no disc voxels.

    """
    from scipy import ndimage

    disc_entries = scheme.of_kind("disc")
    present = set(label_values(labels).tolist()) & set(disc_entries)
    if not present:
        return None
    lab = np.zeros(labels.shape, dtype=np.int32)
    names: list[tuple[str, str] | None] = []
    n = 0
    for value in sorted(present):
        parsed = parse_disc_name(disc_entries[value].name)
        voxels = labels == value
        if parsed is not None:
            n += 1
            lab[voxels] = n
            names.append(parsed)
            continue
        comp, _n = ndimage.label(voxels, structure=np.ones((3, 3, 3), dtype=bool))
        sizes = np.bincount(comp.ravel())[1:]
        for c in np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1:
            n += 1
            lab[comp == c] = n
            names.append(None)
    ijk = np.nonzero(lab)
    xyz = (affine[:3, :3] @ np.asarray(ijk, dtype=float)).T + affine[:3, 3]  # (N, 3) mm
    ids = lab[ijk]
    counts = np.bincount(ids, minlength=n + 1)[1:].astype(float)
    centres = np.stack(
        [np.bincount(ids, weights=xyz[:, d], minlength=n + 1)[1:] / counts for d in range(3)],
        axis=1,
    )
    bottom = np.full(n, np.inf)
    np.minimum.at(bottom, ids - 1, xyz[:, 2])
    normals = np.zeros((n, 3))
    flatness = np.zeros(n)
    for i in range(n):  # a handful of discs: the plane of least spread of each
        pts = xyz[ids == i + 1] - centres[i]
        normal = np.array([0.0, 0.0, 1.0])
        if len(pts) >= 3:
            w, vecs = np.linalg.eigh(pts.T @ pts)
            normal = vecs[:, 0]
            flatness[i] = float(np.sqrt(max(w[0], 0.0) / w[-1])) if w[-1] > 0 else 0.0
        normals[i] = normal if normal[2] >= 0 else -normal
    order = np.argsort(-centres[:, 2])
    return DiscSet(
        tuple(float(centres[i, 2]) for i in order),
        tuple(float(bottom[i]) for i in order),
        tuple(names[i] for i in order),
        source=scheme.name,
        centres_mm=centres[order],
        normals=normals[order],
        flatness=tuple(float(flatness[i]) for i in order),
    )


def name_pieces_from_discs(
    piece_heights_mm: np.ndarray,
    discs: DiscSet,
    *,
    anchor: str | None = None,
    anchor_is: str = "lowest",
) -> tuple[list[str], str]:
    """Name vertebra pieces by the discs between them.

    Parameters
    ----------
    piece_heights_mm : (n,) ndarray
        Centroid S coordinates (mm) of the pieces, cranial first.
    discs : DiscSet
        The discs, cranial first.
    anchor : str, optional
        A disc name such as ``"L5-S1"`` for the lowest (or highest) disc; needed when no
        disc carries its own name, ignored otherwise.
    anchor_is : {"lowest", "highest"}
        Which disc the anchor names.

    Returns
    -------
    names : list of str
        One vertebra name per piece (pieces between the same two discs share one).
    doubt : str
        Empty, or why the names are doubtful (a vertebra missing between two discs, or
        named discs that do not follow each other).

    Raises
    ------
    InputError
        No named disc and no disc anchor; names outside the vertebral column.

    """
    disc_s = np.asarray(discs.heights_mm)
    pieces = np.asarray(piece_heights_mm, dtype=float)
    above = (disc_s[None, :] > pieces[:, None]).sum(axis=1)  # discs above each piece
    return _names_from_disc_counts(above, discs, anchor=anchor, anchor_is=anchor_is)


def _names_from_disc_counts(
    above: np.ndarray, discs: DiscSet, *, anchor: str | None, anchor_is: str
) -> tuple[list[str], str]:
    """Names of pieces that have ``above[i]`` discs above them (see name_pieces_from_discs)."""
    nd = len(discs.heights_mm)
    if nd == 0:
        raise InputError("no discs to name the vertebrae from")
    used = [u for n in discs.names if n for u in n]
    doubt = ""
    upper = np.zeros(nd, dtype=np.int64)  # sequence index of the vertebra above each disc
    if discs.named:
        seq = normal_sequence(used)
        named = [j for j, n in enumerate(discs.names) if n is not None]
        idx = {j: seq.index(discs.names[j][0]) for j in named}  # type: ignore[index]
        if len({idx[j] - j for j in named}) > 1:
            doubt = "named discs do not follow each other (a disc missing or mislabelled)"
        for j in range(nd):
            k = min(named, key=lambda m: abs(m - j))  # nearest named disc
            upper[j] = idx[k] + (j - k)
        how = "named discs"
    else:
        parsed = parse_disc_name(anchor) if anchor else None
        if parsed is None:
            raise InputError(
                "the discs carry no names: give a disc as anchor",
                item="--anchor",
                value=anchor,
                expected="e.g. --anchor L5-S1 --anchor-is lowest (the lowest disc in view)",
            )
        check_choice(
            "anchor_is", anchor_is, ("lowest", "highest"), message="unknown anchor position"
        )
        seq = normal_sequence(parsed)
        a = nd - 1 if anchor_is == "lowest" else 0
        upper = seq.index(parsed[0]) + (np.arange(nd) - a)
        how = f"{anchor_is} disc = {parsed[0]}-{parsed[1]}"
    # a piece below disc d-1 and above disc d is the vertebra below disc d-1
    idx_piece = np.where(above < nd, upper[np.minimum(above, nd - 1)], upper[nd - 1] + 1)
    if idx_piece.min() < 0 or idx_piece.max() >= len(seq) or upper.min() < 0:
        raise InputError(
            f"{len(above)} vertebra pieces and {nd} discs cannot be named from {how}",
            value=anchor,
            expected="an anchor that fits the spine in view",
        )
    present = set(above.tolist())
    missing = [d for d in range(min(present), max(present) + 1) if d not in present]
    if missing:
        gone = ", ".join(seq[int(upper[d - 1]) + 1] for d in missing if d > 0)
        doubt = doubt or f"no vertebra piece found between two discs ({gone} merged or missing)"
    return [seq[int(i)] for i in idx_piece], doubt
