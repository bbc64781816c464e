"""Live monitoring: raw trunk samples in, posture and "keep moving" prompts out.

:class:`LiveMonitor` is what a device or phone runs: it is fed raw tri-axial samples in
chunks of any length and returns, for every second it can settle, the posture code, the
trunk's forward inclination and the prompts that fell due. It chains the streaming
feature front end (:class:`~spinestab.wearable.stream.FeatureStream`), the very rules of the
offline pipeline (:func:`~spinestab.wearable.posture.gait_per_second`,
:func:`~spinestab.wearable.posture.classify`) applied to a sliding window, and the
streaming :class:`~spinestab.wearable.prompts.PromptEngine`.

A second is settled ``lag_s`` seconds after it was measured. The rules look at most
``lie_min_s`` (120 s: lying must last that long) and a few seconds of gait context either
side of a second, so with the default lag, ``max(lie_min_s, 15)``, every settled second
has the posture the offline pipeline gives it, and the prompts are the offline ones,
each delivered ``lag_s`` after its time stamp. A smaller lag delivers prompts sooner, at
the price of short lying spells near the edge being judged on part of their length.

What cannot be streamed exactly:

* the upright reference: the offline pipeline averages all walking of the recording;
  live, it is given (an :class:`~spinestab.wearable.orientation.Orientation`, e.g. from
  the ``wearable_summary.json`` of an earlier recording, :meth:`LiveMonitor.from_summary`)
  or taken from a declared standing period at the start of the stream (the wearer stands
  upright and still for ``standing_first_s`` seconds, as a phone app asks);
* the autocalibration (van Hees 2014), which needs still seconds in many orientations: it
  is given or left out;
* non-wear (a still run that keeps its orientation for ``nonwear_min``,
  :mod:`spinestab.wearable.nonwear`): live, such a run is non-wear from the moment it has
  lasted that long; offline, the whole run is. A sensor taken off can therefore be
  prompted once at the static limit before the stream can tell it is off.

Trunk sensor only: a device streams one sensor, and the prompts need static versus
moving, not sitting versus standing (``upright_static`` is static).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.calibrate import Calibration, still_mask
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.nonwear import segment_lengths
from spinestab.wearable.orientation import (
    Orientation,
    body_angles,
    estimate_orientation,
    unit_rows,
)
from spinestab.wearable.posture import Gait, classify, gait_per_second
from spinestab.wearable.prompts import PromptEngine
from spinestab.wearable.stream import FeatureStream

__all__ = ["LiveMonitor", "LiveUpdate", "calibration_from_dict", "orientation_from_dict"]


@dataclass(frozen=True)
class LiveUpdate:
    """Seconds settled by one :meth:`LiveMonitor.feed`.

    Attributes
    ----------
    first_second : int
        Index of the first settled second (0 = the first second of the stream).
    start_unix_s : float
        Time of that second.
    posture : (S,) int8 ndarray
        Posture codes (:data:`~spinestab.wearable.posture.CLASS_NAMES`).
    trunk_forward_deg : (S,) float32 ndarray
        Forward (sagittal) trunk inclination, degrees; NaN where not worn.
    prompts_unix_s : list of float
        Prompts that fell due in these seconds (their time stamps).

    """

    first_second: int
    start_unix_s: float
    posture: np.ndarray
    trunk_forward_deg: np.ndarray
    prompts_unix_s: list[float] = field(default_factory=list)

    @property
    def n_seconds(self) -> int:
        """Number of settled seconds."""
        return int(self.posture.size)


def orientation_from_dict(d: dict[str, object]) -> Orientation:
    """Rebuild an :class:`Orientation` from its ``as_dict()`` (``wearable_summary.json``)."""
    try:
        up = np.asarray(d["up"], float)
        fw = np.asarray(d["forward"], float)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            "orientation needs 'up' and 'forward' vectors", value=str(d)[:200]
        ) from exc
    if (
        up.shape != (3,)
        or fw.shape != (3,)
        or not (np.isfinite(up).all() and np.isfinite(fw).all())
    ):
        raise InputError("orientation vectors must be 3 finite numbers", value=[up, fw])
    up = up / np.linalg.norm(up)
    fw = fw - (fw @ up) * up  # rounded in the JSON: make it orthogonal again
    norm = float(np.linalg.norm(fw))
    if norm < 1e-6:
        raise InputError("orientation 'forward' is parallel to 'up'", value=[up, fw])
    return Orientation(
        up=up,
        forward=fw / norm,
        up_source=str(d.get("up_source", "given")),
        forward_source=str(d.get("forward_source", "given")),
        upside_down=bool(d.get("upside_down", False)),
        inside_out=bool(d.get("inside_out", False)),
        n_reference_s=int(d.get("n_reference_s", 0)),  # type: ignore[call-overload]
    )


def calibration_from_dict(d: dict[str, object]) -> Calibration:
    """Rebuild a :class:`Calibration` from its ``as_dict()`` (``wearable_summary.json``)."""
    return Calibration(
        status=str(d.get("status", "skipped: not given")),
        offset_g=np.asarray(d.get("offset_g", [0.0, 0.0, 0.0]), float),
        gain=np.asarray(d.get("gain", [1.0, 1.0, 1.0]), float),
        error_before_g=float(d.get("error_before_g", float("nan"))),  # type: ignore[arg-type]
        error_after_g=float(d.get("error_after_g", float("nan"))),  # type: ignore[arg-type]
        n_points=int(d.get("n_points", 0)),  # type: ignore[call-overload]
    )


class LiveMonitor:
    """Posture and prompts from raw trunk samples fed chunk by chunk.

    Parameters
    ----------
    fs_hz : int, keyword-only
        Sampling rate: 25, 30, 50, 100 or 200 Hz (as :class:`FeatureStream`).
    start_unix_s : float, keyword-only
        Time of the first sample.
    orientation : Orientation, optional, keyword-only
        Upright and forward directions of the sensor as worn. Without it the first
        ``standing_first_s`` seconds are taken as a declared standing period.
    standing_first_s : int, keyword-only
        Seconds of upright standing at the start of the stream (used when no
        ``orientation`` is given; at least 10, the fewest the offline pipeline accepts).
    calibration : Calibration, optional, keyword-only
        Gain and offset correction (default: none).
    cfg : WearableConfig, optional, keyword-only
        Thresholds (the same as offline).
    utc_offset_h : float, keyword-only
        Local clock offset for quiet hours.
    scale_to_g : float, keyword-only
        Factor from the stream's units to g (``1 / 9.80665`` for m/s^2).
    clip_g : float, optional, keyword-only
        Sensor range in g, to flag clipped seconds.
    lag_s : int, optional, keyword-only
        Seconds between a sample and the settling of its second; default
        ``max(cfg.lie_min_s, 15)``, which gives the offline postures exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from spinestab.wearable.posture import CLASS_NAMES
    >>> mon = LiveMonitor(fs_hz=25, start_unix_s=0.0, standing_first_s=10)
    >>> still_upright = np.tile([1.0, 0.0, 0.0], (25 * 600, 1))
    >>> upd = mon.feed(still_upright)
    >>> upd.n_seconds, CLASS_NAMES[upd.posture[0]]
    (480, 'upright_static')

    """

    def __init__(
        self,
        *,
        fs_hz: int,
        start_unix_s: float,
        orientation: Orientation | None = None,
        standing_first_s: int = 10,
        calibration: Calibration | None = None,
        cfg: WearableConfig | None = None,
        utc_offset_h: float = 0.0,
        scale_to_g: float = 1.0,
        clip_g: float | None = None,
        lag_s: int | None = None,
    ) -> None:
        self.cfg = cfg or WearableConfig()
        self.features = FeatureStream(
            fs_hz=fs_hz, scale_to_g=scale_to_g, keep_vert=True, clip_g=clip_g
        )
        if orientation is None and standing_first_s < 10:
            raise InputError(
                "a declared standing period needs at least 10 seconds",
                item="standing_first_s",
                value=standing_first_s,
                expected=">= 10",
            )
        self.orientation = orientation
        self.standing_first_s = int(standing_first_s)
        self.calibration = calibration
        self.start_unix_s = float(start_unix_s)
        self.lag = int(max(self.cfg.lie_min_s, 15) if lag_s is None else lag_s)
        if self.lag < 0:
            raise InputError("lag must not be negative", item="lag_s", value=lag_s)
        # seconds kept before the first unsettled second: a lying run is judged on its
        # whole length up to lie_min_s, gait on ~10 s either side
        self.context = max(self.lag, int(np.ceil(self.cfg.lie_min_s)), 15)
        self.prompts = PromptEngine(
            start_unix_s=self.start_unix_s, cfg=self.cfg.prompts, utc_offset_h=utc_offset_h
        )
        self._gait_ok = self.features.fs >= self.cfg.min_gait_fs_hz
        nsub = self.features.nsub
        self._g = np.zeros((0, 3), np.float32)
        self._sd = np.zeros(0, np.float32)
        self._vert = np.zeros((0, nsub), np.float32)
        self._missing = np.zeros(0, bool)
        self._still_len = np.zeros(0, np.int64)  # still segment length up to each second
        self._anchor: np.ndarray | None = None  # first direction of the open still segment
        self._buf0 = 0  # stream second of the buffers' first row
        self._settled = 0  # stream seconds settled so far

    @classmethod
    def from_summary(cls, path: str | Path, **kwargs: object) -> LiveMonitor:
        """Make a monitor with the trunk orientation and calibration of an earlier recording.

        Parameters
        ----------
        path : str or Path
            ``wearable_summary.json`` written by ``spinestab wearable`` for the same
            sensor worn the same way.
        **kwargs
            The other :class:`LiveMonitor` parameters (``fs_hz``, ``start_unix_s`` ...).

        Returns
        -------
        LiveMonitor

        """
        p = Path(path)
        try:
            trunk = json.loads(p.read_text(encoding="utf-8"))["trunk"]
            orient = orientation_from_dict(trunk["orientation"])
            cal = calibration_from_dict(trunk.get("calibration", {}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                "not a wearable summary with a trunk orientation",
                source=str(p),
                value=str(exc)[:200],
                expected="wearable_summary.json of spinestab wearable",
            ) from exc
        return cls(orientation=orient, calibration=cal, **kwargs)  # type: ignore[arg-type]

    @property
    def seconds_settled(self) -> int:
        """Seconds whose posture has been returned."""
        return self._settled

    def feed(self, samples: np.ndarray) -> LiveUpdate:
        """Add raw samples; return the seconds settled and the prompts due in them.

        Parameters
        ----------
        samples : (n, 3) array_like
            The next samples in the stream's units (NaN where not measured).

        Returns
        -------
        LiveUpdate

        """
        chunk = self.features.feed(samples)
        if chunk.n_seconds:
            self._g = np.concatenate([self._g, chunk.g])
            self._sd = np.concatenate([self._sd, chunk.sd])
            assert chunk.vert is not None
            self._vert = np.concatenate([self._vert, chunk.vert])
            self._missing = np.concatenate([self._missing, chunk.missing])
            still = still_mask(chunk.sd, self.cfg) & ~chunk.missing
            lengths, self._anchor = segment_lengths(
                chunk.g,
                still,
                carry=int(self._still_len[-1]) if self._still_len.size else 0,
                anchor=self._anchor,
                turn_deg=self.cfg.nonwear_turn_deg,
            )
            self._still_len = np.concatenate([self._still_len, lengths])
        return self._settle(self._buf0 + self._g.shape[0] - self.lag)

    def flush(self) -> LiveUpdate:
        """End of the stream: settle every remaining whole second."""
        return self._settle(self._buf0 + self._g.shape[0])

    def _settle(self, end: int) -> LiveUpdate:
        """Classify the buffered window and return seconds ``settled .. end``."""
        a = self._settled
        empty = LiveUpdate(a, self.start_unix_s + a, np.zeros(0, np.int8), np.zeros(0, np.float32))
        if self.orientation is None and not self._take_standing():
            return empty
        if end <= a:
            return empty
        assert self.orientation is not None
        b0 = self._buf0
        g, sd, missing = self._g, self._sd, self._missing
        nonwear = missing | self._nonwear_now()
        if self._gait_ok:
            gait = gait_per_second(self._vert, self.features.nsub, self.cfg)
        else:
            z = np.zeros(g.shape[0], bool)
            gait = Gait(z, np.zeros(z.size, np.float32), np.zeros(z.size, np.float32))
        g_cal = self.calibration.apply(g) if self.calibration is not None else g
        inc, fwd, _ = body_angles(g_cal, self.orientation)
        posture = classify(trunk_inc=inc, trunk_sd=sd, gait=gait, nonwear=nonwear, cfg=self.cfg)
        sl = slice(a - b0, end - b0)
        post = posture[sl]
        forward = np.where(nonwear[sl], np.nan, fwd[sl]).astype(np.float32)
        due = self.prompts.feed(post)
        self._settled = end
        self._trim()
        return LiveUpdate(a, self.start_unix_s + a, post, forward, due)

    def _take_standing(self) -> bool:
        """Set the orientation from the declared standing period once it is complete."""
        n = self.standing_first_s
        if self._buf0 != 0 or self._g.shape[0] < n:
            return False
        stand = np.zeros(self._g.shape[0], bool)
        stand[:n] = ~self._missing[:n]
        if stand.sum() < 10:
            raise InputError(
                "declared standing period holds under 10 measured seconds",
                item="standing_first_s",
                value=n,
            )
        g = self.calibration.apply(self._g) if self.calibration is not None else self._g
        self.orientation = estimate_orientation(
            unit_rows(g),
            walking=np.zeros(g.shape[0], bool),
            standing=stand,
            forward_candidates=np.zeros(g.shape[0], bool),
        )
        return True

    def _nonwear_now(self) -> np.ndarray:
        """Still runs that have lasted ``nonwear_min`` by each buffered second."""
        limit = round(self.cfg.nonwear_min * 60)
        return self._still_len >= limit

    def _trim(self) -> None:
        """Drop buffered seconds older than the context the rules need."""
        keep_from = max(self._buf0, self._settled - self.context)
        k = keep_from - self._buf0
        if k > 0:
            self._g, self._sd = self._g[k:], self._sd[k:]
            self._vert, self._missing = self._vert[k:], self._missing[k:]
            self._still_len = self._still_len[k:]
            self._buf0 = keep_from
