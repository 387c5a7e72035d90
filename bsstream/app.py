"""Wiring for analyze / deepfake: settings -> transport -> one Session per input -> sinks.

Knows no option parsing (cli.py does that) and writes only to the streams it is given.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO

from bsstream.protocol.stream import FanOut, Sink, StreamInfo, StreamOutcome
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

    def __init__(self, messages: Messages, *, stats_to_stderr: bool) -> None:
        self.messages = messages
        self.stats_to_stderr = stats_to_stderr

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: Any) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        pass

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.error and outcome.status != ExitStatus.INTERRUPTED:
            self.messages.say(f"error: {outcome.error}")
        if outcome.stats is not None and self.stats_to_stderr:
            s = outcome.stats
            rtf = s["real_time_factor"]
            p50, p95 = s["latency_p50"], s["latency_p95"]
            self.messages.say(
                f"stats {info.source}: audio {s['audio_seconds']:.2f} s, wall {s['wall_seconds']:.2f} s, "
                f"real-time factor {'-' if rtf is None else f'{rtf:.3f}'}, results {s['results']}, "
                f"latency p50 {'-' if p50 is None else f'{p50:.3f} s'} p95 {'-' if p95 is None else f'{p95:.3f} s'}"
            )

    def close(self) -> None:
        pass


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input in order; return the most severe exit status among them."""
    from bsstream.audio.decode import open_input
    from bsstream.protocol.messages import build_config
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

    sinks = build_sinks(run, streams)
    sink = FanOut([*sinks, ErrorReporter(messages, stats_to_stderr=not run.json)])
    interrupts = Interrupts()
    statuses: list[ExitStatus] = []

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
        options = StreamOptions(
            method=run.method,
            credentials=run.credentials,
            config=build_config(run.level, logits=run.logits, embeddings=run.embeddings),
            chunk_ms=run.chunk_ms,
            realtime=run.realtime,
            timeout=run.timeout,
            retries=run.retries,
            backoff_base=run.backoff_base,
            stats=run.stats,
            insecure=insecure,
            emulated=run.local,
        )
        session = Session(
            transport,
            options,
            interrupts=interrupts,
            notify=messages.say,
            on_emulated=lambda: messages.once(EMULATOR_NOTE),
        )
        stack.callback(interrupts.close)
        stack.callback(sink.close)
        with handle_signals(interrupts.signal):
            for spec in run.inputs:
                if interrupts.interrupted:
                    break
                try:
                    with open_input(spec, stdin=streams.stdin) as source:
                        outcome = session.run(source, sink)
                except BsError as err:
                    messages.error(err)
                    statuses.append(err.exit_status)
                    continue
                statuses.append(ExitStatus(outcome.status))
    if interrupts.interrupted:
        messages.say("interrupted: results received so far were written")
        return ExitStatus.INTERRUPTED
    return most_severe(statuses)


def default_streams() -> Streams:
    return Streams(
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
        stdout_is_tty=sys.stdout.isatty(),
    )
