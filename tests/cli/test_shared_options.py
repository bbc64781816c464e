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
