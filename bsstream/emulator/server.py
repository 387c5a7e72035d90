"""The local emulator: a gRPC server that speaks the contract, checks the protocol, injects faults.

Transport and protocol live here; what the results say comes from :mod:`analysis`.
Every call first sends the initial metadata ``("bsstream-emulator", "1")`` so a client can tell
it is talking to the emulator, even when the call then fails.

Limits (so one client cannot starve the others or exhaust memory; see the README, "The local
emulator"): the server is a ``grpc.aio`` server on its own event-loop thread, so an open call
that sends nothing holds no thread; analysis runs on a small thread pool in steps of at most
``analysis.MAX_STEP_SECONDS`` of audio. A call that sends no message for ``idle_timeout`` seconds
ends with DEADLINE_EXCEEDED; calls beyond ``max_calls`` at once are refused at once with
RESOURCE_EXHAUSTED (and a ``grpc-retry-pushback-ms`` trailer); a message over
``MAX_MESSAGE_BYTES`` is refused by gRPC with RESOURCE_EXHAUSTED; the call logs keep the last
``keep_calls`` calls and, per call, the last ``LOGGED_MESSAGES`` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.emulator import analysis
from bsstream.protocol.methods import Method

EMULATOR_METADATA = ("bsstream-emulator", "1")
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # gRPC's default receive limit, set explicitly: 131 s at 16 kHz
DEFAULT_IDLE_SECONDS = 30.0  # a call that sends nothing for this long ends with DEADLINE_EXCEEDED
DEFAULT_MAX_CALLS = 256  # calls open at once; more are refused with RESOURCE_EXHAUSTED
DEFAULT_KEEP_CALLS = 256  # call logs kept (finished ones beyond this are dropped, oldest first)
LOGGED_MESSAGES = 256  # per call log: chunk sizes and credentials of the last N messages
ANALYSIS_THREADS = 4  # analysis steps run here; the event loop only moves messages
RETRY_PUSHBACK_MS = 1000  # the retry hint sent with a concurrency refusal
# gRPC's own limit, a backstop above ours: beyond it calls are refused before reaching the handler
_GRPC_CALL_HEADROOM = 64
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # permissive keepalive: a client may ping every 30 s (or every 10 s) without a GOAWAY
    ("grpc.http2.min_ping_interval_without_data_ms", 10000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_ping_strikes", 0),
    # fail loudly when the port is taken instead of sharing it
    ("grpc.so_reuseport", 0),
)


class EmulatorError(Exception):
    """The emulator could not start: ``kind`` is "address" (port in use, bad host) or "tls"."""

    def __init__(self, message: str, kind: str = "address") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Faults:
    """Failures on demand; every count is per call and counts audio messages (not the config)."""

    abort_after: int | None = None  # abort each call with abort_code after N audio messages
    abort_code: str = "UNAVAILABLE"  # grpc.StatusCode name
    delay_ms: int = 0  # delay each response message by D ms
    hang_after: int | None = None  # after N audio messages stop reading and responding
    refuse_first: int = 0  # the first K calls fail at once with UNAVAILABLE ("refused")
    close_early_after: int | None = None  # end the call OK after N audio messages, without flushing

    def __post_init__(self) -> None:
        self.abort_code = self.abort_code.upper()
        if self.abort_code not in grpc.StatusCode.__members__ or self.abort_code == "OK":
            raise ValueError(f"abort_code must be a gRPC status code name other than OK: {self.abort_code!r}")
        for name in ("abort_after", "hang_after", "close_early_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.delay_ms < 0 or self.refuse_first < 0:
            raise ValueError("delay_ms and refuse_first must be >= 0")

    def describe(self) -> list[str]:
        """One short phrase per active fault (for the serve banner)."""
        out = []
        if self.refuse_first:
            out.append(f"refuse the first {self.refuse_first} call(s) with UNAVAILABLE")
        if self.abort_after is not None:
            out.append(f"abort with {self.abort_code} after {self.abort_after} audio message(s)")
        if self.hang_after is not None:
            out.append(f"hang after {self.hang_after} audio message(s)")
        if self.close_early_after is not None:
            out.append(f"close early (OK, no flush) after {self.close_early_after} audio message(s)")
        if self.delay_ms:
            out.append(f"delay each response by {self.delay_ms} ms")
        return out


_T = TypeVar("_T")


def _recent() -> deque[_T]:
    return deque(maxlen=LOGGED_MESSAGES)


@dataclass
class CallLog:
    """What one call looked like from the server's side (bounded: per-message lists keep the last
    ``LOGGED_MESSAGES`` entries; the counters and the digest cover the whole call)."""

    method: str
    pid: int
    seq: int = 0  # 1 for the emulator's first call, and so on
    config: api_pb2.AudioConfig | None = None
    messages: int = 0  # every AudioStream received, the config one included
    audio_messages: int = 0  # messages after the config
    total_audio_bytes: int = 0
    audio_sha256: str = hashlib.sha256().hexdigest()  # of all audio bytes, in order
    responses: int = 0
    results: int = 0
    # final status code name (None while running). A call gRPC itself cuts (a message over
    # MAX_MESSAGE_BYTES) shows CANCELLED, or OK when the handler saw only the stream's end.
    code: str | None = None
    details: str = ""
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _chunk_sizes: deque[int] = field(default_factory=_recent, init=False, repr=False, compare=False)
    _cids: deque[int] = field(default_factory=_recent, init=False, repr=False, compare=False)
    _tokens: deque[str] = field(default_factory=_recent, init=False, repr=False, compare=False)

    def note(self, msg: api_pb2.AudioStream) -> None:
        """Count a received message (its credentials; its audio size when it is not the config)."""
        self.messages += 1
        self._cids.append(msg.cid)
        self._tokens.append(msg.x_auth_token)

    def note_audio(self, size: int) -> None:
        """Count an audio message of ``size`` bytes."""
        self.audio_messages += 1
        self.total_audio_bytes += size
        self._chunk_sizes.append(size)

    @property
    def chunk_sizes(self) -> list[int]:
        """audio_content length of each message after the config (the last ``LOGGED_MESSAGES``)."""
        return list(self._chunk_sizes)

    @property
    def cids(self) -> list[int]:
        """cid of each message (the last ``LOGGED_MESSAGES``)."""
        return list(self._cids)

    @property
    def tokens(self) -> list[str]:
        """x_auth_token of each message (the last ``LOGGED_MESSAGES``)."""
        return list(self._tokens)

    @property
    def credentials(self) -> list[tuple[int, str]]:
        """(cid, token) of each message (the last ``LOGGED_MESSAGES``)."""
        return list(zip(self._cids, self._tokens, strict=True))


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, pushback_ms: int | None = None) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.pushback_ms = pushback_ms


class _Credentials:
    def __init__(self, cid: int | None, api_key: str | None) -> None:
        self.cid = cid
        self.api_key = api_key

    def check(self, msg: api_pb2.AudioStream) -> None:
        if msg.cid == 0 or not msg.x_auth_token:
            missing = [
                name
                for name, ok in (("cid", msg.cid != 0), ("x_auth_token", bool(msg.x_auth_token)))
                if not ok
            ]
            raise _Abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"missing {' and '.join(missing)}: every message must carry cid and x_auth_token",
            )
        if self.cid is not None and msg.cid != self.cid:
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials: unknown cid or API key")
        if self.api_key is not None and not hmac.compare_digest(
            msg.x_auth_token.encode("utf-8"), self.api_key.encode("utf-8")
        ):
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, "invalid credentials: unknown cid or API key")


def check_first(msg: api_pb2.AudioStream) -> api_pb2.AudioConfig:
    """Rule 1: the first message carries config and no audio; the config must be usable."""
    if not msg.HasField("config"):
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "the first message must carry config (rule 1: config first, no audio)",
        )
    if msg.audio_content:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "the first message must not carry audio_content (rule 1: config first, no audio)",
        )
    config = msg.config
    if config.encoding != api_pb2.LINEAR_PCM:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"unsupported encoding {config.encoding}: only LINEAR_PCM is supported",
        )
    if config.sample_rate_hertz <= 0:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"sample_rate_hertz must be positive, got {config.sample_rate_hertz}",
        )
    if not MIN_SAMPLE_RATE <= config.sample_rate_hertz <= MAX_SAMPLE_RATE:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"sample_rate_hertz {config.sample_rate_hertz} is outside "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} (16000 recommended)",
        )
    if config.HasField("level") and config.level not in (api_pb2.segment, api_pb2.utterance):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown level {config.level}: segment or utterance")
    return config


def check_later(msg: api_pb2.AudioStream) -> None:
    """Rule 2: later messages carry audio and no config."""
    if msg.HasField("config"):
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "config is allowed only in the first message (rule 2: later messages carry audio only)",
        )


def to_results(
    window: analysis.Window, outputs: Iterable[analysis.TaskOutput], *, logits: bool, tag_level: bool = True
) -> list[api_pb2.InferenceResult]:
    """Wire InferenceResults for one window's task outputs."""
    level = api_pb2.segment if window.kind == analysis.SEGMENT else api_pb2.utterance
    out = []
    for task in outputs:
        result = api_pb2.InferenceResult(
            id=str(window.index),
            start_time=analysis.format_time(window.start),
            end_time=analysis.format_time(window.end),
            task=task.task,
            final_label=task.final_label,
        )
        if task.labels:
            posteriors = analysis.format_posteriors(task.posteriors)
            # the final label is the best *printed* posterior (rounding never reorders: sorted input)
            for label, text, p in zip(task.labels, posteriors, task.posteriors, strict=True):
                pred = result.prediction.add(label=label, posterior=text)
                if logits:
                    pred.logit = analysis.format_logit(p)
        if task.embedding is not None:
            result.embedding = analysis.format_embedding(task.embedding)
        if tag_level:
            result.level = level
        out.append(result)
    return out


def _bind(
    server: grpc.Server | grpc.aio.Server, target: str, cert: bytes | None = None, key: bytes | None = None
) -> int:
    """Add a listening port; 0 when it cannot be bound (grpc raises or returns 0, by version)."""
    try:
        if cert is not None and key is not None:
            return server.add_secure_port(target, grpc.ssl_server_credentials([(key, cert)]))
        return server.add_insecure_port(target)
    except RuntimeError:
        return 0


if TYPE_CHECKING:
    _Context = grpc.aio.ServicerContext[api_pb2.AudioStream, api_pb2.StreamResult]
    _Requests = AsyncIterator[api_pb2.AudioStream]


class _Servicer(api_pb2_grpc.BehavioralStreamingApiServicer):
    """Both methods as async generators: an open call costs the server a coroutine, not a thread."""

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator

    async def StreamAudio(  # type: ignore[override]
        self, request_iterator: _Requests, context: _Context
    ) -> AsyncIterator[api_pb2.StreamResult]:
        async for response in self._emu._handle(Method.ANALYZE.value, request_iterator, context):
            yield response

    async def DeepfakeDetection(  # type: ignore[override]
        self, request_iterator: _Requests, context: _Context
    ) -> AsyncIterator[api_pb2.StreamResult]:
        async for response in self._emu._handle(Method.DEEPFAKE.value, request_iterator, context):
            yield response


class _Call:
    """One call's protocol state: config, analysis, response numbering."""

    def __init__(self, method: str, log: CallLog, cid: int, config: api_pb2.AudioConfig) -> None:
        self.method = method
        self.log = log
        self.cid = cid
        self.logits = config.HasField("logits") and config.logits
        self.embedding = config.HasField("feature_embedding") and config.feature_embedding
        level = config.level if config.HasField("level") else None
        self.analyzer = analysis.StreamAnalyzer(
            config.sample_rate_hertz,
            segments=level in (None, api_pb2.segment),
            utterances=level in (None, api_pb2.utterance),
        )
        self._next_id = 0

    def responses(self, windows: list[analysis.Window]) -> Iterator[api_pb2.StreamResult]:
        for window in windows:
            if self.method == Method.DEEPFAKE:
                outputs = analysis.deepfake(window.measures, embedding=self.embedding)
            else:
                outputs = analysis.behavioral(window.measures, embedding=self.embedding)
            msg = api_pb2.StreamResult(cid=self.cid, pid=self.log.pid, message_id=self._next_id)
            msg.result.extend(to_results(window, outputs, logits=self.logits))
            self._next_id += 1
            yield msg


class Emulator:
    """The local server. A context manager: ``with Emulator() as emu: ... emu.address``.

    ``idle_timeout``: seconds a call may go without sending a message (None: no limit);
    ``max_calls``: calls served at once (more are refused with RESOURCE_EXHAUSTED);
    ``keep_calls``: finished call logs kept in :attr:`calls` (running calls are always there).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        cid: int | None = None,
        api_key: str | None = None,
        faults: Faults | None = None,
        tls_cert: bytes | None = None,
        tls_key: bytes | None = None,
        idle_timeout: float | None = DEFAULT_IDLE_SECONDS,
        max_calls: int = DEFAULT_MAX_CALLS,
        keep_calls: int = DEFAULT_KEEP_CALLS,
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise EmulatorError("TLS needs both a certificate and a key", "tls")
        if api_key is not None and not api_key:
            raise ValueError("the API key must not be empty")
        if cid is not None and cid == 0:
            raise ValueError("the cid must not be 0")
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError("idle_timeout must be positive (or None for no limit)")
        if max_calls < 1 or keep_calls < 1:
            raise ValueError("max_calls and keep_calls must be >= 1")
        self.host = host
        self.port = port
        self.address = ""
        self.tls = tls_cert is not None
        self.faults = faults or Faults()
        self.idle_timeout = idle_timeout
        self.max_calls = max_calls
        self.keep_calls = keep_calls
        self.calls: list[CallLog] = []  # in start order: the running calls and the last keep_calls finished
        self._seen = 0  # calls ever started
        self._active = 0  # calls admitted and not yet ended
        self._credentials = _Credentials(cid, api_key)
        self._tls_cert = tls_cert
        self._tls_key = tls_key
        self._server: grpc.aio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pids = itertools.count(10000 + os.getpid() % 50000)

    @property
    def active_calls(self) -> int:
        """Calls being served now."""
        return self._active

    def describe_limits(self) -> str:
        """The limits in one phrase (for the serve banner)."""
        idle = f"{self.idle_timeout:g} s" if self.idle_timeout is not None else "none"
        return (
            f"{self.max_calls} calls at once, idle limit {idle}, "
            f"messages up to {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB"
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        """Listen (on a background thread) and fill in :attr:`address`; a no-op when running.
        An :class:`EmulatorError` when it cannot listen or the TLS certificate is invalid."""
        if self._server is not None:
            return self
        self._stopping.clear()
        target = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="bsstream-emulator", daemon=True)
        thread.start()
        try:
            server, port = asyncio.run_coroutine_threadsafe(self._create(target), loop).result()
        except BaseException:
            _close_loop(loop, thread)
            raise
        if server is None:
            _close_loop(loop, thread)
            if self._tls_cert is not None and _bind(grpc.server(futures.ThreadPoolExecutor(1)), target):
                raise EmulatorError("the TLS certificate or key is invalid (or they do not match)", "tls")
            raise EmulatorError(f"cannot listen on {target} (address in use or not available)")
        self._server, self._loop, self._thread = server, loop, thread
        self._executor = futures.ThreadPoolExecutor(ANALYSIS_THREADS, thread_name_prefix="bsstream-analysis")
        self.port = port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.address = f"{host}:{port}"
        return self

    async def _create(self, target: str) -> tuple[grpc.aio.Server | None, int]:
        server = grpc.aio.server(
            options=SERVER_OPTIONS, maximum_concurrent_rpcs=self.max_calls + _GRPC_CALL_HEADROOM
        )
        api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(_Servicer(self), server)
        port = _bind(server, target, self._tls_cert, self._tls_key)
        if not port:
            return None, 0
        await server.start()
        return server, port

    def stop(self, grace: float | None = 0.5) -> None:
        """Stop serving: calls still running get ``grace`` seconds to finish, then are cancelled."""
        server, self._server = self._server, None
        if server is None:
            return
        loop, thread, executor = self._loop, self._thread, self._executor
        assert loop is not None and thread is not None and executor is not None
        self._stopping.set()
        try:
            asyncio.run_coroutine_threadsafe(server.stop(grace), loop).result()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)  # steps are short: this is quick
            _close_loop(loop, thread)
            self._loop = self._thread = self._executor = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[CallLog]:
        """Wait until the first ``count`` calls have ended (their final code recorded).

        Returns the call logs kept (all of them while fewer than ``keep_calls`` have finished).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                calls, seen = list(self.calls), self._seen
            if seen >= count and all(c.done.is_set() for c in calls if c.seq <= count):
                return calls
            if time.monotonic() > deadline:
                raise TimeoutError(f"{seen} call(s) seen, fewer than {count} finished")
            time.sleep(0.01)

    # ------------------------------------------------------------------ one call

    def _admit(self, method: str) -> tuple[CallLog, bool, bool]:
        """A log for a new call; (log, refused by the refuse_first fault, admitted under max_calls)."""
        with self._lock:
            self._seen += 1
            log = CallLog(method=method, pid=next(self._pids), seq=self._seen)
            self.calls.append(log)
            excess = len(self.calls) - self.keep_calls
            if excess > 0:  # drop the oldest finished logs; running calls stay
                kept = []
                for c in self.calls:
                    if excess > 0 and c.done.is_set():
                        excess -= 1
                    else:
                        kept.append(c)
                self.calls[:] = kept
            refused = self._seen <= self.faults.refuse_first
            admitted = not refused and self._active < self.max_calls
            if admitted:
                self._active += 1
        return log, refused, admitted

    async def _handle(
        self, method: str, requests: _Requests, context: _Context
    ) -> AsyncIterator[api_pb2.StreamResult]:
        await context.send_initial_metadata((EMULATOR_METADATA,))
        log, refused, admitted = self._admit(method)
        try:
            if refused:
                raise _Abort(grpc.StatusCode.UNAVAILABLE, "connection refused (emulator fault: refuse_first)")
            if not admitted:
                raise _Abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"too many calls at once: the emulator serves {self.max_calls} (serve --max-calls); "
                    "retry later",
                    RETRY_PUSHBACK_MS,
                )
            async for response in self._serve(log, requests, context):
                yield response
        except _Abort as exc:
            log.code, log.details = exc.code.name, exc.details
            log.done.set()
            trailer = () if exc.pushback_ms is None else (("grpc-retry-pushback-ms", str(exc.pushback_ms)),)
            await context.abort(exc.code, exc.details, trailer)
        except (GeneratorExit, asyncio.CancelledError):
            log.code = log.code or "CANCELLED"
            raise
        finally:
            if admitted:
                with self._lock:
                    self._active -= 1
            if log.code is None:
                log.code = "CANCELLED" if context.cancelled() else "UNKNOWN"
            log.done.set()

    async def _next(self, requests: _Requests) -> api_pb2.AudioStream | None:
        """The next message, None at the client's half-close; the idle limit applies.

        The read runs as its own task raced with ``asyncio.wait`` (not ``wait_for``, which can
        swallow the cancellation gRPC sends when the client cancels just as a read completes).
        """
        if self.idle_timeout is None:
            try:
                return await requests.__anext__()
            except StopAsyncIteration:
                return None
        read = asyncio.ensure_future(requests.__anext__())
        try:
            done, _ = await asyncio.wait((read,), timeout=self.idle_timeout)
        except BaseException:
            read.cancel()
            raise
        if not done:
            read.cancel()
            raise _Abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no message for {self.idle_timeout:g} s: the emulator's idle limit (serve --idle-timeout)",
            )
        try:
            return read.result()
        except StopAsyncIteration:
            return None

    async def _serve(
        self, log: CallLog, requests: _Requests, context: _Context
    ) -> AsyncIterator[api_pb2.StreamResult]:
        call: _Call | None = None
        digest = hashlib.sha256()
        while (msg := await self._next(requests)) is not None:
            log.note(msg)
            self._credentials.check(msg)
            if call is None:
                config = check_first(msg)
                log.config = api_pb2.AudioConfig()
                log.config.CopyFrom(config)
                call = _Call(log.method, log, msg.cid, config)
            else:
                check_later(msg)
                data = msg.audio_content
                log.note_audio(len(data))
                digest.update(data)
                log.audio_sha256 = digest.hexdigest()
                # bounded steps, each its own job: a huge message neither grows memory nor
                # holds the analysis threads against other calls for long
                step = call.analyzer.step_bytes
                for i in range(0, len(data), step):
                    piece = data if len(data) <= step else data[i : i + step]
                    windows = await self._analyse(call.analyzer.feed, piece)
                    async for response in self._respond(log, call, windows):
                        yield response
                del data, msg
            if await self._fault_due(log, context):
                return
        if call is not None:
            async for response in self._respond(log, call, await self._analyse(call.analyzer.finish)):
                yield response
        log.code = "OK"
        log.done.set()

    async def _analyse(self, fn: Callable[..., list[analysis.Window]], *args: bytes) -> list[analysis.Window]:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except Exception as exc:  # a bug in the emulator's analysis must not look like a hang
            raise _Abort(grpc.StatusCode.INTERNAL, f"emulator analysis failed: {type(exc).__name__}") from exc

    async def _respond(
        self, log: CallLog, call: _Call, windows: list[analysis.Window]
    ) -> AsyncIterator[api_pb2.StreamResult]:
        for response in call.responses(windows):
            if self.faults.delay_ms:
                await asyncio.sleep(self.faults.delay_ms / 1000.0)
            log.responses += 1
            log.results += len(response.result)
            yield response

    async def _fault_due(self, log: CallLog, context: _Context) -> bool:
        """Apply the per-call faults after a message; True when the call should end now (OK)."""
        faults = self.faults
        n = log.audio_messages
        if faults.abort_after is not None and n >= faults.abort_after:
            raise _Abort(
                grpc.StatusCode[faults.abort_code],
                f"aborted by the emulator after {n} audio message(s) (fault: abort_after)",
            )
        if faults.hang_after is not None and n >= faults.hang_after:
            # until the client cancels (which cancels this task) or the server stops
            while not context.done() and not self._stopping.is_set():
                await asyncio.sleep(0.05)
            log.code = "CANCELLED"
            log.done.set()
            return True
        if faults.close_early_after is not None and n >= faults.close_early_after:
            log.code = "OK"
            log.details = "closed early by the emulator (fault: close_early_after)"
            log.done.set()
            return True
        return False


def _close_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Cancel what is left on the emulator's loop, stop it, join its thread, close it."""

    async def drain() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await loop.shutdown_asyncgens()

    with contextlib.suppress(futures.TimeoutError, RuntimeError):
        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not thread.is_alive():
        loop.close()
