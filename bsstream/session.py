"""One stream end to end: audio producer, result consumer, retries, interrupts, flushing.

The producer is the request generator grpc consumes on its own thread: it reads chunks
through an ``AudioFeed`` (paced when asked) and ends by returning, which half-closes the
call. The consumer is the caller's thread: it reads results until the server closes, hands
each to the sink at once, and decides what a failure means (reconnect and resume, or stop).
Either side ending ends both: a producer failure half-closes; a consumer failure cancels.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from bsstream._gen import api_pb2
from bsstream.audio.chunks import chunk_bytes_for, rechunk
from bsstream.protocol.messages import BYTES_PER_SECOND, audio_message, config_message, config_to_dict
from bsstream.protocol.results import from_proto, shift_message
from bsstream.protocol.resume import (
    BACKOFF_NOW,
    BACKOFF_SLOW,
    DEFAULT_REPLAY_SECONDS,
    PROGRESS_AUDIO_SECONDS,
    AudioFeed,
    Deduper,
    ResumePlan,
    ResumePoint,
    RetryBudget,
    seconds_to_bytes,
)
from bsstream.protocol.stats import LatencyTracker, stats_dict
from bsstream.protocol.stream import Sink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import SummaryBuilder
from bsstream.settings import DEFAULT_RETRY_FOR, Credentials
from bsstream.status import (
    BsError,
    ConnectionFailure,
    ExitStatus,
    InputError,
    RetryKind,
    ServiceError,
    connection_hint,
    error_for_grpc,
    retry_kind,
)
from bsstream.transport import Call, CallFailed

_SIGTERM = int(getattr(signal, "SIGTERM", 15))
DIAGNOSE_TIMEOUT = 10.0  # s, at most, for the connection checks after a first call failed
MIN_CONNECT_WAIT = 1.0  # s: a reconnect may wait at least this long for the channel to connect


class PcmSourceLike(Protocol):
    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class CallStarter(Protocol):
    """What a session needs of the transport (bsstream.transport.Transport)."""

    def start(
        self, method: str, requests: Iterator[api_pb2.AudioStream], *, wait_for_ready: bool = False
    ) -> Call: ...

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool: ...

    def diagnose(self, timeout: float) -> BsError | None: ...

    def failure_hint(self, timeout: float) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StreamOptions:
    method: str
    credentials: Credentials
    config: api_pb2.AudioConfig
    chunk_ms: int = 250
    realtime: bool = False
    timeout: float = 60.0
    retries: int | None = None  # at most this many reconnects per stream (None: --retry-for decides)
    retry_for: float = DEFAULT_RETRY_FOR  # reconnect for this long without progress (0: never)
    backoff_base: float = BACKOFF_NOW[0]
    backoff_max: float = BACKOFF_NOW[1]
    stats: bool = False
    replay_seconds: float = DEFAULT_REPLAY_SECONDS
    insecure: bool = False
    emulated: bool = False
    tag_method: bool = False  # put the method on every message (scan: two methods, one output)


class Interrupts:
    """Ctrl-C / SIGTERM state shared by every stream of a run.

    First signal: stop sending (half-close) and give the server ``grace`` seconds to send
    its final results, then cancel. Second signal: cancel at once. :attr:`status` is the exit
    status the signal asks for: 143 after a SIGTERM (any of the signals), else 130.
    """

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.stop_sending = threading.Event()
        self.aborted = threading.Event()
        self.count = 0
        self.terminated = False  # a SIGTERM arrived
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    @property
    def status(self) -> ExitStatus:
        """The exit status of a stream or run these signals stopped."""
        return ExitStatus.TERMINATED if self.terminated else ExitStatus.INTERRUPTED

    def signal(self, signum: int | None = None) -> None:
        if signum == _SIGTERM:
            self.terminated = True
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
    wait_for_ready: bool = False  # reconnects wait for the channel; the first call fails fast
    abandoned: threading.Event = field(default_factory=threading.Event)
    finished_sending: bool = False
    sent_to: int = 0


@dataclass(slots=True)
class _CallEnd:
    failure: CallFailed | None  # None: the server closed the call with OK
    timed_out: bool  # the watchdog cancelled it


@dataclass(slots=True)
class _Stream:
    """One input's state across all its calls."""

    name: str
    sink: Sink
    feed: AudioFeed
    resume: ResumePoint
    budget: RetryBudget
    method_tag: str | None = None
    dedupe: Deduper = field(default_factory=Deduper)
    latency: LatencyTracker = field(default_factory=LatencyTracker)
    summary: SummaryBuilder = field(default_factory=SummaryBuilder)  # not the messages: flat memory
    pacing_t0: list[float] = field(default_factory=list)
    messages: int = 0
    results: int = 0
    sent_max: int = 0  # the furthest audio any call sent (bytes)
    responded: bool = False  # some call of this stream received a response
    diagnosed: bool = False
    emulated_seen: bool = False
    interrupted: bool = False
    error: BsError | None = None


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
        stream = self._open(source, sink)
        attempt: _Attempt | None = _Attempt(number=0, start_pos=0)
        while attempt is not None:
            ended = self._call(stream, attempt)
            attempt = self._next_attempt(stream, attempt, ended)
        return self._finish(stream, info, started)

    def _open(self, source: PcmSourceLike, sink: Sink) -> _Stream:
        opts = self.options
        config = opts.config
        utterances = not config.HasField("level") or config.level == api_pb2.utterance
        base = opts.backoff_base
        return _Stream(
            name=source.name,
            sink=sink,
            feed=AudioFeed(
                rechunk(source.blocks(), self.chunk_bytes),
                max_buffer_bytes=seconds_to_bytes(opts.replay_seconds),
            ),
            resume=ResumePoint(utterances=utterances),
            budget=RetryBudget(
                retry_for=opts.retry_for,
                max_reconnects=opts.retries,
                backoff=(base, opts.backoff_max),
                slow_backoff=(base * BACKOFF_SLOW[0] / BACKOFF_NOW[0], BACKOFF_SLOW[1]),
                jitter=self.jitter,
            ),
            method_tag=opts.method if opts.tag_method else None,
        )

    def _call(self, st: _Stream, attempt: _Attempt) -> _CallEnd:
        """One call: stream from ``attempt.start_pos``, hand every new result to the sink."""
        opts = self.options
        offset = attempt.start_pos / BYTES_PER_SECOND
        frontier = st.sent_max
        st.latency.restart()
        st.dedupe.next_attempt()
        watchdog = Watchdog(opts.timeout, self.clock)
        requests = self._requests(attempt, st.feed, watchdog, st.latency, st.pacing_t0, st.name)
        call = self.transport.start(opts.method, requests, wait_for_ready=attempt.wait_for_ready)
        watchdog.watch(call)
        watchdog.start()
        self.interrupts.register(call.cancel)
        failure: CallFailed | None = None
        try:
            for wire in call:
                now = self.clock()
                watchdog.touch()
                st.responded = True
                if not st.emulated_seen and call.is_emulated():
                    st.emulated_seen = True
                    self.on_emulated()
                message = shift_message(from_proto(wire, source=st.name, method=st.method_tag), offset)
                fresh = tuple(
                    r for r in message.results if not st.resume.is_replayed(r) and st.dedupe.is_new(r)
                )
                if message.results and not fresh:
                    continue  # a resumed call repeating what we already have
                if len(fresh) != len(message.results):
                    message = replace(message, results=fresh)
                sent = attempt.sent_to / BYTES_PER_SECOND
                for result in fresh:
                    st.resume.observe(result, sent)
                    st.latency.received(result.end, now)
                if fresh:
                    st.budget.progress()
                st.feed.release_before(min(st.resume.keep_from(), attempt.sent_to))
                st.messages += 1
                st.results += len(fresh)
                st.summary.add(message)
                st.sink.message(message)
        except CallFailed as exc:
            failure = exc
        finally:
            attempt.abandoned.set()
            watchdog.stop()
            self.interrupts.unregister(call.cancel)
        st.resume.call_ended(attempt.sent_to)
        if attempt.sent_to - frontier >= PROGRESS_AUDIO_SECONDS * BYTES_PER_SECOND:
            st.budget.progress()  # new audio went through, even without a result (a long silence)
        st.sent_max = max(st.sent_max, attempt.sent_to)
        return _CallEnd(failure=failure, timed_out=watchdog.fired)

    def _next_attempt(self, st: _Stream, attempt: _Attempt, ended: _CallEnd) -> _Attempt | None:
        """After a call: the next one (reconnect and resume), or None with the outcome recorded."""
        opts = self.options
        failure = ended.failure
        if self.interrupts.interrupted:
            st.interrupted = True
            return None
        if failure is None:
            if st.feed.error is not None:
                st.error = self._input_error(st.name, st.feed.error)
            elif not attempt.finished_sending:
                st.error = ServiceError(
                    f"{st.name}: the server ended the stream early, after "
                    f"{st.sent_max / BYTES_PER_SECOND:.2f} s of audio",
                    hint="results received so far are kept",
                )
            return None
        if ended.timed_out:
            st.error = ConnectionFailure(
                f"{st.name}: no response from the server for {opts.timeout:g} s "
                f"(sent {st.sent_max / BYTES_PER_SECOND:.2f} s of audio)",
                hint="raise --timeout or check the service",
            )
            return None
        if st.feed.error is not None and failure.code == "CANCELLED":
            st.error = self._input_error(st.name, st.feed.error)
            return None
        kind = retry_kind(failure.code)
        if kind is not RetryKind.NO and not st.responded and not st.diagnosed:
            # nothing ever answered: facts (DNS, TCP, TLS) may show that retrying cannot help
            st.diagnosed = True
            found = self.transport.diagnose(min(opts.timeout, DIAGNOSE_TIMEOUT))
            if found is not None:
                found.message = f"{st.name}: {found.message}"
                st.error = found
                return None
        decision = st.budget.decide(kind, self.clock(), failure.retry_pushback)
        if decision.delay is None:
            st.error = self._gave_up(st, failure, kind, decision.reason)
            return None
        plan = st.resume.plan(st.feed.buffer_start)
        self._announce(st, failure, decision.delay, plan)
        if self.interrupts.stop_sending.wait(decision.delay):
            st.interrupted = True
            return None
        ready = self._wait_ready(st)
        if ready is None:
            st.interrupted = True
            return None
        if not ready:
            st.error = self._gave_up(st, failure, kind, "window")
            return None
        return _Attempt(number=st.budget.reconnects, start_pos=plan.resume_at, wait_for_ready=True)

    def _wait_ready(self, st: _Stream) -> bool | None:
        """Wait for the channel to connect, within what is left of the retry window (at least
        ``MIN_CONNECT_WAIT`` s). True: connected; False: the window closed; None: interrupted."""
        stop = self.interrupts.stop_sending
        timeout = max(st.budget.remaining(self.clock()), MIN_CONNECT_WAIT)
        if self.transport.wait_ready(timeout, stop):
            return True
        return None if stop.is_set() else False

    def _announce(self, st: _Stream, failure: CallFailed, delay: float, plan: ResumePlan) -> None:
        """The reconnect line on stderr and its JSON event (and the utterance-lost ones)."""
        opts = self.options
        number = st.budget.reconnects
        resume_s = plan.resume_at / BYTES_PER_SECOND
        lost_s = plan.audio_lost / BYTES_PER_SECOND
        of = f"{number}/{opts.retries}" if opts.retries is not None else f"{number}"
        line = (
            f"{st.name}: {failure.code}; reconnecting in {delay:.1f} s "
            f"(attempt {of}), resuming at {resume_s:.2f} s"
        )
        if plan.audio_lost:
            line += f"; {lost_s:.2f} s of audio could not be replayed and is lost"
        self.notify(line)
        st.sink.event(
            {
                "event": "reconnect",
                "source": st.name,
                "attempt": number,
                "max_attempts": opts.retries,
                "code": failure.code,
                "resume_from": round(resume_s, 3),
                "audio_lost_seconds": round(lost_s, 3),
                "delay_seconds": round(delay, 3),
            }
        )
        if plan.utterance_lost is not None:
            start, end = plan.utterance_lost
            why = (
                f"the replay buffer reaches back only to {end:.2f} s"
                if plan.utterance_reason == "buffer"
                else "replaying it from its start failed twice"
            )
            self.notify(
                f"{st.name}: no utterance result will cover {start:.2f}-{end:.2f} s: {why}; "
                f"the utterance in progress comes back starting at {end:.2f} s"
            )
            st.sink.event(
                {
                    "event": "utterance_lost",
                    "source": st.name,
                    "start": round(start, 3),
                    "end": round(end, 3),
                    "reason": plan.utterance_reason,
                }
            )

    def _gave_up(self, st: _Stream, failure: CallFailed, kind: RetryKind, reason: str) -> BsError:
        """The final error of a failed call, saying how far the stream got if it was retried."""
        opts = self.options
        error = error_for_grpc(failure.code, failure.details, source=st.name)
        retried = reason in ("attempts", "window", "server")
        if not st.responded:
            # after retries, what the connection checks see now; else a hint from the details
            hint = (
                self.transport.failure_hint(min(opts.timeout, DIAGNOSE_TIMEOUT))
                if retried
                else connection_hint(failure.details, insecure=opts.insecure)
            )
            if hint:
                error.hint = hint
        progress = (
            f"sent {st.sent_max / BYTES_PER_SECOND:.2f} s of audio, results up to {st.resume.covered:.2f} s"
        )
        n = st.budget.reconnects
        reconnects = f"{n} reconnect{'' if n == 1 else 's'}"
        if reason == "attempts" and n:
            error.message += f" (gave up after {reconnects}; {progress})"
        elif reason == "window":
            error.message += (
                f" (gave up after {opts.retry_for:g} s of reconnecting without progress, "
                f"{reconnects}; {progress})"
            )
        elif reason == "server":
            pushback = failure.retry_pushback
            asked = (
                "not to retry"
                if pushback is None or pushback < 0
                else f"to retry in {pushback:g} s, beyond --retry-for"
            )
            error.message += f" (the server asked {asked}; {progress})"
        return error

    def _finish(self, st: _Stream, info: StreamInfo, started: float) -> StreamOutcome:
        opts = self.options
        status = self.interrupts.status if st.interrupted else ExitStatus.SUCCESS
        if st.error is not None:
            status = st.error.exit_status
        wall = self.clock() - started
        audio_seconds = st.sent_max / BYTES_PER_SECOND
        outcome = StreamOutcome(
            status=int(status),
            summary=st.summary.summary(),
            audio_seconds=audio_seconds,
            wall_seconds=wall,
            messages=st.messages,
            results=st.results,
            error=st.error.line() if st.error is not None else None,
            stats=stats_dict(
                audio_seconds=audio_seconds,
                wall_seconds=wall,
                messages=st.messages,
                results=st.results,
                latencies=st.latency.latencies,
            )
            if opts.stats
            else None,
        )
        st.sink.end(replace(info, emulated=info.emulated or st.emulated_seen), outcome)
        return outcome

    @staticmethod
    def _input_error(name: str, exc: BaseException) -> BsError:
        if isinstance(exc, BsError):
            return exc
        return InputError(f"{name}: could not read the audio: {exc}")
