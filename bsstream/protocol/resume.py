"""Pure: what makes a stream resumable after a reconnect, and when to reconnect.

``AudioFeed`` is the one place audio is read from the decoder. It keeps a bounded buffer of
the audio a resumed call may have to replay; every attempt reads through it by absolute byte
position, so chunks never reorder and replayed chunks keep the exact chunk size.
``ResumePoint`` decides where a resumed call starts (the end of the last utterance result when
utterances are expected, else of the last result) and recognises the segments it sends again;
``Deduper`` drops exact repeats. ``RetryBudget`` decides whether and when to reconnect: for
``--retry-for`` seconds without progress, backing off by the kind of failure or as the server
asks.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from bsstream.protocol.messages import BYTES_PER_SECOND
from bsstream.protocol.results import Result, parse_number
from bsstream.status import RetryKind

DEFAULT_REPLAY_SECONDS = 300.0
UTTERANCE = "utterance"
# A resumed call analyses the replayed audio again; its windows may move by a few 20 ms frames
# (a voice-activity detector that starts fresh), so a repeat is recognised within this margin.
REPLAY_TOLERANCE = 0.1
# Backoff (seconds) before a reconnect: base doubling per failure without progress, up to the cap,
# times a jitter of 0.5-1.0. NOW: the connection went away; SLOW: a rate or concurrency limit.
BACKOFF_NOW = (0.5, 8.0)
BACKOFF_SLOW = (2.0, 30.0)
# A resumed call that sent at least this much audio beyond any earlier call has made progress
# (the retry budget starts again), even before a result arrives (a long silence has none).
PROGRESS_AUDIO_SECONDS = 1.0


class AudioFeed:
    """Chunks by absolute position, read once from ``chunks``, with a bounded replay buffer.

    The buffer is the chunks themselves, kept as they came (no copy, no growing bytearray
    whose reallocation would briefly hold the buffer twice): a read at a chunk boundary of a
    whole chunk returns that chunk's object, and only a replay from an unaligned point joins
    pieces. At most ``max_buffer_bytes`` stay buffered (plus the rest of one partly dropped
    chunk); what the reader has not passed yet is never dropped.

    Thread-safe: an abandoned attempt's request thread may still be reading while the next
    attempt starts; both see the same bytes at the same positions.
    """

    _COMPACT = 256  # dropped slots at the front of the lists before they are compacted

    def __init__(self, chunks: Iterable[bytes], *, max_buffer_bytes: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._lock = threading.Lock()
        self._parts: list[bytes] = []  # the chunks read; those before _first are dropped
        self._starts: list[int] = []  # absolute byte offset of each chunk's first byte
        self._first = 0  # index of the first chunk still (partly) buffered
        self._base = 0  # absolute byte offset of the first buffered byte
        self._end = 0  # absolute byte offset one past the last byte read
        self._max = max(max_buffer_bytes, 0)
        self.eof = False
        self.error: BaseException | None = None

    @property
    def end(self) -> int:
        """Absolute byte offset one past the last byte read from the decoder."""
        return self._end

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
            while not self.eof and position + size > self._end:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self.eof = True
                    break
                except Exception as exc:  # a decoder failure ends the audio; the session reports it
                    self.error = exc
                    self.eof = True
                    break
                if chunk:
                    self._parts.append(bytes(chunk))  # bytes stay the same object
                    self._starts.append(self._end)
                    self._end += len(chunk)
            data = self._slice(position, min(size, self._end - position))
            self._enforce_bound(keep_from=position + len(data))
            return data

    def _slice(self, position: int, size: int) -> bytes:
        if size <= 0:
            return b""
        parts = self._parts
        i = bisect.bisect_right(self._starts, position, self._first) - 1
        part = parts[i]
        offset = position - self._starts[i]
        if offset == 0 and len(part) == size:
            return part  # the usual read: one whole chunk, as it came
        if offset + size <= len(part):
            return part[offset : offset + size]
        pieces: list[bytes | memoryview] = [memoryview(part)[offset:]]
        got = len(part) - offset
        while got < size:
            i += 1
            part = parts[i]
            take = min(len(part), size - got)
            pieces.append(part if take == len(part) else memoryview(part)[:take])
            got += take
        return b"".join(pieces)

    def _drop_to(self, position: int) -> None:
        """Forget everything before absolute ``position`` (``buffer_start < position <= end``)."""
        parts, starts = self._parts, self._starts
        first = self._first
        while first < len(parts) and starts[first] + len(parts[first]) <= position:
            parts[first] = b""
            first += 1
        if first >= self._COMPACT and first * 2 >= len(parts):
            del parts[:first], starts[:first]
            first = 0
        self._first = first
        self._base = position

    def _enforce_bound(self, keep_from: int) -> None:
        excess = self._end - self._base - self._max
        if excess > 0:
            # never drop what the reader has not passed yet
            drop = min(excess, max(keep_from - self._base, 0))
            drop -= drop % 2
            if drop:
                self._drop_to(self._base + drop)

    def release_before(self, position: int) -> None:
        """Forget audio before ``position`` (it is covered by a result)."""
        with self._lock:
            drop = min(position, self._end) - self._base
            drop -= drop % 2
            if drop > 0:
                self._drop_to(self._base + drop)


def seconds_to_bytes(seconds: float) -> int:
    """Byte offset of a time in 16 kHz mono 16-bit audio, on the nearest sample boundary
    (so "16.16" is exactly sample 258,560, never one sample short by float rounding)."""
    return 2 * round(max(seconds, 0.0) * BYTES_PER_SECOND / 2)


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


@dataclass(frozen=True, slots=True)
class ResumePlan:
    """Where the next call starts and what could not be replayed."""

    resume_at: int  # absolute byte offset of the next call's first audio
    audio_lost: int  # bytes after the last result that are no longer buffered (never analysed)
    utterance_lost: tuple[float, float] | None  # (start, end) s: no utterance result will cover it
    utterance_reason: str = ""  # why: "buffer" (not buffered any more) or "stuck" (see ResumePoint)


class ResumePoint:
    """Where a resumed call starts, and how far back the audio must stay buffered.

    Segment results only (``utterances=False``): the end of the last result. With utterance
    results expected (level all or utterance): the end of the last *utterance* result, so the
    utterance in progress is analysed again from its start instead of coming back truncated; the
    segments the new call sends again on the way are recognised by :meth:`is_replayed`. When the
    buffer no longer reaches back that far, the call starts at the earliest buffered byte and
    the plan names the span that lost its utterance result.

    A call that replays the open utterance, sends past the last result and still delivers nothing
    new is "stuck" (e.g. a link that breaks every few seconds during a long utterance); after
    two such calls in a row the next one resumes at the last result instead, giving up that
    utterance's result (reported as lost) so the stream still moves forward.
    """

    def __init__(self, *, utterances: bool, tolerance: float = REPLAY_TOLERANCE) -> None:
        self.utterances = utterances
        self.tolerance = tolerance
        self.covered = 0.0  # end (s, absolute) of the last result of any level, <= the audio sent
        self.utterance_end = 0.0  # where the utterance in progress can have started, at the earliest
        self._replayed_to = -math.inf  # the current call's segments ending by here are repeats
        self._fresh = False  # the current call delivered a new result
        self._stuck = 0

    def observe(self, result: Result, sent_seconds: float) -> None:
        """A new (not repeated) result arrived; ``sent_seconds``: audio sent so far (absolute)."""
        self._fresh = True
        end = result.end
        if end is None:
            return
        end = min(end, sent_seconds)  # never past the audio sent: a bogus time cannot skip audio
        self.covered = max(self.covered, end)
        if result.level == UTTERANCE:
            self.utterance_end = max(self.utterance_end, end)

    def is_replayed(self, result: Result) -> bool:
        """A segment a resumed call sent again while replaying the open utterance: it ends where
        results had already been received (within ``tolerance``). Utterances are never repeats."""
        if result.level == UTTERANCE:
            return False
        end = result.end
        return end is not None and end <= self._replayed_to + self.tolerance

    def keep_from(self) -> int:
        """Byte offset before which buffered audio will never be replayed."""
        return seconds_to_bytes(self.utterance_end if self.utterances else self.covered)

    def call_ended(self, sent_to: int) -> None:
        """The current call ended having sent audio up to ``sent_to`` (absolute bytes)."""
        replaying = self._replayed_to > -math.inf
        if self._fresh:
            self._stuck = 0
        elif replaying and sent_to >= seconds_to_bytes(self._replayed_to):
            self._stuck += 1

    def plan(self, buffer_start: int) -> ResumePlan:
        """The next call's start, given the earliest byte still buffered."""
        covered = seconds_to_bytes(self.covered)
        want = self.keep_from()
        reason = "buffer"
        if self.utterances and want < covered and self._stuck >= 2:
            want = covered  # replaying this utterance keeps failing: move on without its result
            reason = "stuck"
            self._stuck = 0
        resume_at = max(want, buffer_start)
        lost_span = None
        if self.utterances and resume_at > seconds_to_bytes(self.utterance_end):
            lost_span = (self.utterance_end, resume_at / BYTES_PER_SECOND)
            if resume_at > want:
                reason = "buffer"
        # the new call's utterances start at resume_at at the earliest
        self.utterance_end = max(self.utterance_end, resume_at / BYTES_PER_SECOND)
        self._replayed_to = self.covered if resume_at < covered else -math.inf
        self._fresh = False
        return ResumePlan(resume_at, max(0, buffer_start - covered), lost_span, reason if lost_span else "")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Reconnect after ``delay`` seconds, or give up (``delay`` None) for ``reason``."""

    delay: float | None
    reason: str = ""  # "not retryable", "disabled", "attempts", "window", "server"


class RetryBudget:
    """When to reconnect: for up to ``retry_for`` seconds of failing without progress, with
    exponential backoff and jitter, optionally at most ``max_reconnects`` times per stream.

    The window opens at the first failure after progress and closes ``retry_for`` seconds later;
    :meth:`progress` (a resumed call delivered a result or carried new audio) closes the outage,
    so a long stream survives any number of separate interruptions. A server's retry hint
    (gRPC's ``grpc-retry-pushback-ms``) replaces the backoff; a negative hint means "do not retry".
    """

    def __init__(
        self,
        *,
        retry_for: float,
        max_reconnects: int | None = None,
        backoff: tuple[float, float] = BACKOFF_NOW,
        slow_backoff: tuple[float, float] = BACKOFF_SLOW,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.retry_for = retry_for
        self.max_reconnects = max_reconnects
        self.backoff = backoff
        self.slow_backoff = slow_backoff
        self.jitter = jitter
        self.reconnects = 0  # in the whole stream
        self.failures = 0  # in a row, without progress
        self.outage_start: float | None = None

    @property
    def enabled(self) -> bool:
        return self.retry_for > 0 and self.max_reconnects != 0

    def progress(self) -> None:
        self.failures = 0
        self.outage_start = None

    def remaining(self, now: float) -> float:
        """Seconds left in the current outage's window (the whole window when there is none)."""
        if self.outage_start is None:
            return self.retry_for
        return self.outage_start + self.retry_for - now

    def decide(self, kind: RetryKind, now: float, pushback: float | None = None) -> RetryDecision:
        """A call failed with a code of this ``kind`` at ``now``; ``pushback``: the server's hint (s)."""
        if kind is RetryKind.NO:
            return RetryDecision(None, "not retryable")
        if not self.enabled:
            return RetryDecision(None, "disabled")
        if self.max_reconnects is not None and self.reconnects >= self.max_reconnects:
            return RetryDecision(None, "attempts")
        if self.outage_start is None:
            self.outage_start = now
        left = self.remaining(now)
        if left <= 0:
            return RetryDecision(None, "window")
        if pushback is not None:
            if pushback < 0 or pushback > left:
                return RetryDecision(None, "server")
            delay = pushback
        else:
            base, cap = self.slow_backoff if kind is RetryKind.SLOW else self.backoff
            delay = min(cap, base * 2 ** min(self.failures, 30)) * (0.5 + self.jitter() / 2)
            delay = min(delay, left)
        self.failures += 1
        self.reconnects += 1
        return RetryDecision(delay)
