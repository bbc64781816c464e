"""Which files of a patient folder are questionnaires (and which are never read as input)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["OUTPUT_NAMES", "PRODUCER_JSON", "SPECIAL_JSON", "questionnaire_files"]

#: Files a previous ``spinestab plan`` run may have left in the folder; never read as input.
OUTPUT_NAMES = ("profile.json", "triage.json", "plan.json", "progress.json")
#: JSON files the other commands write beside their tables when run with ``--out
#: PATIENT_DIR``: ``summary.json`` (``spinestab mri``), ``wearable_summary.json``
#: (``spinestab wearable``) and the corners derived from masks (``spinestab instability``);
#: never questionnaires.
PRODUCER_JSON = ("summary.json", "wearable_summary.json")
PRODUCER_JSON_PREFIXES = ("landmarks_",)
SPECIAL_JSON = ("history.json", "instability.json", "morphometry.json")


def questionnaire_files(folder: Path) -> list[Path]:
    """List the questionnaire files of a patient folder (and its ``questionnaires/``).

    Outputs of earlier runs, the other commands' JSON files, ``history.json``,
    ``instability.json``, plan versions and session logs are left out.
    """
    files = []
    for base in (folder, folder / "questionnaires"):
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            name = path.name.lower()
            if not path.is_file() or path.suffix.lower() not in (".json", ".yaml", ".yml"):
                continue
            if base == folder and (
                name in SPECIAL_JSON
                or name in OUTPUT_NAMES
                or name in PRODUCER_JSON
                or name.startswith(("plan_v", "sessions", *PRODUCER_JSON_PREFIXES))
            ):
                continue
            files.append(path)
    return files
