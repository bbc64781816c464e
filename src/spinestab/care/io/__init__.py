"""Read and validate the files of a patient folder (reading only; no analysis).

A patient folder holds questionnaire files (JSON/YAML in the format of ``spinestab score``,
read through :mod:`spinestab.clinical`), and optionally ``muscle_quality.csv``
(``spinestab mri``), ``instability.json`` (``spinestab instability``), ``daily.csv``
(``spinestab wearable``) and ``history.json`` (history and examination, format in the
docs). Every file is validated; bad input raises :class:`~spinestab.errors.InputError`.
The profile is built from what these readers return by :mod:`spinestab.care.folder`
(summaries in :mod:`spinestab.care.summarise`).
"""

from spinestab.care.io._common import read_json
from spinestab.care.io.daily import DAILY_COLUMNS, read_daily
from spinestab.care.io.files import questionnaire_files
from spinestab.care.io.history import read_history
from spinestab.care.io.imaging import (
    MUSCLE_COLUMNS,
    read_instability,
    read_morphometry,
    read_muscle_quality,
)

__all__ = [
    "DAILY_COLUMNS",
    "MUSCLE_COLUMNS",
    "questionnaire_files",
    "read_daily",
    "read_history",
    "read_instability",
    "read_json",
    "read_morphometry",
    "read_muscle_quality",
]
