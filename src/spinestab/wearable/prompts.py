"""'Keep moving' prompts: offline for a recording, or streaming as a device would.

A prompt falls due when a static posture (sitting, standing still, upright static) has
lasted ``static_limit_min``; movement lasting ``clear_move_s`` clears the clock (shorter
movement does not); lying and non-wear reset it (nothing is sent while lying at night).
After a prompt the next one falls due ``snooze_min`` later if the person stays static.
Nothing is sent in quiet hours: a prompt due then waits for their end, if the person is
still static. Sources and tags of the defaults: :class:`~spinestab.wearable.config.PromptConfig`.

The engine works on runs of equal posture, so it costs per run, not per second, and
feeding it a recording in any chunks gives the same prompts as feeding it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinestab.wearable.config import PromptConfig
from spinestab.wearable.posture import (
    LYING,
    MOVEMENT_CLASSES,
    NONWEAR,
    STATIC_CLASSES,
)

__all__ = ["PromptEngine", "offline_prompts"]


def _quiet(t_local_s: float, cfg: PromptConfig) -> float | None:
    """If ``t`` falls in quiet hours return the time they end, else None."""
    if cfg.quiet_start_h == cfg.quiet_end_h:
        return None
    day0 = np.floor(t_local_s / 86400.0) * 86400.0
    h = (t_local_s - day0) / 3600.0
    qs, qe = cfg.quiet_start_h, cfg.quiet_end_h
    if qs < qe:
        return day0 + qe * 3600.0 if qs <= h < qe else None
    if h >= qs:
        return day0 + 86400.0 + qe * 3600.0
    if h < qe:
        return day0 + qe * 3600.0
    return None


@dataclass
class PromptEngine:
    """Streaming prompt engine: feed per-second posture codes chunk by chunk.

    Parameters
    ----------
    start_unix_s : float
        Time of the first second fed.
    cfg : PromptConfig
        Prompt options.
    utc_offset_h : float
        Offset of the local clock (for quiet hours) from the time stamps.

    Examples
    --------
    >>> import numpy as np
    >>> from spinestab.wearable.posture import SITTING
    >>> eng = PromptEngine(start_unix_s=12 * 3600.0)
    >>> eng.feed(np.full(3600, SITTING))
    [45000.0]

    """

    start_unix_s: float
    cfg: PromptConfig = field(default_factory=PromptConfig)
    utc_offset_h: float = 0.0
    _t: int = 0  # seconds fed so far
    _static_since: int | None = None
    _next_due: int | None = None
    _move_run: int = 0
    sent: list[float] = field(default_factory=list)

    def feed(self, posture: np.ndarray) -> list[float]:
        """Feed the next seconds; return the prompt times (unix seconds) that fell due."""
        p = np.asarray(posture)
        out: list[float] = []
        if p.size == 0:
            return out
        change = np.flatnonzero(p[1:] != p[:-1]) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [p.size]])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            self._run(int(p[a]), self._t + a, self._t + b, out)
        self._t += int(p.size)
        self.sent.extend(out)
        return out

    def _run(self, code: int, a: int, b: int, out: list[float]) -> None:
        cfg = self.cfg
        limit = round(cfg.static_limit_min * 60)
        snooze = round(cfg.snooze_min * 60)
        clear = round(cfg.clear_move_s)
        if code in MOVEMENT_CLASSES:
            if self._static_since is not None:
                need = clear - self._move_run
                if b - a >= need:
                    self._static_since = None
                    self._next_due = None
                    self._move_run = 0
                    return
            self._move_run += b - a
            return
        if (
            code == NONWEAR
            or (code == LYING and cfg.lying_suppresses)
            or code not in (STATIC_CLASSES)
        ):
            self._static_since = None
            self._next_due = None
            self._move_run = 0
            return
        # static run
        self._move_run = 0
        if self._static_since is None:
            self._static_since = a
            self._next_due = a + limit
        due = self._next_due
        assert due is not None
        while due < b:
            t = max(due, a)
            local = self.start_unix_s + t + self.utc_offset_h * 3600.0
            q = _quiet(local, cfg)
            if q is not None:
                t_end = int(np.ceil(q - self.start_unix_s - self.utc_offset_h * 3600.0))
                due = max(t_end, t)
                if due >= b:
                    break
                continue
            out.append(self.start_unix_s + t)
            due = t + snooze
        self._next_due = due


def offline_prompts(
    posture: np.ndarray,
    *,
    start_unix_s: float,
    cfg: PromptConfig | None = None,
    utc_offset_h: float = 0.0,
) -> np.ndarray:
    """Prompt times (unix seconds) for a whole recording of per-second posture codes."""
    eng = PromptEngine(
        start_unix_s=start_unix_s, cfg=cfg or PromptConfig(), utc_offset_h=utc_offset_h
    )
    return np.asarray(eng.feed(posture), dtype=np.float64)
