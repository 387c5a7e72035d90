"""Wiring of analyze / deepfake / scan: inputs -> transport -> one Session per input and
method -> sinks.

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


@dataclass(slots=True)
class Outputs:
    """Where a run's results go, and the batch pieces that watch them."""

    sink: Sink  # what the sessions write to
    collector: Any  # ReportCollector: each input's outcome, for the end-of-run table
    fail_on: Any = None  # FailOnSink when --fail-on is given
    progress: Any = None  # BatchProgress when one is shown
    progress_console: Any = None
    status_table: bool = False  # --jobs > 1 on a terminal: the per-file status display on stdout


def build_outputs(run: RunConfig, streams: Streams, plan: Plan, messages: Messages, scan: bool) -> Outputs:
    """The terminal output and files, --fail-on, --output-dir, progress and the report, as one
    sink (thread-safe; merged per input for scan), plus the error and --stats lines."""
    from bsstream.batch.failon import FailOnSink, format_match, parse_fail_ons
    from bsstream.batch.outdir import OutputDirSink
    from bsstream.batch.wiring import BySource, ProgressSink, ReportCollector
    from bsstream.scan import ScanMerge

    rules = parse_fail_ons(run.fail_on)
    status_table = run.jobs > 1 and streams.stdout_is_tty and not run.json
    many = len(plan.inputs) + len(plan.skipped) + len(plan.failed) > 1
    out = Outputs(sink=NullSink(), collector=ReportCollector(), status_table=status_table)
    parts: list[Sink] = build_sinks(run, streams, terminal=not status_table, show_source=many)
    if rules:
        out.fail_on = FailOnSink(rules, on_match=lambda m: messages.say(format_match(m)))
        parts.append(out.fail_on)  # before the output files: their markers carry the match
    if run.output_dir is not None:
        paths, fail_on = plan.out_paths, out.fail_on
        parts.append(
            BySource(lambda src: OutputDirSink(paths[src], fail_on=fail_on) if src in paths else None)
        )
    parts.append(out.collector)
    live_on_stdout = streams.stdout_is_tty and not run.json
    if plan.inputs and (status_table or (streams.stderr_is_tty and not run.quiet and not live_on_stdout)):
        from rich.console import Console

        from bsstream.batch.progress import BatchProgress

        out.progress_console = Console(file=streams.stdout if status_table else streams.stderr)
        out.progress = BatchProgress(out.progress_console, len(plan.inputs))
        parts.append(ProgressSink(out.progress))
    outputs: Sink = Locked(FanOut(parts))
    if scan:
        outputs = ScanMerge(outputs, 2)
    out.sink = FanOut([outputs, ErrorReporter(messages, stats_to_stderr=not run.json, scan=scan)])
    return out


def _read_ca_cert(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --ca-cert {path}: {exc.strerror}") from None


def _run_jobs(items: list[Any], jobs: int, process: Callable[[Any], None], interrupts: Any) -> None:
    """``process`` every item, ``jobs`` at a time, in order of start; stop starting new ones
    after an interrupt. The main thread only waits (and so keeps handling signals)."""
    if jobs <= 1:
        for item in items:
            if interrupts.interrupted:
                return
            process(item)
        return
    pending = list(reversed(items))
    lock = threading.Lock()

    def worker() -> None:
        while not interrupts.interrupted:
            with lock:
                if not pending:
                    return
                item = pending.pop()
            process(item)

    workers = [threading.Thread(target=worker, name=f"bsstream-job-{i}", daemon=True) for i in range(jobs)]
    for w in workers:
        w.start()
    _wait_all(workers)


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input (``run.jobs`` at a time); return the most severe exit status."""
    from bsstream.audio.decode import open_input
    from bsstream.batch.failon import apply_matches
    from bsstream.protocol.messages import build_config
    from bsstream.session import Interrupts, Session, StreamOptions
    from bsstream.transport import Transport

    messages = Messages(streams.stderr)
    plan = plan_inputs(run)
    if run.insecure and not run.endpoint.is_loopback and not run.local:
        messages.say(f"warning: --insecure sends audio and your API key in plaintext to {run.endpoint.host}")
    ca_cert = _read_ca_cert(run.ca_cert)
    methods = _methods(run)
    out = build_outputs(run, streams, plan, messages, scan=len(methods) > 1)
    interrupts = Interrupts()
    codes: dict[str, list[ExitStatus]] = {}
    codes_lock = threading.Lock()
    for spec, err in plan.failed:
        messages.error(err)
        codes[spec] = [err.exit_status]

    with contextlib.ExitStack() as stack:
        endpoint, insecure = run.endpoint, run.insecure
        if run.local:
            from bsstream.emulator.server import Emulator

            endpoint, insecure = Endpoint("127.0.0.1", stack.enter_context(Emulator()).port), True
            messages.once(EMULATOR_NOTE)
        transport = stack.enter_context(Transport(endpoint, insecure=insecure, ca_cert=ca_cert))
        options = {
            method: StreamOptions(
                method=method,
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
                tag_method=len(methods) > 1,
            )
            for method in methods
        }
        progress = out.progress

        def session(method: str) -> Session:
            return Session(
                transport,
                options[method],
                interrupts=interrupts,
                notify=messages.say,
                on_emulated=lambda: messages.once(EMULATOR_NOTE),
                on_progress=progress.set_sent if progress is not None else None,
            )

        def process(inp: Any) -> None:
            """One input, all its methods; records its exit statuses."""
            name = source_name(inp)
            try:
                with open_input(inp.spec, stdin=streams.stdin) as source:
                    if len(methods) == 1:
                        got = [ExitStatus(session(methods[0]).run(source, out.sink).status)]
                    else:
                        got = _run_tee(source, [session(m) for m in methods], out.sink)
            except BsError as err:
                messages.error(err)
                got = [err.exit_status]
                if progress is not None:
                    progress.finish_file(name, err.exit_status)
            with codes_lock:
                codes[name] = got

        stack.callback(interrupts.close)
        stack.callback(out.sink.close)
        if progress is not None:
            stack.enter_context(progress)
            if not out.status_table:
                messages.console = out.progress_console
            stack.callback(setattr, messages, "console", None)
        with handle_signals(interrupts.signal):
            _run_jobs(plan.inputs, run.jobs, process, interrupts)

    statuses: list[ExitStatus] = []
    reports = []
    for name in [spec for spec, _ in plan.failed] + [source_name(inp) for inp in plan.inputs]:
        if name not in codes:
            continue  # never started (interrupted)
        code = most_severe(codes[name])
        if out.fail_on is not None:
            code = ExitStatus(apply_matches(code, out.fail_on.matched_source(name)))
        statuses.append(code)
        reports.append(out.collector.report(name, code))
    reports.extend(
        out.collector.report(source_name(i), ExitStatus.SUCCESS, skipped=True) for i in plan.skipped
    )
    if plan.skipped:
        messages.say(f"skipped {len(plan.skipped)} input(s) whose output in {run.output_dir} is complete")
    if len(reports) > 1 and not run.quiet:
        _print_report(reports, streams, on_stdout=out.status_table)
    if interrupts.interrupted:
        messages.say("interrupted: results received so far were written")
        return ExitStatus.INTERRUPTED
    return most_severe(statuses)


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
