"""A stream state's arrays to bytes and back: a small header and the raw arrays (no pickle).

``np.savez`` writes a zip member with its own header per array: about 5 ms for the ~45
arrays of one live stream, more than a whole step of the engine. This format is a magic,
a JSON list of (name, dtype, shape) and the arrays' bytes one after the other; reading
checks every dtype (plain numbers and booleans only) and every size before any array is
made, and the arrays are copies (writable, independent of the bytes).
"""

from __future__ import annotations

import json
import struct

import numpy as np

from spinestab.errors import InputError

__all__ = ["pack_arrays", "unpack_arrays"]

_MAGIC = b"SPST\x01"
_LEN = struct.Struct("<I")
_KINDS = frozenset("biuf")  # booleans, integers, unsigned, floats
_MAX_HEADER = 1 << 20


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Return ``arrays`` (name -> array) as bytes."""
    parts = [np.asarray(a) for a in arrays.values()]
    header = json.dumps(
        [[name, a.dtype.str, list(a.shape)] for name, a in zip(arrays, parts, strict=True)],
        separators=(",", ":"),
    ).encode("ascii")
    return b"".join([_MAGIC, _LEN.pack(len(header)), header, *(a.tobytes("C") for a in parts)])


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    """Read what :func:`pack_arrays` wrote.

    Raises
    ------
    InputError
        For bytes of another format, a dtype that is not a plain number, or sizes that do
        not add up to the bytes present.

    """
    view = memoryview(data)
    start = len(_MAGIC) + _LEN.size
    if bytes(view[: len(_MAGIC)]) != _MAGIC or len(view) < start:
        raise InputError("not a stream state", expected="bytes of LiveEngine.stream_state")
    (size,) = _LEN.unpack_from(view, len(_MAGIC))
    if size > min(_MAX_HEADER, len(view) - start):
        raise InputError("stream state header too long", value=size)
    try:
        header = json.loads(bytes(view[start : start + size]))
        items = [(str(n), np.dtype(d), tuple(int(k) for k in s)) for n, d, s in header]
    except (ValueError, TypeError) as exc:
        raise InputError("stream state header unreadable", value=str(exc)[:200]) from None
    out, pos = {}, start + size
    for name, dtype, shape in items:
        if dtype.kind not in _KINDS or dtype.hasobject or any(k < 0 for k in shape):
            raise InputError("stream state holds a kind of array it may not", item=name)
        n = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if pos + n > len(view):
            raise InputError("stream state shorter than its header says", item=name)
        out[name] = np.frombuffer(view[pos : pos + n], dtype).reshape(shape).copy()
        pos += n
    if pos != len(view):
        raise InputError("stream state longer than its header says", value=len(view) - pos)
    return out
