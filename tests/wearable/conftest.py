from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "wearable"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "wearable"


def shared_file(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"../shared not present ({rel})")
    return p


@pytest.fixture(scope="session")
def synth2():
    """Two scripted days, trunk + thigh, random mounting, m/s^2 (built once per session)."""
    from spinestab.wearable.synthetic import scripted_recording

    return scripted_recording(days=2, fs_hz=25, seed=5, units="m/s2")


@pytest.fixture(scope="session")
def synth2_results(synth2):
    from spinestab.wearable.io import recording_from_array
    from spinestab.wearable.pipeline import analyse

    def rec(a):
        return recording_from_array(a, fs_hz=synth2.fs_hz, start_unix_s=synth2.start_unix_s)

    from spinestab.wearable.io import detect_units

    trunk = rec(synth2.trunk)
    thigh = rec(synth2.thigh)
    trunk = trunk.with_units(detect_units(trunk))
    thigh = thigh.with_units(detect_units(thigh))
    return analyse(trunk, thigh), analyse(trunk)


def load_npz(path: Path) -> dict:
    """All arrays of an ``.npz`` file, read at once and the file closed.

    ``np.load`` on an ``.npz`` keeps the file open until the object is collected; under
    ``-W error`` the ResourceWarning of an unclosed file then fails whichever test the
    garbage collector happens to run in.
    """
    import numpy as np

    with np.load(path) as z:
        return {k: z[k] for k in z.files}
