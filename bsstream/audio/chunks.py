"""Pure: PCM bytes -> fixed-size chunks, and the real-time pacing schedule.

Every chunk is exactly ``chunk_bytes`` long except the last, and never odd.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from bsstream.audio.format import BYTES_PER_SECOND
from bsstream.audio.format import DEFAULT_CHUNK_MS as DEFAULT_CHUNK_MS
from bsstream.audio.format import MAX_CHUNK_MS as MAX_CHUNK_MS
from bsstream.audio.format import MIN_CHUNK_MS as MIN_CHUNK_MS


def chunk_bytes_for(chunk_ms: int) -> int:
    """Bytes in one chunk of ``chunk_ms`` milliseconds of 16 kHz mono 16-bit audio (ms x 32)."""
    if not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
        raise ValueError(f"chunk_ms must be {MIN_CHUNK_MS}-{MAX_CHUNK_MS}, got {chunk_ms}")
    return chunk_ms * BYTES_PER_SECOND // 1000


def rechunk(blocks: Iterable[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """Regroup blocks of any size into chunks of exactly ``chunk_bytes`` (the last may be shorter).

    A trailing odd byte (half a sample) is dropped so no chunk has an odd length.
    Memory use is bounded by one block plus one chunk.
    """
    if chunk_bytes <= 0 or chunk_bytes % 2:
        raise ValueError("chunk_bytes must be positive and even")
    pending = bytearray()
    for block in blocks:
        if not block:
            continue
        if not pending and len(block) == chunk_bytes:
            yield bytes(block)
            continue
        pending += block
        if len(pending) >= chunk_bytes:
            whole = len(pending) - len(pending) % chunk_bytes
            view = memoryview(pending)
            for start in range(0, whole, chunk_bytes):
                yield bytes(view[start : start + chunk_bytes])
            view.release()
            del pending[:whole]
    tail = len(pending) - len(pending) % 2
    if tail:
        yield bytes(pending[:tail])


class Pacer:
    """The real-time schedule of one stream: the chunk starting at absolute byte ``position``
    is due ``position / BYTES_PER_SECOND`` seconds after the schedule's start.

    The start is fixed by the first chunk asked about (so a stream that resumes at 10 s keeps
    its schedule); every deadline comes from the bytes before it, never a fixed sleep per
    chunk, so the schedule does not drift. Pure: the caller does the waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._t0: float | None = None

    def delay(self, position: int) -> float:
        """Seconds until the chunk at ``position`` is due (<= 0: send it now)."""
        now = self.clock()
        if self._t0 is None:
            self._t0 = now - position / BYTES_PER_SECOND
        return self._t0 + position / BYTES_PER_SECOND - now
