"""Run rules of the posture code: hand-worked cases and a plain-loop reference."""

from __future__ import annotations

import numpy as np

from spinestab.wearable.posture import fill_short, runs


def _loop_reference(mask, min_true, max_gap):
    out = [bool(x) for x in mask]
    n = len(out)
    if max_gap > 0:  # False gaps of at most max_gap with True on both sides become True
        i = 0
        while i < n:
            if not out[i]:
                j = i
                while j < n and not out[j]:
                    j += 1
                if i > 0 and j < n and j - i <= max_gap:
                    out[i:j] = [True] * (j - i)
                i = j
            else:
                i += 1
    if min_true > 1:  # True runs shorter than min_true become False
        i = 0
        while i < n:
            if out[i]:
                j = i
                while j < n and out[j]:
                    j += 1
                if j - i < min_true:
                    out[i:j] = [False] * (j - i)
                i = j
            else:
                i += 1
    return np.array(out, bool)


def test_fill_short_hand_cases():
    m = np.array([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1], bool)
    # gaps of 2 and 1 are filled, the gap of 3 is not; the edges are never filled
    assert fill_short(m, max_gap=2).astype(int).tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    # runs shorter than 2 go: the first and the last single True
    assert fill_short(m, min_true=2).astype(int).tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    st, en = runs(m)
    assert st.tolist() == [0, 3, 5, 10] and en.tolist() == [1, 4, 7, 11]


def test_fill_short_matches_loop_reference():
    rng = np.random.default_rng(7)
    for _ in range(500):
        m = rng.random(int(rng.integers(0, 50))) < rng.random()
        a, b = int(rng.integers(0, 6)), int(rng.integers(0, 6))
        np.testing.assert_array_equal(
            fill_short(m, min_true=a, max_gap=b), _loop_reference(m, a, b)
        )
