"""Exercise library, pictures and the en/de catalogues."""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET

import pytest

from spinestab.care.exercises import STAGES, figure_svg, load_library
from spinestab.care.exercises._figures import POSES, render_svg
from spinestab.care.i18n import LANGUAGES, Translator, catalogue, resolve_language
from spinestab.care.triage import TRACKS
from spinestab.errors import InputError

SVG = "{http://www.w3.org/2000/svg}"
SIX = {"curl_up", "side_bridge", "bird_dog", "glute_bridge", "dead_bug", "front_plank"}


def test_library_has_the_six_home_exercises_and_the_extra_progressions():
    lib = load_library()
    assert SIX | {"walking", "movement_breaks", "multifidus_activation", "slow_lowering"} <= set(
        lib.exercises
    )
    for ex in lib.exercises.values():
        assert tuple(ex.stages) == STAGES == (0, 1, 2, 3)
        assert ex.source and ex.evidence in ("V", "R", "D")
    for ex_id in SIX:
        assert lib[ex_id].group == "home"
    tempo = [lib["slow_lowering"].stages[k].get("tempo") for k in STAGES]
    assert tempo == ["slow_lowering"] * 4


@pytest.mark.parametrize("ex_id", sorted(load_library().exercises))
def test_every_exercise_stage_has_a_picture(ex_id):
    for stage in STAGES:
        root = ET.fromstring(figure_svg(ex_id, stage))
        assert root.tag == f"{SVG}svg"
        strokes = root.findall(f".//{SVG}line") + root.findall(f".//{SVG}polyline")
        heads = root.findall(f".//{SVG}circle")
        assert len(strokes) >= 5 and heads  # a body: limbs and a head
        assert root.find(f"{SVG}title").text == f"{ex_id}_stage{stage}"


def test_stages_of_one_exercise_have_different_pictures():
    for ex_id in load_library().exercises:
        pictures = {figure_svg(ex_id, stage) for stage in STAGES}
        assert len(pictures) == 4, ex_id


def test_committed_figures_match_the_generator():
    for name, pose in POSES.items():
        ex_id, stage = name.rsplit("_stage", 1)
        assert figure_svg(ex_id, int(stage)) == render_svg(pose, title=name)


def _placeholders(text):
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def needed_keys():
    lib = load_library()
    keys = set(lib.message_keys())
    keys |= {f"track.{t}" for t in TRACKS}
    keys |= {
        f"action.{c}"
        for c in (
            "red_flag_emergency",
            "red_flag_same_day",
            "red_flag_urgent",
            "red_flag_routine",
            "no_exercise_plan",
            "complete_red_flag_screen",
            "surgical_consultation",
            "continue_active_care",
            "monitored_conservative_care",
            "clinician_loading_limits",
            "review_12_weeks",
            "self_management",
            "motor_control_programme",
            "psychologically_informed_care",
            "home_programme",
            "education",
            "no_passive_modalities",
            "review_6_12_weeks",
            "neurostimulation_assessment",
        )
    }
    keys |= {
        f"edu.{e}"
        for e in (
            "keep_active",
            "hurt_not_harm",
            "imaging",
            "traffic_light",
            "soreness",
            "posture_variety",
            "flare_plan",
            "ces_card",
            "fi_expectation",
            "psych",
            "self_management",
        )
    }
    keys |= {f"prompt.{p}" for p in ("break", "session", "log", "next_morning")}
    keys |= {f"zone.{z}" for z in ("green", "amber", "red", "weekly")}
    return keys


def test_catalogues_cover_every_patient_facing_key_in_both_languages():
    en, de = catalogue("en"), catalogue("de")
    assert set(en) == set(de)
    missing = needed_keys() - set(en)
    assert not missing
    for key in en:
        assert _placeholders(en[key]) == _placeholders(de[key]), key
    different = sum(en[k] != de[k] for k in en)
    assert different / len(en) > 0.95  # German is translated, not copied


def test_translator_fills_placeholders_and_refuses_unknown_keys():
    t = Translator("de")
    assert t("ui.phase.weeks", start=1, end=2) == "Woche 1 bis 2"
    assert Translator("en")("dose.reps", sets=2, reps=8) == "2 sets of 8 repetitions."
    with pytest.raises(KeyError):
        t("no.such.key")


def test_language_from_setting(monkeypatch):
    monkeypatch.setenv("SPINESTAB_LANGUAGE", "de")
    assert resolve_language(None) == "de"
    monkeypatch.delenv("SPINESTAB_LANGUAGE")
    assert resolve_language(None) == "en"
    assert set(LANGUAGES) == {"en", "de"}
    with pytest.raises(InputError, match="no translation catalogue"):
        resolve_language("fr")


def test_no_patient_facing_english_in_code():
    # every English sentence the handout shows comes from the catalogue: the German
    # handout contains none of the English catalogue texts of the keys it uses.
    from spinestab.care import demo_patients_dir, load_patient_dir, prescribe, triage
    from spinestab.care.handout import render_handout

    profile = load_patient_dir(demo_patients_dir() / "functional_high_risk")
    tri = triage(profile)
    plan = prescribe(profile, tri)
    html = render_handout(
        patient="p",
        date="2024-03-04",
        track=tri.track,
        actions=[a.to_dict() for a in tri.actions],
        plan=plan,
        language="de",
    )
    en = catalogue("en")
    import html as html_mod

    text = html_mod.unescape(html)
    leaked = [k for k, v in en.items() if len(v) > 25 and "{" not in v and v in text]
    assert not leaked
    assert catalogue("de")["ex.bird_dog.stage0.how"] in text


@pytest.mark.parametrize(
    ("language", "key", "values", "expected"),
    [
        ("en", "dose.reps", {"sets": 1, "reps": 5}, "1 set of 5 repetitions."),
        ("en", "dose.reps", {"sets": 2, "reps": 5}, "2 sets of 5 repetitions."),
        ("de", "dose.reps", {"sets": 1, "reps": 5}, "1 Satz mit 5 Wiederholungen."),
        ("de", "dose.reps", {"sets": 3, "reps": 5}, "3 Sätze mit je 5 Wiederholungen."),
        ("de", "ui.breaks_goal", {"interval": 30, "minutes": 1}, "für 1 Minute."),
        ("en", "dose.break", {"minutes": 1, "interval": 30}, "1 minute of movement"),
    ],
)
def test_counts_of_one_use_the_singular(language, key, values, expected):
    # black-box finding: the handouts said "1 sets" / "1 Sätze" / "1 Minuten"
    assert expected in Translator(language)(key, **values)
