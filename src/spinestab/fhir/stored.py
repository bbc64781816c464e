"""A stored patient's record as :class:`PatientExport`, and a Bundle back into the record.

:func:`export_from_record` takes everything from the record (issue 10): the history and
examination in force; every stored questionnaire over time; each imaging study's
muscle-quality rows (method, segmenter or mask file, DICOM study and series); each
instability study's measures and verdicts per segment (cervical and lumbar); each wearable
recording's days; the open red flags with their actions; the plan in force (or, before any
approval, the latest draft) with who approved it and the triage it was made from. The
record's own files travel with it as DocumentReference attachments (``muscle_quality.csv``,
``summary.json``, QA overlays, ``instability.json`` with its landmarks and picture,
``daily.csv``, ``plan.json``, ``triage.json``...), so that :func:`import_into_record` can
rebuild the record through the record services and export, import, export gives the same
resources.

Not carried: session logs and outcome values, episodes of care (everything lands in the
open episode), earlier history and plan versions, retracted forms, the analyses' input
images and recordings (too large; a received study has no input files, so it cannot be
re-analysed or exported as DICOM SEG), wearable timelines and ``per_second.parquet``.
"""

from __future__ import annotations

from spinestab.fhir.record_export import export_from_record
from spinestab.fhir.record_import import StoredImport, import_into_record

__all__ = [
    "StoredImport",
    "export_from_record",
    "import_into_record",
]
