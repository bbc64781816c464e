"""Record services on SQLite and PostgreSQL: what is stored, what is refused, what is audited."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from spinestab.errors import (
    AlreadyStoredError,
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
)
from spinestab.record import (
    Actor,
    approve_plan,
    create_patient,
    get_plan,
    list_patients,
    make_plan,
    progress_plan,
    save_form,
    save_form_file,
    save_history,
    save_imaging,
    save_sessions_file,
    save_wearable,
    show_record,
)
from spinestab.store.models import (
    Assessment,
    AuditEvent,
    HistoryVersion,
    PlanVersion,
    SessionLogRow,
)

from .conftest import CLINICIAN, DEMO_PATIENTS, form, no_flags

FHR = DEMO_PATIENTS / "functional_high_risk"


def count(record, model) -> int:
    with record.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def audit_rows(record):
    with record.unit_of_work() as uow:
        return [
            (e.actor, e.action, e.entity, e.outcome)
            for e in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def seed_fhr(record, pseudonym="P1"):
    """The functional-high-risk demo patient: forms, history, MRI table, daily table."""
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, pseudonym, sex="female", birth_year=1979)
        save_history(uow, CLINICIAN, pseudonym, json.loads((FHR / "history.json").read_text()))
        for name in ("nrs.json", "odi.json", "psfs.json", "redflags.json", "startback.json"):
            save_form_file(uow, CLINICIAN, pseudonym, FHR / name)
        save_imaging(uow, CLINICIAN, pseudonym, FHR / "muscle_quality.csv")
        save_wearable(uow, CLINICIAN, pseudonym, FHR / "daily.csv")


def test_whole_path_plan_approve_sessions_progress(record):
    seed_fhr(record)
    with record.unit_of_work() as uow:
        made = make_plan(uow, CLINICIAN, "P1", language="en")
    # the same profile as `spinestab plan` on the folder gives (track F2, see tests/care)
    assert (made.plan.version, made.plan.status, made.plan.track) == (1, "draft", "F2")
    assert made.plan.approved_by is None
    profile = json.loads(made.documents["profile.json"])
    assert profile["muscle"] is not None and profile["movement"] is not None
    assert made.inputs["history_version"] == 1 and len(made.inputs["assessments"]) == 5
    approver = Actor(username="dr-b", role="clinician")
    with record.unit_of_work() as uow:
        approved = approve_plan(uow, approver, "P1", version=1)
    assert approved.status == "active" and approved.approved_by == "dr-b"
    assert approved.approved_at is not None and approved.plan["status"] == "active"
    with record.unit_of_work() as uow:
        saved = save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
    lines = len((FHR / "sessions.csv").read_text().strip().splitlines()) - 1
    assert (saved.plan_version, saved.stored, saved.already_stored) == (1, lines, 0)
    with record.unit_of_work() as uow:
        nxt = progress_plan(uow, CLINICIAN, "P1", language="en")
    assert (nxt.plan.version, nxt.plan.status, nxt.plan.previous_version) == (2, "draft", 1)
    assert nxt.inputs["sessions"] == lines
    with record.unit_of_work() as uow:
        approve_plan(uow, approver, "P1", version=2)
        timeline = show_record(uow, CLINICIAN, "P1")
    assert [(p.version, p.status) for p in timeline.plans] == [(1, "superseded"), (2, "active")]
    assert len(timeline.sessions) == lines and {s.plan_version for s in timeline.sessions} == {1}
    assert timeline.open_red_flags == []
    keys = set(timeline.model_dump(mode="json"))
    assert {
        "patient",
        "assessments",
        "history",
        "imaging",
        "instability",
        "wearable",
        "plans",
        "sessions",
        "open_red_flags",
    } <= keys


def test_sessions_again_are_already_stored(record):
    seed_fhr(record)
    with record.unit_of_work() as uow:
        make_plan(uow, CLINICIAN, "P1")
        approve_plan(uow, CLINICIAN, "P1", version=1)
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
    before = count(record, SessionLogRow)
    with pytest.raises(AlreadyStoredError), record.unit_of_work() as uow:
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
    assert count(record, SessionLogRow) == before


def test_same_form_twice_is_already_stored_and_audited(record, tmp_path):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_form_file(uow, CLINICIAN, "P1", FHR / "odi.json")
    with pytest.raises(AlreadyStoredError, match="already stored"), record.unit_of_work() as uow:
        save_form_file(uow, CLINICIAN, "P1", FHR / "odi.json")
    assert count(record, Assessment) == 1
    assert audit_rows(record)[-1] == ("alice", "create", "assessment", "refused")


def test_two_forms_of_one_day_the_latest_counts(record):
    """A corrected form of the same day is stored; the profile uses the latest."""
    doc = json.loads((FHR / "odi.json").read_text())
    other = doc | {"answers": {**doc["answers"], "s1": (doc["answers"]["s1"] + 1) % 6}}
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        first = save_form(uow, CLINICIAN, "P1", doc)
        second = save_form(uow, CLINICIAN, "P1", other)
        save_form_file(uow, CLINICIAN, "P1", FHR / "redflags.json")
        made = make_plan(uow, CLINICIAN, "P1")
    assert made.inputs["same_day_forms_set_aside"] == [first.assessment.id]
    assert second.assessment.id in made.inputs["assessments"]
    profile = json.loads(made.documents["profile.json"])
    assert profile["clinical"]["odi_pct"] == pytest.approx(second.assessment.score["percent"])


def test_a_later_screen_of_the_same_day_never_hides_a_positive_answer(record):
    day = "2024-03-01"
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_form(uow, CLINICIAN, "P1", form("nrs", day, {"pain": 4}))
        make_plan(uow, CLINICIAN, "P1")
        positive = save_form(
            uow, CLINICIAN, "P1", form("redflags", day, no_flags() | {"saddle_numbness": True})
        )
        negative = save_form(uow, CLINICIAN, "P1", form("redflags", day, no_flags()))
        made = make_plan(uow, CLINICIAN, "P1")
    assert positive.blocked_plans == [1]
    assert [f.condition for f in negative.open_red_flags] == ["cauda_equina"]
    assert made.plan.status == "blocked" and made.plan.track == "S0"


def test_failed_import_stores_nothing_but_the_refusal(record, tmp_path):
    bad = tmp_path / "nrs.json"
    bad.write_text(json.dumps(form("nrs", "2024-01-02", {"pain": 12})))
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    with pytest.raises(InputError, match="pain"), record.unit_of_work() as uow:
        save_form_file(uow, CLINICIAN, "P1", FHR / "odi.json")
        save_form_file(uow, CLINICIAN, "P1", bad)
    assert count(record, Assessment) == 0
    events = audit_rows(record)
    assert events[-1] == ("alice", "create", "assessment", "refused")
    assert ("alice", "create", "assessment", "ok") not in events
    with record.unit_of_work() as uow:
        reason = uow.session.scalars(select(AuditEvent.reason).order_by(AuditEvent.id)).all()[-1]
    assert "12" not in reason  # the refused value itself is never stored


def test_blocking_red_flag_blocks_live_plans_in_the_same_transaction(record):
    seed_fhr(record)
    with record.unit_of_work() as uow:
        make_plan(uow, CLINICIAN, "P1")
        approve_plan(uow, CLINICIAN, "P1", version=1)
        save_sessions_file(uow, CLINICIAN, "P1", FHR / "sessions.csv")
        progress_plan(uow, CLINICIAN, "P1")  # version 2, draft
    positive = form("redflags", "2024-04-20", no_flags() | {"saddle_numbness": True})
    with record.unit_of_work() as uow:
        saved = save_form(uow, CLINICIAN, "P1", positive)
    assert saved.blocked_plans == [1, 2]
    assert saved.open_red_flags[0].urgency == "emergency" and saved.open_red_flags[0].blocking
    with record.unit_of_work() as uow:
        statuses = uow.session.scalars(select(PlanVersion.status).order_by(PlanVersion.version))
        assert list(statuses) == ["blocked", "blocked"]
    # the scenario: a blocked patient cannot be progressed, nor a draft approved
    with pytest.raises(ConflictError, match="no active plan"), record.unit_of_work() as uow:
        progress_plan(uow, CLINICIAN, "P1")
    with pytest.raises(ConflictError, match="blocked"), record.unit_of_work() as uow:
        approve_plan(uow, CLINICIAN, "P1", version=2)
    # a new plan while the flag is open is made blocked, with the actions instead
    with record.unit_of_work() as uow:
        made = make_plan(uow, CLINICIAN, "P1")
    assert (made.plan.version, made.plan.status, made.plan.track) == (3, "blocked", "S0")
    assert made.plan.plan["exercises"] == []
    with record.unit_of_work() as uow:
        shown = get_plan(uow, Actor(username="p", role="patient", patient="P1"), "P1")
    assert shown.status == "blocked" and shown.plan["exercises"] == []
    assert any(a["urgency"] == "emergency" for a in shown.plan["actions"])


def test_plan_without_complete_screen_cannot_be_approved(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_form_file(uow, CLINICIAN, "P1", FHR / "startback.json")
        save_form_file(uow, CLINICIAN, "P1", FHR / "nrs.json")
        made = make_plan(uow, CLINICIAN, "P1")
    assert made.plan.status == "draft"
    with pytest.raises(ConflictError, match="red-flag screen"), record.unit_of_work() as uow:
        approve_plan(uow, CLINICIAN, "P1", version=1)


def test_new_plan_supersedes_older_drafts(record):
    seed_fhr(record)
    with record.unit_of_work() as uow:
        make_plan(uow, CLINICIAN, "P1")
        second = make_plan(uow, CLINICIAN, "P1")
    assert second.superseded_drafts == [1]
    with pytest.raises(ConflictError, match="superseded"), record.unit_of_work() as uow:
        approve_plan(uow, CLINICIAN, "P1", version=1)


def test_patient_actor_limits(record):
    seed_fhr(record)
    me = Actor(username="pat", role="patient", patient="P1")
    other = Actor(username="eve", role="patient", patient="P2")
    with record.unit_of_work() as uow:
        make_plan(uow, CLINICIAN, "P1")
    for call in (
        lambda uow: approve_plan(uow, me, "P1", version=1),
        lambda uow: make_plan(uow, me, "P1"),
        lambda uow: create_patient(uow, me, "P9"),
        lambda uow: list_patients(uow, me),
        lambda uow: show_record(uow, other, "P1"),
        lambda uow: save_form_file(uow, other, "P1", FHR / "nrs.json"),
    ):
        with pytest.raises(RefusedError), record.unit_of_work() as uow:
            call(uow)
    refused = [e for e in audit_rows(record) if e[3] == "refused"]
    assert len(refused) == 6 and {e[0] for e in refused} == {"pat", "eve"}
    with record.unit_of_work() as uow:
        assert get_plan(uow, me, "P1") is None  # a draft is not shown to the patient
        assert show_record(uow, me, "P1").patient.pseudonym == "P1"


def test_unknown_patient_and_version(record):
    with pytest.raises(NotFoundError), record.unit_of_work() as uow:
        show_record(uow, CLINICIAN, "ghost")
    seed_fhr(record)
    with pytest.raises(NotFoundError), record.unit_of_work() as uow:
        approve_plan(uow, CLINICIAN, "P1", version=7)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sex": "x"}, "unknown sex"),
        ({"birth_year": 1700}, "implausible birth year"),
        ({"pseudonym": ""}, "invalid pseudonym"),
        ({"pseudonym": "a\x07b"}, "control characters"),
        ({"pseudonym": "x" * 65}, "invalid pseudonym"),
    ],
)
def test_bad_patient(record, kwargs, fragment):
    kwargs = dict(kwargs)
    pseudonym = kwargs.pop("pseudonym", "P-003")
    with pytest.raises(InputError, match=fragment), record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, pseudonym, **kwargs)


def test_duplicate_patient_and_markup_pseudonym(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "[/x]")
    with pytest.raises(AlreadyStoredError), record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "[/x]")
    with record.unit_of_work() as uow:
        assert [p["pseudonym"] for p in list_patients(uow, CLINICIAN)] == ["[/x]"]


def test_history_versions(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        first = save_history(uow, CLINICIAN, "P1", {"age": 40})
        second = save_history(uow, CLINICIAN, "P1", {"age": 41})
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(AlreadyStoredError), record.unit_of_work() as uow:
        save_history(uow, CLINICIAN, "P1", {"age": 41})
    with pytest.raises(InputError, match="unknown history field"), record.unit_of_work() as uow:
        save_history(uow, CLINICIAN, "P1", {"agee": 41})
    assert count(record, HistoryVersion) == 2


# ------------------------------------------------------------------------------ FHIR
def fhir_odi(status="completed", rid="qr-1", s1=2):
    return {
        "resourceType": "QuestionnaireResponse",
        "id": rid,
        "status": status,
        "questionnaire": "http://example.org/Questionnaire/odi",
        "authored": "2024-02-01",
        "item": [
            {"linkId": f"s{i}", "answer": [{"valueInteger": s1 if i == 1 else 2}]}
            for i in range(1, 11)
        ],
    }


def test_fhir_entered_in_error_retracts_and_is_never_scored(record):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        stored = save_form(uow, CLINICIAN, "P1", fhir_odi(), source="qr.json")
    assert stored.assessment.source_format == "fhir" and stored.assessment.fhir_id == "qr-1"
    with record.unit_of_work() as uow:
        undone = save_form(uow, CLINICIAN, "P1", fhir_odi("entered-in-error", s1=5))
    assert undone.retracted and undone.assessment.id == stored.assessment.id
    with record.unit_of_work() as uow:
        timeline = show_record(uow, CLINICIAN, "P1")
    assert [a.status for a in timeline.assessments] == ["retracted"]
    assert ("alice", "retract", "assessment", "ok") in audit_rows(record)
    # an entered-in-error response naming nothing stored is refused
    with pytest.raises(NotFoundError), record.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", fhir_odi("entered-in-error", rid="other", s1=4))


@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_fhir_incomplete_status_refused(record, status):
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    with pytest.raises(InputError, match="incomplete"), record.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", fhir_odi(status))
    assert count(record, Assessment) == 0


def test_form_dates_and_future(record):
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    with pytest.raises(InputError, match="future"), record.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", form("nrs", future, {"pain": 3}))


@pytest.mark.parametrize("status", ["finished", None, 3])
def test_fhir_unknown_status_refused(record, status):
    # bad-input campaign finding: status "finished" (not an R4 status) was stored
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    doc = fhir_odi() | {"status": status}
    with pytest.raises(InputError, match="status"), record.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", doc)
    assert count(record, Assessment) == 0


def test_fhir_retraction_with_an_unknown_id_never_retracts_another(record):
    # bad-input campaign finding: an entered-in-error response naming an id never stored
    # retracted a stored response with equal answers
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        save_form(uow, CLINICIAN, "P1", fhir_odi(rid="stored"))
    with pytest.raises(NotFoundError), record.unit_of_work() as uow:
        save_form(uow, CLINICIAN, "P1", fhir_odi("entered-in-error", rid="other"))
    with record.unit_of_work() as uow:
        assert [a.status for a in show_record(uow, CLINICIAN, "P1").assessments] == ["stored"]


def test_an_unknown_upload_kind_is_refused_and_nothing_stored(record, clinician):
    from spinestab.record.uploads import UPLOAD_KINDS, list_uploads, save_upload

    with record.unit_of_work() as uow:
        create_patient(uow, clinician, "P9")
    with pytest.raises(InputError) as refused, record.unit_of_work() as uow:
        save_upload(uow, clinician, "P9", b"bytes", kind="brain", name="x.nii.gz")
    assert refused.value.message == "unknown upload kind" and refused.value.value == "brain"
    assert refused.value.expected == ", ".join(UPLOAD_KINDS)
    with record.unit_of_work() as uow:
        assert list_uploads(uow, clinician, "P9") == []
