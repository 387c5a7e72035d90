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

from bsstream.protocol.stream import FanOut, Locked, NullSink, Sink, StreamInfo, StreamOutcome
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
    output_dir: Path | None = None
    skip_done: bool = False
    shard: str | None = None
    fail_on: list[str] = field(default_factory=list)
    quiet: bool = False


@dataclass(slots=True)
class Streams:
    """The run's streams: stdin for audio, stdout for results, stderr for everything else."""

    stdin: BinaryIO
    stdout: IO[str]
    stderr: IO[str]
    stdout_is_tty: bool = False
    stderr_is_tty: bool = False


class Messages:
    """One-line messages to stderr, redacted, each flushed."""

    def __init__(self, stderr: IO[str]) -> None:
        self.stderr = stderr
        self.console: Any = None  # while a progress display owns stderr, print through it
        self._said: set[str] = set()

    def say(self, line: str) -> None:
        if self.console is not None:
            self.console.print(redact(line), markup=False, highlight=False, soft_wrap=True)
            return
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


def build_sinks(
    run: RunConfig, streams: Streams, *, terminal: bool = True, show_source: bool = False
) -> list[Sink]:
    """The terminal output (JSON lines, live table or plain lines) plus any --output files.

    ``terminal=False``: nothing on stdout while streaming (the per-file status table of --jobs).
    """
    sinks: list[Sink] = []
    if not terminal:
        pass
    elif run.json:
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


class ErrorReporter(NullSink):
    """Writes each stream's failure line (and --stats) to stderr as the stream ends."""

    def __init__(self, messages: Messages, *, stats_to_stderr: bool, scan: bool = False) -> None:
        self.messages = messages
        self.stats_to_stderr = stats_to_stderr
        self.scan = scan

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.error and outcome.status != ExitStatus.INTERRUPTED:
            self.messages.say(
                f"error: {info.method}: {outcome.error}" if self.scan else f"error: {outcome.error}"
            )
        if outcome.stats is not None and self.stats_to_stderr:
            s = outcome.stats
            rtf = s["real_time_factor"]
            p50, p95 = s["latency_p50"], s["latency_p95"]
            method = f" ({info.method})" if self.scan else ""

            def secs(value: float | None) -> str:
                return "-" if value is None else f"{value:.3f} s"

            self.messages.say(
                f"stats {info.source}{method}: audio {s['audio_seconds']:.2f} s, "
                f"wall {s['wall_seconds']:.2f} s, "
                f"real-time factor {'-' if rtf is None else f'{rtf:.3f}'}, results {s['results']}, "
                f"latency p50 {secs(p50)} p95 {secs(p95)}"
            )


def _methods(run: RunConfig) -> list[str]:
    from bsstream.protocol.stream import METHOD_ANALYZE, METHOD_DEEPFAKE, METHOD_SCAN

    return [METHOD_ANALYZE, METHOD_DEEPFAKE] if run.method == METHOD_SCAN else [run.method]


def _wait_all(threads: list[threading.Thread]) -> None:
    """Join threads in slices so the main thread keeps handling signals."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)


@dataclass(slots=True)
class Plan:
    """The inputs of a run after expansion, sharding and --skip-done."""

    inputs: list[Any]  # bsstream.batch.inputs.Input
    skipped: list[Any]
    out_paths: dict[str, Path]  # source name -> output file (with --output-dir)
    failed: list[tuple[str, BsError]]  # specs that could not be expanded


def source_name(inp: Any) -> str:
    """The name a PcmSource gives an input: the spec as given, "stdin" for "-"."""
    return "stdin" if inp.is_stdin else inp.spec


def plan_inputs(run: RunConfig) -> Plan:
    from bsstream.batch.inputs import expand_inputs, parse_shard, shard
    from bsstream.batch.outdir import is_done, output_path

    if run.inputs.count("-") > 1:
        raise UsageError("stdin ('-') can be given only once")
    if run.skip_done and run.output_dir is None:
        raise UsageError("--skip-done needs --output-dir (it skips inputs whose output file is complete)")
    shard_spec = parse_shard(run.shard) if run.shard else None
    inputs: list[Any] = []
    failed: list[tuple[str, BsError]] = []
    seen: set[str] = set()
    for spec in run.inputs:
        try:
            expanded = expand_inputs([spec])
        except BsError as err:
            if isinstance(err, UsageError):
                raise
            failed.append((spec, err))
            continue
        for inp in expanded:
            key = str(inp.path.resolve()) if inp.path is not None and inp.path.exists() else inp.spec
            if key not in seen:
                seen.add(key)
                inputs.append(inp)
    if shard_spec is not None:
        inputs = shard(inputs, *shard_spec)
    out_paths: dict[str, Path] = {}
    skipped: list[Any] = []
    if run.output_dir is not None:
        taken: set[str] = set()
        todo = []
        for inp in inputs:
            path = output_path(run.output_dir, inp, taken)
            out_paths[source_name(inp)] = path
            if run.skip_done and is_done(path):
                skipped.append(inp)
            else:
                todo.append(inp)
        inputs = todo
    return Plan(inputs, skipped, out_paths, failed)


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input (``run.jobs`` at a time); return the most severe exit status."""
    from bsstream.audio.decode import open_input
    from bsstream.batch.failon import FailOnSink, apply_matches, format_match, parse_fail_ons
    from bsstream.batch.outdir import OutputDirSink
    from bsstream.batch.wiring import BySource, ProgressSink, ReportCollector
    from bsstream.protocol.messages import build_config
    from bsstream.scan import ScanMerge
    from bsstream.session import Interrupts, Session, StreamOptions

    messages = Messages(streams.stderr)
    fail_rules = parse_fail_ons(run.fail_on)
    plan = plan_inputs(run)
    if run.insecure and not run.endpoint.is_loopback and not run.local:
        messages.say(f"warning: --insecure sends audio and your API key in plaintext to {run.endpoint.host}")
    ca_cert = None
    if run.ca_cert is not None:
        try:
            ca_cert = run.ca_cert.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --ca-cert {run.ca_cert}: {exc.strerror}") from None

    methods = _methods(run)
    many = len(plan.inputs) + len(plan.skipped) + len(plan.failed) > 1
    status_table = run.jobs > 1 and streams.stdout_is_tty and not run.json
    fail_on = FailOnSink(fail_rules, on_match=lambda m: messages.say(format_match(m))) if fail_rules else None
    collector = ReportCollector()
    parts: list[Sink] = build_sinks(run, streams, terminal=not status_table, show_source=many)
    if fail_on is not None:
        parts.append(fail_on)  # before the output files: their markers carry the match
    if run.output_dir is not None:
        paths = plan.out_paths
        parts.append(
            BySource(lambda src: OutputDirSink(paths[src], fail_on=fail_on) if src in paths else None)
        )
    parts.append(collector)

    progress: Any = None
    progress_console: Any = None
    if plan.inputs and (
        status_table or (streams.stderr_is_tty and not run.quiet and not _live_on_stdout(run, streams))
    ):
        from rich.console import Console

        from bsstream.batch.progress import BatchProgress

        progress_console = Console(file=streams.stdout if status_table else streams.stderr)
        progress = BatchProgress(progress_console, len(plan.inputs))
        parts.append(ProgressSink(progress))
    outputs: Sink = Locked(FanOut(parts))
    if len(methods) > 1:
        outputs = ScanMerge(outputs, len(methods))
    sink = FanOut([outputs, ErrorReporter(messages, stats_to_stderr=not run.json, scan=len(methods) > 1)])
    interrupts = Interrupts()
    codes_by_input: dict[str, list[ExitStatus]] = {}
    status_lock = threading.Lock()
    for spec, err in plan.failed:
        messages.error(err)
        codes_by_input[spec] = [err.exit_status]

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
        on_progress = (
            (lambda name, seconds: progress.set_sent(name, seconds)) if progress is not None else None
        )

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
                on_progress=on_progress,
            )

        def process(inp: Any) -> None:
            """One input, all its methods; records its exit status."""
            if interrupts.interrupted:
                return
            name = source_name(inp)
            try:
                with open_input(inp.spec, stdin=streams.stdin) as source:
                    if len(methods) == 1:
                        codes = [ExitStatus(session(methods[0]).run(source, sink).status)]
                    else:
                        codes = _run_tee(source, [session(m) for m in methods], sink)
            except BsError as err:
                messages.error(err)
                codes = [err.exit_status]
                if progress is not None:
                    progress.finish_file(name, err.exit_status)
            with status_lock:
                codes_by_input[name] = codes

        stack.callback(interrupts.close)
        stack.callback(sink.close)
        if progress is not None:
            stack.enter_context(progress)
            messages.console = progress_console if not status_table else None
        with handle_signals(interrupts.signal):
            if run.jobs <= 1:
                for inp in plan.inputs:
                    process(inp)
            else:
                pending = list(plan.inputs)
                lock = threading.Lock()

                def worker() -> None:
                    while not interrupts.interrupted:
                        with lock:
                            if not pending:
                                return
                            inp = pending.pop(0)
                        process(inp)

                workers = [
                    threading.Thread(target=worker, name=f"bsstream-job-{i}", daemon=True)
                    for i in range(min(run.jobs, len(plan.inputs)))
                ]
                for w in workers:
                    w.start()
                _wait_all(workers)
        messages.console = None

    statuses: list[ExitStatus] = []
    reports = []
    for spec, _ in plan.failed:
        code = most_severe(codes_by_input[spec])
        statuses.append(code)
        reports.append(collector.report(spec, code))
    for inp in plan.inputs:
        name = source_name(inp)
        if name not in codes_by_input:
            continue  # never started (interrupted)
        code = most_severe(codes_by_input[name])
        if fail_on is not None:
            code = ExitStatus(apply_matches(code, fail_on.matched_source(name)))
        statuses.append(code)
        reports.append(collector.report(name, code))
    reports.extend(
        collector.report(source_name(inp), ExitStatus.SUCCESS, skipped=True) for inp in plan.skipped
    )
    if plan.skipped:
        messages.say(f"skipped {len(plan.skipped)} input(s) whose output in {run.output_dir} is complete")
    if many and not run.quiet:
        _print_report(reports, streams, on_stdout=status_table)
    if interrupts.interrupted:
        messages.say("interrupted: results received so far were written")
        return ExitStatus.INTERRUPTED
    return most_severe(statuses)


def _live_on_stdout(run: RunConfig, streams: Streams) -> bool:
    return streams.stdout_is_tty and not run.json


def _print_report(reports: list[Any], streams: Streams, *, on_stdout: bool) -> None:
    from bsstream.batch.report import build_report_table, plain_report_lines

    target = streams.stdout if on_stdout else streams.stderr
    tty = streams.stdout_is_tty if on_stdout else streams.stderr_is_tty
    if tty:
        from rich.console import Console

        Console(file=target).print(build_report_table(reports))
    else:
        for line in plain_report_lines(reports):
            target.write(line + "\n")
        target.flush()


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
        stderr_is_tty=sys.stderr.isatty(),
    )
