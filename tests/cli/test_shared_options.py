"""The options the commands share (issue 16.5): one spelling, --json on stdout, old names kept.

Each ``--json`` test checks the printed object against the files the same run wrote (the
independent truth), and that stdout holds the JSON alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from spinestab.care import demo_patients_dir
from spinestab.cli import app
from spinestab.cli._common import Jurisdiction, Language, legacy_option, use_legacy
from spinestab.errors import InputError

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def stdout_json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_the_choice_enums_match_the_library():
    from spinestab.core.i18n import LANGUAGES
    from spinestab.settings import Settings

    assert tuple(Language) == LANGUAGES
    field = Settings.model_fields["jurisdiction"].annotation
    assert set(Jurisdiction) == set(field.__args__)


def test_plan_json_is_the_summary_of_the_files_written(tmp_path):
    patient = demo_patients_dir() / "functional_high_risk"
    data = stdout_json(run("plan", patient, "--out", tmp_path / "p", "--json", "--lang", "DE"))
    triage = json.loads((tmp_path / "p" / "triage.json").read_text())
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert data["track"] == triage["track"]
    assert data["status"] == plan["status"]
    assert data["language"] == "de"  # the choice is case-insensitive
    assert {name for name in data["files"]} >= {"profile.json", "triage.json", "plan.json"}
    for path in data["files"].values():
        assert Path(path).parent.resolve() == (tmp_path / "p").resolve()


def test_progress_json_is_the_summary_of_the_files_written(tmp_path):
    patient = demo_patients_dir() / "functional_high_risk"
    assert run("plan", patient, "--out", tmp_path / "p").exit_code == 0
    res = run(
        "progress", tmp_path / "p" / "plan.json", patient / "sessions.csv", "--out",
        tmp_path / "v2", "--json",
    )  # fmt: skip
    data = stdout_json(res)
    progress = json.loads((tmp_path / "v2" / "progress.json").read_text())
    assert data["version"] == progress["version"] == 2
    counts: dict[str, int] = {}
    for decision in progress["decisions"]:
        counts[decision["decision"]] = counts.get(decision["decision"], 0) + 1
    assert data["decisions"] == counts


def test_an_unknown_language_or_jurisdiction_is_refused_before_any_work(tmp_path):
    patient = demo_patients_dir() / "low_risk_self_management"
    for args in (("--lang", "fr"), ("--jurisdiction", "WHO")):
        res = run("plan", patient, "--out", tmp_path / "x", *args)
        assert res.exit_code == 2 and args[1] in res.output
        assert not (tmp_path / "x").exists()


def test_wearable_json_is_the_written_summary(tmp_path):
    from spinestab.wearable.synthetic import scripted_recording

    syn = scripted_recording(days=1, fs_hz=25, seed=3)
    np.save(tmp_path / "trunk.npy", syn.trunk)
    out = tmp_path / "out"
    res = run(
        "wearable", "--trunk", tmp_path / "trunk.npy", "--fs", "25", "--start",
        "2024-01-01T00:00:00Z", "--no-pictures", "--out", out, "--json",
    )  # fmt: skip
    data = stdout_json(res)
    assert data["summary"] == json.loads((out / "wearable_summary.json").read_text())
    assert sorted(data["files"]) == sorted(str(p) for p in out.iterdir())


def test_wearable_checks_its_numbers_and_choices_before_the_work(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((10, 3), np.float32))
    base = ["wearable", "--trunk", tmp_path / "t.npy", "--out", tmp_path / "o"]
    for extra, said in (
        (["--fs", "0"], "> 0 Hz"),
        (["--fs", "25", "--utc-offset-h", "15"], "-14 to +14 hours"),
        (["--units", "mg"], "mg"),
        (["--sit-to-stand", "fast"], "fast"),
    ):
        res = run(*base, *extra)
        assert res.exit_code == 2 and said in res.output, (extra, res.output)
        assert not (tmp_path / "o").exists()


def test_an_old_spelling_is_hidden_and_still_works():
    probe = typer.Typer()
    seen = []

    @probe.command()
    def main(
        new: Annotated[bool | None, typer.Option("--new/--no-new")] = None,
        old: Annotated[bool | None, legacy_option("--old/--no-old")] = None,
    ) -> None:
        seen.append(use_legacy(new, old, name="--new", legacy_name="--old", default=True))

    assert runner.invoke(probe, ["--no-old"]).exit_code == 0
    assert runner.invoke(probe, ["--no-new"]).exit_code == 0
    assert runner.invoke(probe, []).exit_code == 0
    assert seen == [False, False, True]
    assert "--old" not in runner.invoke(probe, ["--help"]).output
    assert runner.invoke(probe, ["--new", "--old"]).exit_code == 0  # both, agreeing
    res = runner.invoke(probe, ["--new", "--no-old"])  # both, disagreeing: refused
    assert isinstance(res.exception, InputError) and "--old" in str(res.exception)
    assert seen[-1] is True


@pytest.mark.parametrize("language", list(Language))
def test_language_values_are_plain_text(language):
    assert json.dumps(language) == f'"{language.value}"'


def test_the_command_line_choices_are_the_library_s():
    from spinestab.cli import instability as inst_cli
    from spinestab.cli import mri as mri_cli
    from spinestab.cli import patient as patient_cli
    from spinestab.cli import user as user_cli
    from spinestab.cli import wearable as wearable_cli
    from spinestab.imaging import options
    from spinestab.imaging.grading import GRADING_SCHEMES
    from spinestab.imaging.segment.tools import _TASK_SCHEMES
    from spinestab.instability.assess import TRANSLATION_METHODS
    from spinestab.instability.masks import CORNER_METHODS
    from spinestab.record.patients import SEXES
    from spinestab.service.models import ROLES
    from spinestab.wearable.transfers import SIT_TO_STAND_DETECTORS

    def values(enum):
        return sorted(m.value for m in enum)

    for name in ("Modality", "Contrast", "FatMethod", "Pool", "N4Mask", "AnchorIs", "FfUnits"):
        assert values(getattr(mri_cli, name)) == values(getattr(options, name)), name
    assert values(mri_cli.Segmenter) == values(options.Segmenter)
    assert values(mri_cli.GradeScheme) == sorted(GRADING_SCHEMES)
    assert values(mri_cli.SegmentTask) == sorted(_TASK_SCHEMES)
    assert values(inst_cli.TranslationMethod) == sorted(TRANSLATION_METHODS)
    assert values(inst_cli.CornerMethod) == sorted(CORNER_METHODS)
    assert values(wearable_cli.SitToStand) == sorted(SIT_TO_STAND_DETECTORS)
    assert values(user_cli.Role) == sorted(ROLES)
    assert values(patient_cli.Sex) == sorted(SEXES)


MUSCLEMAP = Path(__file__).resolve().parents[1] / "data" / "imaging" / "musclemap"


def test_mri_pictures_and_the_older_qa_spelling(tmp_path):
    base = [
        "mri", "--image", MUSCLEMAP / "sub-0001_axial_lumbar_mri.nii.gz", "--mask",
        MUSCLEMAP / "sub-0001_axial_lumbar_mri_dseg.nii.gz", "--no-bias-correction",
    ]  # fmt: skip
    runs = {"default": [], "no_pictures": ["--no-pictures"], "no_qa": ["--no-qa"]}
    for name, extra in runs.items():
        res = run(*base, *extra, "--out", tmp_path / name)
        assert res.exit_code == 0, res.output
    assert list((tmp_path / "default").glob("qa_*.png"))
    for name in ("no_pictures", "no_qa"):
        assert not list((tmp_path / name).glob("qa_*.png"))
        assert (tmp_path / name / "muscle_quality.csv").read_bytes() == (
            tmp_path / "default" / "muscle_quality.csv"
        ).read_bytes()
    assert "--qa" not in run("mri", "--help").output
    res = run(*base, "--pictures", "--no-qa", "--out", tmp_path / "both")
    assert res.exit_code == 2 and "--qa" in res.output and not (tmp_path / "both").exists()
    data = stdout_json(run(*base, "--no-pictures", "--json", "--out", tmp_path / "j"))
    assert data == json.loads((tmp_path / "j" / "summary.json").read_text())


EXAMPLES = Path(__file__).resolve().parents[2] / "src/spinestab/data/examples/instability"


def test_instability_rules_and_the_older_thresholds_spelling(tmp_path):
    views = [f"--{v}" if i % 2 == 0 else EXAMPLES / f"{v}.json" for v in (
        "neutral", "flexion", "extension") for i in range(2)]  # fmt: skip
    new = stdout_json(run("instability", *views, "--rules", "nordsten", "--out", tmp_path / "a",
                          "--no-pictures", "--json"))  # fmt: skip
    old = stdout_json(run("instability", *views, "--thresholds", "nordsten", "--out",
                          tmp_path / "b", "--no-pictures", "--json"))  # fmt: skip
    assert new["thresholds"]["name"] == "nordsten"
    assert new == old
    assert new == json.loads((tmp_path / "a" / "instability.json").read_text())
    res = run("instability", *views, "--rules", "slip", "--thresholds", "nordsten", "--out",
              tmp_path / "c")  # fmt: skip
    assert res.exit_code == 2 and "--thresholds" in res.output
    help_text = run("instability", "--help").output
    assert "--rules" in help_text and "--thresholds" not in help_text


def test_patient_and_user_json(isolated_settings):
    added = stdout_json(run("patient", "add", "P-1", "--sex", "FEMALE", "--birth-year", "1970",
                            "--json"))  # fmt: skip
    assert added == {"pseudonym": "P-1", "sex": "female", "birth_year": 1970}
    listed = stdout_json(run("patient", "list", "--json"))
    assert listed == [{"pseudonym": "P-1", "sex": "female", "birth_year": 1970, "assessments": 0}]
    assert run("patient", "add", "P-2", "--sex", "x").exit_code == 2
    assert stdout_json(run("user", "list", "--json")) == []


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("fhir") is None, reason="fhir.resources missing"
)
def test_fhir_export_and_report_json(tmp_path):
    patient = demo_patients_dir() / "functional_high_risk"
    data = stdout_json(run("fhir", "export", patient, "--out", tmp_path / "b.json", "--json"))
    bundle = json.loads((tmp_path / "b.json").read_text())
    assert data == {
        "patient": "functional_high_risk",
        "resources": len(bundle["entry"]),
        "file": str(tmp_path / "b.json"),
    }
    checked = stdout_json(run("fhir", "import", tmp_path / "b.json", "--check", "--json"))
    assert checked["pseudonym"] == "functional_high_risk" and checked["stored"] is None
    report = stdout_json(run("report", patient, "--out", tmp_path / "r.html", "--json"))
    assert report["file"] == str(tmp_path / "r.html") and report["format"] == "html"
    assert "<html" in (tmp_path / "r.html").read_text()
    res = run("report", patient, "--out", tmp_path / "missing" / "r.html")
    assert res.exit_code == 2 and "does not exist" in res.output
