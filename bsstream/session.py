"""One stream end to end: audio producer, result consumer, retries, interrupts, flushing.

The producer is the request generator grpc consumes on its own thread: it reads chunks
through an ``AudioFeed`` (paced when asked) and ends by returning, which half-closes the
call. The consumer is the caller's thread: it reads results until the server closes, hands
each to the sink at once, and decides what a failure means (reconnect and resume, or stop).
Either side ending ends both: a producer failure half-closes; a consumer failure cancels.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from bsstream._gen import api_pb2
from bsstream.audio.chunks import chunk_bytes_for, rechunk
from bsstream.protocol.messages import BYTES_PER_SECOND, audio_message, config_message, config_to_dict
from bsstream.protocol.results import from_proto, shift_message
from bsstream.protocol.resume import DEFAULT_REPLAY_SECONDS, AudioFeed, Deduper, seconds_to_bytes
from bsstream.protocol.stats import LatencyTracker, stats_dict
from bsstream.protocol.stream import Sink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import SummaryBuilder
from bsstream.settings import Credentials
from bsstream.status import (
    BsError,
    ConnectionFailure,
    ExitStatus,
    InputError,
    ServiceError,
    connection_hint,
    error_for_grpc,
    is_transient,
)
from bsstream.transport import Call, CallFailed


class PcmSourceLike(Protocol):
    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class CallStarter(Protocol):
    def start(self, method: str, requests: Iterator[api_pb2.AudioStream]) -> Call: ...


@dataclass(frozen=True, slots=True)
class StreamOptions:
    method: str
    credentials: Credentials
    config: api_pb2.AudioConfig
    chunk_ms: int = 250
    realtime: bool = False
    timeout: float = 60.0
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    stats: bool = False
    replay_seconds: float = DEFAULT_REPLAY_SECONDS
    insecure: bool = False
    emulated: bool = False
    tag_method: bool = False  # put the method on every message (scan: two methods, one output)


class Interrupts:
    """Ctrl-C / SIGTERM state shared by every stream of a run.

    First signal: stop sending (half-close) and give the server ``grace`` seconds to send
    its final results, then cancel. Second signal: cancel at once.
    """

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.stop_sending = threading.Event()
        self.aborted = threading.Event()
        self.count = 0
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def signal(self) -> None:
        self.count += 1
        self.stop_sending.set()
        if self.count == 1:
            self._timer = threading.Timer(self.grace, self.abort)
            self._timer.daemon = True
            self._timer.start()
        else:
            self.abort()

    def abort(self) -> None:
        self.aborted.set()
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def register(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
        if self.aborted.is_set():
            callback()

    def unregister(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class Watchdog:
    """Cancels the call when the server neither sends nor accepts anything for ``timeout`` s.

    Time the producer spends waiting for its own input or pacing does not count.
    """

    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self.timeout = timeout
        self.clock = clock
        self.fired = False
        self._last = clock()
        self._paused = 0
        self._call: Call | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bsstream-watchdog", daemon=True)

    def watch(self, call: Call) -> None:
        with self._lock:
            self._call = call
            self._last = self.clock()

    def touch(self) -> None:
        self._last = self.clock()

    def pause(self) -> None:
        with self._lock:
            self._paused += 1

    def resume(self) -> None:
        with self._lock:
            self._paused -= 1
            self._last = self.clock()

    def start(self) -> None:
        if self.timeout > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        tick = min(0.2, self.timeout / 4)
        while not self._stop.wait(tick):
            with self._lock:
                idle = self._paused == 0 and self.clock() - self._last > self.timeout
                call = self._call
            if idle and call is not None:
                self.fired = True
                call.cancel()
                return


@dataclass(slots=True)
class _Attempt:
    number: int
    start_pos: int  # absolute byte offset this call's audio starts at
    abandoned: threading.Event = field(default_factory=threading.Event)
    finished_sending: bool = False
    sent_to: int = 0


class Session:
    """Streams one input; returns its outcome. Never raises for a stream-level failure."""

    def __init__(
        self,
        transport: CallStarter,
        options: StreamOptions,
        *,
        interrupts: Interrupts | None = None,
        notify: Callable[[str], None] = lambda line: None,
        on_emulated: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        sleep_jitter: Callable[[], float] = random.random,
        on_progress: Callable[[str, float], None] | None = None,
    ) -> None:
        self.transport = transport
        self.options = options
        self.interrupts = interrupts or Interrupts()
        self.notify = notify
        self.on_emulated = on_emulated
        self.clock = clock
        self.jitter = sleep_jitter
        self.on_progress = on_progress
        self.chunk_bytes = chunk_bytes_for(options.chunk_ms)

    # -- producer -------------------------------------------------------------------------

    def _requests(
        self,
        attempt: _Attempt,
        feed: AudioFeed,
        watchdog: Watchdog,
        latency: LatencyTracker,
        pacing_t0: list[float],
        name: str,
    ) -> Iterator[api_pb2.AudioStream]:
        creds = self.options.credentials
        yield config_message(creds.cid, creds.api_key, self.options.config)
        position = attempt.start_pos
        stop = self.interrupts.stop_sending
        while not (stop.is_set() or attempt.abandoned.is_set()):
            watchdog.pause()
            try:
                data = feed.read(position, self.chunk_bytes)
                if data and self.options.realtime:
                    self._pace(position, pacing_t0, attempt)
            finally:
                watchdog.resume()
            if not data:
                attempt.finished_sending = True
                return
            if stop.is_set() or attempt.abandoned.is_set():
                return
            position += len(data)
            attempt.sent_to = position
            latency.sent(position / BYTES_PER_SECOND, self.clock())
            if self.on_progress is not None:
                self.on_progress(name, position / BYTES_PER_SECOND)
            yield audio_message(creds.cid, creds.api_key, data)

    def _pace(self, position: int, pacing_t0: list[float], attempt: _Attempt) -> None:
        """Wait until the chunk at ``position`` is due at 1x speed (monotonic schedule)."""
        if not pacing_t0:
            pacing_t0.append(self.clock() - position / BYTES_PER_SECOND)
        due = pacing_t0[0] + position / BYTES_PER_SECOND
        stop = self.interrupts.stop_sending
        while not (stop.is_set() or attempt.abandoned.is_set()):
            delay = due - self.clock()
            if delay <= 0:
                return
            stop.wait(min(delay, 0.1))

    # -- consumer -------------------------------------------------------------------------

    def run(self, source: PcmSourceLike, sink: Sink) -> StreamOutcome:
        opts = self.options
        info = StreamInfo(
            source=source.name,
            method=opts.method,
            config=config_to_dict(opts.config),
            duration=source.duration,
            emulated=opts.emulated,
        )
        sink.begin(info)
        started = self.clock()
        feed = AudioFeed(
            rechunk(source.blocks(), self.chunk_bytes),
            max_buffer_bytes=seconds_to_bytes(opts.replay_seconds),
        )
        dedupe = Deduper()
        latency = LatencyTracker()
        summary = SummaryBuilder()  # not the messages: memory stays flat in stream length
        counts = {"messages": 0, "results": 0}
        covered = 0.0  # seconds of audio covered by results received (absolute)
        sent_max = 0
        pacing_t0: list[float] = []
        error: BsError | None = None
        status = ExitStatus.SUCCESS
        attempt = _Attempt(number=0, start_pos=0)
        emulated_seen = False
        method_tag = opts.method if opts.tag_method else None

        while True:
            offset = attempt.start_pos / BYTES_PER_SECOND
            latency.restart()
            dedupe.next_attempt()
            watchdog = Watchdog(opts.timeout, self.clock)
            call = self.transport.start(
                opts.method, self._requests(attempt, feed, watchdog, latency, pacing_t0, source.name)
            )
            watchdog.watch(call)
            watchdog.start()
            self.interrupts.register(call.cancel)
            failure: CallFailed | None = None
            try:
                for wire in call:
                    now = self.clock()
                    watchdog.touch()
                    if not emulated_seen and call.is_emulated():
                        emulated_seen = True
                        self.on_emulated()
                    message = shift_message(from_proto(wire, source=source.name, method=method_tag), offset)
                    fresh = tuple(r for r in message.results if dedupe.is_new(r))
                    if message.results and not fresh:
                        continue  # a resumed stream repeating what we already have
                    if len(fresh) != len(message.results):
                        message = replace(message, results=fresh)
                    for result in fresh:
                        end = result.end
                        if end is not None:  # never past the audio sent (a bogus time can't skip audio)
                            covered = max(covered, min(end, attempt.sent_to / BYTES_PER_SECOND))
                        latency.received(end, now)
                    feed.release_before(min(seconds_to_bytes(covered), attempt.sent_to))
                    counts["messages"] += 1
                    counts["results"] += len(fresh)
                    summary.add(message)
                    sink.message(message)
            except CallFailed as exc:
                failure = exc
            finally:
                attempt.abandoned.set()
                watchdog.stop()
                self.interrupts.unregister(call.cancel)
            sent_max = max(sent_max, attempt.sent_to)

            if self.interrupts.interrupted:
                status = ExitStatus.INTERRUPTED
                break
            if failure is None:
                if feed.error is not None:
                    error = self._input_error(source.name, feed.error)
                elif not attempt.finished_sending:
                    error = ServiceError(
                        f"{source.name}: the server ended the stream early, after "
                        f"{sent_max / BYTES_PER_SECOND:.2f} s of audio",
                        hint="results received so far are kept",
                    )
                break
            if watchdog.fired:
                error = ConnectionFailure(
                    f"{source.name}: no response from the server for {opts.timeout:g} s "
                    f"(sent {sent_max / BYTES_PER_SECOND:.2f} s of audio)",
                    hint="raise --timeout or check the service",
                )
                break
            if feed.error is not None and failure.code == "CANCELLED":
                error = self._input_error(source.name, feed.error)
                break
            if is_transient(failure.code, failure.details) and attempt.number < opts.retries:
                resume_at = seconds_to_bytes(covered)
                lost = 0
                if resume_at < feed.buffer_start:
                    lost = feed.buffer_start - resume_at
                    resume_at = feed.buffer_start
                delay = min(opts.backoff_max, opts.backoff_base * 2**attempt.number) * (
                    0.5 + self.jitter() / 2
                )
                number = attempt.number + 1
                event = {
                    "event": "reconnect",
                    "source": source.name,
                    "attempt": number,
                    "max_attempts": opts.retries,
                    "code": failure.code,
                    "resume_from": round(resume_at / BYTES_PER_SECOND, 3),
                    "audio_lost_seconds": round(lost / BYTES_PER_SECOND, 3),
                    "delay_seconds": round(delay, 3),
                }
                line = (
                    f"{source.name}: {failure.code}; reconnecting in {delay:.1f} s "
                    f"(attempt {number}/{opts.retries}), resuming at {resume_at / BYTES_PER_SECOND:.2f} s"
                )
                if lost:
                    line += f"; {lost / BYTES_PER_SECOND:.2f} s of audio could not be replayed and is lost"
                self.notify(line)
                sink.event(event)
                if self.interrupts.stop_sending.wait(delay):
                    status = ExitStatus.INTERRUPTED
                    break
                attempt = _Attempt(number=number, start_pos=resume_at)
                continue
            error = error_for_grpc(failure.code, failure.details, source=source.name)
            hint = (
                connection_hint(failure.details, insecure=opts.insecure) if not counts["messages"] else None
            )
            if hint:
                error.hint = hint
            if is_transient(failure.code, failure.details) and opts.retries > 0:
                error.message += (
                    f" (gave up after {opts.retries} reconnects; sent {sent_max / BYTES_PER_SECOND:.2f} s"
                    f" of audio, results up to {covered:.2f} s)"
                )
            break

        if error is not None:
            status = error.exit_status
        wall = self.clock() - started
        audio_seconds = sent_max / BYTES_PER_SECOND
        outcome = StreamOutcome(
            status=int(status),
            summary=summary.summary(),
            audio_seconds=audio_seconds,
            wall_seconds=wall,
            messages=counts["messages"],
            results=counts["results"],
            error=error.line() if error is not None else None,
            stats=stats_dict(
                audio_seconds=audio_seconds,
                wall_seconds=wall,
                messages=counts["messages"],
                results=counts["results"],
                latencies=latency.latencies,
            )
            if opts.stats
            else None,
        )
        sink.end(replace(info, emulated=info.emulated or emulated_seen), outcome)
        return outcome

    @staticmethod
    def _input_error(name: str, exc: BaseException) -> BsError:
        if isinstance(exc, BsError):
            return exc
        return InputError(f"{name}: could not read the audio: {exc}")
