"""Prompt rules by hand-made timelines, and streaming == offline."""

from __future__ import annotations

import numpy as np
import pytest

from spinestab.wearable.config import PromptConfig
from spinestab.wearable.posture import LYING, NONWEAR, SITTING, STANDING, WALKING
from spinestab.wearable.prompts import PromptEngine, offline_prompts

NOON = 1704110400.0  # 2024-01-01 12:00 UTC


def timeline(*parts):
    return np.concatenate([np.full(int(s), c, np.int8) for c, s in parts])


def test_prompt_after_limit_then_snooze():
    p = timeline((SITTING, 3 * 3600))
    got = offline_prompts(p, start_unix_s=NOON)
    # due at 30 min, then every 30 min while still sitting (hand computation)
    np.testing.assert_array_equal(got - NOON, [1800, 3600, 5400, 7200, 9000])


def test_short_movement_does_not_clear_long_movement_does():
    cfg = PromptConfig(static_limit_min=30, clear_move_s=60)
    short = timeline((SITTING, 1200), (WALKING, 30), (STANDING, 1200))
    np.testing.assert_array_equal(offline_prompts(short, start_unix_s=NOON, cfg=cfg) - NOON, [1800])
    long = timeline((SITTING, 1200), (WALKING, 60), (STANDING, 1200))
    assert offline_prompts(long, start_unix_s=NOON, cfg=cfg).size == 0


def test_lying_and_nonwear_reset_and_quiet_hours():
    p = timeline((SITTING, 1500), (LYING, 600), (SITTING, 1500), (NONWEAR, 10), (SITTING, 1799))
    assert offline_prompts(p, start_unix_s=NOON).size == 0
    # sitting from 21:50: due 22:20 falls in quiet hours (22-07): nothing until 07:00
    start = NOON + 9 * 3600 + 50 * 60
    p = timeline((SITTING, 10 * 3600))
    got = offline_prompts(p, start_unix_s=start)
    assert got.size >= 1
    assert got[0] - NOON == pytest.approx(19 * 3600)  # 07:00 next day


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_in_chunks_equals_offline(seed):
    rng = np.random.default_rng(seed)
    codes = rng.choice(
        [SITTING, STANDING, WALKING, LYING, NONWEAR], size=400, p=[0.5, 0.2, 0.2, 0.05, 0.05]
    )
    p = np.repeat(codes, rng.integers(5, 1500, size=400)).astype(np.int8)
    cfg = PromptConfig(static_limit_min=20, snooze_min=15, clear_move_s=90)
    whole = offline_prompts(p, start_unix_s=NOON, cfg=cfg)
    assert whole.size > 10
    eng = PromptEngine(start_unix_s=NOON, cfg=cfg)
    streamed = []
    cuts = np.sort(rng.choice(np.arange(1, p.size), size=300, replace=False))
    for part in np.split(p, cuts):
        streamed.extend(eng.feed(part))
    np.testing.assert_array_equal(np.asarray(streamed), whole)
    # one second at a time, as a device would, for the first hours
    eng1 = PromptEngine(start_unix_s=NOON, cfg=cfg)
    first = p[:20000]
    one = [t for s in first for t in eng1.feed(np.array([s]))]
    np.testing.assert_array_equal(one, offline_prompts(first, start_unix_s=NOON, cfg=cfg))


def test_prompt_options_from_a_real_plan(tmp_path):
    # the plan of a bundled demo patient, made by `spinestab plan`: its movement-break goal
    # sets the static limit and snooze, the break's duration the movement that clears
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    import spinestab
    from spinestab.cli import app
    from spinestab.errors import InputError
    from spinestab.wearable.config import PromptConfig

    demo = Path(spinestab.__file__).parent / "data" / "demo_patients"
    res = CliRunner().invoke(
        app, ["plan", str(demo / "functional_high_risk"), "--out", str(tmp_path / "p")]
    )
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "p" / "plan_v1.json").read_text())
    cfg = PromptConfig.from_plan(plan)
    goal = plan["movement_breaks"]["interval_min"]
    assert 30 <= goal <= 45 and cfg.static_limit_min == cfg.snooze_min == goal
    dose = next(e["dose"] for e in plan["exercises"] if e["id"] == "movement_breaks")
    assert cfg.clear_move_s == 60 * dose["duration_min"]
    res = CliRunner().invoke(
        app, ["plan", str(demo / "red_flag_cauda_equina"), "--out", str(tmp_path / "b")]
    )
    blocked = json.loads(next((tmp_path / "b").glob("plan*.json")).read_text())
    with pytest.raises(InputError, match="no movement-break interval"):
        PromptConfig.from_plan(blocked)  # a blocked plan: nothing to prompt
