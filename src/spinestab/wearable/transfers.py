"""Sit-to-stand detectors: interchangeable algorithm classes, one per method.

As mobgap's algorithm families (``GsdIluz``, ``GsdIonescu`` ...), each method is a class whose
parameters are its constructor's keyword arguments and whose :meth:`~SitToStandDetector.detect`
takes the same input (:class:`TransferInput`) and returns the same typed result
(:class:`SitToStandResult`). The pipeline calls whichever it is given; the configuration's
``sit_to_stand_method`` name (and the CLI's ``--sit-to-stand``) maps onto a class through
:data:`SIT_TO_STAND_DETECTORS`.

The methods are:

* :class:`StillnessSitToStand` (``"stillness"``, the trunk-only default): a per-second rule,
  a still, flexed trunk that settles more upright within a few seconds [D];
* :class:`DisplacementSitToStand` (``"displacement"``): the sample-level method of
  Adamowicz et al. 2020 (:mod:`spinestab.wearable.sit2stand`);
* :class:`ThighPostureSitToStand` (``"thigh posture"``, used whenever a thigh sensor is
  worn): sitting followed by standing or gait in the posture classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.posture import (
    LYING,
    MOVING,
    NONWEAR,
    RUNNING,
    SITTING,
    STANDING,
    WALKING,
    sit_to_stand,
)
from spinestab.wearable.recording import Recording
from spinestab.wearable.sit2stand import transfers_in_recording

__all__ = [
    "SIT_TO_STAND_DETECTORS",
    "DisplacementSitToStand",
    "SitToStandDetector",
    "SitToStandResult",
    "StillnessSitToStand",
    "ThighPostureSitToStand",
    "TransferInput",
    "sit_to_stand_detector",
]


@dataclass(frozen=True)
class TransferInput:
    """What every sit-to-stand detector may look at.

    Attributes
    ----------
    trunk : Recording
        The trunk recording (sample-level methods read it again).
    start_unix_s : float
        Time of second 0 of the per-second arrays.
    posture : (S,) int8 ndarray
        Posture codes per second.
    trunk_inclination_deg : (S,) ndarray
        Trunk inclination from upright per second.
    trunk_sd_g : (S,) ndarray
        Total acceleration SD of the trunk sensor per second, g.

    """

    trunk: Recording
    start_unix_s: float
    posture: np.ndarray
    trunk_inclination_deg: np.ndarray
    trunk_sd_g: np.ndarray


@dataclass(frozen=True)
class SitToStandResult:
    """Transfers found by one detector.

    Attributes
    ----------
    method : str
        The detector's name (``wearable_summary.json`` ``sit_to_stand_method``).
    start_unix_s : (T,) float64 ndarray
        Start of each transfer.
    end_unix_s, displacement_m : (T,) float64 ndarrays or None
        End and vertical trunk rise of each transfer, where the method measures them.

    """

    method: str
    start_unix_s: np.ndarray
    end_unix_s: np.ndarray | None = None
    displacement_m: np.ndarray | None = None

    def as_info(self) -> dict[str, object]:
        """Return the ``sit_to_stand_*`` keys of ``wearable_summary.json``."""
        out: dict[str, object] = {"sit_to_stand_unix_s": self.start_unix_s.tolist()}
        if self.end_unix_s is not None:
            out["sit_to_stand_end_unix_s"] = self.end_unix_s.tolist()
        if self.displacement_m is not None:
            out["sit_to_stand_displacement_m"] = self.displacement_m.tolist()
        return out


class SitToStandDetector(ABC):
    """One sit-to-stand method: parameters in the constructor, :meth:`detect` to run it."""

    name: ClassVar[str]

    @abstractmethod
    def detect(self, data: TransferInput) -> SitToStandResult:
        """Find the transfers in ``data``."""


@dataclass(frozen=True)
class StillnessSitToStand(SitToStandDetector):
    """A still, flexed trunk that settles more upright (per-second rule, trunk only) [D].

    Parameters are those of :func:`spinestab.wearable.posture.sit_to_stand` (defaults
    checked on the SKDH sit-to-stand sample); it finds only transfers that start from
    sitting still.
    """

    name: ClassVar[str] = "stillness"
    still_sd_g: float = 0.05
    min_still_s: int = 3
    drop_deg: float = 10.0
    max_sit_deg: float = 45.0
    window_s: int = 4

    def detect(self, data: TransferInput) -> SitToStandResult:
        """Transfers from the per-second trunk inclination and SD."""
        sts = sit_to_stand(
            data.trunk_inclination_deg,
            data.trunk_sd_g,
            still_sd_g=self.still_sd_g,
            min_still_s=self.min_still_s,
            drop_deg=self.drop_deg,
            max_sit_deg=self.max_sit_deg,
            window_s=self.window_s,
        )
        return SitToStandResult(self.name, data.start_unix_s + sts)


@dataclass(frozen=True)
class DisplacementSitToStand(SitToStandDetector):
    """Adamowicz et al. 2020 (Sensors 20:6618), as SKDH ``Sit2Stand(stillness_constraint=False)``.

    Sample level: it reads the recording a second time at its full rate and also finds
    transfers that start during activity (:mod:`spinestab.wearable.sit2stand`).

    Parameters
    ----------
    near_lying_s : int
        A sit-to-stand starts seated and ends upright: transfers starting or ending within
        this many seconds of lying or non-wear (turning in bed, taking the sensor off or
        putting it on) are dropped. 10 s [D].

    """

    name: ClassVar[str] = "displacement"
    near_lying_s: int = 10

    def detect(self, data: TransferInput) -> SitToStandResult:
        """Transfers from the raw trunk samples, away from lying and non-wear."""
        tr = transfers_in_recording(data.trunk)
        t0, t1 = data.trunk.start_unix_s + tr.start_s, data.trunk.start_unix_s + tr.end_s
        n = data.posture.size
        lie_or_off = np.isin(data.posture, (LYING, NONWEAR)).astype(np.int32)
        near = np.convolve(lie_or_off, np.ones(2 * self.near_lying_s + 1), "same") > 0
        sec0 = np.clip(np.floor(t0 - data.start_unix_s).astype(np.int64), 0, n - 1)
        sec1 = np.clip(np.floor(t1 - data.start_unix_s).astype(np.int64), 0, n - 1)
        keep = ~near[sec0] & ~near[sec1]
        return SitToStandResult(self.name, t0[keep], t1[keep], tr.vertical_displacement_m[keep])


@dataclass(frozen=True)
class ThighPostureSitToStand(SitToStandDetector):
    """Sitting (thigh sensor) followed by standing or gait in the next second."""

    name: ClassVar[str] = "thigh posture"

    def detect(self, data: TransferInput) -> SitToStandResult:
        """Transfers from the posture classes."""
        p = data.posture
        sts = np.flatnonzero(
            (p[:-1] == SITTING) & np.isin(p[1:], (STANDING, MOVING, WALKING, RUNNING))
        )
        return SitToStandResult(self.name, data.start_unix_s + sts)


#: The trunk-only methods a configuration or ``--sit-to-stand`` may name.
SIT_TO_STAND_DETECTORS: dict[str, type[SitToStandDetector]] = {
    StillnessSitToStand.name: StillnessSitToStand,
    DisplacementSitToStand.name: DisplacementSitToStand,
}


def sit_to_stand_detector(method: str | SitToStandDetector) -> SitToStandDetector:
    """Return the detector for a method name (a detector is returned as it is).

    Raises
    ------
    InputError
        For a name that is not in :data:`SIT_TO_STAND_DETECTORS`.

    """
    if isinstance(method, SitToStandDetector):
        return method
    cls = SIT_TO_STAND_DETECTORS.get(str(method))
    if cls is None:
        raise InputError(
            "unknown sit-to-stand method",
            item="sit_to_stand_method",
            value=method,
            expected=" or ".join(SIT_TO_STAND_DETECTORS),
        )
    return cls()
