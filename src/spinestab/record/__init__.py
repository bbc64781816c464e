"""The patient record: the one place for every write (validation, safety rules, audit).

Every service takes a :class:`UnitOfWork` (one transaction) and an :class:`Actor`, and
returns a typed result (:mod:`spinestab.record.schemas`). Refusals raise
:class:`~spinestab.errors.InputError` or one of its kinds (``NotFoundError``,
``ConflictError`` / ``AlreadyStoredError``, ``RefusedError``), which the shells map to exit
code 2 (CLI) or 404, 409, 422 and 403 (web). Every write, every read of a record and every
refused attempt is audited.

Examples
--------
A record in a new SQLite file (``open_record()`` alone opens the one of the settings):

>>> import tempfile
>>> from pathlib import Path
>>> from spinestab.record import Actor, create_patient, open_record
>>> from spinestab.settings import Settings
>>> folder = Path(tempfile.mkdtemp())
>>> settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'record.sqlite3'}")
>>> alice = Actor(username="alice", role="clinician")
>>> with open_record(settings) as record, record.unit_of_work() as uow:
...     create_patient(uow, alice, "P-001", birth_year=1979).pseudonym
'P-001'
>>> import shutil
>>> shutil.rmtree(folder)

See ``docs/record.md`` for the whole API.

"""

from spinestab.record._latest import newest_performed_first
from spinestab.record._uow import Actor, Record, UnitOfWork, open_record
from spinestab.record.forms import retract_assessment, save_form, save_form_file
from spinestab.record.history import save_history, save_history_file
from spinestab.record.morphometry import save_morphometry, save_morphometry_folder
from spinestab.record.patients import create_patient, get_patient, list_patients, start_episode
from spinestab.record.plans import approve_plan, get_plan, make_plan, plan_files, progress_plan
from spinestab.record.results import (
    save_imaging,
    save_imaging_folder,
    save_instability,
    save_instability_folder,
    save_wearable,
    save_wearable_folder,
)
from spinestab.record.sessions import save_session_rows, save_sessions, save_sessions_file
from spinestab.record.timeline import reads_of, record_revision, replay_reads, show_record
from spinestab.record.uploads import (
    UPLOAD_KINDS,
    get_uploads,
    list_uploads,
    read_file,
    save_upload,
)
from spinestab.record.worklist import worklist

__all__ = [
    "UPLOAD_KINDS",
    "Actor",
    "Record",
    "UnitOfWork",
    "approve_plan",
    "create_patient",
    "get_patient",
    "get_plan",
    "get_uploads",
    "list_patients",
    "list_uploads",
    "make_plan",
    "newest_performed_first",
    "open_record",
    "plan_files",
    "progress_plan",
    "read_file",
    "reads_of",
    "record_revision",
    "replay_reads",
    "retract_assessment",
    "save_form",
    "save_form_file",
    "save_history",
    "save_history_file",
    "save_imaging",
    "save_imaging_folder",
    "save_instability",
    "save_instability_folder",
    "save_morphometry",
    "save_morphometry_folder",
    "save_session_rows",
    "save_sessions",
    "save_sessions_file",
    "save_upload",
    "save_wearable",
    "save_wearable_folder",
    "show_record",
    "start_episode",
    "worklist",
]
