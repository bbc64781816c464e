"""What the live hub keeps in a store: streams, their state and prompts (issue 13.3).

The types a :class:`~spinestab.wearable.live_hub.LiveHub` and its :class:`StreamStore`
exchange, and the store's protocol: one transaction per step of the hub. The web app's
store is the patient record (:class:`spinestab.record.live.RecordStreamStore`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from spinestab.wearable.config import PromptConfig
from spinestab.wearable.engine import EnginePrompt

__all__ = [
    "DeliveredPrompt",
    "PromptPolicy",
    "StepTransaction",
    "StoredStream",
    "StreamKey",
    "StreamStore",
]


@dataclass(frozen=True)
class StreamKey:
    """A patient's stream: the pseudonym and the stream name the device chose."""

    patient: str
    name: str = "default"

    @property
    def engine_id(self) -> str:
        """The id of the stream in the engine."""
        return f"{self.patient}\x1f{self.name}"


@dataclass(frozen=True)
class StoredStream:
    """What a store keeps of a stream (besides its prompts).

    Attributes
    ----------
    fs_hz : int
        Sampling rate.
    units : str
        ``g`` or ``m/s2``.
    start_unix_s : float
        Device time of the first sample.
    utc_offset_h : float
        Local clock offset.
    next_seq : int
        Next sequence number expected.
    end_unix_s : float
        Device time after the last sample taken.
    state : bytes
        :meth:`LiveEngine.stream_state`.
    version : int
        Incremented by every saved step (a store refuses to go back).

    """

    fs_hz: int
    units: str
    start_unix_s: float
    utc_offset_h: float
    next_seq: int
    end_unix_s: float
    state: bytes
    version: int


@dataclass(frozen=True)
class PromptPolicy:
    """Whether a patient is prompted now, with which options, and if not, why.

    Attributes
    ----------
    options : PromptConfig or None
        None: no prompts (no approved plan, or a blocked plan).
    reason : str
        ``plan`` when prompted; else ``no_plan`` or ``blocked`` (for the patient's page).
    plan_version : int, optional
        The plan version the options come from.

    """

    options: PromptConfig | None
    reason: str
    plan_version: int | None = None


@dataclass(frozen=True)
class DeliveredPrompt:
    """A prompt as the store kept it.

    Attributes
    ----------
    id : int
        The store's id (the server-sent event id).
    stream : str
        Stream name.
    unix_s : float
        Device time of the second it fell due in.
    second : int
        That second's index in the stream.
    seq : int
        The batch whose step delivered it.
    status : str
        ``sent``, or ``snoozed`` (kept, not sent: the patient snoozed prompts).

    """

    id: int
    stream: str
    unix_s: float
    second: int
    seq: int
    status: str


class StepTransaction(Protocol):
    """One step's transaction on the store (see :class:`StreamStore`)."""

    def load(self, key: StreamKey) -> StoredStream | None:
        """Return the stored stream (locked for this transaction), or None."""
        ...

    def policy(self, patient: str) -> PromptPolicy:
        """Return the patient's prompt policy now."""
        ...

    def save(
        self,
        key: StreamKey,
        stream: StoredStream,
        prompts: list[EnginePrompt],
        *,
        seq: int,
        policy: PromptPolicy,
        actor: str,
    ) -> list[DeliveredPrompt]:
        """Save the stream's state and the prompts due (none without options).

        ``seq`` is the highest batch accepted in this step (-1: none), ``actor`` the user
        whose request brought it.
        """
        ...

    def delivered(self, key: StreamKey, seq: int) -> list[DeliveredPrompt]:
        """Return the prompts an earlier step delivered for batch ``seq``."""
        ...


class StreamStore(Protocol):
    """Where streams and prompts are kept: one transaction per step."""

    def transaction(self, keys: list[StreamKey]) -> AbstractContextManager[StepTransaction]:
        """Open one transaction for a step over ``keys``; commit when the block ends."""
        ...
