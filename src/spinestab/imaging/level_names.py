"""How far level names can be trusted, and a clinician's confirmation or correction.

Level names come from vertebra instance labels, from discs, from a slice table, or from
counting the pieces of a single vertebrae label from an anchor. The last rests on an
assumption unless something checks it (a sacrum below the lowest piece): on a real
abdominal scan with no sacrum in view, the default anchor names T12 and L1 "L4" and "L5".
Such names are marked ``assumed`` (or ``doubtful`` when a check failed) everywhere they
appear, until a clinician who looked at the images confirms or corrects them
(:class:`~spinestab.imaging.options.LevelNames`): :func:`apply_level_names`.

Pure functions on :class:`~spinestab.imaging.levels.SliceLevels`; nothing is read here.
"""

from __future__ import annotations

import itertools

from spinestab.core.levels import normal_sequence, vertebra_order
from spinestab.errors import InputError
from spinestab.imaging.levels import SliceLevels
from spinestab.imaging.options import LevelNames

__all__ = ["LEVEL_NAME_STATES", "apply_level_names", "level_names_state"]

#: How level names came about: ``none`` (no levels), ``named`` (instance labels, named or
#: anchored discs checked by a sacrum, a slice table, a given anchor), ``assumed`` (counted
#: from an anchor that nothing checked), ``doubtful`` (a check failed), ``confirmed`` (by
#: a clinician, after any correction).
LEVEL_NAME_STATES = ("none", "named", "assumed", "doubtful", "confirmed")


def level_names_state(levels: SliceLevels) -> str:
    """Return the :data:`LEVEL_NAME_STATES` entry of levels from ``levels_from_*``.

    Examples
    --------
    >>> level_names_state(SliceLevels(("L4", "L5"), "lowest = L5 (assumed: no sacrum in view)"))
    'assumed'

    """
    if not any(levels.levels):
        return "none"
    if "WARNING" in levels.method:
        return "doubtful"
    if "assumed" in levels.method:
        return "assumed"
    return "named"


def _renaming(present: list[str], rename: dict[str, str]) -> dict[str, str]:
    """Every present level's new name: one pair shifts all; several name all."""
    unknown = sorted(set(rename) - set(present), key=vertebra_order)
    if unknown:
        raise InputError(
            "a corrected level is not among the levels found",
            item="--rename-levels",
            value=unknown,
            expected="one of " + ", ".join(present),
        )
    if len(rename) == 1:  # an anchor: the rest move along the column by as many vertebrae
        ((old, new),) = rename.items()
        seq = normal_sequence([*present, new])
        shift = seq.index(new) - seq.index(old)
        index = {name: seq.index(name) + shift for name in present}
        if min(index.values()) < 0 or max(index.values()) >= len(seq):
            raise InputError(
                f"{len(present)} levels cannot be named from {old}={new}",
                item="--rename-levels",
                value=present,
                expected="an anchor that fits the spine in view",
            )
        return {name: seq[i] for name, i in index.items()}
    missing = [n for n in present if n not in rename]
    if missing:
        raise InputError(
            "name every level, or give one level as anchor",
            item="--rename-levels",
            value=missing,
            expected="COMPUTED=RIGHT for each of " + ", ".join(present),
        )
    return dict(rename)


def apply_level_names(levels: SliceLevels, correction: LevelNames) -> SliceLevels:
    """Return the levels with a clinician's confirmation or correction applied.

    Parameters
    ----------
    levels : SliceLevels
        The levels as found.
    correction : LevelNames
        Empty ``rename``: the names are confirmed as they are. One pair ``old -> new``:
        ``old`` is ``new`` and every other level moves by as many vertebrae. Several
        pairs: the new name of every level present (cranial stays cranial).

    Returns
    -------
    SliceLevels
        Same slices, new names; the method keeps how they were found and adds who
        confirmed or corrected them.

    Raises
    ------
    InputError
        No levels to confirm; a renamed level that was not found; a partial mapping; new
        names outside the vertebral column or out of anatomical order.

    Examples
    --------
    >>> found = SliceLevels(("", "L4", "L4", "L5"), "lowest = L5 (assumed: no sacrum in view)")
    >>> fixed = apply_level_names(found, LevelNames.parse("L5=L1", by="dr_k"))
    >>> fixed.levels, fixed.method.split("; ")[-1]
    (('', 'T12', 'T12', 'L1'), 'names corrected by dr_k (L5=L1: L4->T12, L5->L1)')

    """
    present = levels.names()
    if not present:
        raise InputError(
            "no vertebral levels to confirm or correct",
            item="--rename-levels",
            expected="levels from a vertebra mask or a slice table",
        )
    who = correction.by or "a clinician"
    if not correction.rename:
        return SliceLevels(
            levels.levels, f"{levels.method}; names confirmed by {who}", levels.centroids_s_mm
        )
    new = _renaming(present, dict(correction.rename))
    ordered = [new[n] for n in present]  # present runs cranial to caudal
    if any(vertebra_order(b) <= vertebra_order(a) for a, b in itertools.pairwise(ordered)):
        raise InputError(
            "the corrected names are out of anatomical order",
            item="--rename-levels",
            value=new,
            expected="cranial levels above caudal ones, as in the image",
        )
    given = ",".join(f"{a}={b}" for a, b in correction.rename.items())
    moved = ", ".join(f"{a}->{new[a]}" for a in present)
    return SliceLevels(
        tuple(new.get(n, n) if n else "" for n in levels.levels),
        f"{levels.method}; names corrected by {who} ({given}: {moved})",
        {new.get(n, n): s for n, s in levels.centroids_s_mm.items()},
    )
