"""GENEActiv ``.bin`` decoder (text header, then 300-sample hex-encoded pages).

Format: Activinsights GENEActiv instructions (public): every sample is 12 hex characters,
x, y, z as 12-bit two's complement, light as 10 bits, then button and a reserved bit.
Calibrated acceleration is ``(raw * 100 - offset) / gain`` g; light is ``raw * lux / volts``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError

__all__ = ["BinData", "BinIndex", "decode_geneactiv", "decode_pages", "index_geneactiv"]

log = logging.getLogger(__name__)

_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
    _HEX[bytes([_c]).lower()[0]] = _i


@dataclass(frozen=True)
class BinData:
    """Decoded GENEActiv file.

    Attributes
    ----------
    time_unix_s : (N,) float64 ndarray
        Sample times (device clock, as written in the page headers).
    acc_g : (N, 3) float32 ndarray
        Calibrated acceleration in g.
    light_lux : (N,) float32 ndarray
        Light, lux.
    temperature_c : (N,) float32 ndarray
        Page temperature repeated per sample, degrees Celsius.
    fs_hz : float
        Measurement frequency.
    n_pages_header : int
        Pages the header announces.
    n_pages_read : int
        Complete pages decoded (fewer than announced means a truncated file).

    """

    time_unix_s: np.ndarray
    acc_g: np.ndarray
    light_lux: np.ndarray
    temperature_c: np.ndarray
    fs_hz: float
    n_pages_header: int
    n_pages_read: int


def _field(text: str, name: str, source: str) -> str:
    m = re.search(rf"^{re.escape(name)}:(.*)$", text, flags=re.MULTILINE)
    if m is None:
        raise InputError(
            "GENEActiv header field missing", source=source, item=name, expected="a .bin header"
        )
    return m.group(1).strip()


def _parse_time(value: str) -> float:
    # 2019-05-21 16:16:43:500 -> unix seconds (no time zone applied: device clock)
    date, clock = value.split(" ", 1)
    h, m, s, ms = (int(p) for p in clock.split(":"))
    d = _dt.datetime.fromisoformat(date).replace(tzinfo=_dt.UTC)
    return d.timestamp() + h * 3600 + m * 60 + s + ms / 1000.0


_PAGE = re.compile(
    rb"Recorded Data\r?\n[^\n]*\n[^\n]*\nPage Time:([^\r\n]*)\r?\n[^\n]*\n"
    rb"Temperature:([^\r\n]*)\r?\n[^\n]*\n[^\n]*\nMeasurement Frequency:([^\r\n]*)\r?\n"
    rb"([0-9A-Fa-f]{3600})"
)
_PER_PAGE = 300
#: GENEActiv sampling rates, 10-100 Hz [R: Activinsights GENEActiv Original instructions]
_RATE_RANGE_HZ = (10.0, 100.0)


@dataclass(frozen=True)
class BinIndex:
    """Page index of a GENEActiv file: enough to decode any range of pages later.

    Attributes
    ----------
    raw : bytes or memory map
        The file.
    data_offset : (P,) int64 ndarray
        Byte offset of each complete page's 3600 hex characters.
    page_time : (P,) float64 ndarray
        Page start times, unix seconds (device clock).
    temperature_c : (P,) float32 ndarray
        Page temperatures.
    fs_hz : float
        Measurement frequency.
    calibration : dict
        Header gains, offsets, volts and lux.
    n_pages_header : int
        Pages the header announces.

    """

    raw: object
    data_offset: np.ndarray
    page_time: np.ndarray
    temperature_c: np.ndarray
    fs_hz: float
    calibration: dict[str, float]
    n_pages_header: int

    @property
    def n_pages(self) -> int:
        """Complete pages found."""
        return int(self.data_offset.size)


def index_geneactiv(raw: bytes | object, *, source: str = "GENEActiv file") -> BinIndex:
    """Check the header and index the complete pages of a GENEActiv ``.bin`` file.

    Parameters
    ----------
    raw : bytes or mmap
        The whole file.
    source : str, keyword-only
        Name used in error messages.

    Returns
    -------
    BinIndex

    Raises
    ------
    InputError
        Not a GENEActiv file (for example an old Unilever Genea file), or no complete page.

    """
    head_end = raw.find(b"Recorded Data")  # type: ignore[union-attr]
    if not bytes(raw[:15]).startswith(b"Device Identity") or head_end < 0:  # type: ignore[index]
        raise InputError(
            "not a GENEActiv .bin file (no 'Device Identity' header and 'Recorded Data' pages)",
            source=source,
            value=bytes(raw[:16]),  # type: ignore[index]
            expected="a GENEActiv .bin file",
        )
    header = bytes(raw[:head_end]).decode("latin-1")  # type: ignore[index]
    if "GENEActiv" not in _field(header, "Device Type", source):
        raise InputError(
            "unsupported device type",
            source=source,
            item="Device Type",
            value=_field(header, "Device Type", source),
            expected="GENEActiv",
        )
    cal = {
        k: float(_field(header, k, source))
        for k in ("x gain", "x offset", "y gain", "y offset", "z gain", "z offset", "Volts", "Lux")
    }
    n_pages = int(_field(header, "Number of Pages", source))
    offs, times, temps, freqs = [], [], [], []
    for m in _PAGE.finditer(raw, head_end):  # type: ignore[arg-type]
        offs.append(m.start(4))
        times.append(_parse_time(m.group(1).decode("latin-1").strip()))
        temps.append(float(m.group(2)))
        try:
            freqs.append(float(m.group(3).split()[0]))
        except (ValueError, IndexError):
            raise InputError(
                "GENEActiv page has no readable measurement frequency",
                source=source,
                item="Measurement Frequency",
                value=m.group(3).decode("latin-1")[:40],
            ) from None
    if not offs:
        raise InputError("GENEActiv file has no complete data page", source=source)
    # checked before anything is allocated: a rate far below the device's would spread
    # each 300-sample page over hours of regular grid
    lo, hi = _RATE_RANGE_HZ
    bad = [f for f in freqs if not lo <= f <= hi]
    if bad:
        raise InputError(
            "GENEActiv page declares a measurement frequency the device does not have",
            source=source,
            item="Measurement Frequency",
            value=bad[0],
            expected=f"{lo:g} to {hi:g} Hz",
        )
    if len(offs) < n_pages:
        log.warning(
            "%s: header announces %d pages, %d complete pages read", source, n_pages, len(offs)
        )
    return BinIndex(
        raw,
        np.asarray(offs, np.int64),
        np.asarray(times, np.float64),
        np.asarray(temps, np.float32),
        freqs[0],
        cal,
        n_pages,
    )


def decode_pages(
    ix: BinIndex, p0: int, p1: int, *, source: str = "GENEActiv file"
) -> tuple[np.ndarray, np.ndarray]:
    """Decode pages ``p0:p1``: calibrated acceleration (n, 3) in g and light (n,) in lux."""
    buf = np.frombuffer(ix.raw, np.uint8)  # type: ignore[call-overload]
    idx = ix.data_offset[p0:p1, None] + np.arange(3600)[None, :]
    nib = _HEX[buf[idx]]
    if (nib == 255).any():
        raise InputError("non-hex character in GENEActiv data", source=source)
    nib = nib.reshape(-1, 12).astype(np.int32)
    cal = ix.calibration
    acc = np.empty((nib.shape[0], 3), np.float32)
    for k, ax in enumerate("xyz"):
        v = (nib[:, 3 * k] << 8) | (nib[:, 3 * k + 1] << 4) | nib[:, 3 * k + 2]
        v = np.where(v >= 2048, v - 4096, v)
        acc[:, k] = (v * 100.0 - cal[f"{ax} offset"]) / cal[f"{ax} gain"]
    light_raw = (nib[:, 9] << 6) | (nib[:, 10] << 2) | (nib[:, 11] >> 2)
    # whole lux, as the reference decoders report it
    light = np.floor(light_raw * cal["Lux"] / cal["Volts"]).astype(np.float32)
    return acc, light


def decode_geneactiv(raw: bytes, *, source: str = "GENEActiv file") -> BinData:
    """Decode the bytes of a GENEActiv ``.bin`` file.

    Parameters
    ----------
    raw : bytes
        The whole file.
    source : str, keyword-only
        Name used in error messages.

    Returns
    -------
    BinData
        Calibrated samples; a truncated last page is dropped and reported in
        ``n_pages_read < n_pages_header``.

    Raises
    ------
    InputError
        Not a GENEActiv file (for example an old Unilever Genea file), or no complete page.

    """
    ix = index_geneactiv(raw, source=source)
    acc, light = decode_pages(ix, 0, ix.n_pages, source=source)
    t = (ix.page_time[:, None] + np.arange(_PER_PAGE)[None, :] / ix.fs_hz).ravel()
    return BinData(
        time_unix_s=t,
        acc_g=acc,
        light_lux=light,
        temperature_c=np.repeat(ix.temperature_c, _PER_PAGE),
        fs_hz=ix.fs_hz,
        n_pages_header=ix.n_pages_header,
        n_pages_read=ix.n_pages,
    )
