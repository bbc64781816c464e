"""Reading accelerometer files into a regularly sampled :class:`~.recording.Recording`.

Formats: CSV (``time, x, y, z`` and common variants, ISO 8601 or unix-second timestamps, or
a start time plus sampling rate; ActiLife CSV exports), Axivity CWA (AX3, AX6), GENEActiv
BIN, ActiGraph GT3X, NumPy (``.npy`` with a ``meta.json`` beside it, or ``.npz`` with
``time``/``accel``) and Parquet. The device decoders are spinestab's own (``_cwa``,
``_geneactiv``, ``_gt3x``), tested against the reference decodes of scikit-digital-health,
actipy/pygt3x and ActiLife. Large ``.npy`` files are read chunk by chunk, never whole.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.wearable._tables import (
    read_csv_recording,
    read_parquet_recording,
    table_locations,
)
from spinestab.wearable.recording import (
    G_MS2,
    Recording,
    check_axes,
    lazy_regular,
    need_fs,
    processing_rate,
    recording_from_array,
    recording_from_times,
)

__all__ = [
    "G_MS2",
    "Recording",
    "detect_units",
    "parse_time",
    "processing_rate",
    "read_recording",
    "recording_from_array",
    "recording_from_times",
    "table_locations",
]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from spinestab.wearable._cwa import CwaIndex

_EAGER_SAMPLES = 5_000_000  # device files up to this many samples are decoded whole
# --------------------------------------------------------------------------- units


def detect_units(rec: Recording, *, tolerance: float = 0.25, max_seconds: int = 3600) -> str:
    """Tell g from m/s^2 by the median vector magnitude of still seconds.

    Up to ``max_seconds`` seconds spread over the recording are looked at; stillness is an
    SD of the magnitude below 10 % of its mean.

    Returns
    -------
    str
        ``"g"`` or ``"m/s2"``.

    Raises
    ------
    InputError
        The magnitude matches neither unit, or parts of the file disagree (mixed units).

    """
    fs = round(rec.fs_hz)
    nsec = rec.n_samples // max(fs, 1)
    if nsec < 1:
        raise InputError(
            "recording shorter than one second", source=rec.source, value=f"{rec.n_samples} samples"
        )
    n_pick = min(nsec, max_seconds)
    picks = np.unique(np.linspace(0, nsec - 1, n_pick).astype(np.int64))
    # read in up to 24 contiguous blocks to stay cheap on huge files
    groups = np.array_split(picks, min(24, len(picks)))
    meds, alls = [], []
    per_group = max(1, n_pick // max(len(groups), 1))
    for g in groups:
        s0 = int(g[0])
        s1 = min(nsec, s0 + per_group)  # one short contiguous read per group
        raw = rec.read(s0 * fs, s1 * fs) / np.float32(rec.scale_to_g)
        m = (raw.shape[0] // fs) * fs
        if m == 0:
            continue
        vm = np.sqrt((raw[:m].reshape(-1, fs, 3) ** 2).sum(axis=2))
        fin = np.isfinite(vm)
        cnt = fin.sum(axis=1)
        vz = np.where(fin, vm, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, vz.sum(axis=1) / cnt, np.nan)
            sd = np.sqrt(
                np.maximum(np.where(cnt > 0, (vz * vz).sum(axis=1) / cnt, np.nan) - mean**2, 0.0)
            )
        ok = np.isfinite(mean) & (mean > 0)
        alls.extend(mean[ok].tolist())
        still = ok & (sd < 0.1 * np.abs(mean))
        if still.sum() >= 3:
            meds.append(float(np.median(mean[still])))
    if not meds and not alls:
        raise InputError(
            "cannot detect units: no finite, non-zero sample (all NaN or all zero?)",
            source=rec.source,
            expected="declare units (--units g or --units m/s2)",
        )
    if not meds:  # nothing still (short, active recording): fall back on all seconds
        meds = [float(np.median(alls))]
        tolerance = max(tolerance, 0.5)
    meds_a = np.asarray(meds)

    def kind(v: float) -> str | None:
        if abs(v - 1.0) <= tolerance:
            return "g"
        if abs(v - G_MS2) <= tolerance * G_MS2:
            return "m/s2"
        return None

    kinds = [kind(v) for v in meds_a]
    n_g, n_ms2 = kinds.count("g"), kinds.count("m/s2")
    if n_g >= 2 and n_ms2 >= 2:
        raise InputError(
            "mixed units: parts of the file look like g and parts like m/s^2",
            source=rec.source,
            value=np.round(meds_a, 2).tolist(),
            expected="one unit throughout",
        )
    overall = kind(float(np.median(meds_a)))
    if overall is None:
        raise InputError(
            "cannot detect units: still magnitude is neither 1 g nor 9.81 m/s^2",
            source=rec.source,
            value=round(float(np.median(meds_a)), 3),
            expected="about 1 (g) or 9.81 (m/s^2); or declare --units",
        )
    return overall


# --------------------------------------------------------------------------- readers


def read_recording(
    path: str | Path,
    *,
    units: str = "auto",
    fs_hz: float | None = None,
    start_unix_s: float | None = None,
    tolerance: float = 0.25,
    location: str | None = None,
) -> Recording:
    """Read any supported file into a regularly sampled Recording with known units.

    Parameters
    ----------
    path : str or Path
        ``.cwa``, ``.bin``, ``.gt3x``, ``.csv`` (``.csv.gz``), ``.npy``, ``.npz``, ``.parquet``.
    units : {"auto", "g", "m/s2"}, keyword-only
        Stored units; ``auto`` detects them from still periods.
    fs_hz : float, optional, keyword-only
        Sampling rate for files without timestamps (overrides the file's rate otherwise).
    start_unix_s : float, optional, keyword-only
        Start time for files without timestamps.
    tolerance : float, keyword-only
        Unit-detection tolerance.
    location : {"trunk", "thigh"}, optional, keyword-only
        Which sensor to read from a CSV or Parquet file that holds several side by side
        (``back_x, back_y, back_z, thigh_x, ...`` as HARTH and HAR70+ write them; see
        :func:`table_locations`). Files with one sensor ignore it, unless their columns
        name another location (a thigh file given as the trunk is an error).

    Returns
    -------
    Recording

    Raises
    ------
    InputError
        Missing, empty, truncated beyond use, or unreadable file; unknown or mixed units.

    """
    p = Path(path)
    src = str(p)
    check_choice(
        "location",
        location,
        (None, "trunk", "thigh"),
        message="unknown sensor location",
        expected="trunk or thigh",
    )
    if not p.exists():
        raise InputError("file not found", source=src)
    if not p.is_file():
        raise InputError("not a file (a folder?)", source=src, expected="a recording file")
    if p.stat().st_size == 0:
        raise InputError("file is empty", source=src, value="0 bytes")
    name = p.name.lower()
    if name.endswith(".cwa"):
        rec = _read_cwa(p)
    elif name.endswith(".bin"):
        rec = _read_bin(p)
    elif name.endswith(".gt3x"):
        rec = _read_gt3x(p)
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        rec = read_csv_recording(p, fs_hz=fs_hz, start_unix_s=start_unix_s, location=location)
    elif name.endswith(".npy"):
        rec = _read_npy(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    elif name.endswith(".npz"):
        rec = _read_npz(p, fs_hz=fs_hz, start_unix_s=start_unix_s)
    elif name.endswith(".parquet"):
        rec = read_parquet_recording(p, fs_hz=fs_hz, start_unix_s=start_unix_s, location=location)
    else:
        raise InputError(
            "unknown file type",
            source=src,
            value=p.suffix,
            expected=".cwa, .bin, .gt3x, .csv, .npy, .npz or .parquet",
        )
    if units == "auto":
        units = detect_units(rec, tolerance=tolerance)
    elif units in ("g", "m/s2"):
        # declared units win, but a contradiction with the data is flagged, not silent
        try:
            seen = detect_units(rec, tolerance=tolerance)
        except InputError:
            seen = units
        if seen != units:
            note = f"units declared as {units} but the still magnitude looks like {seen}"
            log.warning("%s: %s", src, note)
            rec = replace(rec, notes=(*rec.notes, note))
    return rec.with_units(units)


def _read_cwa(p: Path, *, gap_s: float = 1.0) -> Recording:
    from spinestab.wearable._cwa import block_temperatures

    ix_rec = _read_cwa_samples(p, gap_s=gap_s)
    return replace(ix_rec[1], temperature=block_temperatures(ix_rec[0]))


def _read_cwa_samples(p: Path, *, gap_s: float) -> tuple[CwaIndex, Recording]:
    from spinestab.wearable._cwa import decode_blocks, decode_cwa, index_cwa

    mm = np.memmap(p, dtype=np.uint8, mode="r")
    ix = index_cwa(mm, source=str(p), gap_s=gap_s)
    notes: tuple[str, ...] = (
        (f"{ix.n_bad_blocks} CWA blocks with bad checksum skipped",) if ix.n_bad_blocks else ()
    )
    if mm.size % 512:  # CWA files are whole 512-byte blocks: a cut-off one means truncation
        notes = (*notes, f"truncated: the last {mm.size % 512} bytes are an incomplete block")
        log.warning("%s: truncated CWA file (incomplete last block)", p)
    if ix.n_samples <= _EAGER_SAMPLES:
        d = decode_cwa(mm, source=str(p))
        return ix, recording_from_times(
            d.time_unix_s,
            d.acc_g,
            fs_hz=processing_rate(d.fs_hz),
            source=str(p),
            device=d.device,
            gap_s=gap_s,
            notes=notes,
        )
    # multi-day file: decode only the blocks a chunk needs, resample them onto the grid
    return ix, lazy_regular(
        source=str(p),
        device=ix.device,
        fs=processing_rate(ix.fs_hz),
        unit_start=ix.sample_start,
        anchor_idx=ix.anchor_idx,
        anchor_t=ix.anchor_t,
        times=ix.times,
        decode=lambda b0, b1: decode_blocks(ix, b0, b1, source=str(p))[0],
        gap_s=gap_s,
        notes=notes,
        held_s=ix.n_samples / ix.fs_hz,
    )


def _read_bin(p: Path, *, gap_s: float = 1.0) -> Recording:
    import mmap

    from spinestab.wearable._geneactiv import decode_pages, index_geneactiv

    with open(p, "rb") as f:
        raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    ix = index_geneactiv(raw, source=str(p))
    notes: tuple[str, ...] = ()
    if ix.n_pages < ix.n_pages_header:
        notes = (
            f"truncated: header announces {ix.n_pages_header} pages, "
            f"{ix.n_pages} complete pages read",
        )
    per = 300
    unit_start = np.arange(ix.n_pages + 1, dtype=np.int64) * per

    def times(i0: int, i1: int) -> np.ndarray:
        i = np.arange(i0, i1)
        return ix.page_time[i // per] + (i % per) / ix.fs_hz

    def decode(b0: int, b1: int) -> np.ndarray:
        return decode_pages(ix, b0, b1, source=str(p))[0]

    temperature = (ix.page_time.copy(), ix.temperature_c.copy())  # one reading a page
    if ix.n_pages * per <= _EAGER_SAMPLES:
        rec = recording_from_times(
            times(0, ix.n_pages * per),
            decode(0, ix.n_pages),
            fs_hz=processing_rate(ix.fs_hz),
            source=str(p),
            device="GENEActiv",
            gap_s=gap_s,
            notes=notes,
        )
        return replace(rec, temperature=temperature)
    anchor_t = np.append(ix.page_time, ix.page_time[-1] + per / ix.fs_hz)
    rec = lazy_regular(
        source=str(p),
        device="GENEActiv",
        fs=processing_rate(ix.fs_hz),
        unit_start=unit_start,
        anchor_idx=unit_start.astype(np.float64),
        anchor_t=anchor_t,
        times=times,
        decode=decode,
        gap_s=gap_s,
        notes=notes,
        held_s=ix.n_pages * per / ix.fs_hz,
    )
    return replace(rec, temperature=temperature)


def _read_gt3x(p: Path) -> Recording:
    from spinestab.wearable._gt3x import decode_gt3x

    d = decode_gt3x(p.read_bytes(), source=str(p))
    notes = []
    if d.filled.any():
        notes.append(f"{d.filled.sum() / d.fs_hz:.0f} s of idle sleep filled as still and marked")
    if d.truncated:
        notes.append("truncated GT3X file: read up to the last complete record")
    rec = recording_from_array(
        d.acc_g,
        fs_hz=d.fs_hz,
        start_unix_s=float(d.time_unix_s[0]),
        source=str(p),
        device=f"ActiGraph {d.device}",
        notes=tuple(notes),
    )
    # idle sleep: the device was still; its filled samples stay data (still), marked
    return replace(rec, idle=d.filled) if d.filled.any() else rec


def _meta_for(p: Path) -> dict[str, object]:
    for cand in (p.with_suffix(".json"), p.parent / "meta.json"):
        if cand.exists():
            return json.loads(cand.read_text())
    return {}


def parse_time(value: object, source: str) -> float:
    """Parse ISO 8601 (with or without offset) or unix seconds into unix seconds.

    A time without an offset is taken as it stands (the device clock, read as UTC).
    """
    import datetime as dt

    if isinstance(value, int | float):
        return float(value)
    try:
        t = dt.datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(
            "cannot read time",
            source=source,
            value=value,
            expected="ISO 8601 (2024-01-01T08:00:00[+01:00]) or unix seconds",
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _read_npy(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    src = str(p)
    try:
        arr = np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise InputError("not a readable .npy file", source=src) from exc
    check_axes(arr, src)
    meta = _meta_for(p)
    fs = need_fs(fs_hz, meta, src)
    start = start_unix_s if start_unix_s is not None else parse_time(meta.get("start", 0.0), src)
    offset = int(arr.offset)
    dtype = arr.dtype
    n = int(arr.shape[0])
    fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)
    del arr
    if fortran:
        data = np.load(p)
        return recording_from_array(data, fs_hz=fs, start_unix_s=start, source=src, device="npy")

    def load(s: int, e: int, out: np.ndarray | None) -> np.ndarray:
        # plain reads (not a memory map) keep the resident set bounded; a reused float32
        # buffer avoids touching fresh memory on every chunk
        with open(p, "rb") as f:
            f.seek(offset + s * 3 * dtype.itemsize)
            if out is not None and dtype == np.float32 and out.shape[0] >= e - s:
                view = out[: e - s]
                nread = f.readinto(view.reshape(-1).data.cast("B"))
                return view[: nread // (3 * dtype.itemsize)]
            return np.fromfile(f, dtype=dtype, count=(e - s) * 3).reshape(-1, 3)

    # NaN scan is done per chunk downstream (features mark NaN seconds as missing)
    return Recording(fs, float(start), n, src, "npy", load, _buffered=True)


def _read_npz(p: Path, *, fs_hz: float | None, start_unix_s: float | None) -> Recording:
    src = str(p)
    bad = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    # the file is opened here so that it is closed even when numpy fails half way
    with open(p, "rb") as fh:
        try:
            z = np.load(fh, allow_pickle=False)
            files = list(z.files)
        except bad as exc:
            raise InputError(
                "not a readable .npz file (damaged or truncated?)", source=src
            ) from exc
        key = next((k for k in ("accel", "acc", "acceleration", "xyz") if k in files), None)
        if key is None:
            raise InputError(
                "no acceleration array in .npz",
                source=src,
                value=files,
                expected="'accel' (and 'time' or 'fs')",
            )
        try:
            acc = z[key]
            time = z["time"] if "time" in files else None
            fs_file = np.ravel(z["fs"]) if "fs" in files else None
        except bad as exc:
            raise InputError(
                "not a readable .npz file (damaged member)", source=src, item=key
            ) from exc
    if time is not None:
        return recording_from_times(time, acc, fs_hz=fs_hz, source=src, device="npz")
    meta = _meta_for(p)
    if fs_file is not None and fs_file.size and fs_hz is None:
        fs_hz = float(fs_file[0])
    fs = need_fs(fs_hz, meta, src)
    return recording_from_array(
        acc, fs_hz=fs, start_unix_s=start_unix_s or 0.0, source=src, device="npz"
    )
