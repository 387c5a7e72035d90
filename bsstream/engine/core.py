"""One stream on grpc.aio: the only path from audio to the wire and back.

:meth:`StreamEngine.run` makes calls until the stream ends: each call (``_communicate``) runs
the producer (audio -> requests: pacing, the replay buffer) and the consumer (responses ->
dedupe, coverage, the resume point) concurrently, with a watchdog for a silent server; the
consumer ending ends the producer, and a producer failure cancels the call. Between calls,
``_next_attempt`` decides: reconnect and resume (:mod:`bsstream.protocol.resume`), or stop
with the stream's error. All state lives in one :class:`StreamState`.

What the stream tells its caller goes through ``emit`` in order (results, reconnect and
utterance-lost events, the emulator's note); ``run`` returns a :class:`StreamEnd`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace

import grpc.aio

from bsstream._gen import api_pb2
from bsstream.audio.chunks import Pacer, chunk_bytes_for
from bsstream.engine.feed import ChunkFeed
from bsstream.engine.options import Method, StreamOptions
from bsstream.engine.wire import BidiCall, CallFailed, FirstStatus, Link, is_emulated
from bsstream.protocol.messages import BYTES_PER_SECOND, audio_message, config_message
from bsstream.protocol.results import ResultMessage, from_proto, shift_message
from bsstream.protocol.resume import (
    BACKOFF_NOW,
    BACKOFF_SLOW,
    PROGRESS_AUDIO_SECONDS,
    Deduper,
    ResumePlan,
    ResumePoint,
    RetryBudget,
    seconds_to_bytes,
)
from bsstream.protocol.stats import LatencyTracker, Stats
from bsstream.protocol.stream import Reconnect, StreamOutcome, UtteranceLost
from bsstream.protocol.summary import SummaryBuilder
from bsstream.status import (
    AuthError,
    BsError,
    ConnectionFailure,
    ExitStatus,
    InputError,
    RetryKind,
    ServiceError,
    UsageError,
    connection_hint,
    error_for_grpc,
    retry_kind,
)

DIAGNOSE_TIMEOUT = 10.0  # s, at most, for the connection checks after a first call failed
MIN_CONNECT_WAIT = 1.0  # s: a reconnect may wait at least this long for the channel to connect
WATCHDOG_TICK = 0.2  # s: the watchdog looks again at most this often while the server is quiet
LOCALLY_CANCELLED = "Locally cancelled by application!"


@dataclass(frozen=True, slots=True)
class Emulated:
    """The server said it is the local emulator (told once per stream, with its first answer)."""


Item = ResultMessage | Reconnect | UtteranceLost | Emulated
Emit = Callable[[Item], Awaitable[None]]


class Control:
    """Stop sending (half-close, wait for the last results) and abort (cancel at once) for the
    streams of one run. Loop-bound: call it on the engine's loop (``call_soon_threadsafe``)."""

    def __init__(self) -> None:
        self.stopping = False
        self.aborted = False
        self.status = ExitStatus.INTERRUPTED  # the exit status of a stream it stopped
        self._sleepers: set[asyncio.Future[None]] = set()
        self._cancels: set[Callable[[], object]] = set()

    def stop(self, status: ExitStatus = ExitStatus.INTERRUPTED) -> None:
        self.status = status
        self.stopping = True
        for sleeper in list(self._sleepers):
            if not sleeper.done():
                sleeper.set_result(None)

    def abort(self) -> None:
        if not self.stopping:
            self.stop(self.status)
        self.aborted = True
        for cancel in list(self._cancels):
            cancel()

    def watch(self, cancel: Callable[[], object]) -> None:
        """Run ``cancel`` on abort (now, if already aborted) until :meth:`unwatch`."""
        self._cancels.add(cancel)
        if self.aborted:
            cancel()

    def unwatch(self, cancel: Callable[[], object]) -> None:
        self._cancels.discard(cancel)

    async def sleep(self, delay: float) -> bool:
        """Wait ``delay`` s or until a stop; True when stopping."""
        if self.stopping or delay <= 0:
            return self.stopping
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(delay, _wake, sleeper)
        self._sleepers.add(sleeper)
        try:
            await sleeper
        finally:
            timer.cancel()
            self._sleepers.discard(sleeper)
        return self.stopping


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


@dataclass(frozen=True, slots=True)
class AudioInput:
    """What the engine streams: a name for messages and errors, and PCM blocks (16 kHz mono
    s16le, any size) from a sync or async source."""

    name: str
    blocks: Iterable[bytes] | AsyncIterable[bytes]
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How a stream ended: its outcome, and the error object behind ``outcome.error``."""

    outcome: StreamOutcome
    error: BsError | None
    emulated: bool  # the server said it is the local emulator


@dataclass(slots=True)
class Attempt:
    """One call's state."""

    number: int
    start_pos: int  # absolute byte offset this call's audio starts at
    wait_for_ready: bool = False  # reconnects wait for the channel; the first call fails fast
    finished_sending: bool = False
    sent_to: int = 0
    last_activity: float = 0.0  # the server last sent or accepted something (watchdog)
    paused: bool = False  # waiting for input or pacing: not the server's silence
    cancelled: bool = False  # we cancelled the call (watchdog, abort, producer failure)
    timed_out: bool = False
    metadata_read: bool = False  # the server's initial metadata was looked at


@dataclass(slots=True)
class CallEnd:
    failure: CallFailed | None  # None: the server closed the call with OK
    timed_out: bool  # the watchdog cancelled it


@dataclass(slots=True)
class StreamState:
    """One stream's state across all its calls."""

    name: str
    feed: ChunkFeed
    resume: ResumePoint
    budget: RetryBudget
    pacer: Pacer
    attempt: Attempt = field(default_factory=lambda: Attempt(number=0, start_pos=0))
    method_tag: str | None = None
    dedupe: Deduper = field(default_factory=Deduper)
    latency: LatencyTracker = field(default_factory=LatencyTracker)
    summary: SummaryBuilder = field(default_factory=SummaryBuilder)  # not the messages: flat memory
    messages: int = 0
    results: int = 0
    sent_max: int = 0  # the furthest audio any call sent (bytes)
    responded: bool = False  # some call of this stream received a response
    diagnosed: bool = False
    seen: str | None = None  # what the checks saw when the first call failed (said with the reconnect)
    emulated_seen: bool = False
    interrupted: bool = False
    error: BsError | None = None


def _rebuilt(error: BsError, message: str, hint: str | None) -> BsError:
    """The same kind of error with its final message and hint (errors are never mutated)."""
    try:
        return type(error)(message, hint=hint)
    except TypeError:  # a subclass with its own constructor: the plain class of its status
        fallback = {
            ExitStatus.AUTH: AuthError,
            ExitStatus.CONNECTION: ConnectionFailure,
            ExitStatus.INPUT: InputError,
            ExitStatus.USAGE: UsageError,
        }.get(error.exit_status, ServiceError)
        return fallback(message, hint=hint)


class StreamEngine:
    """Streams one input over ``link``; :meth:`run` never raises for a stream-level failure."""

    def __init__(
        self,
        link: Link,
        options: StreamOptions,
        audio: AudioInput,
        emit: Emit,
        *,
        control: Control | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        on_progress: Callable[[str, float], None] | None = None,
    ) -> None:
        self.link = link
        self.options = options
        self.method = Method(options.method)
        self.audio = audio
        self.emit = emit
        self.control = control or Control()
        self.clock = clock
        self.on_progress = on_progress
        self.chunk_bytes = chunk_bytes_for(options.chunk_ms)
        self.state = self._open(jitter)
        self._producer_error: BaseException | None = None

    def _open(self, jitter: Callable[[], float]) -> StreamState:
        opts = self.options
        config = opts.config
        utterances = not config.HasField("level") or config.level == api_pb2.utterance
        base = opts.backoff_base
        return StreamState(
            name=self.audio.name,
            feed=ChunkFeed(
                self.audio.blocks,
                chunk_bytes=self.chunk_bytes,
                max_buffer_bytes=seconds_to_bytes(opts.replay_seconds),
                read_ahead=0 if opts.realtime else ChunkFeed.READ_AHEAD,
            ),
            resume=ResumePoint(utterances=utterances),
            budget=RetryBudget(
                retry_for=opts.retry_for,
                max_reconnects=opts.retries,
                backoff=(base, opts.backoff_max),
                slow_backoff=(base * BACKOFF_SLOW[0] / BACKOFF_NOW[0], BACKOFF_SLOW[1]),
                jitter=jitter,
            ),
            pacer=Pacer(self.clock),
            method_tag=opts.method if opts.tag_method else None,
        )

    async def run(self) -> StreamEnd:
        """Stream the whole input (reconnecting as the retry budget allows)."""
        started = self.clock()
        attempt: Attempt | None = self.state.attempt
        try:
            while attempt is not None:
                self.state.attempt = attempt
                ended = await self._call(attempt)
                attempt = await self._next_attempt(attempt, ended)
        finally:
            await self.state.feed.aclose()
        return self._finish(started)

    # -- one call -----------------------------------------------------------------------

    async def _call(self, attempt: Attempt) -> CallEnd:
        """One call: stream from ``attempt.start_pos``, emit every new result."""
        st = self.state
        frontier = st.sent_max
        st.latency.restart()
        st.dedupe.next_attempt()
        attempt.last_activity = self.clock()
        call = self.link.start(self.method, wait_for_ready=attempt.wait_for_ready)
        failure = await self._communicate(call, attempt)
        st.resume.call_ended(attempt.sent_to)
        refused = failure is not None and retry_kind(failure.code) is RetryKind.SLOW
        if not refused and attempt.sent_to - frontier >= PROGRESS_AUDIO_SECONDS * BYTES_PER_SECOND:
            # new audio went through, even without a result (a long silence); a call the server
            # refused (a limit) took none, however much was written before the refusal arrived
            st.budget.progress()
        st.sent_max = max(st.sent_max, attempt.sent_to)
        return CallEnd(failure=failure, timed_out=attempt.timed_out)

    async def _communicate(self, call: BidiCall, attempt: Attempt) -> CallFailed | None:
        """Producer and watchdog run beside the consumer; the consumer ending ends them."""

        def cancel() -> None:
            attempt.cancelled = True
            call.cancel()

        helpers = [asyncio.ensure_future(self._producer_handler(call, attempt, cancel))]
        if self.options.timeout > 0:
            helpers.append(asyncio.ensure_future(self._watchdog(attempt, cancel)))
        self.control.watch(cancel)
        try:
            failure = await self._consumer_handler(call, attempt)
        finally:
            self.control.unwatch(cancel)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if not call.done():
                cancel()
        if self._producer_error is not None:
            raise self._producer_error
        return failure

    async def _producer_handler(self, call: BidiCall, attempt: Attempt, cancel: Callable[[], None]) -> None:
        """Audio -> requests: the config, then chunks from the resume point; half-closes at the
        end of the audio or on a stop. A failed write means the call ended: the consumer says how."""
        try:
            await self._produce(call, attempt)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return
        except Exception as exc:  # a bug, not the stream's fate: end the call and raise it
            self._producer_error = exc
            cancel()

    async def _produce(self, call: BidiCall, attempt: Attempt) -> None:
        creds = self.options.credentials
        await call.write(config_message(creds.cid, creds.api_key, self.options.config))
        attempt.last_activity = self.clock()
        position = attempt.start_pos
        while not self.control.stopping:
            data = await self._next_chunk(attempt, position)
            if not data:
                attempt.finished_sending = True
                break
            if self.control.stopping:
                break
            position += len(data)
            self._sent(attempt, position)
            await call.write(audio_message(creds.cid, creds.api_key, data))
            attempt.last_activity = self.clock()
        await call.done_writing()

    async def _next_chunk(self, attempt: Attempt, position: int) -> bytes:
        """The chunk at ``position``, when it is due (``--realtime``). Waiting for the input or
        the schedule is not the server's silence: the watchdog is paused meanwhile."""
        attempt.paused = True
        try:
            data = await self.state.feed.read(position, self.chunk_bytes)
            if data and self.options.realtime:
                await self.control.sleep(self.state.pacer.delay(position))
        finally:
            attempt.paused = False
            attempt.last_activity = self.clock()
        return data

    def _sent(self, attempt: Attempt, position: int) -> None:
        attempt.sent_to = position
        seconds = position / BYTES_PER_SECOND
        self.state.latency.sent(seconds, self.clock())
        if self.on_progress is not None:
            self.on_progress(self.state.name, seconds)

    async def _consumer_handler(self, call: BidiCall, attempt: Attempt) -> CallFailed | None:
        """Responses -> results: every new one is emitted at once. None: the server closed
        the call with OK; else how it failed."""
        offset = attempt.start_pos / BYTES_PER_SECOND
        status = FirstStatus(call)
        try:
            async for wire in call:
                await self._received(call, attempt, wire, offset)
        except grpc.aio.AioRpcError as err:
            return await status.of(call, err)
        except asyncio.CancelledError:
            if not attempt.cancelled or self._task_cancelled():
                raise
            return CallFailed("CANCELLED", LOCALLY_CANCELLED)
        return None

    @staticmethod
    def _task_cancelled() -> bool:
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        return bool(cancelling()) if cancelling is not None else False

    async def _received(
        self, call: BidiCall, attempt: Attempt, wire: api_pb2.StreamResult, offset: float
    ) -> None:
        st = self.state
        attempt.last_activity = now = self.clock()
        st.responded = True
        if not attempt.metadata_read:  # the server's headers came with its first answer
            attempt.metadata_read = True
            if not st.emulated_seen and await is_emulated(call):
                st.emulated_seen = True
                await self.emit(Emulated())
        message = self._accept(attempt, wire, offset, now)
        if message is not None:
            await self.emit(message)

    def _accept(
        self, attempt: Attempt, wire: api_pb2.StreamResult, offset: float, now: float
    ) -> ResultMessage | None:
        """Dedupe, coverage and the resume point: the message to emit, None for a repeat."""
        st = self.state
        message = shift_message(from_proto(wire, source=st.name, method=st.method_tag), offset)
        fresh = tuple(r for r in message.results if not st.resume.is_replayed(r) and st.dedupe.is_new(r))
        if message.results and not fresh:
            return None  # a resumed call repeating what we already have
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
        return message

    async def _watchdog(self, attempt: Attempt, cancel: Callable[[], None]) -> None:
        """Cancels the call when the server neither sends nor accepts anything for ``timeout`` s
        (time spent waiting for input or pacing does not count)."""
        timeout = self.options.timeout
        while True:
            quiet = self.clock() - attempt.last_activity
            if not attempt.paused and quiet > timeout:
                attempt.timed_out = True
                cancel()
                return
            await asyncio.sleep(max(timeout - quiet, min(WATCHDOG_TICK, timeout / 4)))

    # -- between calls ------------------------------------------------------------------

    async def _next_attempt(self, attempt: Attempt, ended: CallEnd) -> Attempt | None:
        """After a call: the next one (reconnect and resume), or None with the outcome recorded."""
        st = self.state
        if self.control.stopping:
            st.interrupted = True
            return None
        failure = ended.failure
        if failure is None:
            st.error = self._closed_error(attempt)
            return None
        st.error = self._final_error(ended, failure)
        if st.error is not None:
            return None
        kind = retry_kind(failure.code)
        st.error = await self._diagnose_once(kind)
        if st.error is not None:
            return None
        return await self._reconnect(failure, kind)

    def _closed_error(self, attempt: Attempt) -> BsError | None:
        """The server closed the call with OK: an error only when the input failed or the
        server ended before all the audio was sent."""
        st = self.state
        if st.feed.failure is not None:
            return self._input_error(st.feed.failure)
        if not attempt.finished_sending:
            return ServiceError(
                f"{st.name}: the server ended the stream early, after "
                f"{st.sent_max / BYTES_PER_SECOND:.2f} s of audio",
                hint="results received so far are kept",
            )
        return None

    def _final_error(self, ended: CallEnd, failure: CallFailed) -> BsError | None:
        """A failure no reconnect is tried for: the watchdog fired, or the input failed."""
        st = self.state
        if ended.timed_out:
            return ConnectionFailure(
                f"{st.name}: no response from the server for {self.options.timeout:g} s "
                f"(sent {st.sent_max / BYTES_PER_SECOND:.2f} s of audio)",
                hint="raise --timeout or check the service",
            )
        if st.feed.failure is not None and failure.code == "CANCELLED":
            return self._input_error(st.feed.failure)
        return None

    async def _diagnose_once(self, kind: RetryKind) -> BsError | None:
        """Nothing ever answered: facts (DNS, TCP, TLS) may show that retrying cannot help."""
        st = self.state
        if kind is RetryKind.NO or st.responded or st.diagnosed:
            return None
        st.diagnosed = True
        found, st.seen = await self.link.examine(min(self.options.timeout, DIAGNOSE_TIMEOUT))
        if found is None:
            return None
        return _rebuilt(found, f"{st.name}: {found.message}", found.hint)

    async def _reconnect(self, failure: CallFailed, kind: RetryKind) -> Attempt | None:
        """Wait out the backoff and for the channel; the resumed call's attempt (None: give up)."""
        st = self.state
        decision = st.budget.decide(kind, self.clock(), failure.retry_pushback)
        if decision.delay is None:
            st.error = await self._gave_up(failure, decision.reason)
            return None
        plan = st.resume.plan(st.feed.buffer_start)
        await self._announce(failure, decision.delay, plan)
        if await self.control.sleep(decision.delay):
            st.interrupted = True
            return None
        timeout = max(st.budget.remaining(self.clock()), MIN_CONNECT_WAIT)
        ready = await self.link.wait_ready(timeout, self.control)
        if ready is None:
            st.interrupted = True
            return None
        if not ready:
            st.error = await self._gave_up(failure, "window")
            return None
        return Attempt(number=st.budget.reconnects, start_pos=plan.resume_at, wait_for_ready=True)

    async def _announce(self, failure: CallFailed, delay: float, plan: ResumePlan) -> None:
        """The reconnect event (and the utterance-lost one)."""
        st = self.state
        await self.emit(
            Reconnect(
                source=st.name,
                attempt=st.budget.reconnects,
                max_attempts=self.options.retries,
                code=failure.code,
                resume_from=plan.resume_at / BYTES_PER_SECOND,
                audio_lost_seconds=plan.audio_lost / BYTES_PER_SECOND,
                delay_seconds=delay,
                reason=st.seen,
                window_seconds=st.budget.remaining(self.clock()) if st.seen else None,
            )
        )
        st.seen = None  # said once
        if plan.utterance_lost is not None:
            start, end = plan.utterance_lost
            await self.emit(UtteranceLost(st.name, start, end, plan.utterance_reason))

    async def _gave_up(self, failure: CallFailed, reason: str) -> BsError:
        """The final error of a failed call, saying how far the stream got if it was retried."""
        st = self.state
        error = error_for_grpc(failure.code, failure.details, source=st.name)
        hint = error.hint
        if not st.responded:
            found = await self._connection_hint(failure, reason)
            hint = found or hint
        return _rebuilt(error, error.message + self._gave_up_note(failure, reason), hint)

    async def _connection_hint(self, failure: CallFailed, reason: str) -> str | None:
        """After retries, what the connection checks see now; else a hint from the details."""
        if reason in ("attempts", "window", "server"):
            return await self.link.failure_hint(min(self.options.timeout, DIAGNOSE_TIMEOUT))
        return connection_hint(failure.details, insecure=self.options.insecure)

    def _gave_up_note(self, failure: CallFailed, reason: str) -> str:
        st = self.state
        sent = st.sent_max / BYTES_PER_SECOND
        progress = f"sent {sent:.2f} s of audio, results up to {st.resume.covered:.2f} s"
        n = st.budget.reconnects
        reconnects = f"{n} reconnect{'' if n == 1 else 's'}"
        if reason == "attempts" and n:
            return f" (gave up after {reconnects}; {progress})"
        if reason == "window":
            return (
                f" (gave up after {self.options.retry_for:g} s of reconnecting without progress, "
                f"{reconnects}; {progress})"
            )
        if reason == "server":
            pushback = failure.retry_pushback
            asked = (
                "not to retry"
                if pushback is None or pushback < 0
                else f"to retry in {pushback:g} s, beyond --retry-for"
            )
            return f" (the server asked {asked}; {progress})"
        return ""

    # -- the end --------------------------------------------------------------------------

    def _finish(self, started: float) -> StreamEnd:
        st = self.state
        status = self.control.status if st.interrupted else ExitStatus.SUCCESS
        if st.error is not None:
            status = st.error.exit_status
        wall = self.clock() - started
        audio_seconds = st.sent_max / BYTES_PER_SECOND
        stats: Stats | None = None
        if self.options.stats:
            stats = Stats.measured(
                audio_seconds=audio_seconds,
                wall_seconds=wall,
                messages=st.messages,
                results=st.results,
                latencies=st.latency.latencies,
            )
        outcome = StreamOutcome(
            status=ExitStatus(status),
            summary=st.summary.summary(),
            audio_seconds=audio_seconds,
            wall_seconds=wall,
            messages=st.messages,
            results=st.results,
            error=st.error.line() if st.error is not None else None,
            stats=stats,
        )
        return StreamEnd(outcome=outcome, error=st.error, emulated=st.emulated_seen)

    def _input_error(self, exc: BaseException) -> BsError:
        if isinstance(exc, BsError):
            return exc
        return InputError(f"{self.state.name}: could not read the audio: {exc}")
