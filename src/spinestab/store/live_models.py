"""The live prompt service's tables (issue 13.3): streams, prompts, snoozes.

Migration ``0004_live``. Kept apart from :mod:`spinestab.store.models` (the patient
record's schema); imported by :mod:`spinestab.store` so that the metadata always holds them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from spinestab.store.models import Base, _Created

__all__ = ["LivePrompt", "LiveSnooze", "LiveStream"]


class LiveStream(_Created, Base):
    """A patient's live stream (issue 13.3): where it stands and the engine's state.

    ``state`` is :meth:`spinestab.wearable.engine.LiveEngine.stream_state` (an ``.npz``, no
    pickle); ``version`` grows by one with every saved step, so a server process holding
    an older copy in memory knows to reload it (:mod:`spinestab.record.live`).
    """

    __tablename__ = "live_streams"
    __table_args__ = (UniqueConstraint("patient_id", "name", name="uq_live_stream_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    fs_hz: Mapped[int] = mapped_column(Integer)
    units: Mapped[str] = mapped_column(String(8))
    start_unix_s: Mapped[float] = mapped_column(Float)
    utc_offset_h: Mapped[float] = mapped_column(Float)
    next_seq: Mapped[int] = mapped_column(BigInteger)
    end_unix_s: Mapped[float] = mapped_column(Float)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LivePrompt(Base):
    """A "keep moving" prompt a live stream fell due for: ``sent``, or ``snoozed`` (kept).

    One per stream second (a repeated or reordered batch never adds one); ``seq`` is the
    batch whose step delivered it; ``plan_version`` the plan whose movement-break goal set
    the options.
    """

    __tablename__ = "live_prompts"
    __table_args__ = (
        UniqueConstraint("stream_id", "second", name="uq_live_prompt_second"),
        CheckConstraint("status IN ('sent', 'snoozed')", name="ck_live_prompt_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream_id: Mapped[int] = mapped_column(
        ForeignKey("live_streams.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    second: Mapped[int] = mapped_column(BigInteger)
    due_unix_s: Mapped[float] = mapped_column(Float)
    seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LiveSnooze(_Created, Base):
    """A patient's snooze of live prompts: none are sent until ``until`` (the latest wins)."""

    __tablename__ = "live_snoozes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
