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


def test_gait_on_hand_made_steps():
    from spinestab.wearable.config import WearableConfig
    from spinestab.wearable.posture import gait_per_second

    nsub = 25
    rng = np.random.default_rng(0)
    v = rng.normal(0, 0.001, 120 * nsub)
    bump = 0.2 * np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2)  # one step: a 0.2 g peak
    pulses = []
    for first, n in ((20 * nsub, 20), (70 * nsub, 16)):  # two bouts, a step every 13 samples
        for k in range(n):
            c = first + 13 * k
            v[c - 4 : c + 5] += bump
            pulses.append(c)
    g = gait_per_second(v.reshape(-1, nsub).astype(np.float32), nsub, WearableConfig())
    # every step is counted, in its own second
    assert g.steps.sum() == len(pulses)
    np.testing.assert_array_equal(np.flatnonzero(g.steps), np.unique(np.array(pulses) // nsub))
    # walking runs from the second to the last-but-one step of each bout (0.52 s per step),
    # the seconds at least half covered; the two bouts, 40 s apart, stay apart
    st, en = runs(g.walking)
    assert len(st) == 2
    for (a, b), (first, n) in zip(
        zip(st, en, strict=True), ((20 * nsub, 20), (70 * nsub, 16)), strict=True
    ):
        w0, w1 = (first + 13) / nsub, (first + 13 * (n - 2) + 1) / nsub
        assert abs(a - w0) <= 1 and abs(b - w1) <= 1
