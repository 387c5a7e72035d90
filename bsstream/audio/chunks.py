"""Pure: PCM bytes -> fixed-size chunks, and the real-time pacing schedule.

Every chunk is exactly ``chunk_bytes`` long except the last, and never odd.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from bsstream.protocol.messages import BYTES_PER_SECOND

MIN_CHUNK_MS = 100
MAX_CHUNK_MS = 500
DEFAULT_CHUNK_MS = 250


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


def paced(
    chunks: Iterable[bytes],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    start_offset: float = 0.0,
) -> Iterator[bytes]:
    """Yield each chunk no earlier than its audio start time, scheduled against ``clock``.

    The deadline of a chunk is ``t0 + audio_seconds_before_it``, computed from the total
    bytes so far (never a fixed sleep per chunk), so the schedule does not drift.
    ``start_offset`` shifts the schedule (seconds of audio already sent before this stream).
    """
    t0 = clock() - start_offset
    sent = start_offset * BYTES_PER_SECOND
    for chunk in chunks:
        due = t0 + sent / BYTES_PER_SECOND
        delay = due - clock()
        if delay > 0:
            sleep(delay)
        yield chunk
        sent += len(chunk)
