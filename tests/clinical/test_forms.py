"""Questionnaire files: JSON, YAML, FHIR QuestionnaireResponse, and every bad input."""

import datetime as dt
import json

import pytest

from spinestab.clinical import load_form, score_form
from spinestab.errors import InputError

TODAY = dt.date(2026, 11, 29)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_and_yaml_give_the_same_score(tmp_path):
    answers = {f"q{i}": 1 for i in range(1, 9)} | {"q9": 3}
    j = write(
        tmp_path,
        "a.json",
        json.dumps({"instrument": "startback", "date": "2026-01-02", "answers": answers}),
    )
    y = write(
        tmp_path,
        "a.yaml",
        "instrument: startback\ndate: 2026-01-02\nanswers:\n"
        + "".join(f"  {k}: {v}\n" for k, v in answers.items()),
    )
    sj, sy = score_form(load_form(j, today=TODAY)), score_form(load_form(y, today=TODAY))
    assert sj.score == sy.score == 9 and sj.date == sy.date == dt.date(2026, 1, 2)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        (
            "a.json",
            '{"instrument": "sf36", "date": "2026-01-01", "answers": {}}',
            "unknown instrument",
        ),
        (
            "a.json",
            '{"instrument": "nrs", "date": "2027-01-01", "answers": {"pain": 1}}',
            "date is in the future",
        ),
        (
            "a.json",
            '{"instrument": "nrs", "date": "01/02/2026", "answers": {"pain": 1}}',
            "malformed date",
        ),
        (
            "a.json",
            '{"instrument": "nrs", "date": "2026-02-30", "answers": {"pain": 1}}',
            "not a calendar date",
        ),
        ("a.json", '{"instrument": "nrs", "answers": {"pain": 1}}', "malformed date"),
        ("a.json", '{"instrument": "nrs", "date": "2026-01-01"}', "no answers"),
        (
            "a.json",
            '{"instrument": "nrs", "date": "2026-01-01", "answers": {"pain": 1, "pain": 2}}',
            "duplicated item",
        ),
        (
            "a.yaml",
            "instrument: nrs\ndate: 2026-01-01\nanswers:\n  pain: 1\n  pain: 2\n",
            "duplicated item",
        ),
        (
            "a.json",
            '{"instrument": "nrs", "date": "2026-01-01", "answers": {"pain": 1}',
            "not valid JSON",
        ),
        ("a.yaml", "instrument: [nrs\n", "not valid YAML"),
        ("a.json", "[1, 2]", "not a questionnaire"),
        (
            "a.json",
            '{"instrument": "nrs", "date": "2026-01-01", "answers": {}, "x": 1}',
            "unknown field",
        ),
    ],
)
def test_bad_files_name_file_and_item(tmp_path, name, text, fragment):
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=fragment) as info:
        load_form(path, today=TODAY)
    assert str(path) in str(info.value)


def test_unreadable_and_missing_files(tmp_path):
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(InputError, match="unreadable file"):
        load_form(binary)
    with pytest.raises(InputError, match="file not found"):
        load_form(tmp_path / "nope.json")


def test_answer_error_names_file_item_value_and_expectation(tmp_path):
    path = write(
        tmp_path,
        "odi.json",
        json.dumps(
            {
                "instrument": "odi",
                "date": "2026-01-01",
                "answers": {f"s{i}": 1 for i in range(1, 10)} | {"s10": 7},
            }
        ),
    )
    with pytest.raises(InputError) as info:
        score_form(load_form(path, today=TODAY))
    message = str(info.value)
    assert str(path) in message and "s10" in message and "7" in message and "0 to 5" in message


def qr(canonical, items, authored="2026-03-04T10:00:00+01:00"):
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": canonical,
        "authored": authored,
        "item": items,
    }


def test_fhir_questionnaire_response_odi(tmp_path):
    items = [{"linkId": f"s{i}", "answer": [{"valueInteger": 2}]} for i in range(1, 11)]
    items[7] = {"linkId": "s8"}  # skipped section
    path = write(tmp_path, "qr.json", json.dumps(qr("http://loinc.org/q/97908-8", items)))
    form = load_form(path, today=TODAY)
    score = score_form(form)
    assert form.instrument == "odi" and form.date == dt.date(2026, 3, 4)
    assert score.score == 18 and score.max == 45 and score.percent == pytest.approx(40.0)


def test_fhir_startback_psfs_and_rmdq(tmp_path):
    sb = [{"linkId": f"q{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 9)]
    sb.append({"linkId": "q9", "answer": [{"valueCoding": {"code": "4"}}]})
    score = score_form(
        load_form(
            write(
                tmp_path,
                "sb.json",
                json.dumps(qr("https://example.org/Questionnaire/startback", sb)),
            ),
            today=TODAY,
        )
    )
    assert (score.score, score.risk) == (9, "high")
    psfs = [
        {"linkId": f"a{i}", "text": t, "answer": [{"valueInteger": v}]}
        for i, (t, v) in enumerate([("walk", 2), ("sit", 5), ("lift", 8)])
    ]
    score = score_form(
        load_form(
            write(
                tmp_path,
                "psfs.json",
                json.dumps(qr("https://example.org/Questionnaire/psfs", psfs)),
            ),
            today=TODAY,
        )
    )
    assert score.score == pytest.approx(5.0)
    rmdq = [{"linkId": str(i), "answer": [{"valueBoolean": i <= 4}]} for i in range(1, 25)]
    score = score_form(
        load_form(
            write(
                tmp_path,
                "rmdq.json",
                json.dumps(qr("https://example.org/Questionnaire/rmdq", rmdq)),
            ),
            today=TODAY,
        )
    )
    assert score.score == 4 and score.complete


def test_fhir_bad_resource(tmp_path):
    path = write(tmp_path, "qr.json", json.dumps(qr("https://example.org/Questionnaire/x", [])))
    with pytest.raises(InputError, match="cannot tell the instrument"):
        load_form(path, today=TODAY)
    bad = qr("https://example.org/Questionnaire/nrs", [])
    bad["authored"] = "yesterday"
    with pytest.raises(InputError, match="invalid FHIR"):
        load_form(write(tmp_path, "qr2.json", json.dumps(bad)), today=TODAY)
