"""Regression cases found by black-box testing of questionnaire files."""

import datetime as dt
import json

import pytest

from spinestab.clinical import load_form, score_form

TODAY = dt.date(2026, 11, 29)


def test_json_with_byte_order_mark_and_crlf(tmp_path):
    # s8 skipped: sum 2+1+3+0+2+1+0+2+1 = 12 over 5 x 9 = 45 -> 26.67 % (hand computed)
    answers = {"s1": 2, "s2": 1, "s3": 3, "s4": 0, "s5": 2, "s6": 1, "s7": 0}
    answers |= {"s8": None, "s9": 2, "s10": 1}
    text = json.dumps({"instrument": "odi", "date": "2024-01-02", "answers": answers})
    path = tmp_path / "odi.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"\r\n")
    score = score_form(load_form(path, today=TODAY))
    assert score.score == 12 and score.max == 45
    assert score.percent == pytest.approx(100 * 12 / 45)


def test_yaml_with_byte_order_mark(tmp_path):
    path = tmp_path / "nrs.yaml"
    path.write_bytes(b"\xef\xbb\xbfinstrument: nrs\r\ndate: 2024-01-02\r\nanswers: {pain: 4}\r\n")
    assert score_form(load_form(path, today=TODAY)).score == 4


def test_fhir_items_nested_under_answers_are_read(tmp_path):
    # FHIR R4 allows follow-up questions under answer[].item; they were dropped silently.
    doc = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://example.org/Questionnaire/nrs",
        "authored": "2024-02-03",
        "item": [
            {
                "linkId": "pain",
                "answer": [
                    {
                        "valueInteger": 6,
                        "item": [{"linkId": "leg_pain", "answer": [{"valueInteger": 2}]}],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    form = load_form(path, today=TODAY)
    assert form.answers == {"pain": 6, "leg_pain": 2}
    assert score_form(form).score == 6


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [("odi", [2] * 10), ("startback", [1] * 9), ("psfs", [{"name": "a", "score": 3}])],
)
def test_a_list_where_an_object_belongs_says_so(tmp_path, instrument, answers):
    # black-box finding: list entries were read as item names ("unknown item 2")
    from spinestab.errors import InputError

    path = tmp_path / "form.json"
    doc = {"instrument": instrument, "date": "2024-01-02", "answers": answers}
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=f"answers for {instrument} are not an object"):
        score_form(load_form(path, today=TODAY))


def test_rmdq_ticked_as_text_is_refused_clearly(tmp_path):
    from spinestab.errors import InputError

    path = tmp_path / "rmdq.json"
    doc = {"instrument": "rmdq", "date": "2024-01-02", "answers": {"ticked": "1,2"}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match="not a list"):
        score_form(load_form(path, today=TODAY))


def test_fhir_psfs_calculated_mean_item_is_not_an_activity(tmp_path):
    # CLINICAL_LOGIC §2.5: the PSFS mean is a calculated item. A stale mean of 9 was read as
    # a fourth activity: (2 + 5 + 8 + 9) / 4 = 6.0 instead of (2 + 5 + 8) / 3 = 5.0.
    doc = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://example.org/Questionnaire/psfs",
        "authored": "2024-02-03",
        "item": [
            {
                "linkId": "activities",
                "item": [
                    {"linkId": f"a{i}", "text": t, "answer": [{"valueInteger": v}]}
                    for i, (t, v) in enumerate([("walk", 2), ("sit", 5), ("lift", 8)])
                ],
            },
            {"linkId": "mean", "answer": [{"valueInteger": 9}]},
        ],
    }
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    score = score_form(load_form(path, today=TODAY))
    assert score.score == pytest.approx(5.0) and score.details["activities"] == [
        "walk",
        "sit",
        "lift",
    ]


def test_fhir_calculated_total_items_are_skipped(tmp_path):
    # an SDC QuestionnaireResponse carries its calculated total; it was "unknown item for odi"
    items = [{"linkId": f"s{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 11)]
    items.append({"linkId": "total", "answer": [{"valueInteger": 99}]})
    items.append({"linkId": "percent", "answer": [{"valueDecimal": 99.0}]})
    doc = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/97908-8",
        "authored": "2024-02-03",
        "item": items,
    }
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    score = score_form(load_form(path, today=TODAY))
    assert score.score == 10 and score.percent == pytest.approx(20.0)  # 10 / 50 (hand)
