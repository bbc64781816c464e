"""The live prompt service through the API (issue 13.3): ``/api/v1/me/stream`` and prompts.

Truth: :class:`~spinestab.wearable.live.LiveMonitor` (the single-stream monitor, itself
checked equal to the offline pipeline in tests/wearable/test_live.py) fed the same samples,
with the options ``PromptConfig.from_plan`` gives for the patient's approved plan (the
bundled low-risk demo patient's: a 30-min movement-break interval). The stream is three
hours of a scripted day (09:00-12:00, mostly sitting) after a 12-s declared standing start.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from spinestab.wearable.config import PromptConfig
from spinestab.wearable.stream_batch import StreamBatch

from .conftest import login
from .live_helpers import (
    DEMO,
    FS,
    STAND_S,
    G,
    _batches,
    _post,
    _seconds,
    _sse,
    _truth,
    approve_demo_plan,
    scripted_stream,
)


@pytest.fixture
def day():
    return scripted_stream()


@pytest.fixture
def plan_a(app, tmp_path):
    return approve_demo_plan(app, "P-A", "low_risk_self_management", tmp_path)


def test_prompts_equal_the_monitor_under_repeats_reorders_and_a_restart(
    app, make_app, service_settings, plan_a, day
):
    x, t0 = day
    options = PromptConfig.from_plan(plan_a)
    assert options.static_limit_min == 30
    want = _truth(x, t0, options)
    assert len(want) >= 4
    batches = _batches(x, t0, seconds=600)
    rng = np.random.default_rng(3)
    answered = []
    half = len(batches) // 2
    with TestClient(app) as client:
        csrf = login(client, "pa")
        i = 0
        while i < half:
            b = batches[i]
            if i > 0 and i + 1 < half and rng.random() < 0.4:  # reordered, then repeated
                early = _post(client, csrf, batches[i + 1], binary=False)
                assert early.status_code == 202 and early.json()["status"] == "held"
                r = _post(client, csrf, b)
                assert r.status_code == 200 and r.json()["next_seq"] == i + 2
                answered += r.json()["prompts"]
                again = _post(client, csrf, batches[i + 1])
                assert again.json()["status"] == "duplicate"
                i += 2
                continue
            r = _post(client, csrf, b, binary=bool(i % 2))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "accepted" and body["prompting"] and body["reason"] == "plan"
            answered += body["prompts"]
            rep = _post(client, csrf, b)
            assert rep.json()["status"] == "duplicate"
            assert rep.json()["prompts"] == body["prompts"]  # the same answer, nothing added
            i += 1
    # a restart: a new app (process) on the same database continues the stream
    app2 = make_app(service_settings)
    with TestClient(app2) as client:
        csrf = login(client, "pa")
        r = _post(client, csrf, batches[half - 1])
        assert r.json()["status"] == "duplicate"
        for b in batches[half:]:
            r = _post(client, csrf, b)
            assert r.status_code == 200, r.text
            answered += r.json()["prompts"]
        got = _seconds(answered, t0)
        assert got == want
        assert all(p["status"] == "sent" for p in answered)
        status, streamed = _sse(client, after=0)
        assert status["prompting"] and status["plan_version"] == 1
        assert status["streams"][0]["next_seq"] == len(batches)
        assert [p["id"] for p in streamed] == sorted(p["id"] for p in answered)
        assert _seconds(streamed, t0) == want
        # resumed where it left off: only later prompts
        cut = streamed[1]["id"]
        with client.stream(
            "GET", "/api/v1/me/prompts", headers={"Last-Event-ID": str(cut)}
        ) as response:
            text = "".join(response.iter_text())
        ids = [int(line[3:]) for line in text.splitlines() if line.startswith("id:")]
        assert ids == [p["id"] for p in streamed if p["id"] > cut]


def test_bad_batches_get_clear_errors_and_change_nothing(client, plan_a, day):
    x, t0 = day
    csrf = login(client, "pa")
    one = _batches(x, t0, seconds=60)
    r = _post(client, csrf, one[1])
    assert r.status_code == 409 and "seq 0" in r.json()["detail"]
    r = _post(client, csrf, one[0], units="g")
    assert r.status_code == 422 and "look like m/s^2" in r.json()["detail"]
    assert _post(client, csrf, one[0]).status_code == 200
    r = _post(client, csrf, StreamBatch(1, t0 + 30, samples=x[60 * FS : 120 * FS]))
    assert r.status_code == 409 and "backwards" in r.json()["detail"]
    r = _post(client, csrf, StreamBatch(1, t0 + 60, samples=x[60 * FS : 120 * FS] / G))
    assert r.status_code == 422 and "look like g" in r.json()["detail"]
    r = _post(client, csrf, StreamBatch(1, t0 + 7300, samples=x[60 * FS : 120 * FS]))
    assert r.status_code == 422 and "over an hour" in r.json()["detail"]
    headers = {"X-CSRF-Token": csrf}
    for body, ctype in (
        (b"{not json", "application/json"),
        (b'{"seq": 1, "samples": [[1, 2]]}', "application/json"),
        (b'{"seq": 1, "samples": [[1, 2, 3]], "extra": 1}', "application/json"),
        (b"SPSB\x01\x01" + b"\x00" * 40, "application/octet-stream"),
        (b"short", "application/octet-stream"),
    ):
        r = client.post(
            "/api/v1/me/stream", content=body, headers=headers | {"content-type": ctype}
        )
        assert r.status_code == 422, (body, r.text)
    r = client.post(
        "/api/v1/me/stream", content=b"1,2,3", headers=headers | {"content-type": "text/csv"}
    )
    assert r.status_code == 415
    big = b"[" + b"0," * 700_000 + b"0]"
    r = client.post(
        "/api/v1/me/stream", content=big, headers=headers | {"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = _post(client, csrf, one[1], stream="bad/name")
    assert r.status_code == 422
    # none of these moved the stream: batch 1 in order is taken, with a 0-s gap
    r = _post(client, csrf, one[1])
    assert r.status_code == 200 and r.json()["next_seq"] == 2 and r.json()["gap_s"] == 0
    gap = StreamBatch(2, t0 + 150, samples=x[150 * FS : 180 * FS])
    assert _post(client, csrf, gap).json()["gap_s"] == 30.0


def test_no_plan_or_a_blocked_plan_gives_no_prompts(app, client, day, tmp_path):
    x, t0 = day
    csrf = login(client, "pb")
    assert client.get("/api/v1/me/stream").json()["reason"] == "no_plan"
    answered = []
    for b in _batches(x, t0, seconds=1800):
        r = _post(client, csrf, b)
        assert r.status_code == 200 and not r.json()["prompting"]
        assert r.json()["reason"] == "no_plan"
        answered += r.json()["prompts"]
    assert answered == []
    # an approved plan, then a red-flag screen that blocks it: no prompts again
    approve_demo_plan(app, "P-B", "low_risk_self_management", tmp_path)
    assert client.get("/api/v1/me/stream").json()["prompting"]
    blocking = json.loads((DEMO / "red_flag_cauda_equina" / "redflags.json").read_text())
    r = client.post("/api/v1/me/forms", json=blocking, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    status = client.get("/api/v1/me/stream").json()
    assert not status["prompting"] and status["reason"] == "blocked"
    more = _batches(x, t0 + x.shape[0] / FS, seconds=1800, start_seq=100)
    r = _post(client, csrf, StreamBatch(6, t0 + x.shape[0] / FS, samples=x[: 1800 * FS]))
    assert r.status_code == 200 and r.json()["reason"] == "blocked" and r.json()["prompts"] == []
    assert more  # (the batch above follows the stream without a gap)
    r = client.post("/api/v1/me/prompts/snooze", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "blocked" in r.json()["detail"]


def test_snooze_quiet_hours_and_limits_follow_the_plan(
    app, make_app, service_settings, plan_a, day, tmp_path
):
    x, t0 = day
    options = PromptConfig.from_plan(plan_a)
    want = _truth(x, t0, options)
    with TestClient(app) as client:
        csrf = login(client, "pa")
        assert client.post("/api/v1/me/prompts/snooze", json={"minutes": 5}).status_code == 403
        r = client.post("/api/v1/me/prompts/snooze", json={}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["minutes"] == options.snooze_min == 30
        batches = _batches(x, t0, seconds=1800)
        half = len(batches) // 2
        snoozed = []
        for b in batches[:half]:
            snoozed += _post(client, csrf, b).json()["prompts"]
        assert snoozed and {p["status"] for p in snoozed} == {"snoozed"}
        r = client.post(
            "/api/v1/me/prompts/snooze", json={"minutes": 0}, headers={"X-CSRF-Token": csrf}
        )
        assert r.json()["until"] is None
        sent = []
        for b in batches[half:]:
            sent += _post(client, csrf, b).json()["prompts"]
        assert {p["status"] for p in sent} == {"sent"}
        assert _seconds(snoozed + sent, t0) == want  # the clock ran on; only sending stopped
        _, streamed = _sse(client, after=0)
        assert [p["id"] for p in streamed] == [p["id"] for p in sent]
        for bad in ({"minutes": -1}, {"minutes": 2000}, {"minutes": "x"}, {"hours": 1}, [1]):
            r = client.post("/api/v1/me/prompts/snooze", json=bad, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 422, bad
    # quiet hours are local: the same three hours at 21:00-24:00 local time (UTC+12)
    with TestClient(app) as client:
        csrf = login(client, "pa")
        quiet = []
        for b in _batches(x, t0, seconds=1800):
            r = _post(client, csrf, b, stream="night", utc_offset_min=720)
            quiet += r.json()["prompts"]
        night = _truth(x, t0, options, utc_offset_h=12.0)
        assert _seconds(quiet, t0) == night
        assert len(night) < len(want)  # prompts held back after 22:00 local


def test_streams_are_the_patients_own(app, client, plan_a, day):
    x, t0 = day
    csrf = login(client, "pa")
    for b in _batches(x, t0, seconds=3600):
        assert _post(client, csrf, b).status_code == 200
    status_a, prompts_a = _sse(client, after=0)
    assert prompts_a and status_a["streams"]
    with TestClient(app) as other:
        csrf_b = login(other, "pb")
        status_b = other.get("/api/v1/me/stream").json()
        assert status_b["streams"] == [] and status_b["last_prompt_id"] == 0
        _, prompts_b = _sse(other, after=0)
        assert prompts_b == []
        # P-B's stream of the same name is another stream: it starts at seq 0
        r = _post(other, csrf_b, _batches(x, t0, seconds=60)[1])
        assert r.status_code == 409
    with TestClient(app) as doc:
        csrf_doc = login(doc, "doc")
        r = _post(doc, csrf_doc, _batches(x, t0, seconds=60)[0])
        assert r.status_code == 403
        assert doc.get("/api/v1/me/prompts").status_code == 403
    with TestClient(app) as anonymous:
        assert anonymous.get("/api/v1/me/prompts").status_code == 401


def test_per_second_features_give_the_prompts_of_raw_samples(client, plan_a, day):
    # a phone may send the per-second features (in g) FeatureStream computes on the device
    from spinestab.wearable.stream import FeatureStream
    from spinestab.wearable.stream_batch import BatchFeatures, batch_to_bytes, batch_to_json

    x, t0 = day
    csrf = login(client, "pa")
    headers = {"X-CSRF-Token": csrf}
    device = FeatureStream(fs_hz=FS, scale_to_g=1 / G)
    raw, feat = [], []
    for i, b in enumerate(_batches(x, t0, seconds=1200)):
        r = _post(client, csrf, b, stream="raw")
        assert r.status_code == 200, r.text
        raw += r.json()["prompts"]
        ch = device.feed(b.samples)
        fb = StreamBatch(
            b.seq, b.device_time_unix_s, features=BatchFeatures(ch.g, ch.sd, ch.vert, ch.missing)
        )
        params = {"stream": "features", "standing_s": STAND_S}
        if i % 2:
            r = client.post(
                "/api/v1/me/stream",
                content=batch_to_bytes(fb),
                params=params,
                headers=headers | {"content-type": "application/octet-stream"},
            )
        else:
            r = client.post(
                "/api/v1/me/stream", json=batch_to_json(fb), params=params, headers=headers
            )
        assert r.status_code == 200, r.text
        assert r.json()["units"] == "g"
        feat += r.json()["prompts"]
    assert len(raw) >= 4
    assert _seconds(feat, t0) == _seconds(raw, t0)
    # features in m/s^2 are refused, naming the item
    bad = BatchFeatures(ch.g * G, ch.sd, ch.vert, ch.missing)
    r = client.post(
        "/api/v1/me/stream",
        json=batch_to_json(StreamBatch(99, None, features=bad)),
        params={"stream": "features"},
        headers=headers,
    )
    assert r.status_code == 422 and "must be in g" in r.json()["detail"]
