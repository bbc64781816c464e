"""Raw samples streamed in chunks give the per-second features of the whole recording."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.errors import InputError
from spinestab.wearable.features import compute_features
from spinestab.wearable.io import recording_from_array
from spinestab.wearable.recording import G_MS2
from spinestab.wearable.stream import FeatureStream
from spinestab.wearable.synthetic import scripted_recording


@pytest.mark.parametrize("fs", [25, 100])
def test_stream_equals_offline_features(fs):
    syn = scripted_recording(days=0.06, fs_hz=fs, seed=2, units="m/s2")  # 86 min
    a = syn.trunk.copy()
    a[5000 : 5000 + 3 * fs] = np.nan  # a NaN run: missing seconds in both
    off = compute_features(recording_from_array(a, fs_hz=fs).with_units("m/s2"))
    rng = np.random.default_rng(fs)
    st = FeatureStream(fs_hz=fs, scale_to_g=1 / G_MS2)
    got, i = [], 0
    while i < a.shape[0]:  # packets of 0 samples up to 20 min, never aligned to seconds
        n = int(rng.choice([0, 1, fs - 1, 7 * fs + 3, 1200 * fs + 11]))
        got.append(st.feed(a[i : i + n]))
        i += n
    assert st.seconds_done == off.n_seconds
    assert [c.first_second for c in got if c.n_seconds] == list(
        np.cumsum([0] + [c.n_seconds for c in got if c.n_seconds])[:-1]
    )
    g = np.concatenate([c.g for c in got])
    np.testing.assert_allclose(g, off.g, rtol=0, atol=1e-6)
    # SD = sqrt(E[x^2] - |E[x]|^2) in float32 keeps ~1e-5 g; thresholds are >= 22 mg
    np.testing.assert_allclose(np.concatenate([c.sd for c in got]), off.sd, rtol=0, atol=5e-5)
    vert = np.concatenate([c.vert for c in got])
    np.testing.assert_allclose(vert, off.vert, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([c.missing for c in got]), off.missing)
    assert off.missing.sum() >= 2


def test_stream_rejects_bad_input():
    with pytest.raises(InputError):
        FeatureStream(fs_hz=64)  # would need resampling
    st = FeatureStream(fs_hz=25)
    with pytest.raises(InputError):
        st.feed(np.zeros((10, 2)))
    assert st.feed(np.zeros((24, 3))).n_seconds == 0  # an unfinished second waits
    assert st.feed(np.zeros((1, 3))).n_seconds == 1
