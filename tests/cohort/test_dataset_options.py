"""Reading a cohort: the BIDS-like tree and the manifest CSV list the same tasks; options."""

from __future__ import annotations

import pytest
import typer

from spinestab.cli import app
from spinestab.cohort import discover, parse_options, read_participants
from spinestab.cohort.options import options_flags
from spinestab.cohort.tasks import file_sha256
from spinestab.errors import InputError


def _contents(tasks):
    """Tasks by id with their settings and the content hashes of their inputs (not paths)."""
    return {
        t.task_id: (
            t.settings,
            sorted((role, file_sha256(p)) for role, p in t.inputs),
            t.sex,
            t.age,
            t.problem,
        )
        for t in tasks
    }


def test_tree_and_manifest_list_the_same_tasks(broken_cohort):
    tree, people_tree = discover(broken_cohort)
    listed, people_listed = discover(broken_cohort / "manifest.csv")
    assert [t.task_id for t in tree] == [t.task_id for t in listed]
    assert _contents(tree) == _contents(listed)
    assert people_tree == people_listed
    assert {t.kind for t in tree} == {"mri", "wearable", "forms"}
    mri = next(t for t in tree if t.task_id == "sub-001/mri")
    assert dict(mri.inputs).keys() == {"water", "fat", "mask", "vertebrae"}
    assert mri.settings["sex"] == people_tree["sub-001"].sex
    thighs = [t.subject for t in tree if any(r == "thigh" for r, _ in t.inputs)]
    assert thighs == ["sub-001", "sub-003", "sub-005"]


def test_sessions_and_subject_problems(tmp_path):
    root = tmp_path / "ds"
    for sub, ses, name in [
        ("sub-a", "ses-1", "sub-a_ses-1_tracksys-trunk_motion.csv"),
        ("sub-a", "ses-2", "sub-a_ses-2_tracksys-trunk_motion.csv"),
        ("sub-b", None, "sub-b_tracksys-thigh_motion.csv"),  # no trunk file
        ("sub-c", None, "sub-c_run-1_tracksys-trunk_motion.cwa"),
        ("sub-c", None, "sub-c_run-2_tracksys-trunk_motion.cwa"),  # two trunk files
    ]:
        folder = root / sub / (ses or "") / "motion"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    (root / "sub-a" / "ses-1" / "motion" / "sub-a_ses-1_motion.json").write_text("{}")
    tasks, people = discover(root)
    by_id = {t.task_id: t for t in tasks}
    assert sorted(by_id) == ["sub-a/ses-1/wearable", "sub-a/ses-2/wearable", "sub-b/wearable",
                             "sub-c/wearable"]  # fmt: skip
    assert (
        by_id["sub-a/ses-2/wearable"].session == "ses-2"
        and not by_id["sub-a/ses-2/wearable"].problem
    )
    assert "thigh recording without a trunk" in by_id["sub-b/wearable"].problem
    assert "2 trunk recordings" in by_id["sub-c/wearable"].problem
    assert set(people) == {"sub-a", "sub-b", "sub-c"}  # no participants.tsv: ids only


def test_manifest_rows_with_bad_kind_or_options_fail_alone(tmp_path):
    (tmp_path / "m.csv").write_text(
        "subject,session,kind,path,options,sex,age\n"
        "s1,,wearable,a.csv,--units g --fs 25,F,30\n"
        "s2,,wearable,b.csv,--unit g,M,40\n"
        "s3,,pet,c.nii,,,\n"
        "s4,v1,forms,f1.json,,,\n"
        "s4,v1,forms,f2.json,,,\n"
    )
    tasks, people = discover(tmp_path / "m.csv")
    by_id = {t.task_id: t for t in tasks}
    assert by_id["s1/wearable"].settings == {"units": "g", "fs_hz": 25.0}
    assert by_id["s1/wearable"].inputs == (("trunk", str(tmp_path / "a.csv")),)
    assert by_id["s1/wearable"].sex == "female" and by_id["s1/wearable"].age == 30
    assert (
        "unknown option" in by_id["s2/wearable"].problem
        and "--unit" in by_id["s2/wearable"].problem
    )
    assert "unknown kind 'pet'" in by_id["s3/pet"].problem
    assert [p for _, p in by_id["s4/v1/forms"].inputs] == [
        str(tmp_path / "f1.json"),
        str(tmp_path / "f2.json"),
    ]
    assert people["s2"].sex == "male" and people["s3"].sex is None


def test_manifest_without_its_columns_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text("id,file\n1,a.csv\n")
    with pytest.raises(InputError, match="manifest lacks columns"):
        discover(tmp_path / "m.csv")
    with pytest.raises(InputError, match="dataset not found"):
        discover(tmp_path / "nothing")


def test_participants_tsv(tmp_path):
    p = tmp_path / "participants.tsv"
    p.write_text("participant_id\tsex\tage\tarm\nsub-1\tF\t89+\tA\nsub-2\tm\tn/a\tB\n")
    people = read_participants(p)
    assert people["sub-1"].sex == "female" and people["sub-1"].age == 89
    assert people["sub-2"].sex == "male" and people["sub-2"].age is None
    assert people["sub-2"].extra == {"arm": "B"}
    p.write_text("participant_id\tsex\tage\nsub-1\tF\tforty\n")
    with pytest.raises(InputError, match="line 2 age"):
        read_participants(p)


def test_options_are_read_as_the_command_reads_them(tmp_path):
    opts = parse_options(
        "wearable",
        "--thigh legs/t.cwa --units=m/s2 --utc-offset-h -5 --standing "
        "2024-01-01T08:00/2024-01-01T08:01 --no-pictures --allow-truncated",
        base_dir=tmp_path,
    )
    assert opts.inputs == {"thigh": str(tmp_path / "legs" / "t.cwa")}
    assert opts.settings["units"] == "m/s2" and opts.settings["utc_offset_h"] == -5
    assert opts.settings["standing_s"] == [1704096000.0, 1704096060.0]
    assert opts.settings["allow_truncated"] is True and "pictures" not in opts.settings
    for text, message in [
        ("--units kg", "unknown value of --units"),
        ("--utc-offset-h 15", "out of range"),
        ("--fs", "needs a value"),
        ("--fs 0", "out of range"),
        ("--units g --units g", "given twice"),
        ("--standing 2024-01-01T08:00", "START/END"),
        ("--trunk x.cwa", "unknown option"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_options("wearable", text, base_dir=tmp_path)
    with pytest.raises(InputError, match="unknown option for a forms task"):
        parse_options("forms", "--units g", base_dir=tmp_path)


def test_wearable_options_are_those_of_spinestab_wearable():
    command = typer.main.get_command(app).commands["wearable"]
    cli_flags = {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}
    ours = set(options_flags("wearable")) - {"--allow-truncated"}  # cohort only
    # --patient saves into one patient's record: a cohort task writes its own folder;
    # --json only chooses how the command prints its result; the cohort writes tables
    assert ours == cli_flags - {"--trunk", "--out", "--help", "--patient", "--json"}


def test_bad_options_for_every_task_are_refused_before_any_work(clean_cohort, tmp_path):
    from typer.testing import CliRunner

    for given, message in [
        ("mri=--classes 4", "unknown value of --classes"),
        ("wearable=--units kg", "unknown value of --units"),
        ("pet=--fast", "options must name their kind"),
    ]:
        args = ["cohort", "run", str(clean_cohort.root), "--out", str(tmp_path / "o")]
        res = CliRunner().invoke(app, [*args, "--options", given])
        assert res.exit_code == 2 and message in res.output, res.output
        assert not (tmp_path / "o").exists()
