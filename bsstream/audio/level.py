"""The input level of a live capture, for the live view's meter: RMS and peak in dBFS of the
newest :data:`WINDOW_SECONDS` of the decoded PCM.

A :class:`LevelMeter` watches the decoded stream (a :class:`bsstream.audio.tap.TappedSource`
observer): :meth:`LevelMeter.feed` only keeps the newest window's bytes; the numbers are worked
out when the live view asks (:meth:`LevelMeter.reading`, about four times a second), so a fast
stream costs nothing extra. Stdlib only (no numpy at start-up for a meter).

The stream is s16le at 16 kHz, mono, or with ``--channels split`` a WAV stream (a header, then
the channels interleaved): then the level is over every channel's samples (the loudest shows).
"""

from __future__ import annotations

import array
import math
import sys
import threading
from dataclasses import dataclass

from bsstream.audio.wav import stream_data_start

__all__ = ["FLOOR_DBFS", "WINDOW_SECONDS", "Level", "LevelMeter", "level_of"]

RATE = 16000
WINDOW_SECONDS = 0.2
FLOOR_DBFS = -90.0  # digital silence reads as this (not -inf)
FULL_SCALE = 32768.0
HEADER_LIMIT = 65536  # a split stream whose header is not found in this many bytes: no level


@dataclass(frozen=True, slots=True)
class Level:
    """RMS and peak of a window, dBFS (0 is full scale; :data:`FLOOR_DBFS` at the least)."""

    rms: float
    peak: float


def _dbfs(value: float) -> float:
    if value <= 0:
        return FLOOR_DBFS
    return max(20.0 * math.log10(value / FULL_SCALE), FLOOR_DBFS)


def level_of(pcm: bytes) -> Level | None:
    """The level of s16le samples (any channel layout); None for no whole sample."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if not samples:
        return None
    if sys.byteorder == "big":
        samples.byteswap()
    peak = max(max(samples), -min(samples))
    rms = math.sqrt(math.fsum(s * s for s in samples) / len(samples))
    return Level(rms=_dbfs(rms), peak=_dbfs(float(peak)))


class LevelMeter:
    """Keeps the newest window of a decoded stream; :meth:`reading` is its level now.

    ``wav_stream``: the stream starts with a WAV header (``--channels split``)."""

    def __init__(self, *, wav_stream: bool = False, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._channels = 0 if wav_stream else 1  # 0: not known until the header is read
        self._head = b""
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._finished = False

    def feed(self, block: bytes) -> None:
        with self._lock:
            if self._channels == 0:
                self._head += block
                found = stream_data_start(self._head)
                if found is None:
                    if len(self._head) > HEADER_LIMIT:
                        self._head, self._finished = b"", True
                    return
                self._channels, start = found
                block, self._head = self._head[start:], b""
            if self._finished:
                return
            self._tail += block
            keep = int(RATE * self.window) * 2 * self._channels
            excess = len(self._tail) - keep
            if excess > 0:  # the tail starts on a sample: drop an even number of bytes
                del self._tail[: excess + excess % 2]

    def finish(self) -> None:
        with self._lock:
            self._finished = True

    def reading(self) -> Level | None:
        """The newest window's level; None before the first samples (or once ended)."""
        with self._lock:
            if self._finished:
                return None
            pcm = bytes(self._tail)
        return level_of(pcm)
