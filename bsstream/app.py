"""Wiring for analyze / deepfake: settings -> transport -> one Session per input -> sinks.

Knows no option parsing (cli.py does that) and writes only to the streams it is given.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO

from bsstream.protocol.stream import FanOut, Locked, Sink, StreamInfo, StreamOutcome
from bsstream.redact import redact
from bsstream.settings import Credentials, Endpoint
from bsstream.status import BsError, ExitStatus, UsageError, most_severe

EMULATOR_NOTE = "note: results from the local emulator, not Behavioral Signals models"


@dataclass(slots=True)
class RunConfig:
    """Everything a run needs, already validated."""

    method: str
    inputs: list[str]
    credentials: Credentials
    endpoint: Endpoint
    insecure: bool = False
    ca_cert: Path | None = None
    local: bool = False
    chunk_ms: int = 250
    level: str = "all"
    realtime: bool = False
    json: bool = False
    logits: bool = False
    embeddings: bool = False
    timeout: float = 60.0
    retries: int = 3
    backoff_base: float = 0.5
    stats: bool = False
    debug: bool = False
    outputs: list[str] = field(default_factory=list)
    jobs: int = 1


@dataclass(slots=True)
class Streams:
    """The run's streams: stdin for audio, stdout for results, stderr for everything else."""

    stdin: BinaryIO
    stdout: IO[str]
    stderr: IO[str]
    stdout_is_tty: bool = False


class Messages:
    """One-line messages to stderr, redacted, each flushed."""

    def __init__(self, stderr: IO[str]) -> None:
        self.stderr = stderr
        self._said: set[str] = set()

    def say(self, line: str) -> None:
        self.stderr.write(redact(line) + "\n")
        self.stderr.flush()

    def once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.say(line)

    def error(self, err: BsError) -> None:
        self.say(f"error: {err.line()}")


@contextlib.contextmanager
def handle_signals(on_signal: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``on_signal`` while the block runs (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def build_sinks(run: RunConfig, streams: Streams) -> list[Sink]:
    """The terminal output (JSON lines, live table or plain lines) plus any --output files."""
    show_source = len(run.inputs) > 1
    sinks: list[Sink] = []
    if run.json:
        from bsstream.render.jsonl import JsonlSink

        sinks.append(JsonlSink(streams.stdout))
    elif streams.stdout_is_tty:
        from rich.console import Console

        from bsstream.render.live import LiveSink

        sinks.append(LiveSink(Console(file=streams.stdout), show_source=show_source))
    else:
        from bsstream.render.plain import PlainSink

        sinks.append(PlainSink(streams.stdout, show_source=show_source))
    if run.outputs:
        from bsstream.export import open_exports

        sinks.extend(open_exports(run.outputs))
    return sinks


class ErrorReporter:
    """Writes each stream's failure line to stderr as the stream ends."""

    def __init__(self, messages: Messages, *, stats_to_stderr: bool, scan: bool = False) -> None:
        self.messages = messages
        self.stats_to_stderr = stats_to_stderr
        self.scan = scan

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: Any) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        pass

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.error and outcome.status != ExitStatus.INTERRUPTED:
            self.messages.say(f"error: {info.method}: {outcome.error}" if self.scan else f"error: {outcome.error}")
        if outcome.stats is not None and self.stats_to_stderr:
            s = outcome.stats
            rtf = s["real_time_factor"]
            p50, p95 = s["latency_p50"], s["latency_p95"]
            self.messages.say(
                f"stats {info.source}{f' ({info.method})' if self.scan else ''}: audio {s['audio_seconds']:.2f} s, wall {s['wall_seconds']:.2f} s, "
                f"real-time factor {'-' if rtf is None else f'{rtf:.3f}'}, results {s['results']}, "
                f"latency p50 {'-' if p50 is None else f'{p50:.3f} s'} p95 {'-' if p95 is None else f'{p95:.3f} s'}"
            )

    def close(self) -> None:
        pass


def _methods(run: RunConfig) -> list[str]:
    from bsstream.protocol.stream import METHOD_ANALYZE, METHOD_DEEPFAKE, METHOD_SCAN

    return [METHOD_ANALYZE, METHOD_DEEPFAKE] if run.method == METHOD_SCAN else [run.method]


def _wait_all(threads: list[threading.Thread]) -> None:
    """Join threads in slices so the main thread keeps handling signals."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input (``run.jobs`` at a time); return the most severe exit status."""
    from bsstream.audio.decode import open_input
    from bsstream.protocol.messages import build_config
    from bsstream.scan import ScanMerge
    from bsstream.session import Interrupts, Session, StreamOptions

    messages = Messages(streams.stderr)
    if run.inputs.count("-") > 1:
        raise UsageError("stdin ('-') can be given only once")
    if run.insecure and not run.endpoint.is_loopback and not run.local:
        messages.say(
            f"warning: --insecure sends audio and your API key in plaintext to {run.endpoint.host}"
        )
    ca_cert = None
    if run.ca_cert is not None:
        try:
            ca_cert = run.ca_cert.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --ca-cert {run.ca_cert}: {exc.strerror}") from None

    methods = _methods(run)
    outputs: Sink = Locked(FanOut(build_sinks(run, streams)))
    if len(methods) > 1:
        outputs = ScanMerge(outputs, len(methods))
    sink = FanOut([outputs, ErrorReporter(messages, stats_to_stderr=not run.json, scan=len(methods) > 1)])
    interrupts = Interrupts()
    statuses: list[ExitStatus] = []
    status_lock = threading.Lock()

    with contextlib.ExitStack() as stack:
        endpoint = run.endpoint
        insecure = run.insecure
        if run.local:
            from bsstream.emulator.server import Emulator

            emulator = stack.enter_context(Emulator())
            endpoint = Endpoint("127.0.0.1", emulator.port)
            insecure = True
            messages.once(EMULATOR_NOTE)
        from bsstream.transport import Transport

        transport = stack.enter_context(Transport(endpoint, insecure=insecure, ca_cert=ca_cert))
        config = build_config(run.level, logits=run.logits, embeddings=run.embeddings)

        def session(method: str) -> Session:
            options = StreamOptions(
                method=method,
                credentials=run.credentials,
                config=config,
                chunk_ms=run.chunk_ms,
                realtime=run.realtime,
                timeout=run.timeout,
                retries=run.retries,
                backoff_base=run.backoff_base,
                stats=run.stats,
                insecure=insecure,
                emulated=run.local,
                tag_method=len(methods) > 1,
            )
            return Session(
                transport,
                options,
                interrupts=interrupts,
                notify=messages.say,
                on_emulated=lambda: messages.once(EMULATOR_NOTE),
            )

        def process(spec: str) -> None:
            """One input, all its methods; records its exit status."""
            if interrupts.interrupted:
                return
            try:
                with open_input(spec, stdin=streams.stdin) as source:
                    if len(methods) == 1:
                        codes = [ExitStatus(session(methods[0]).run(source, sink).status)]
                    else:
                        codes = _run_tee(source, [session(m) for m in methods], sink)
            except BsError as err:
                messages.error(err)
                codes = [err.exit_status]
            with status_lock:
                statuses.extend(codes)

        stack.callback(interrupts.close)
        stack.callback(sink.close)
        with handle_signals(interrupts.signal):
            if run.jobs <= 1:
                for spec in run.inputs:
                    process(spec)
            else:
                pending = list(run.inputs)
                lock = threading.Lock()

                def worker() -> None:
                    while not interrupts.interrupted:
                        with lock:
                            if not pending:
                                return
                            spec = pending.pop(0)
                        process(spec)

                workers = [
                    threading.Thread(target=worker, name=f"bsstream-job-{i}", daemon=True)
                    for i in range(min(run.jobs, len(run.inputs)))
                ]
                for w in workers:
                    w.start()
                _wait_all(workers)
    if interrupts.interrupted:
        messages.say("interrupted: results received so far were written")
        return ExitStatus.INTERRUPTED
    return most_severe(statuses)


def _run_tee(source: Any, sessions: list[Any], sink: Sink) -> list[ExitStatus]:
    """Decode once, stream to every session concurrently; each session's exit status."""
    from bsstream.audio.tee import Tee

    tee = Tee(source, len(sessions))
    codes: list[ExitStatus] = [ExitStatus.SUCCESS] * len(sessions)

    def one(i: int) -> None:
        branch = tee.branches[i]
        try:
            codes[i] = ExitStatus(sessions[i].run(branch, sink).status)
        finally:
            branch.close()  # a failed call stops taking audio; the other goes on

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(sessions))]
    for t in threads:
        t.start()
    _wait_all(threads)
    tee.close()
    return codes


def default_streams() -> Streams:
    return Streams(
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
        stdout_is_tty=sys.stdout.isatty(),
    )
