"""Streaming per-second features from raw acceleration chunks, as a device or phone would.

:class:`FeatureStream` takes raw tri-axial samples in chunks of any length (a Bluetooth
packet, a minute of a phone buffer) and returns the per-second features of every second
completed so far: the same numbers :func:`~spinestab.wearable.features.compute_features`
gives for the whole recording. Only the samples of the unfinished second are kept, so
memory does not grow with the length of the stream. The posture of a second needs more than
its features (the upright reference from walking over the recording, an hour of stillness
for non-wear), so :class:`~spinestab.wearable.live.LiveMonitor` classifies a sliding window
of these features with a given upright reference and feeds the posture codes to the
:class:`~spinestab.wearable.prompts.PromptEngine`; this module is its raw-data front end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinestab.errors import InputError
from spinestab.wearable.features import _nsub, second_features
from spinestab.wearable.recording import processing_rate

__all__ = ["FeatureChunk", "FeatureStream"]


@dataclass(frozen=True)
class FeatureChunk:
    """Features of the seconds completed by one :meth:`FeatureStream.feed`.

    Attributes
    ----------
    first_second : int
        Index of the first second (0 = the first second of the stream).
    g : (S, 3) float32 ndarray
        Mean acceleration per second, g.
    sd : (S,) float32 ndarray
        Total SD within the second, g.
    vert : (S, nsub) float32 ndarray or None
        Vertical dynamic acceleration at ``nsub`` Hz, g (when ``keep_vert``).
    missing : (S,) bool ndarray
        More than half of the second was NaN.
    clipped : (S,) bool ndarray
        The second holds samples at or beyond ``clip_g``.

    """

    first_second: int
    g: np.ndarray
    sd: np.ndarray
    vert: np.ndarray | None
    missing: np.ndarray
    clipped: np.ndarray

    @property
    def n_seconds(self) -> int:
        """Number of seconds in the chunk."""
        return int(self.g.shape[0])


class FeatureStream:
    """Per-second features of a stream of raw samples fed in chunks.

    Parameters
    ----------
    fs_hz : int, keyword-only
        Sampling rate; one the pipeline works at without resampling (25, 30, 50, 100 or
        200 Hz), since a stream cannot be resampled exactly chunk by chunk.
    scale_to_g : float, keyword-only
        Factor from the stream's units to g (``1 / 9.80665`` for m/s^2).
    keep_vert : bool, keyword-only
        Also return the decimated vertical dynamic acceleration (trunk sensor).
    clip_g : float or None, keyword-only
        Sensor range limit in g (e.g. 8 for a +-8 g device); None: no clipping flag.

    """

    def __init__(
        self,
        *,
        fs_hz: int,
        scale_to_g: float = 1.0,
        keep_vert: bool = True,
        clip_g: float | None = None,
    ) -> None:
        if processing_rate(fs_hz) != fs_hz:
            raise InputError(
                "streaming needs a sampling rate the pipeline uses without resampling",
                item="fs_hz",
                value=fs_hz,
                expected="25, 30, 50, 100 or 200 Hz",
            )
        self.fs = int(fs_hz)
        self.nsub = _nsub(self.fs)
        self.scale = np.float32(scale_to_g)
        self.keep_vert = keep_vert
        self.clip_g = clip_g
        self._rest = np.zeros((0, 3), np.float32)
        self._done = 0

    @property
    def seconds_done(self) -> int:
        """Seconds returned so far."""
        return self._done

    def feed(self, samples: np.ndarray) -> FeatureChunk:
        """Add samples and return the features of the seconds they complete.

        Parameters
        ----------
        samples : (n, 3) array_like
            The next samples in the stream's units (NaN where missing); ``n`` may be 0.

        Returns
        -------
        FeatureChunk
            Possibly empty (``n_seconds == 0``) when no second was completed.

        """
        a = np.asarray(samples, np.float32)
        if a.ndim != 2 or a.shape[1] != 3:
            raise InputError(
                "stream chunk is not (n, 3)", item="samples", value=a.shape, expected="(n, 3)"
            )
        if self.scale != 1.0:
            a = a * self.scale
        buf = np.concatenate([self._rest, a]) if self._rest.shape[0] else a
        s = buf.shape[0] // self.fs
        self._rest = buf[s * self.fs :].copy()
        first = self._done
        self._done += s
        if s == 0:
            z = np.zeros(0, bool)
            vert = np.zeros((0, self.nsub), np.float32) if self.keep_vert else None
            return FeatureChunk(
                first, np.zeros((0, 3), np.float32), np.zeros(0, np.float32), vert, z, z
            )
        parts = [  # at most 10 min per call: temporaries stay small on a large chunk
            second_features(
                buf[a * self.fs : min(s, a + 600) * self.fs],
                fs=self.fs,
                nsub=self.nsub,
                keep_vert=self.keep_vert,
                clip_g=self.clip_g,
            )
            for a in range(0, s, 600)
        ]
        g, sd, nan_frac, clipped = (np.concatenate([p[i] for p in parts]) for i in (0, 1, 3, 4))
        vert = np.concatenate([p[2] for p in parts]) if self.keep_vert else None
        return FeatureChunk(first, g, sd, vert, nan_frac > 0.5, clipped)
