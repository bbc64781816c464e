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

__all__ = ["BinData", "decode_geneactiv"]

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
    head_end = raw.find(b"Recorded Data")
    if not raw.startswith(b"Device Identity") or head_end < 0:
        raise InputError(
            "not a GENEActiv .bin file (no 'Device Identity' header and 'Recorded Data' pages)",
            source=source,
            value=raw[:16],
            expected="a GENEActiv .bin file",
        )
    header = raw[:head_end].decode("latin-1")
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
    body = raw[head_end:].decode("latin-1")
    pages = body.split("Recorded Data")[1:]
    times, temps, hexes, freqs = [], [], [], []
    for page in pages:
        lines = page.replace("\r", "").split("\n")
        data = lines[9].strip() if len(lines) > 9 else ""
        if len(data) != 3600:
            break  # truncated page: stop here, reported through n_pages_read
        fields = dict(ln.split(":", 1) for ln in lines[1:9] if ":" in ln)
        times.append(_parse_time(fields["Page Time"].strip()))
        temps.append(float(fields["Temperature"]))
        freqs.append(float(fields["Measurement Frequency"].split()[0]))
        hexes.append(data)
    if not hexes:
        raise InputError("GENEActiv file has no complete data page", source=source)
    if len(hexes) < n_pages:
        log.warning(
            "%s: header announces %d pages, %d complete pages read", source, n_pages, len(hexes)
        )
    fs = freqs[0]
    nib = _HEX[np.frombuffer("".join(hexes).encode("ascii"), np.uint8)]
    if (nib == 255).any():
        raise InputError("non-hex character in GENEActiv data", source=source)
    nib = nib.reshape(-1, 12).astype(np.int32)
    word = np.zeros(nib.shape[0], np.int64)
    for k in range(12):
        word = (word << 4) | nib[:, k]
    comps = []
    for shift in (36, 24, 12):
        v = (word >> shift) & 0xFFF
        comps.append(np.where(v >= 2048, v - 4096, v))
    rawxyz = np.stack(comps, axis=1).astype(np.float64)
    gains = np.array([cal["x gain"], cal["y gain"], cal["z gain"]])
    offs = np.array([cal["x offset"], cal["y offset"], cal["z offset"]])
    acc = ((rawxyz * 100.0 - offs) / gains).astype(np.float32)
    # whole lux, as the reference decoders report it
    light = np.floor(((word >> 2) & 0x3FF) * cal["Lux"] / cal["Volts"]).astype(np.float32)
    per = 300
    t = (np.asarray(times)[:, None] + np.arange(per)[None, :] / fs).ravel()
    temp = np.repeat(np.asarray(temps, np.float32), per)
    return BinData(
        time_unix_s=t,
        acc_g=acc,
        light_lux=light,
        temperature_c=temp,
        fs_hz=fs,
        n_pages_header=n_pages,
        n_pages_read=len(hexes),
    )
