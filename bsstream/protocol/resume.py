"""Pure: what makes a stream resumable after a reconnect.

``AudioFeed`` is the one place audio is read from the decoder. It keeps a bounded buffer of
the audio not yet covered by a result, so a new call can replay from the end of the last
result; every attempt reads through it by absolute byte position, so chunks never reorder
and replayed chunks keep the exact chunk size. ``Deduper`` drops results a resumed stream
sends again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from bsstream.protocol.messages import BYTES_PER_SECOND
from bsstream.protocol.results import Result, parse_number

DEFAULT_REPLAY_SECONDS = 300.0


class AudioFeed:
    """Chunks by absolute position, read once from ``chunks``, with a bounded replay buffer.

    Thread-safe: an abandoned attempt's request thread may still be reading while the next
    attempt starts; both see the same bytes at the same positions.
    """

    def __init__(self, chunks: Iterable[bytes], *, max_buffer_bytes: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._base = 0  # absolute byte offset of _buf[0]
        self._max = max(max_buffer_bytes, 0)
        self.eof = False
        self.error: BaseException | None = None

    @property
    def end(self) -> int:
        """Absolute byte offset one past the last byte read from the decoder."""
        return self._base + len(self._buf)

    @property
    def buffer_start(self) -> int:
        return self._base

    def read(self, position: int, size: int) -> bytes:
        """Up to ``size`` bytes at absolute ``position`` (fewer only at the end of the audio).

        Raises LookupError when ``position`` was already dropped from the buffer. Errors of
        the decoder are stored in ``error`` and end the audio.
        """
        with self._lock:
            if position < self._base:
                raise LookupError(position)
            while not self.eof and position + size > self.end:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self.eof = True
                    break
                except Exception as exc:  # a decoder failure ends the audio; the session reports it
                    self.error = exc
                    self.eof = True
                    break
                self._buf += chunk
            start = position - self._base
            data = bytes(self._buf[start : start + size])
            self._enforce_bound(keep_from=position + len(data))
            return data

    def _enforce_bound(self, keep_from: int) -> None:
        excess = len(self._buf) - self._max
        if excess > 0:
            # never drop what the reader has not passed yet
            drop = min(excess, max(keep_from - self._base, 0))
            drop -= drop % 2
            if drop:
                del self._buf[:drop]
                self._base += drop

    def release_before(self, position: int) -> None:
        """Forget audio before ``position`` (it is covered by a result)."""
        with self._lock:
            drop = min(position, self.end) - self._base
            drop -= drop % 2
            if drop > 0:
                del self._buf[:drop]
                self._base += drop


def seconds_to_bytes(seconds: float) -> int:
    """Byte offset of a time in 16 kHz mono 16-bit audio, on a sample boundary."""
    n = int(max(seconds, 0.0) * BYTES_PER_SECOND)
    return n - n % 2


class Deduper:
    """Drops results a resumed call sends again: ``is_new`` is False for a result whose window,
    task and level an earlier attempt already delivered. Within one attempt nothing is dropped
    (two results may legitimately share a window).

    A resumed call replays audio from the end of the last result, so only the most recent
    results can come again: the last ``remember`` keys are kept, so memory stays bounded."""

    def __init__(self, remember: int = 4096) -> None:
        self.remember = remember
        self._earlier: set[tuple[object, ...]] = set()
        self._current: dict[tuple[object, ...], None] = {}

    @staticmethod
    def _time_key(text: str) -> object:
        value = parse_number(text)
        return round(value, 2) if value is not None else text

    def next_attempt(self) -> None:
        """A new call starts: what this one delivered now counts as earlier."""
        self._earlier = set(list(self._earlier)[-self.remember :]) | set(self._current)
        self._current = {}

    def is_new(self, result: Result) -> bool:
        key = (
            self._time_key(result.start_time),
            self._time_key(result.end_time),
            result.task,
            result.level,
        )
        if key in self._earlier:
            return False
        self._current[key] = None
        if len(self._current) > self.remember:
            del self._current[next(iter(self._current))]  # the oldest
        return True
