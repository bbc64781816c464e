"""View models of the pages, against hand-written decisions and the care catalogue's words."""

from __future__ import annotations

from spinestab.service import views


def _hold(hold_s: int, sets: int) -> dict:
    return {"type": "hold", "hold_s": hold_s, "sets": sets}


def test_progression_changes_name_label_stage_and_dose():
    decisions = [
        # (exercise, decision, change, from stage, from dose, to stage, to dose)
        ("multifidus_activation", "up", "hold", 0, _hold(5, 10), 0, _hold(7, 10)),
        ("side_bridge", "up", "level", 0, _hold(10, 3), 1, _hold(8, 3)),
        ("bird_dog", "keep", "none", 0, _hold(6, 3), 0, _hold(6, 3)),
        ("front_plank", "up", "none", 3, _hold(30, 3), 3, _hold(30, 3)),
        ("dead_bug", "down", "level", 2, _hold(8, 3), 1, _hold(6, 3)),
        ("curl_up", "down", "volume", 0, _hold(8, 4), 0, _hold(8, 2)),
    ]
    plan_json = {
        "decisions": [
            {
                "exercise": ex,
                "decision": decision,
                "change": change,
                "from": {"level": f"L{s0}", "stage": s0, "dose": d0},
                "to": {"level": f"L{s1}", "stage": s1, "dose": d1},
                "reasons": [f"reason {ex}"],
            }
            for ex, decision, change, s0, d0, s1, d1 in decisions
        ]
    }
    rows = views.progression_changes(plan_json, language="en")
    assert [(r["name"], r["label_key"]) for r in rows] == [
        ("Deep back muscle activation", "plan.decision.up_dose"),
        ("Side bridge", "plan.decision.up_level"),
        ("Bird-dog", "plan.decision.keep"),
        ("Front plank", "plan.decision.keep"),  # criteria met, already at the most allowed
        ("Dead bug", "plan.decision.down_level"),
        ("McGill curl-up", "plan.decision.down_dose"),
    ]
    first = rows[0]
    assert (first["stage_from"], first["stage_to"]) == ("Stage 0", "Stage 0")
    assert (first["dose_from"], first["dose_to"]) == (
        "Hold 5 seconds, 10 times.",
        "Hold 7 seconds, 10 times.",
    )
    assert (rows[1]["stage_from"], rows[1]["stage_to"]) == ("Stage 0", "Stage 1")
    assert rows[5]["reasons"] == ["reason curl_up"]
    german = views.progression_changes(plan_json, language="de")
    assert german[0]["dose_to"] == "7 Sekunden halten, 10-mal."
