"""The local emulator: a gRPC server that speaks the contract, checks the protocol, injects faults.

Transport and protocol live here; what the results say comes from :mod:`analysis`.
Every call first sends the initial metadata ``("bsstream-emulator", "1")`` so a client can tell
it is talking to the emulator, even when the call then fails.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.emulator import analysis

EMULATOR_METADATA = ("bsstream-emulator", "1")
METHODS = ("StreamAudio", "DeepfakeDetection")
MAX_WORKERS = 16
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
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


@dataclass
class CallLog:
    """What one call looked like from the server's side."""

    method: str
    pid: int
    config: api_pb2.AudioConfig | None = None
    messages: int = 0  # every AudioStream received, the config one included
    chunk_sizes: list[int] = field(default_factory=list)  # audio_content length of each later message
    total_audio_bytes: int = 0
    audio_sha256: str = hashlib.sha256().hexdigest()  # of all audio bytes, in order
    cids: list[int] = field(default_factory=list)  # cid of every message
    tokens: list[str] = field(default_factory=list, repr=False)  # x_auth_token of every message
    responses: int = 0
    results: int = 0
    code: str | None = None  # final status code name (None while running)
    details: str = ""
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def audio_messages(self) -> int:
        return len(self.chunk_sizes)

    @property
    def credentials(self) -> list[tuple[int, str]]:
        """(cid, token) of every message."""
        return list(zip(self.cids, self.tokens, strict=True))


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


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


def _bind(server: grpc.Server, target: str, cert: bytes | None = None, key: bytes | None = None) -> int:
    """Add a listening port; 0 when it cannot be bound (grpc raises or returns 0, by version)."""
    try:
        if cert is not None and key is not None:
            return server.add_secure_port(target, grpc.ssl_server_credentials([(key, cert)]))
        return server.add_insecure_port(target)
    except RuntimeError:
        return 0


class _Servicer(api_pb2_grpc.BehavioralStreamingApiServicer):
    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator

    def StreamAudio(
        self, request_iterator: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext
    ) -> Iterator[api_pb2.StreamResult]:
        return self._emu._handle("StreamAudio", request_iterator, context)

    def DeepfakeDetection(
        self, request_iterator: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext
    ) -> Iterator[api_pb2.StreamResult]:
        return self._emu._handle("DeepfakeDetection", request_iterator, context)


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
            if self.method == "DeepfakeDetection":
                outputs = analysis.deepfake(window.measures, embedding=self.embedding)
            else:
                outputs = analysis.behavioral(window.measures, embedding=self.embedding)
            msg = api_pb2.StreamResult(cid=self.cid, pid=self.log.pid, message_id=self._next_id)
            msg.result.extend(to_results(window, outputs, logits=self.logits))
            self._next_id += 1
            yield msg


class Emulator:
    """The local server. A context manager: ``with Emulator() as emu: ... emu.address``."""

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
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise EmulatorError("TLS needs both a certificate and a key", "tls")
        if api_key is not None and not api_key:
            raise ValueError("the API key must not be empty")
        if cid is not None and cid == 0:
            raise ValueError("the cid must not be 0")
        self.host = host
        self.port = port
        self.address = ""
        self.tls = tls_cert is not None
        self.faults = faults or Faults()
        self.calls: list[CallLog] = []
        self._credentials = _Credentials(cid, api_key)
        self._tls_cert = tls_cert
        self._tls_key = tls_key
        self._server: grpc.Server | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pids = itertools.count(10000 + os.getpid() % 50000)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS), options=SERVER_OPTIONS)
        api_pb2_grpc.add_BehavioralStreamingApiServicer_to_server(_Servicer(self), server)
        target = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        port = _bind(server, target, self._tls_cert, self._tls_key)
        if not port:
            if self._tls_cert is not None and _bind(grpc.server(futures.ThreadPoolExecutor(1)), target):
                raise EmulatorError("the TLS certificate or key is invalid (or they do not match)", "tls")
            raise EmulatorError(f"cannot listen on {target} (address in use or not available)")
        server.start()
        self._server = server
        self.port = port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.address = f"{host}:{port}"
        return self

    def stop(self, grace: float | None = 0.5) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.stop(grace).wait()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[CallLog]:
        """Wait until ``count`` calls have ended (their final code recorded); returns the calls."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                calls = list(self.calls)
            if len(calls) >= count and all(c.done.is_set() for c in calls[:count]):
                return calls
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(calls)} call(s) seen, fewer than {count} finished")
            time.sleep(0.01)

    # ------------------------------------------------------------------ one call

    def _handle(
        self, method: str, requests: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext
    ) -> Iterator[api_pb2.StreamResult]:
        context.send_initial_metadata((EMULATOR_METADATA,))
        with self._lock:
            log = CallLog(method=method, pid=next(self._pids))
            self.calls.append(log)
            refused = len(self.calls) <= self.faults.refuse_first
        ended = threading.Event()
        context.add_callback(ended.set)
        try:
            if refused:
                raise _Abort(grpc.StatusCode.UNAVAILABLE, "connection refused (emulator fault: refuse_first)")
            yield from self._serve(log, requests, context, ended)
        except _Abort as exc:
            log.code, log.details = exc.code.name, exc.details
            log.done.set()
            context.abort(exc.code, exc.details)
        except GeneratorExit:
            log.code = log.code or "CANCELLED"
            raise
        finally:
            if log.code is None:
                log.code = "CANCELLED" if not context.is_active() else "UNKNOWN"
            log.done.set()

    def _serve(
        self,
        log: CallLog,
        requests: Iterator[api_pb2.AudioStream],
        context: grpc.ServicerContext,
        ended: threading.Event,
    ) -> Iterator[api_pb2.StreamResult]:
        call: _Call | None = None
        digest = hashlib.sha256()
        for msg in requests:
            log.messages += 1
            log.cids.append(msg.cid)
            log.tokens.append(msg.x_auth_token)
            self._credentials.check(msg)
            if call is None:
                config = check_first(msg)
                log.config = api_pb2.AudioConfig()
                log.config.CopyFrom(config)
                call = _Call(log.method, log, msg.cid, config)
            else:
                check_later(msg)
                data = msg.audio_content
                log.chunk_sizes.append(len(data))
                log.total_audio_bytes += len(data)
                digest.update(data)
                log.audio_sha256 = digest.hexdigest()
                yield from self._respond(log, call, self._analyse(call.analyzer.feed, data))
            if self._fault_due(log, context, ended):
                return
        if call is not None:
            yield from self._respond(log, call, self._analyse(call.analyzer.finish))
        log.code = "OK"
        log.done.set()

    @staticmethod
    def _analyse(fn: Callable[..., list[analysis.Window]], *args: bytes) -> list[analysis.Window]:
        try:
            return fn(*args)
        except Exception as exc:  # a bug in the emulator's analysis must not look like a hang
            raise _Abort(grpc.StatusCode.INTERNAL, f"emulator analysis failed: {type(exc).__name__}") from exc

    def _respond(
        self, log: CallLog, call: _Call, windows: list[analysis.Window]
    ) -> Iterator[api_pb2.StreamResult]:
        for response in call.responses(windows):
            if self.faults.delay_ms:
                time.sleep(self.faults.delay_ms / 1000.0)
            log.responses += 1
            log.results += len(response.result)
            yield response

    def _fault_due(self, log: CallLog, context: grpc.ServicerContext, ended: threading.Event) -> bool:
        """Apply the per-call faults after a message; True when the call should end now (OK)."""
        faults = self.faults
        n = log.audio_messages
        if faults.abort_after is not None and n >= faults.abort_after:
            raise _Abort(
                grpc.StatusCode[faults.abort_code],
                f"aborted by the emulator after {n} audio message(s) (fault: abort_after)",
            )
        if faults.hang_after is not None and n >= faults.hang_after:
            while not ended.wait(0.05):
                if self._stopping.is_set() or not context.is_active():
                    break
            log.code = "CANCELLED"
            log.done.set()
            return True
        if faults.close_early_after is not None and n >= faults.close_early_after:
            log.code = "OK"
            log.details = "closed early by the emulator (fault: close_early_after)"
            log.done.set()
            return True
        return False
