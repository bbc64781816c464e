"""FHIR R4B export and import of a patient's record (fhir.resources, extra ``fhir``).

:func:`build_bundle` turns :class:`PatientExport` into a Bundle; :func:`read_bundle` reads it
back, so that export, import, export gives the same resources. A stored patient's
:class:`PatientExport` comes from :func:`export_from_record` (everything the record holds,
its files attached); :func:`import_into_record` rebuilds the record from it through the
record services. Mapping and codes: CLINICAL_LOGIC.md §6.1-6.2 (see
:mod:`spinestab.fhir.codes`).
"""

from spinestab.fhir.build import build_bundle, resource_id
from spinestab.fhir.folder import export_from_patient_dir
from spinestab.fhir.model import PatientExport
from spinestab.fhir.read import read_bundle, read_bundle_file
from spinestab.fhir.record_export import export_from_record
from spinestab.fhir.record_import import StoredImport, import_into_record

__all__ = [
    "PatientExport",
    "StoredImport",
    "build_bundle",
    "export_from_patient_dir",
    "export_from_record",
    "import_into_record",
    "read_bundle",
    "read_bundle_file",
    "resource_id",
]
