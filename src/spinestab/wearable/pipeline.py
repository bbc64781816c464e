"""The whole wearable path: recordings in, per-second posture, daily table and prompts out.

``analyse`` is pure (arrays in, :class:`WearableResult` out); ``write_outputs`` writes the
files the CLI promises: ``per_second.parquet``, ``daily.csv``, ``prompts.csv``,
``wearable_summary.json`` and one ``timeline_YYYY-MM-DD.png`` per day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinestab.errors import InputError, require
from spinestab.wearable.bouts import daily_summary
from spinestab.wearable.calibrate import Calibration, autocalibrate, nonwear_mask, still_mask
from spinestab.wearable.config import WearableConfig
from spinestab.wearable.features import SecondFeatures, compute_features
from spinestab.wearable.orientation import Orientation, body_angles, estimate_orientation, unit_rows
from spinestab.wearable.posture import (
    CLASS_NAMES,
    LYING,
    MOVING,
    NONWEAR,
    RUNNING,
    SITTING,
    STAIRS,
    STANDING,
    WALKING,
    Gait,
    classify,
    gait_per_second,
    sit_to_stand,
)
from spinestab.wearable.prompts import offline_prompts
from spinestab.wearable.recording import Recording
from spinestab.wearable.sit2stand import transfers_in_recording

__all__ = ["WearableResult", "analyse", "write_outputs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WearableResult:
    """Everything the pipeline found.

    Attributes
    ----------
    start_unix_s : float
        Time of second 0.
    posture : (S,) int8 ndarray
        Posture codes (:data:`~spinestab.wearable.posture.CLASS_NAMES`).
    trunk_inclination_deg, trunk_forward_deg, trunk_lateral_deg : (S,) float32 ndarrays
        Trunk angles from the upright reference.
    thigh_inclination_deg : (S,) float32 ndarray or None
        Thigh angle from its walking reference.
    steps : (S,) float32 ndarray
        Steps per second.
    nonwear, missing, clipped, idle_sleep : (S,) bool ndarrays
        Flags per second (``idle_sleep``: filled in by an ActiGraph in idle sleep).
    prompts_unix_s : (P,) float64 ndarray
        Prompt times.
    daily : dict of str to ndarray
        The daily table.
    info : dict
        Orientation, calibration, reader notes and set-up.

    """

    start_unix_s: float
    posture: np.ndarray
    trunk_inclination_deg: np.ndarray
    trunk_forward_deg: np.ndarray
    trunk_lateral_deg: np.ndarray
    thigh_inclination_deg: np.ndarray | None
    steps: np.ndarray
    nonwear: np.ndarray
    missing: np.ndarray
    clipped: np.ndarray
    idle_sleep: np.ndarray
    prompts_unix_s: np.ndarray
    daily: dict[str, np.ndarray]
    info: dict[str, object]


def _align(f: SecondFeatures, start_unix_s: float, n: int) -> tuple[np.ndarray, ...]:
    """Thigh features placed on the trunk's second grid; uncovered seconds are missing."""
    off = round(f.start_unix_s - start_unix_s)
    g = np.full((n, 3), np.nan, np.float32)
    sd = np.full(n, np.nan, np.float32)
    miss = np.ones(n, bool)
    a, b = max(0, off), min(n, off + f.n_seconds)
    if b > a:
        g[a:b] = f.g[a - off : b - off]
        sd[a:b] = f.sd[a - off : b - off]
        miss[a:b] = f.missing[a - off : b - off]
    return g, sd, miss


@dataclass(frozen=True)
class _Sensor:
    """One sensor after non-wear, calibration and orientation."""

    nonwear: np.ndarray
    calibration: Calibration
    orientation: Orientation
    angles: tuple[np.ndarray, np.ndarray, np.ndarray]

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

    Returns
    -------
    WearableResult

    """
    cfg = cfg or WearableConfig()
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
    nonwear_t = nonwear_mask(tf.sd, tf.missing, cfg)
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
    if hf is not None and thigh is not None:
        g_h, sd_h, miss_h = _align(hf, tf.start_unix_s, n)
        # acti-motus convention: the thigh sensor's z axis points backward
        thigh_s = _sensor(
            g_h,
            sd_h,
            nonwear_mask(sd_h, miss_h, cfg),
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
    if cfg.sit_to_stand_method not in ("stillness", "displacement"):
        raise InputError(
            "unknown sit-to-stand method",
            item="sit_to_stand_method",
            value=cfg.sit_to_stand_method,
            expected="stillness or displacement",
        )
    if thigh is None and cfg.sit_to_stand_method == "displacement":
        tr = transfers_in_recording(trunk)  # Adamowicz et al. 2020, sample level
        t0, t1 = trunk.start_unix_s + tr.start_s, trunk.start_unix_s + tr.end_s
        # a sit-to-stand starts seated and ends upright: transfers within 10 s of lying or
        # non-wear (turning in bed, taking the sensor off or putting it on) are dropped [D]
        near = 10
        lie_or_off = (
            np.convolve(
                np.isin(posture, (LYING, NONWEAR)).astype(np.int32), np.ones(2 * near + 1), "same"
            )
            > 0
        )
        sec0 = np.clip(np.floor(t0 - tf.start_unix_s).astype(np.int64), 0, n - 1)
        sec1 = np.clip(np.floor(t1 - tf.start_unix_s).astype(np.int64), 0, n - 1)
        keep = ~lie_or_off[sec0] & ~lie_or_off[sec1]
        info["sit_to_stand_unix_s"] = t0[keep].tolist()
        info["sit_to_stand_end_unix_s"] = t1[keep].tolist()
        info["sit_to_stand_displacement_m"] = tr.vertical_displacement_m[keep].tolist()
    else:
        if thigh is None:
            sts = sit_to_stand(inc, tf.sd)
        else:  # with a thigh sensor: sitting followed by standing or gait
            sts = np.flatnonzero(
                (posture[:-1] == SITTING)
                & np.isin(posture[1:], (STANDING, MOVING, WALKING, RUNNING))
            )
        info["sit_to_stand_unix_s"] = (tf.start_unix_s + sts).tolist()
    info["sit_to_stand_method"] = "thigh posture" if thigh is not None else cfg.sit_to_stand_method
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


def _csv(path: Path, cols: dict[str, np.ndarray]) -> None:
    names = list(cols)
    n = len(next(iter(cols.values()))) if cols else 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            cells = []
            for k in names:
                v = cols[k][i]
                if isinstance(v, float | np.floating):
                    cells.append(
                        f"{float(v):.3f}".rstrip("0").rstrip(".") if np.isfinite(v) else ""
                    )
                elif isinstance(v, bool | np.bool_):
                    cells.append("true" if v else "false")
                else:
                    cells.append(str(v))
            f.write(",".join(cells) + "\n")


def _arrow(pa: object, x: np.ndarray, typ: object = None) -> object:
    """Wrap a 1-D NumPy array as a pyarrow array without copying floats or ints.

    ``pa.array`` on NumPy input imports pandas (about 0.4 s); building from buffers does
    not. NaN stays NaN (not null), as with ``pa.array``; booleans are bit-packed.
    """
    x = np.ascontiguousarray(x)
    if x.dtype == bool:
        bits = np.packbits(x, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), x.size, [None, pa.py_buffer(bits)])  # type: ignore[attr-defined]
    typ = typ if typ is not None else pa.from_numpy_dtype(x.dtype)  # type: ignore[attr-defined]
    return pa.Array.from_buffers(typ, x.size, [None, pa.py_buffer(x)])  # type: ignore[attr-defined]


def _arrow_strings(pa: object, words: tuple[str, ...]) -> object:
    """Build a pyarrow string array from buffers (``pa.array`` on a list also imports pandas)."""
    data = [w.encode() for w in words]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in data])]).astype(np.int32)
    bufs = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]  # type: ignore[attr-defined]
    return pa.Array.from_buffers(pa.string(), len(words), bufs)  # type: ignore[attr-defined]


def _local_iso(t_unix_s: float, offset_h: float) -> str:
    """Return a UTC time as local ISO 8601 with its offset, e.g. ``2024-03-31T07:16:23+05:30``."""
    m = round(offset_h * 60)
    sign = "+" if m >= 0 else "-"
    stamp = np.datetime64(round(t_unix_s + m * 60), "s")
    return f"{stamp}{sign}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


def write_outputs(
    result: WearableResult,
    out_dir: str | Path,
    *,
    pictures: bool = True,
    language: str | None = None,
) -> list[Path]:
    """Write the output files into ``out_dir`` and return their paths.

    Files: ``per_second.parquet``, ``daily.csv``, ``prompts.csv``, ``wearable_summary.json``
    and one ``timeline_YYYY-MM-DD.png`` per day (unless ``pictures`` is False). The prompts'
    patient message is taken from the translation catalogue of ``language`` (default: the
    ``SPINESTAB_LANGUAGE`` setting).
    """
    from spinestab.core.i18n import Translator

    keep_moving = Translator("wearable", language)("prompt.keep_moving")
    pa = require("pyarrow", extra="wearable", feature="writing per_second.parquet")
    pq = require("pyarrow.parquet", extra="wearable", feature="writing per_second.parquet")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", item="--out", value=str(out))
    out.mkdir(parents=True, exist_ok=True)
    n = result.posture.size
    t = np.int64(round(result.start_unix_s)) + np.arange(n, dtype=np.int64)
    names = pa.DictionaryArray.from_arrays(
        _arrow(pa, result.posture.astype(np.int8)), _arrow_strings(pa, CLASS_NAMES)
    )
    table = {
        "time": _arrow(pa, t, pa.timestamp("s")),
        "posture": names,
        "trunk_inclination_deg": _arrow(pa, result.trunk_inclination_deg),
        "trunk_forward_deg": _arrow(pa, result.trunk_forward_deg),
        "trunk_lateral_deg": _arrow(pa, result.trunk_lateral_deg),
        "steps": _arrow(pa, result.steps),
        "nonwear": _arrow(pa, result.nonwear),
        "missing": _arrow(pa, result.missing),
        "clipped": _arrow(pa, result.clipped),
        "idle_sleep": _arrow(pa, result.idle_sleep),
    }
    if result.thigh_inclination_deg is not None:
        table["thigh_inclination_deg"] = _arrow(pa, result.thigh_inclination_deg)
    paths = [
        out / "per_second.parquet",
        out / "daily.csv",
        out / "prompts.csv",
        out / "wearable_summary.json",
    ]
    # dictionary encoding only where it pays (posture) and no column statistics: a third of
    # the default write time on a 7-day file, same values
    pq.write_table(
        pa.table(table),
        paths[0],
        compression="zstd",
        use_dictionary=["posture"],
        write_statistics=False,
    )
    _csv(paths[1], result.daily)
    pt = result.prompts_unix_s
    sec = np.round(pt - result.start_unix_s).astype(np.int64)
    off_h = float(result.info.get("utc_offset_h", 0.0))  # type: ignore[arg-type]
    _csv(
        paths[2],
        {
            "time": np.array([str(np.datetime64(round(x), "s")) for x in pt], dtype=object),
            "posture": np.asarray(CLASS_NAMES, dtype=object)[result.posture[sec]]
            if sec.size
            else np.zeros(0, object),
            "local_time": np.array([_local_iso(x, off_h) for x in pt], dtype=object),
            "reason": np.array(["static posture limit reached"] * sec.size, dtype=object),
            "message": np.array([keep_moving] * sec.size, dtype=object),
        },
    )
    paths[3].write_text(json.dumps(result.info, indent=2, default=str))
    if pictures:
        from spinestab.wearable.plots import daily_timelines

        paths += daily_timelines(result, out)
    return paths
