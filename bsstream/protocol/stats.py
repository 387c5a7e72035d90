"""Pure: the --stats figures of one stream.

A result's latency is the time from sending the audio that covers its ``end_time`` to
receiving the result.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bsstream.protocol.jsontypes import JsonObject


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(slots=True)
class LatencyTracker:
    """Send times of audio positions, and the latencies of results against them.

    Send records older than the results received are dropped, and records and latencies
    are kept as compact arrays (8 bytes a figure, not a float object and a list slot: 16 bytes
    a chunk while no result comes), so memory stays small on long streams.
    """

    _ends: array[float] = field(default_factory=lambda: array("d"))  # audio end (s) of each chunk sent
    _times: array[float] = field(default_factory=lambda: array("d"))  # when it was handed to the transport
    _first: int = 0  # records before this index are no longer needed
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def restart(self) -> None:
        """A new attempt starts: positions may go back; earlier sends no longer matter."""
        del self._ends[:]
        del self._times[:]
        self._first = 0

    def sent(self, audio_end: float, at: float) -> None:
        self._ends.append(audio_end)
        self._times.append(at)

    def received(self, result_end: float | None, at: float) -> None:
        if result_end is None or len(self._ends) <= self._first:
            return
        i = bisect.bisect_left(self._ends, result_end - 1e-6, lo=self._first)
        if i >= len(self._ends):
            i = len(self._ends) - 1
        self.latencies.append(max(at - self._times[i], 0.0))
        self._forget_before(i - 64)  # results arrive roughly in order; keep some slack

    def _forget_before(self, index: int) -> None:
        if index - self._first > 4096:
            del self._ends[:index]
            del self._times[:index]
            self._first = 0


def stats_dict(
    *, audio_seconds: float, wall_seconds: float, messages: int, results: int, latencies: Sequence[float]
) -> dict[str, float | None]:
    """The --stats figures as JSON-ready data (seconds, rounded to milliseconds)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "audio_seconds": round(audio_seconds, 3),
        "wall_seconds": round(wall_seconds, 3),
        # wall time per second of audio: 0.05 means 20x faster than real time
        "real_time_factor": ms(wall_seconds / audio_seconds) if audio_seconds > 0 else None,
        "messages": messages,
        "results": results,
        "latency_p50": ms(percentile(latencies, 50)),
        "latency_p95": ms(percentile(latencies, 95)),
    }


@dataclass(frozen=True, slots=True)
class Stats:
    """The --stats figures of one stream: seconds rounded to milliseconds, ``real_time_factor``
    wall seconds per second of audio (None: no audio sent), latencies None without results.

    ``saved``: the figures as a saved file had them (``replay``), written back exactly as read
    by :meth:`to_json`; the fields are what could be read of them."""

    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    real_time_factor: float | None = None
    messages: int = 0
    results: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    saved: JsonObject | None = field(default=None, compare=False, repr=False)

    @classmethod
    def measured(
        cls,
        *,
        audio_seconds: float,
        wall_seconds: float,
        messages: int,
        results: int,
        latencies: Sequence[float],
    ) -> Stats:
        """A stream's figures as it ends (see :func:`stats_dict`)."""
        figures = stats_dict(
            audio_seconds=audio_seconds,
            wall_seconds=wall_seconds,
            messages=messages,
            results=results,
            latencies=latencies,
        )
        return cls._read(figures)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Stats:
        """Figures read back from a stats line; what is missing or not a number reads as its
        default, and the line's own data is kept for :meth:`to_json`."""
        return cls._read(data, saved=dict(data))

    @classmethod
    def _read(cls, data: Mapping[str, object], saved: JsonObject | None = None) -> Stats:
        def number(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        def count(key: str) -> int:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            audio_seconds=number("audio_seconds") or 0.0,
            wall_seconds=number("wall_seconds") or 0.0,
            real_time_factor=number("real_time_factor"),
            messages=count("messages"),
            results=count("results"),
            latency_p50=number("latency_p50"),
            latency_p95=number("latency_p95"),
            saved=saved,
        )

    def to_json(self) -> JsonObject:
        """The stats line's ``stats`` object (a saved one as it was read)."""
        if self.saved is not None:
            return dict(self.saved)
        return {
            "audio_seconds": self.audio_seconds,
            "wall_seconds": self.wall_seconds,
            "real_time_factor": self.real_time_factor,
            "messages": self.messages,
            "results": self.results,
            "latency_p50": self.latency_p50,
            "latency_p95": self.latency_p95,
        }
