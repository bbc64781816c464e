"""``/api/v1/me/stream`` and ``/api/v1/me/prompts``: the live prompt service (issue 13.3).

- ``POST /me/stream``: one batch of the patient's stream (JSON, or the binary format with
  ``Content-Type: application/octet-stream``; :mod:`spinestab.wearable.stream_batch`).
  Query: ``stream`` (name, default ``default``), and for the first batch ``units``
  (``auto``, ``g``, ``m/s2``), ``utc_offset_min`` and ``standing_s``. Answers 200 with the
  prompts due (202 when the batch is early and held), 409 for time going backwards or a
  stream not started with seq 0, 413 for a body over the limit, 415 for another content
  type, 422 for a bad batch (units, gap, format), 503 when the record failed (resend).
- ``GET /me/stream``: whether the patient is prompted (and why not), options, streams.
- ``GET /me/prompts``: server-sent events: ``status`` once, then ``prompt`` events (``id``
  is the prompt's id; ``Last-Event-ID`` or ``?after=`` resumes after it).
- ``POST /me/prompts/snooze`` ``{"minutes": N}`` (default the plan's snooze; 0 ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from spinestab import record
from spinestab.errors import ConflictError, InputError
from spinestab.record.live import list_prompts, live_status, snooze_prompts
from spinestab.service.deps import PatientUser, SessionDep, StateDep
from spinestab.service.live import live_service
from spinestab.wearable.live_checks import StreamOptions, check_stream_name
from spinestab.wearable.live_hub import StreamUnavailableError
from spinestab.wearable.live_store import StreamKey
from spinestab.wearable.stream_batch import batch_from_bytes, batch_from_json

__all__ = ["router"]

router = APIRouter(prefix="/me", tags=["live"])

BINARY_TYPES = ("application/octet-stream", "application/vnd.spinestab.batch")


def _own(user: PatientUser) -> str:
    if not user.patient_pseudonym:
        raise HTTPException(403, "this account is not tied to a patient")
    return user.patient_pseudonym


def _actor(user: PatientUser) -> record.Actor:
    return record.Actor(username=user.username, role="patient", patient=user.patient_pseudonym)


def _parse(content_type: str, body: bytes) -> Any:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in BINARY_TYPES:
        return batch_from_bytes(body)
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InputError("the batch is not valid JSON", item="body") from None
        return batch_from_json(data)
    raise HTTPException(
        415, "send a batch as application/json or application/octet-stream (binary format)"
    )


def _prompt_json(p: Any) -> dict[str, Any]:
    import datetime as dt

    return {
        "id": p.id,
        "stream": p.stream,
        "due_at": dt.datetime.fromtimestamp(p.unix_s, dt.UTC).isoformat().replace("+00:00", "Z"),
        "second": p.second,
        "seq": p.seq,
        "status": p.status,
    }


@router.post(
    "/stream",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={202: {"description": "held"}, 409: {}, 413: {}, 415: {}, 503: {}},
)
async def post_stream(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    stream: Annotated[str, Query(max_length=64)] = "default",
    units: Annotated[str, Query(max_length=8)] = "auto",
    utc_offset_min: Annotated[float, Query(ge=-840, le=840)] = 0.0,
    standing_s: Annotated[int, Query(ge=10, le=120)] = 10,
) -> JSONResponse:
    """Take one batch of the patient's stream; return the prompts that fell due."""
    pseudonym = _own(user)
    key = StreamKey(pseudonym, check_stream_name(stream))
    options = StreamOptions(
        units=units, utc_offset_h=utc_offset_min / 60.0, standing_first_s=standing_s
    )
    body = await request.body()
    batch = await run_in_threadpool(_parse, request.headers.get("content-type", ""), body)
    session.commit()  # the step writes in its own transaction: hold no lock while it runs
    live = live_service(request.app)
    try:
        out = await run_in_threadpool(live.hub.advance, key, batch, options, actor=user.username)
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except StreamUnavailableError as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
    if any(p.status == "sent" for p in out.prompts):
        live.notices.notify(pseudonym)
    return JSONResponse(
        {
            "status": out.status,
            "next_seq": out.next_seq,
            "gap_s": round(out.gap_s, 3),
            "units": out.units,
            "prompting": out.policy.options is not None,
            "reason": out.policy.reason,
            "prompts": [_prompt_json(p) for p in out.prompts],
        },
        status_code=202 if out.status == "held" else 200,
    )


@router.get("/stream")
def get_stream(request: Request, user: PatientUser) -> dict[str, Any]:
    """Whether the patient is prompted now (and why not), the options, their streams."""
    with live_service(request.app).record.unit_of_work() as uow:
        return live_status(uow, _actor(user), _own(user)).model_dump(mode="json")


@router.post(
    "/prompts/snooze",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def snooze(request: Request, user: PatientUser) -> dict[str, Any]:
    """Snooze prompts for ``minutes`` (default: the plan's snooze; 0 ends the snooze)."""
    body = await request.body()
    minutes = None
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            raise InputError("the body is not valid JSON", item="body") from None
        if not isinstance(data, dict) or set(data) - {"minutes"}:
            raise InputError('send {"minutes": N}', item="body")
        minutes = data.get("minutes")
    pseudonym, actor = _own(user), _actor(user)

    def save() -> dict[str, Any]:
        with live_service(request.app).record.unit_of_work() as uow:
            return snooze_prompts(uow, actor, pseudonym, minutes=minutes).model_dump(mode="json")

    return await run_in_threadpool(save)


def _read(
    rec: record.Record, actor: record.Actor, pseudonym: str, after: int, audited: bool
) -> Any:
    with rec.unit_of_work() as uow:
        status = live_status(uow, actor, pseudonym) if audited else None
        return status, list_prompts(uow, actor, pseudonym, after_id=after, audited=False)


@router.get("/prompts", response_class=EventSourceResponse)
async def prompts(
    request: Request,
    state: StateDep,
    user: PatientUser,
    after: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events: ``status``, then each ``prompt`` as it is stored."""
    pseudonym = _own(user)
    actor = _actor(user)
    start = after
    if last_event_id and last_event_id.isdigit():
        start = int(last_event_id)
    live = live_service(request.app)
    status, _ = await run_in_threadpool(_read, live.record, actor, pseudonym, 0, True)
    if start is None:  # a new connection: prompts from now on
        start = status.last_prompt_id
    with_status = status
    settings = state.settings

    async def events() -> AsyncIterator[ServerSentEvent]:
        last = int(start)
        yield ServerSentEvent(
            data=json.dumps(with_status.model_dump(mode="json")), event="status", retry=3000
        )
        handle = live.notices.subscribe(pseudonym)
        ends = time.monotonic() + settings.live_sse_seconds
        try:
            while True:
                _, rows = await run_in_threadpool(_read, live.record, actor, pseudonym, last, False)
                for p in rows:
                    last = p.id
                    yield ServerSentEvent(
                        data=json.dumps(p.model_dump(mode="json")), event="prompt", id=str(p.id)
                    )
                left = ends - time.monotonic()
                if left <= 0 or await request.is_disconnected():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        handle[1].wait(), timeout=min(left, settings.live_poll_seconds)
                    )
                handle[1].clear()
        finally:
            live.notices.unsubscribe(pseudonym, handle)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})
