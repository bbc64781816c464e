"""Vertebral morphometry and cervical segments in the record (issue 17 in the record).

- ``spinestab morphometry --patient``: the vertebrae stored with the contract's keys, equal
  to the analytic film's known heights and to what ``--out`` writes; the files kept.
- A new deformity with acute pain blocks every live plan in the same transaction (the
  suspected-fracture red flag, CLINICAL_LOGIC.md §4.6 and §3); known old deformities adapt
  the plan (no loaded flexion) instead.
- ``instability`` keeps every level, the cervical ones too, and the profile reads them from
  the record (reported and referred, never trained: §4.7).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinestab.cli import app
from spinestab.errors import InputError
from spinestab.record import (
    approve_plan,
    create_patient,
    make_plan,
    save_form,
    save_history,
    save_instability,
    save_morphometry,
    show_record,
)

from .conftest import CLINICIAN, DEMO_PATIENTS, form, no_flags, write_json

runner = CliRunner()
FHR = DEMO_PATIENTS / "functional_high_risk"
KEYS = [
    "level",
    "anterior_height_mm",
    "middle_height_mm",
    "posterior_height_mm",
    "wedge_loss_pct",
    "biconcave_loss_pct",
    "crush_loss_pct",
    "height_loss_pct",
    "deformity",
    "genant_grade",
    "flags",
]
#: Analytic vertebrae (Ha, Hm, Hp in mm): L1 a 30 % wedge (grade 2), L2 a 22 % biconcave
#: loss (grade 1), T12 and L3 normal (Genant 1993 bands 20-25 / 25-40 / > 40 %)
WEDGE_FILM = {
    "T12": (25.0, 25.0, 25.0),
    "L1": (17.5, 21.25, 25.0),
    "L2": (25.0, 19.5, 25.0),
    "L3": (25.0, 25.0, 25.0),
}
NORMAL_FILM = {lv: (25.0, 25.0, 25.0) for lv in ("T12", "L1", "L2", "L3")}


def film(tmp_path: Path, heights: dict, name: str = "film.json") -> Path:
    """A lateral film of analytic vertebrae, rotated and in anisotropic pixels."""
    from spinestab.instability import landmarks_to_dict
    from spinestab.instability.phantom import analytic_vertebrae, to_pixels, transform

    ls = transform(analytic_vertebrae(heights), rotation_deg=170.0, shift=(80.0, 90.0))
    data = landmarks_to_dict(to_pixels(ls, pixel_spacing_mm=(0.12, 0.15)))
    del data["view"]
    return write_json(tmp_path / name, data)


def morphometry_file(tmp_path: Path, heights: dict, name: str = "m") -> Path:
    """``morphometry.json`` as ``spinestab morphometry`` writes it for the film."""
    result = runner.invoke(
        app,
        ["morphometry", "--landmarks", str(film(tmp_path, heights)), "--out", str(tmp_path / name)],
    )
    assert result.exit_code == 0, result.output
    return tmp_path / name / "morphometry.json"


def ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def artifact(sha256: str) -> bytes:
    import os

    root = Path(os.environ["SPINESTAB_DATA_DIR"]) / "artifacts"
    return (root / sha256[:2] / sha256[2:4] / sha256).read_bytes()


def test_morphometry_with_patient_stores_the_vertebrae(isolated_settings, tmp_path):
    ok("patient", "add", "P1")
    landmarks = film(tmp_path, WEDGE_FILM)
    done = ok("morphometry", "--landmarks", landmarks, "--patient", "P1")
    assert "saved into the record of P1" in done.stdout and "wrote" not in done.stdout
    (study,) = json.loads(ok("record", "show", "P1", "--json").stdout)["morphometry"]
    assert [list(v) for v in study["vertebrae"]] == [KEYS] * 4
    rows = {v["level"]: v for v in study["vertebrae"]}
    # the analytic truth: heights within 0.01 mm, losses, types and grades
    assert rows["L1"]["anterior_height_mm"] == pytest.approx(17.5, abs=0.01)
    assert rows["L1"]["middle_height_mm"] == pytest.approx(21.25, abs=0.01)
    assert rows["L1"]["wedge_loss_pct"] == pytest.approx(30.0, abs=0.01)
    assert (rows["L1"]["deformity"], rows["L1"]["genant_grade"]) == ("wedge", 2)
    assert rows["L2"]["biconcave_loss_pct"] == pytest.approx(22.0, abs=0.01)
    assert (rows["L2"]["deformity"], rows["L2"]["genant_grade"]) == ("biconcave", 1)
    assert (rows["T12"]["deformity"], rows["T12"]["genant_grade"]) == ("none", 0)
    # equal to the folder the command writes with --out, and the files kept
    out = tmp_path / "out"
    again = ok("morphometry", "--landmarks", landmarks, "--patient", "P1", "--out", out)
    assert "not stored again" in again.stdout
    written = json.loads((out / "morphometry.json").read_text())
    assert study["vertebrae"] == written["vertebrae"]
    files = {f["name"]: f for f in study["files"]}
    assert artifact(files["morphometry.json"]["sha256"]) == (out / "morphometry.json").read_bytes()
    assert artifact(files["film.json"]["sha256"]) == landmarks.read_bytes()
    assert {f"morphometry_{lv}.png" for lv in WEDGE_FILM} <= set(files)


def test_morphometry_for_an_unknown_patient_is_refused_before_the_work(isolated_settings, tmp_path):
    result = runner.invoke(
        app,
        ["morphometry", "--landmarks", str(film(tmp_path, WEDGE_FILM)), "--patient", "NOPE"],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "NOPE" in result.output or "patient" in result.output
    out = runner.invoke(app, ["morphometry", "--landmarks", str(tmp_path / "film.json")])
    assert out.exit_code == 2 and "--out" in out.output  # neither --out nor --patient


def _acute_patient(record, pseudonym="P1", *, weeks=2.0, known=()):
    history = json.loads((FHR / "history.json").read_text())
    history |= {"pain_duration_weeks": weeks, "age": 45}
    if known:
        history["known_old_deformities"] = list(known)
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, pseudonym, birth_year=1979)
        save_history(uow, CLINICIAN, pseudonym, history)
        for name in ("nrs.json", "odi.json", "startback.json"):
            save_form(uow, CLINICIAN, pseudonym, json.loads((FHR / name).read_text()))
        save_form(uow, CLINICIAN, pseudonym, form("redflags", "2024-03-04", no_flags()))
        make_plan(uow, CLINICIAN, pseudonym)
        approve_plan(uow, CLINICIAN, pseudonym, version=1)
    return history


def test_new_deformity_with_acute_pain_blocks_live_plans_at_once(record, tmp_path):
    history = _acute_patient(record)
    path = morphometry_file(tmp_path, WEDGE_FILM)
    with record.unit_of_work() as uow:
        saved = save_morphometry(uow, CLINICIAN, "P1", path)
    assert saved.blocked_plans == [1]
    with record.unit_of_work() as uow:
        shown = show_record(uow, CLINICIAN, "P1")
    assert [p.status for p in shown.plans] == ["blocked"]
    (flag,) = shown.open_red_flags
    assert (flag.condition, flag.urgency, flag.blocking) == ("vertebral_fracture", "urgent", True)
    assert "L1 (Genant grade 2 wedge" in flag.action
    with record.unit_of_work() as uow:
        made = make_plan(uow, CLINICIAN, "P1")
    assert (made.plan.status, made.plan.track) == ("blocked", "S0")
    assert made.inputs["morphometry_study"] == saved.id
    # the clinician records them as old: the flag closes, the plan adapts instead of blocking
    with record.unit_of_work() as uow:
        save_history(uow, CLINICIAN, "P1", history | {"known_old_deformities": ["L1", "L2"]})
        assert show_record(uow, CLINICIAN, "P1").open_red_flags == []
        made = make_plan(uow, CLINICIAN, "P1")
    assert made.plan.status == "draft" and made.plan.track != "S0"
    triage = json.loads(made.documents["triage.json"])
    assert triage["findings"]["no_loaded_flexion_levels"] == ["L1", "L2"]
    levels = {d["level"]: d["known_old"] for d in triage["findings"]["vertebral_deformities"]}
    assert levels == {"L1": True, "L2": True}


def test_deformity_without_acute_pain_or_grade_blocks_nothing(record, tmp_path):
    _acute_patient(record, "P1", weeks=30)
    _acute_patient(record, "P2", weeks=2)
    with record.unit_of_work() as uow:
        chronic = save_morphometry(uow, CLINICIAN, "P1", morphometry_file(tmp_path, WEDGE_FILM))
        normal = save_morphometry(
            uow, CLINICIAN, "P2", morphometry_file(tmp_path, NORMAL_FILM, "normal")
        )
        assert chronic.blocked_plans == [] and normal.blocked_plans == []
        made = make_plan(uow, CLINICIAN, "P1")  # a finding to confirm: a draft
    actions = [a["code"] for a in json.loads(made.documents["triage.json"])["actions"]]
    assert "confirm_vertebral_deformity" in actions and made.plan.track != "S0"


def test_record_import_takes_morphometry_and_refuses_a_bad_one(record, tmp_path):
    from spinestab.record.imports import detect_kind, import_file

    path = morphometry_file(tmp_path, WEDGE_FILM)
    renamed = tmp_path / "spine_2024.json"
    renamed.write_bytes(path.read_bytes())
    assert detect_kind(path) == detect_kind(renamed) == "morphometry"
    bad = json.loads(path.read_text())
    bad["vertebrae"][1]["genant_grade"] = 5
    bad_path = write_json(tmp_path / "morphometry_bad.json", bad)
    negative = json.loads(path.read_text())
    negative["vertebrae"][0]["anterior_height_mm"] = -3
    negative_path = write_json(tmp_path / "negative.json", negative)
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
    for wrong, fragment in ((bad_path, "Genant grade"), (negative_path, "out of range")):
        with pytest.raises(InputError, match=fragment), record.unit_of_work() as uow:
            import_file(uow, CLINICIAN, "P1", wrong, "morphometry")
    with record.unit_of_work() as uow:
        assert show_record(uow, CLINICIAN, "P1").morphometry == []
        import_file(uow, CLINICIAN, "P1", renamed, "morphometry")
        assert len(show_record(uow, CLINICIAN, "P1").morphometry[0].vertebrae) == 4


def test_instability_keeps_cervical_levels_and_the_plan_reads_them(record, tmp_path):
    levels = [
        {"level": "C4-C5", "translation_mm": 5.0, "angulation_deg": 8.0, "verdict": "unstable"},
        {"level": "L4-L5", "slip_mm": 2.0, "meyerding_grade": 0, "verdict": "stable"},
    ]
    path = write_json(tmp_path / "instability.json", {"levels": levels})
    _acute_patient(record, weeks=30)
    with record.unit_of_work() as uow:
        saved = save_instability(uow, CLINICIAN, "P1", path)
        made = make_plan(uow, CLINICIAN, "P1")
    assert [lv["level"] for lv in saved.levels] == ["C4-C5", "L4-L5"]
    assert saved.levels[0]["translation_mm"] == 5.0
    assert [lv["region"] for lv in saved.levels] == ["cervical", "lumbar"]
    triage = json.loads(made.documents["triage.json"])
    assert [c["level"] for c in triage["findings"]["cervical"]] == ["C4-C5"]
    refer = [a for a in triage["actions"] if a["code"] == "refer_cervical_finding"]
    assert refer and "C4-C5" in refer[0]["text"]
    assert made.plan.track not in ("S0", "S1", "S2")  # never a lumbar structural track
    profile = json.loads(made.documents["profile.json"])
    assert [lv["level"] for lv in profile["instability"]["cervical_levels"]] == ["C4-C5"]


def test_a_film_of_other_levels_never_hides_an_earlier_deformity(record, tmp_path):
    """Each vertebra's latest measurement counts, from any study (a neck film after L1)."""
    _acute_patient(record, weeks=2)
    neck = {lv: (14.0, 14.0, 14.0) for lv in ("C4", "C5", "C6")}
    with record.unit_of_work() as uow:
        lumbar = save_morphometry(uow, CLINICIAN, "P1", morphometry_file(tmp_path, WEDGE_FILM))
        cervical = save_morphometry(uow, CLINICIAN, "P1", morphometry_file(tmp_path, neck, "n"))
        (flag,) = show_record(uow, CLINICIAN, "P1").open_red_flags
        made = make_plan(uow, CLINICIAN, "P1")
    assert flag.condition == "vertebral_fracture" and "L1 (Genant grade 2 wedge" in flag.action
    assert (made.plan.status, made.plan.track) == ("blocked", "S0")
    assert made.inputs["morphometry_studies"] == [cervical.id, lumbar.id]
    profile = json.loads(made.documents["profile.json"])
    graded = profile["deformities"]["graded_levels"]
    assert graded == ["C4", "C5", "C6", "T12", "L1", "L2", "L3"]
    assert [d["level"] for d in profile["deformities"]["deformities"]] == ["L1", "L2"]
    # a later film of the same vertebrae replaces their measurement: the flag closes
    remeasured = {lv: (25.0, 25.0, 25.0) for lv in ("L1", "L2")}
    with record.unit_of_work() as uow:
        save_morphometry(uow, CLINICIAN, "P1", morphometry_file(tmp_path, remeasured, "again"))
        assert show_record(uow, CLINICIAN, "P1").open_red_flags == []


def test_a_cervical_study_never_hides_an_earlier_lumbar_one(record, tmp_path):
    """The plan reads each segment's latest result among the episode's studies."""
    neck = write_json(
        tmp_path / "neck.json",
        {"levels": [{"level": "C4-C5", "translation_mm": 5.0, "verdict": "unstable"}]},
    )
    stable = write_json(
        tmp_path / "again.json",
        {"levels": [{"level": "L4-L5", "slip_mm": 1.0, "meyerding_grade": 0, "verdict": "stable"}]},
    )
    _acute_patient(record, weeks=30)
    struct = DEMO_PATIENTS / "structural_spondylolisthesis" / "instability.json"
    with record.unit_of_work() as uow:
        lumbar = save_instability(uow, CLINICIAN, "P1", struct)
        cervical = save_instability(uow, CLINICIAN, "P1", neck)
        made = make_plan(uow, CLINICIAN, "P1")
    assert made.inputs["instability_studies"] == [cervical.id, lumbar.id]
    profile = json.loads(made.documents["profile.json"])["instability"]
    expected = json.loads(struct.read_text())
    assert [lv["level"] for lv in profile["levels"]] == [
        lv["level"] for lv in expected["levels"] if not lv["level"].startswith("C")
    ]
    assert (profile["worst_verdict"], profile["max_meyerding_grade"]) == ("unstable", 2)
    assert [lv["level"] for lv in profile["cervical_levels"]] == ["C4-C5"]
    # a later study of L4-L5 replaces that segment's result, the others stay
    with record.unit_of_work() as uow:
        save_instability(uow, CLINICIAN, "P1", stable)
        made = make_plan(uow, CLINICIAN, "P1")
    profile = json.loads(made.documents["profile.json"])["instability"]
    by_level = {lv["level"]: lv for lv in profile["levels"]}
    assert by_level["L4-L5"]["verdict"] == "stable" and by_level["L4-L5"]["slip_mm"] == 1.0
    assert len(by_level) == len(expected["levels"])


def test_a_taller_front_is_kept_as_a_negative_loss(record, tmp_path):
    """``spinestab morphometry`` writes losses as 1 - Ha/Hp (CLINICAL_LOGIC §4.6): a normal
    vertebra taller in front has a negative wedge loss, and the record stores it as given."""
    from spinestab.record.imports import import_file

    taller_front = json.loads(morphometry_file(tmp_path, WEDGE_FILM).read_text())
    taller_front["vertebrae"][0]["wedge_loss_pct"] = -4.9
    path = write_json(tmp_path / "taller_front.json", taller_front)
    with record.unit_of_work() as uow:
        create_patient(uow, CLINICIAN, "P1")
        import_file(uow, CLINICIAN, "P1", path, "morphometry")
        stored = show_record(uow, CLINICIAN, "P1").morphometry[0]
    assert len(stored.vertebrae) == len(taller_front["vertebrae"])
    over = json.loads(path.read_text())
    over["vertebrae"][0]["wedge_loss_pct"] = 100.5
    with pytest.raises(InputError, match="out of range"), record.unit_of_work() as uow:
        import_file(uow, CLINICIAN, "P1", write_json(tmp_path / "over.json", over), "morphometry")
