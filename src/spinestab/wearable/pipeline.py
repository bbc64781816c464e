"""The whole wearable path: recordings in, per-second posture, daily table and prompts out.

``analyse`` is pure (recordings in, a typed :class:`~spinestab.wearable.result.WearableResult`
out) and writes nothing; :func:`spinestab.wearable.outputs.write_outputs` writes the files the
CLI promises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.bouts import daily_summary
from spinestab.wearable.calibrate import Calibration, autocalibrate, still_mask
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.features import SecondFeatures, compute_features
from spinestab.wearable.nonwear import NonwearDetector, SensorSeconds, nonwear_detector
from spinestab.wearable.orientation import Orientation, body_angles, estimate_orientation, unit_rows
from spinestab.wearable.posture import (
    LYING,
    NONWEAR,
    RUNNING,
    STAIRS,
    WALKING,
    Gait,
    classify,
    gait_per_second,
)
from spinestab.wearable.prompts import offline_prompts
from spinestab.wearable.recording import Recording
from spinestab.wearable.result import WearableResult
from spinestab.wearable.transfers import (
    SitToStandDetector,
    ThighPostureSitToStand,
    TransferInput,
    sit_to_stand_detector,
)

__all__ = ["WearableResult", "analyse"]

log = logging.getLogger(__name__)


def _align(
    f: SecondFeatures, start_unix_s: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Thigh features placed on the trunk's second grid; uncovered seconds are missing."""
    off = round(f.start_unix_s - start_unix_s)
    g = np.full((n, 3), np.nan, np.float32)
    sd = np.full(n, np.nan, np.float32)
    miss = np.ones(n, bool)
    temp = None if f.temperature_c is None else np.full(n, np.nan, np.float32)
    a, b = max(0, off), min(n, off + f.n_seconds)
    if b > a:
        g[a:b] = f.g[a - off : b - off]
        sd[a:b] = f.sd[a - off : b - off]
        miss[a:b] = f.missing[a - off : b - off]
        if temp is not None and f.temperature_c is not None:
            temp[a:b] = f.temperature_c[a - off : b - off]
    return g, sd, miss, temp


@dataclass(frozen=True)
class _Sensor:
    """One sensor after non-wear, calibration and orientation."""

    nonwear: np.ndarray
    calibration: Calibration
    orientation: Orientation
    angles: tuple[np.ndarray, ...]  # inclination, forward, lateral

    def info(self, rec: Recording) -> dict[str, object]:
        notes = list(rec.notes)
        if self.orientation.up_source == "nominal":
            # no walking and no declared standing: angles rest on the mounting being nominal
            notes.append(
                "no walking and no --standing period: the sensor's nominal axes are taken as "
                "the upright reference; inclinations hold only for a sensor worn that way"
            )
        return {
            "source": rec.source,
            "device": rec.device,
            "fs_hz": rec.fs_hz,
            "units": rec.units,
            "notes": notes,
            "orientation": self.orientation.as_dict(),
            "calibration": self.calibration.as_dict(),
        }


def _sensor(
    g: np.ndarray,
    sd: np.ndarray,
    nonwear: np.ndarray,
    *,
    walking: np.ndarray,
    standing: np.ndarray | None,
    nominal_forward: tuple[float, float, float],
    cfg: WearableConfig,
) -> _Sensor:
    """Autocalibration, reference orientation and body angles of one sensor."""
    cal = autocalibrate(g, still_mask(sd, cfg) & ~nonwear)
    g_cal = cal.apply(g)
    orient = estimate_orientation(
        unit_rows(g_cal),
        walking=walking & ~nonwear,
        standing=None if standing is None else standing & ~nonwear,
        nominal_forward=nominal_forward,
        forward_candidates=~walking & ~nonwear,
    )
    return _Sensor(nonwear, cal, orient, body_angles(g_cal, orient))


def analyse(
    trunk: Recording,
    thigh: Recording | None = None,
    *,
    cfg: WearableConfig | None = None,
    standing_s: tuple[float, float] | None = None,
    utc_offset_h: float = 0.0,
    progress: Callable[[int], None] | None = None,
    sit_to_stand: SitToStandDetector | None = None,
    nonwear: NonwearDetector | None = None,
) -> WearableResult:
    """Run the pipeline on a trunk recording and an optional thigh recording.

    Parameters
    ----------
    trunk : Recording
        Trunk (lower back or upper back) sensor.
    thigh : Recording, optional
        Thigh sensor; with it, sitting and standing are told apart.
    cfg : WearableConfig, keyword-only
        Thresholds.
    standing_s : (float, float), optional, keyword-only
        A declared standing period (unix seconds) for the upright reference instead of
        walking.
    utc_offset_h : float, keyword-only
        Local clock offset for day boundaries and quiet hours.
    progress : callable, optional, keyword-only
        Called with seconds processed (per sensor).
    sit_to_stand : SitToStandDetector, optional, keyword-only
        The sit-to-stand method (:mod:`spinestab.wearable.transfers`); default: from the
        thigh posture when a thigh sensor is given, else ``cfg.sit_to_stand_method``.
    nonwear : NonwearDetector, optional, keyword-only
        The non-wear method (:mod:`spinestab.wearable.nonwear`); default
        ``cfg.nonwear_method``.

    Returns
    -------
    WearableResult

    """
    cfg = cfg or WearableConfig()
    nonwear = nonwear_detector(cfg.nonwear_method if nonwear is None else nonwear)
    if sit_to_stand is None:  # checked before the work
        sit_to_stand = (
            ThighPostureSitToStand()
            if thigh is not None
            else sit_to_stand_detector(cfg.sit_to_stand_method)
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        ft = pool.submit(compute_features, trunk, keep_vert=True, progress=progress)
        fh = (
            pool.submit(compute_features, thigh, keep_vert=False, progress=progress)
            if (thigh is not None)
            else None
        )
        tf = ft.result()
        hf = fh.result() if fh is not None else None
    n = tf.n_seconds
    assert tf.vert is not None
    gait = gait_per_second(tf.vert, tf.nsub, cfg)
    slow = trunk.fs_hz < cfg.min_gait_fs_hz
    if slow:
        # below the Nyquist rate of walking cadence steps cannot be seen: no walking or
        # steps rather than peaks of aliased noise
        z = np.zeros_like(gait.walking)
        gait = Gait(z, np.zeros_like(gait.steps), gait.sd_vert)
    aligned = _align(hf, tf.start_unix_s, n) if hf is not None else None
    nw = nonwear.detect(
        SensorSeconds(tf.g, tf.sd, tf.missing, tf.temperature_c),
        None if aligned is None else SensorSeconds(*aligned),
        trunk_walking=gait.walking,
        cfg=cfg,
    )
    nonwear_t = nw.trunk
    walking = gait.walking & ~nonwear_t
    standing = None
    if standing_s is not None:
        t = tf.start_unix_s + np.arange(n)
        standing = (t >= standing_s[0]) & (t < standing_s[1])
    trunk_s = _sensor(
        tf.g,
        tf.sd,
        nonwear_t,
        walking=walking,
        standing=standing,
        nominal_forward=(0.0, 0.0, 1.0),
        cfg=cfg,
    )
    if standing is not None and (standing & ~trunk_s.nonwear).sum() < 10:
        raise InputError(
            "declared standing period holds under 10 worn seconds",
            item="standing",
            value=standing_s,
        )
    inc, fwd, lat = trunk_s.angles
    info: dict[str, object] = {
        "setup": "trunk+thigh" if thigh is not None else "trunk only",
        "trunk": trunk_s.info(trunk),
    }
    if slow:
        note = (
            f"sampled at {trunk.fs_hz:g} Hz, under {cfg.min_gait_fs_hz:g} Hz: walking and steps "
            "cannot be detected and are not reported"
        )
        info["trunk"]["notes"].append(note)  # type: ignore[index]
        log.warning("%s: %s", trunk.source, note)
    thigh_inc = thigh_sd = thigh_nw = None
    if aligned is not None and thigh is not None:
        g_h, sd_h, miss_h, _temp_h = aligned
        assert nw.thigh is not None
        # acti-motus convention: the thigh sensor's z axis points backward
        thigh_s = _sensor(
            g_h,
            sd_h,
            nw.thigh,
            walking=walking,
            standing=standing,
            nominal_forward=(0.0, 0.0, -1.0),
            cfg=cfg,
        )
        thigh_inc = thigh_s.angles[0]
        thigh_sd, thigh_nw = sd_h, thigh_s.nonwear
        info["thigh"] = thigh_s.info(thigh)
        overlap = int((~miss_h).sum())
        info["thigh"]["overlap_s"] = overlap  # type: ignore[index]
        if overlap < n:
            # seconds without thigh data fall back on the trunk-only rules: say so
            note = f"thigh data cover {overlap} of {n} trunk seconds; trunk-only rules elsewhere"
            info["thigh"]["notes"].append(note)  # type: ignore[index]
            log.warning("%s", note)
        if overlap == 0:
            info["setup"] = "trunk only (the thigh recording does not overlap the trunk one)"
    posture = classify(
        trunk_inc=inc,
        trunk_sd=tf.sd,
        gait=gait,
        nonwear=nonwear_t,
        cfg=cfg,
        thigh_inc=thigh_inc,
        thigh_sd=thigh_sd,
        thigh_nonwear=thigh_nw,
    )
    steps = np.where(np.isin(posture, (WALKING, RUNNING, STAIRS)), gait.steps, 0.0)
    steps = steps.astype(np.float32)
    prompts = offline_prompts(
        posture, start_unix_s=tf.start_unix_s, cfg=cfg.prompts, utc_offset_h=utc_offset_h
    )
    prompt_sec = np.round(prompts - tf.start_unix_s).astype(np.int64)
    worn_fwd = np.where(posture == NONWEAR, np.nan, fwd).astype(np.float32)
    daily = daily_summary(
        posture=posture,
        forward_deg=np.where(posture == LYING, np.nan, worn_fwd),
        steps=steps,
        prompt_seconds=prompt_sec,
        start_unix_s=tf.start_unix_s,
        cfg=cfg,
        utc_offset_h=utc_offset_h,
    )
    transfers = sit_to_stand.detect(
        TransferInput(
            trunk=trunk,
            start_unix_s=tf.start_unix_s,
            posture=posture,
            trunk_inclination_deg=inc,
            trunk_sd_g=tf.sd,
        )
    )
    info.update(transfers.as_info())
    info["sit_to_stand_method"] = transfers.method
    info["nonwear_method"] = nw.method
    info["seconds"] = int(n)
    info["utc_offset_h"] = float(utc_offset_h)
    info["prompts"] = int(prompts.size)
    return WearableResult(
        start_unix_s=tf.start_unix_s,
        posture=posture,
        trunk_inclination_deg=np.where(posture == NONWEAR, np.nan, inc).astype(np.float32),
        trunk_forward_deg=worn_fwd,
        trunk_lateral_deg=np.where(posture == NONWEAR, np.nan, lat).astype(np.float32),
        thigh_inclination_deg=thigh_inc,
        steps=steps,
        nonwear=posture == NONWEAR,
        missing=tf.missing,
        clipped=tf.clipped,
        idle_sleep=tf.idle if tf.idle is not None else np.zeros(n, bool),
        prompts_unix_s=prompts,
        daily=daily,
        info=info,
    )
