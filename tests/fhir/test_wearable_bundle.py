"""Wearables in the FHIR Bundle as CLINICAL_LOGIC §6.1 maps them: a Device per sensor, day
Observations with ``device`` and ``effectivePeriod`` (the span the recording covers), and
exact round trips (export -> import -> export), on SQLite and PostgreSQL.

Recordings: the real AX6 sample file (``tests/data/wearable/ax6_sample.cwa``, 1.75 minutes)
analysed with a +2 h clock offset, and a scripted trunk + thigh recording starting
2024-01-01 08:00 UTC for 30 hours, analysed with +1 h (so its first day is covered from 09:00
local to midnight and its second from midnight to 15:00).
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import numpy as np
import pytest

pytest.importorskip("fhir.resources")
pytest.importorskip("pyarrow")

import fhir_codes
from fhir.resources.R4B import get_fhir_model_class
from fhir_fixtures import *  # noqa: F403 (the fixtures)
from fhir_fixtures import ALICE, DEMO, ROOT

from spinestab import record as services
from spinestab.errors import InputError
from spinestab.fhir import build_bundle, read_bundle
from spinestab.fhir.stored import export_from_record, import_into_record
from spinestab.fhir.wearable import (
    SPANS_OPTION,
    device_resource,
    sensors_from_summary,
    sensors_of_device,
)

BOB = services.Actor(username="bob", role="clinician")
AX6 = ROOT / "tests" / "data" / "wearable" / "ax6_sample.cwa"
START = dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two ``spinestab wearable`` folders (real AX6 file; scripted trunk + thigh)."""
    from typer.testing import CliRunner

    from spinestab.cli import app
    from spinestab.wearable.synthetic import scripted_recording

    root = tmp_path_factory.mktemp("wear")
    syn = scripted_recording(days=1.25, fs_hz=25, seed=21, start_unix_s=START.timestamp())
    np.save(root / "trunk.npy", syn.trunk)
    np.save(root / "thigh.npy", syn.thigh)
    (root / "meta.json").write_text(json.dumps({"fs": 25, "start": START.isoformat()}))
    runs = {
        "ax6": ["--trunk", str(AX6), "--utc-offset-h", "2"],
        "pair": [
            "--trunk",
            str(root / "trunk.npy"),
            "--thigh",
            str(root / "thigh.npy"),
            "--utc-offset-h",
            "1",
        ],
    }
    for name, args in runs.items():
        res = CliRunner().invoke(app, ["wearable", *args, "--out", str(root / name)])
        assert res.exit_code == 0, res.output
    return root


@pytest.fixture
def wearer(record, recordings):
    """P-wear: two forms and the two recordings, saved as ``spinestab wearable --patient``."""
    demo = DEMO / "functional_high_risk"
    with record.unit_of_work() as uow:
        services.create_patient(uow, ALICE, "P-wear")
        for name in ("startback", "odi"):
            services.save_form_file(uow, ALICE, "P-wear", demo / f"{name}.json")
        for name in ("ax6", "pair"):
            services.save_wearable_folder(uow, ALICE, "P-wear", recordings / name)
    return "P-wear"


def _bundle(record):
    with record.unit_of_work() as uow:
        return build_bundle(export_from_record(uow, ALICE, "P-wear", language="en"))


def _of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _daily(folder):
    with open(folder / "daily.csv", encoding="utf-8") as fh:
        return {row["date"]: row for row in csv.DictReader(fh)}


def _sensors(bundle):
    return {
        d["identifier"][0]["value"]: d
        for d in _of(bundle, "Device")
        if d.get("identifier", [{}])[0].get("system") == "urn:spinestab:wearable-sensor"
    }


def test_each_sensor_is_a_pseudonymous_device(record, wearer):
    bundle = _bundle(record)
    sensors = _sensors(bundle)
    assert set(sensors) == {
        "wearable recording 1/trunk",
        "wearable recording 2/trunk",
        "wearable recording 2/thigh",
    }
    ax6 = sensors["wearable recording 1/trunk"]
    # the CWA header says AX6 (an Axivity device) sampled at 100 Hz
    assert ax6["manufacturer"] == "Axivity" and ax6["modelNumber"] == "AX6"
    assert ax6["deviceName"] == [{"name": "AX6", "type": "model-name"}]
    assert ax6["property"][0]["valueQuantity"][0] == {
        "value": 100.0, "unit": "Hz", "system": "http://unitsofmeasure.org", "code": "Hz"
    }  # fmt: skip
    # arrays in .npy files name no device: the file format, no maker claimed
    thigh = sensors["wearable recording 2/thigh"]
    assert thigh["deviceName"] == [{"name": "npy", "type": "other"}]
    assert "manufacturer" not in thigh and "modelNumber" not in thigh
    for device in sensors.values():  # no patient, no file name, no serial number
        assert not {"patient", "serialNumber", "udiCarrier", "note"} & set(device)
        assert "trunk.npy" not in json.dumps(device) and str(AX6.name) not in json.dumps(device)


def test_day_observations_name_their_device_and_the_span_covered(record, wearer, recordings):
    bundle = _bundle(record)
    sensors = _sensors(bundle)
    urls = {f"urn:uuid:{d['id']}": name for name, d in sensors.items()}
    days = {}
    for obs in _of(bundle, "Observation"):
        if "effectivePeriod" in obs:
            recording = obs["identifier"][0]["value"]
            assert urls[obs["device"]["reference"]] == f"{recording}/trunk"
            days.setdefault((recording, obs["effectivePeriod"]["start"]), []).append(obs)
    spans = {k: v[0]["effectivePeriod"] for k, v in days.items()}
    assert {v["start"]: v["end"] for k, v in spans.items() if k[0].endswith("2")} == {
        "2024-01-01T09:00:00+01:00": "2024-01-02T00:00:00+01:00",
        "2024-01-02T00:00:00+01:00": "2024-01-02T15:00:00+01:00",
    }
    # each span is as long as the day's wear + non-wear time in daily.csv
    for (recording, _), period in spans.items():
        table = _daily(recordings / ("ax6" if recording.endswith("1") else "pair"))
        row = table[period["start"][:10]]
        start, end = (dt.datetime.fromisoformat(period[k]) for k in ("start", "end"))
        covered = float(row["wear_min"]) + float(row["nonwear_min"] or 0)
        assert abs((end - start).total_seconds() / 60 - covered) < 1 / 60 + 1e-6, period
    (ax6,) = [p for k, p in spans.items() if k[0].endswith("1")]
    assert ax6["start"].endswith("+02:00")
    # steps of a partly covered day: LOINC 55423-8 (not the 24-hour 41950-7), a count
    steps = [o for v in days.values() for o in v if o["code"]["coding"][0]["code"] == "55423-8"]
    assert len(steps) == 3 and {o["valueQuantity"]["code"] for o in steps} == {"{steps}"}
    assert sorted(o["valueQuantity"]["value"] for o in steps) == sorted(
        float(r["steps"])
        for f in ("ax6", "pair")
        for r in _daily(recordings / f).values()
        if r["steps"]
    )


def test_wearable_bundle_is_valid_r4b_and_matches_the_schema(record, wearer, schema_validator):
    _, validator = schema_validator
    bundle = _bundle(record)
    fhir_codes.check_bundle(bundle, validator)


def test_export_import_export_keeps_devices_and_spans(record, other_record, wearer):
    first = _bundle(record)
    text = json.dumps(first, indent=2, ensure_ascii=False)
    with other_record.unit_of_work() as uow:
        done = import_into_record(uow, BOB, read_bundle(json.loads(text)))
    assert done.wearable == 2 and not done.not_stored
    again = _bundle(other_record)
    assert json.dumps(again, indent=2, ensure_ascii=False) == text
    # the received recordings keep their spans (no per_second.parquet came with them)
    with other_record.unit_of_work() as uow:
        received = services.show_record(uow, ALICE, "P-wear").wearable
    assert [sorted(r.options[SPANS_OPTION]) for r in received] == [
        ["2019-10-29"],  # the AX6 sample's day
        ["2024-01-01", "2024-01-02"],
    ]


def test_an_edited_device_is_refused_and_nothing_stored(record, other_record, wearer):
    bundle = _bundle(record)
    (ax6,) = [d for d in _of(bundle, "Device") if d.get("manufacturer") == "Axivity"]
    ax6["manufacturer"] = "Elsewhere"
    refused = pytest.raises(InputError, match="Devices of a wearable recording disagree")
    with refused, other_record.unit_of_work() as uow:
        import_into_record(uow, BOB, read_bundle(bundle))
    with other_record.unit_of_work() as uow:
        assert not services.list_patients(uow, ALICE)


@pytest.mark.parametrize(
    ("device", "maker", "model"),
    [
        ("AX3", "Axivity", "AX3"),
        ("GENEActiv", "Activinsights", "GENEActiv"),
        ("ActiGraph wGT3XBT", "ActiGraph", "wGT3XBT"),
        ("ActiLife CSV", "ActiGraph", None),
        ("csv", None, None),
    ],
)
def test_device_strings_of_the_readers_round_trip(device, maker, model):
    summary = {"trunk": {"device": device, "fs_hz": 30}}
    (sensor,) = sensors_from_summary(summary, recording="wearable recording 1")
    assert (sensor.manufacturer, sensor.model) == (maker, model)
    resource = {"resourceType": "Device", "id": "x", **device_resource(sensor)}
    get_fhir_model_class("Device").model_validate(resource)
    assert sensors_of_device([resource]) == (sensor,)
