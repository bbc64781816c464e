"""Shared by the live service tests: a scripted stream, its truth, a patient with a plan."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from spinestab import record
from spinestab.record import Actor, Record
from spinestab.record.imports import expand_paths, import_file
from spinestab.store.artifacts import FileArtifactStore
from spinestab.wearable.config import PromptConfig, WearableConfig
from spinestab.wearable.live import LiveMonitor
from spinestab.wearable.stream_batch import StreamBatch, batch_to_bytes, batch_to_json
from spinestab.wearable.synthetic import scripted_recording

FS = 25
G = 9.80665
STAND_S = 12
DEMO = Path(__file__).resolve().parents[2] / "src" / "spinestab" / "data" / "demo_patients"
DOC = Actor(username="doc", role="clinician")
BINARY = {"content-type": "application/octet-stream"}


@functools.cache
def scripted_stream():
    """Samples (m/s^2), their start, and LiveMonitor's prompts under the plan's options."""
    syn = scripted_recording(days=0.5, fs_hz=FS, seed=11, units="m/s2")
    a = 9 * 3600 * FS
    up = syn.trunk_rotation @ np.array([1.0, 0.0, 0.0]) * G
    stand = (up + np.random.default_rng(1).normal(0, 0.1, (FS * STAND_S, 3))).astype(np.float32)
    x = np.concatenate([stand, syn.trunk[a : a + 3 * 3600 * FS]])
    t0 = syn.start_unix_s + 9 * 3600 - STAND_S
    return x, t0


def _truth(x, t0, prompts: PromptConfig, *, utc_offset_h=0.0):
    mon = LiveMonitor(
        fs_hz=FS,
        start_unix_s=t0,
        standing_first_s=STAND_S,
        scale_to_g=1 / G,
        utc_offset_h=utc_offset_h,
        cfg=WearableConfig(prompts=prompts),
    )
    got = mon.feed(x).prompts_unix_s  # delivered while streaming (not those of a flush)
    return sorted(round(p - t0) for p in got)


def approve_demo_plan(app, pseudonym: str, folder: str, tmp_path) -> dict:
    """Import a bundled demo patient's files into ``pseudonym``, make and approve the plan."""
    state = app.state.spinestab
    rec = Record(state.sessions, FileArtifactStore(tmp_path / "artifacts"))
    with rec.unit_of_work() as uow:
        for kind, path in expand_paths([DEMO / folder]):
            if kind != "sessions":
                import_file(uow, DOC, pseudonym, path, kind)
        made = record.make_plan(uow, DOC, pseudonym)
        if made.plan.status == "draft":
            record.approve_plan(uow, DOC, pseudonym, version=made.plan.version)
        plan = record.get_plan(uow, DOC, pseudonym)
    return plan.plan


def _batches(x, t0, *, seconds, start_seq=0, first=0):
    out = []
    for i, a in enumerate(range(first, x.shape[0], seconds * FS)):
        out.append(
            StreamBatch(start_seq + i, t0 + a / FS, samples=x[a : a + seconds * FS], fs_hz=FS)
        )
    return out


def _post(client, csrf, batch, *, binary=True, **params):
    params = {"units": "m/s2", "standing_s": STAND_S} | params
    headers = {"X-CSRF-Token": csrf}
    if binary:
        body = batch_to_bytes(batch, counts_per_unit=1000.0)  # int16 counts, 1 mm/s^2
        return client.post(
            "/api/v1/me/stream", content=body, params=params, headers=headers | BINARY
        )
    return client.post(
        "/api/v1/me/stream", json=batch_to_json(batch), params=params, headers=headers
    )


def _seconds(prompts, t0):
    return sorted(round(_unix(p["due_at"]) - t0) for p in prompts)


def _unix(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _sse(client, **params):
    """Read one prompts event stream to its end: (status, [prompt dicts])."""
    status, prompts = None, []
    with client.stream("GET", "/api/v1/me/prompts", params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                if event == "status":
                    status = data
                elif event == "prompt":
                    prompts.append(data)
    return status, prompts
