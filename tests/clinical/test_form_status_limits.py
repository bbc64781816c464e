"""Issue 10 form rules: FHIR status, empty red-flag forms, repeated answers, bounded files."""

from __future__ import annotations

import datetime as dt
import json
import time
import tracemalloc

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.clinical import load_form, score_form
from spinestab.clinical.redflags import load_red_flag_rules, screen_red_flags
from spinestab.errors import InputError

TODAY = dt.date(2026, 11, 29)
runner = CliRunner()

# The 476-byte YAML alias bomb of issue 10: nine levels of nine aliases (9**9 strings).
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "instrument: nrs\ndate: '2026-01-02'\nanswers: {pain: 3}\n"
)


def qr(items, *, status="completed", canonical="https://example.org/Questionnaire/psfs", **extra):
    return {
        "resourceType": "QuestionnaireResponse",
        "status": status,
        "questionnaire": canonical,
        "authored": "2026-03-04",
        "item": items,
        **extra,
    }


def psfs_items(*ratings):
    return [
        {"linkId": f"a{i}", "text": f"activity {i}", "answer": [{"valueInteger": r}]}
        for i, r in enumerate(ratings, start=1)
    ]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ status
@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_unfinished_fhir_responses_are_refused_as_incomplete(tmp_path, status):
    path = write(tmp_path, "qr.json", qr(psfs_items(2, 5, 8), status=status))
    with pytest.raises(InputError, match=f"incomplete questionnaire response .status {status}"):
        load_form(path, today=TODAY)


@pytest.mark.parametrize("status", ["completed", "amended"])
def test_finished_fhir_responses_are_scored(tmp_path, status):
    path = write(tmp_path, "qr.json", qr(psfs_items(2, 5, 8), status=status, id="qr-7"))
    form = load_form(path, today=TODAY)
    assert (form.status, form.response_id, form.is_retraction) == (status, "qr-7", False)
    assert score_form(form).score == pytest.approx(5.0)  # (2 + 5 + 8) / 3


def test_entered_in_error_is_a_retraction_request_never_scored(tmp_path):
    doc = qr(
        psfs_items(2, 5, 8),
        status="entered-in-error",
        identifier={"system": "urn:clinic", "value": "form-42"},
    )
    form = load_form(write(tmp_path, "qr.json", doc), today=TODAY)
    assert form.is_retraction and form.status == "entered-in-error"
    assert form.response_id == "form-42"  # which stored response it retracts
    assert (form.instrument, form.date) == ("psfs", dt.date(2026, 3, 4))
    with pytest.raises(InputError, match="never scored"):
        score_form(form)


def test_score_command_refuses_a_retraction_and_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINESTAB_DATA_DIR", str(tmp_path / "data"))
    path = write(tmp_path, "qr.json", qr(psfs_items(2, 5, 8), status="entered-in-error"))
    result = runner.invoke(app, ["score", str(path), "--save", "p-1"])
    assert result.exit_code == 2
    assert "never scored" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "data" / "spinestab.sqlite3").exists()


# ------------------------------------------------------------------------------ answers
def test_a_second_psfs_rating_of_one_activity_is_an_error_not_dropped(tmp_path):
    items = psfs_items(2, 5, 8)
    items[1]["answer"].append({"valueInteger": 9})
    with pytest.raises(InputError, match="repeated answers to one activity") as info:
        load_form(write(tmp_path, "qr.json", qr(items)), today=TODAY)
    assert info.value.item == "a2"


@pytest.mark.parametrize("canonical", ["x/Questionnaire/psfs", "x/Questionnaire/startback"])
def test_duplicate_link_ids_are_an_error(tmp_path, canonical):
    items = [{"linkId": "q1", "text": "a", "answer": [{"valueInteger": 1}]}] * 2
    with pytest.raises(InputError, match="duplicated item"):
        load_form(write(tmp_path, "qr.json", qr(items, canonical=canonical)), today=TODAY)


def test_duplicate_link_ids_in_nested_groups_are_an_error(tmp_path):
    group = {"linkId": "g", "item": [{"linkId": "pain", "answer": [{"valueInteger": 3}]}]}
    doc = qr([group, dict(group, linkId="g2")], canonical="x/Questionnaire/nrs")
    with pytest.raises(InputError, match="duplicated item"):
        load_form(write(tmp_path, "qr.json", doc), today=TODAY)


@pytest.mark.parametrize("answers", [[], {}])
def test_an_empty_red_flag_form_is_incomplete(tmp_path, answers):
    n_items = len(load_red_flag_rules().items)
    score = screen_red_flags(answers)
    assert not score.complete and len(score.missing) == n_items and not score.actions
    doc = {"instrument": "redflags", "date": "2026-01-02", "answers": answers}
    scored = score_form(load_form(write(tmp_path, "rf.json", doc), today=TODAY))
    assert not scored.complete


def test_an_empty_red_flag_form_keeps_the_plan_a_draft(tmp_path):
    folder = tmp_path / "patient"
    folder.mkdir()
    write(folder, "redflags.json", {"instrument": "redflags", "date": "2026-01-02", "answers": []})
    write(folder, "nrs.json", {"instrument": "nrs", "date": "2026-01-02", "answers": {"pain": 4}})
    from spinestab.care import load_patient_dir, triage

    profile = load_patient_dir(folder)
    # a screen that answers nothing counts as no screen: the plan is a draft until it is done
    assert not profile.clinical.red_flag_screen and not profile.clinical.red_flag_screen_complete
    assert "red-flag screen" in [m.part for m in profile.missing]
    result = triage(profile)
    assert result.draft and "complete_red_flag_screen" in result.action_codes


def test_a_list_of_positive_items_still_means_the_others_are_no():
    rules = load_red_flag_rules()
    score = screen_red_flags([next(iter(rules.items))])
    assert score.complete and score.score == 1


# ------------------------------------------------------------------------------ limits
def test_the_alias_bomb_fails_fast_and_small(tmp_path):
    assert len(ALIAS_BOMB.encode()) < 600
    path = write(tmp_path, "bomb.yaml", ALIAS_BOMB)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InputError, match="YAML aliases are not accepted") as info:
            load_form(path, today=TODAY)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert elapsed < 1.0 and peak < 5_000_000  # was 41 s and 2.9 GB


def test_a_questionnaire_over_one_megabyte_is_refused_unread(tmp_path):
    doc = {"instrument": "nrs", "date": "2026-01-02", "answers": {"pain": 3}}
    text = json.dumps(doc)
    path = write(tmp_path, "big.json", text[:-1] + ", " + '"notes": "' + "x" * 1_000_000 + '"}')
    with pytest.raises(InputError, match="file too large") as info:
        load_form(path, today=TODAY)
    assert "at most 1000000 bytes" in str(info.value)
    path = write(tmp_path, "ok.json", text)
    assert load_form(path, today=TODAY).answers == {"pain": 3}


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("deep.json", '{"instrument": "nrs", "x": ' + "[" * 500 + "]" * 500 + "}", "too deeply"),
        ("deep.yaml", "answers: " + "[" * 500 + "]" * 500, "too deeply"),
        ("int.json", '{"answers": {"pain": 1' + "0" * 40 + "}}", "integer too large"),
        ("int.yaml", "answers: {pain: 1" + "0" * 40 + "}", "integer too large"),
        ("huge.json", '{"answers": {"pain": 1' + "0" * 5000 + "}}", "integer too large"),
        ("dup.yaml", "instrument: nrs\ninstrument: odi\n", "duplicated item"),
    ],
)
def test_nesting_integers_and_duplicates_are_refused_with_the_file_named(
    tmp_path, name, text, fragment
):
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=fragment) as info:
        load_form(path, today=TODAY)
    assert str(path) in str(info.value)


def test_plan_with_a_bomb_in_history_or_rules_writes_nothing(tmp_path):
    from spinestab.care import demo_patients_dir

    source = demo_patients_dir() / "low_risk_self_management"
    folder = tmp_path / "patient"
    folder.mkdir()
    for f in source.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    rules = write(tmp_path, "rules.yaml", "rules: &r {chronic_weeks: {value: 12}}\nx: *r\n")
    result = runner.invoke(
        app, ["plan", str(folder), "--out", str(tmp_path / "o1"), "--rules", str(rules)]
    )
    assert result.exit_code == 2 and "YAML aliases" in result.stderr
    (folder / "history.json").write_text('{"age": ' + "[" * 200 + "]" * 200 + "}")
    result = runner.invoke(app, ["plan", str(folder), "--out", str(tmp_path / "o2")])
    assert result.exit_code == 2 and "too deeply" in result.stderr
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_session_log_json_is_bounded(tmp_path):
    from spinestab.care.progression import read_sessions

    path = write(tmp_path, "sessions.json", "[" * 100 + "]" * 100)
    with pytest.raises(InputError, match="too deeply"):
        read_sessions(path)
