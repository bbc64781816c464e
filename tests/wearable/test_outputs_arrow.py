"""The per-second table is built from buffers (no pandas import); it must equal pyarrow's own
conversion of the same NumPy arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from spinestab.wearable.outputs import _arrow, _arrow_strings


def test_arrow_from_buffers_equals_pa_array():
    rng = np.random.default_rng(3)
    f = rng.normal(size=1001).astype(np.float32)
    f[[3, 500]] = np.nan
    b = rng.random(1001) < 0.3  # not a multiple of 8: checks the bit packing tail
    i = rng.integers(0, 9, 1001).astype(np.int8)
    t = 1_700_000_000 + np.arange(1001, dtype=np.int64)
    for x in (f, f[::2]):  # NaN != NaN in Array.equals: compare values, type and nulls
        a, ref = _arrow(pa, x), pa.array(x)
        assert a.type == ref.type and a.null_count == ref.null_count == 0
        np.testing.assert_array_equal(a.to_numpy(), ref.to_numpy())
    assert _arrow(pa, b).equals(pa.array(b))
    assert _arrow(pa, i).equals(pa.array(i))
    assert _arrow(pa, t, pa.timestamp("s")).equals(pa.array(t.astype("datetime64[s]")))
    words = ("nonwear", "lying", "", "upright_static")
    assert _arrow_strings(pa, words).equals(pa.array(list(words)))
