"""Pure: the --stats figures of one stream.

A result's latency is the time from sending the audio that covers its ``end_time`` to
receiving the result.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field


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

    Send records older than the results received are dropped, and latencies are kept as
    a compact array, so memory stays small on long streams.
    """

    _ends: list[float] = field(default_factory=list)  # absolute audio end (s) of each chunk sent
    _times: list[float] = field(default_factory=list)  # when it was handed to the transport
    _first: int = 0  # records before this index are no longer needed
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def restart(self) -> None:
        """A new attempt starts: positions may go back; earlier sends no longer matter."""
        self._ends.clear()
        self._times.clear()
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
