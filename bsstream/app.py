"""Wiring of analyze / deepfake / scan: inputs -> transport -> one Session per input and
method -> sinks.

Knows no option parsing (cli.py does that) and writes only to the streams it is given.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO

from bsstream.protocol.stream import FanOut, Locked, NullSink, Sink, StreamInfo, StreamOutcome
from bsstream.redact import safe_line
from bsstream.settings import DEFAULT_RETRY_FOR, Credentials, Endpoint
from bsstream.status import (
    SIGNALLED,
    BsError,
    ExitStatus,
    InputError,
    OutputError,
    ServiceError,
    UsageError,
    most_severe,
)

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
    retries: int | None = None  # cap on reconnects per stream; None: only retry_for limits
    retry_for: float = DEFAULT_RETRY_FOR
    backoff_base: float = 0.5
    stats: bool = False
    outputs: list[str] = field(default_factory=list)
    jobs: int = 1
    output_dir: Path | None = None
    skip_done: bool = False
    shard: str | None = None
    fail_on: list[str] = field(default_factory=list)
    quiet: bool = False
    progress: bool | None = None  # --progress / --no-progress; None: bsstream.streamkind's rule
    debug: bool = False  # a worker's unexpected exception also prints its traceback
    raw: str | None = None  # --raw FORMAT[:RATE[:CHANNELS]] (README "Inputs")
    sample_rate: int | None = None  # --sample-rate (with --raw)
    raw_channels: int | None = None  # --raw-channels (with --raw)
    channels: str = "mix"  # --channels mix|split
    channel_names: str | None = None  # --channel-names agent,customer
    capture_seconds: float | None = None  # --duration: stop a capture (mic:) after this long
    subtitle_level: str | None = None  # --subtitle-level utterance|segment (.srt/.vtt)
    subtitle_tasks: str | None = None  # --subtitle-tasks TASK[,TASK...]|all (.srt/.vtt)
    embed_audio: bool | None = None  # --embed-audio / --no-embed-audio; None: up to 30 min


@dataclass(slots=True)
class Streams:
    """The run's environment (httpie's ``Environment``): stdin for audio, stdout for results,
    stderr for everything else, and where settings come from. ``environ`` and ``cwd`` None: the
    process's own. :func:`bsstream.cli.main` given a Streams runs in-process with exactly these
    (tests: ``tests/clirun.py``); :func:`default_streams` is the real process's."""

    stdin: BinaryIO
    stdout: IO[str]
    stderr: IO[str]
    stdout_is_tty: bool = False
    stderr_is_tty: bool = False
    environ: Mapping[str, str] | None = None  # BS_*, BSSTREAM_FFMPEG, proxies, ...
    cwd: Path | None = None  # where relative paths and .env are found


class Messages:
    """One-line messages to stderr (secrets masked, control characters escaped: see
    :func:`~bsstream.redact.safe_line`), each flushed, whole lines even from several threads."""

    def __init__(self, stderr: IO[str]) -> None:
        self.stderr = stderr
        self.console: Any = None  # while a progress display owns stderr, print through it
        self.muted = False  # stdout was closed by its reader (| head): end quietly
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        if self.muted:
            return
        text = safe_line(line)
        with self._lock:
            if self.console is not None:
                self.console.print(text, markup=False, highlight=False, soft_wrap=True)
                return
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def raw(self, text: str) -> None:
        """Several lines as they are (a --debug traceback); secrets still masked."""
        from bsstream.redact import redact

        with self._lock:
            self.stderr.write(redact(text.rstrip("\n")) + "\n")
            self.stderr.flush()

    def once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.say(line)

    def error(self, err: BsError) -> None:
        self.say(f"error: {err.line()}")


class AboveLive:
    """Where :class:`Messages` print while the live view shows on stdout and stderr is the same
    terminal: above the frame (a line written straight to the terminal would tear it); on
    stderr as usual whenever no frame is showing."""

    def __init__(self, live: Any, stderr: IO[str]) -> None:
        self.live = live
        self.stderr = stderr

    def print(self, text: str, **_: Any) -> None:
        if not self.live.print_above(text):
            self.stderr.write(text + "\n")
            self.stderr.flush()


@contextlib.contextmanager
def handle_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``on_signal(signum)`` while the block runs (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def build_sinks(
    run: RunConfig,
    streams: Streams,
    *,
    terminal: bool = True,
    show_source: bool = False,
    on_output_error: Callable[[OutputError], None] | None = None,
) -> list[Sink]:
    """The terminal output (JSON lines, live table or plain lines) plus any --output files.

    ``terminal=False``: nothing on stdout while streaming (the per-file status table of --jobs).
    ``on_output_error``: an --output file that cannot be written (disk full, ...) is dropped
    and reported through it instead of raising (see :mod:`bsstream.export.guard`).
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

        environ = streams.environ if streams.environ is not None else os.environ
        console = Console(file=streams.stdout, no_color=environ.get("NO_COLOR", "") != "")
        sinks.append(
            LiveSink(
                console,
                show_source=show_source,
                audio_progress=True,  # the session reports the audio sent (see run_streams)
                realtime=run.realtime,
                embeddings=run.embeddings,
            )
        )
    else:
        from bsstream.render.plain import PlainSink

        sinks.append(PlainSink(streams.stdout, show_source=show_source))
    if run.outputs:
        from bsstream.export import open_exports
        from bsstream.export.guard import GuardedOutput
        from bsstream.export.subtitles import subtitle_options

        subtitles = subtitle_options(run.subtitle_level, run.subtitle_tasks, several=show_source)
        exports = open_exports(run.outputs, subtitles)
        if on_output_error is not None:
            exports = [
                GuardedOutput(e, p, on_output_error) for e, p in zip(exports, run.outputs, strict=True)
            ]
        sinks.extend(exports)
    return sinks


class ErrorReporter(NullSink):
    """Writes each stream's failure line (and --stats) to stderr as the stream ends."""

    def __init__(self, messages: Messages, *, stats_to_stderr: bool, scan: bool = False) -> None:
        self.messages = messages
        self.stats_to_stderr = stats_to_stderr
        self.scan = scan

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.error and outcome.status not in SIGNALLED:
            self.messages.say(
                f"error: {info.method}: {outcome.error}" if self.scan else f"error: {outcome.error}"
            )
        if outcome.stats is not None and self.stats_to_stderr:
            self.say_stats(info.source, outcome.stats, info.method)

    def event(self, event: dict[str, Any]) -> None:
        # --channels split: each channel's call reports its --stats as an event with its channel
        stats = event.get("stats")
        if isinstance(stats, dict) and "channel" in event and self.stats_to_stderr:
            label = event.get("channel_name") or f"ch{event['channel']}"
            self.say_stats(str(event.get("source", "")), stats, str(event.get("method", "")), label)

    def say_stats(self, source: str, s: dict[str, Any], method: str, channel: str | None = None) -> None:
        """``stats call.wav [agent] (StreamAudio): audio 2.35 s, ...`` on stderr."""
        rtf = s["real_time_factor"]
        p50, p95 = s["latency_p50"], s["latency_p95"]
        where = (f" [{channel}]" if channel else "") + (f" ({method})" if self.scan else "")

        def secs(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f} s"

        self.messages.say(
            f"stats {source}{where}: audio {s['audio_seconds']:.2f} s, "
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
    """The name a PcmSource gives an input: the spec as given, "stdin" for "-", a URL without
    its query string or credentials, a capture device as ``mic:BACKEND:NAME``."""
    from bsstream.audio.device import is_device, parse_device
    from bsstream.audio.url import display_name, is_url

    if inp.is_stdin:
        return "stdin"
    if is_url(inp.spec):
        return display_name(inp.spec)
    if is_device(inp.spec):
        return parse_device(inp.spec).display
    return str(inp.spec)


def input_options(run: RunConfig) -> tuple[Any, bool, list[str]]:
    """--raw, --channels, --channel-names and --fail-on's channels checked (UsageError, exit 2,
    before anything runs):
    (the RawFormat or None, whether channels are split, the channel names)."""
    from bsstream.audio.channels import parse_channel_names
    from bsstream.audio.device import check_duration, is_device
    from bsstream.audio.raw import parse_raw

    if run.raw is None and (run.sample_rate is not None or run.raw_channels is not None):
        raise UsageError("--sample-rate and --raw-channels describe headerless input: give --raw FORMAT too")
    raw = parse_raw(run.raw, sample_rate=run.sample_rate, channels=run.raw_channels) if run.raw else None
    if raw is not None and any(is_device(spec) for spec in run.inputs):
        raise UsageError("--raw describes headerless files or stdin, not a capture device (mic:)")
    if run.channels not in ("mix", "split"):
        raise UsageError(f"--channels {run.channels!r}: choose mix or split")
    names = parse_channel_names(run.channel_names)
    if names and run.channels != "split":
        raise UsageError("--channel-names names the channels of --channels split: add --channels split")
    check_duration(run.capture_seconds)
    from bsstream.batch.failon import check_channels, parse_fail_ons

    check_channels(parse_fail_ons(run.fail_on), split=run.channels == "split", names=names)
    return raw, run.channels == "split", names


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
    live: Any = None  # the LiveSink when the live view is on stdout (told the audio sent)
    progress_console: Any = None
    status_table: bool = False  # --jobs > 1 on a terminal: the per-file status display on stdout
    output_errors: dict[str, OutputError] = field(default_factory=dict)  # input -> its --output-dir file's
    run_errors: list[OutputError] = field(default_factory=list)  # --output files that could not be written
    exports: list[Any] = field(default_factory=list)  # the --output files' GuardedOutput sinks
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_output_error(self, source: str) -> OutputError | None:
        """The --output-dir failure of ``source`` (already reported), once."""
        with self.lock:
            return self.output_errors.pop(source, None)


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

    def run_output_failed(err: OutputError) -> None:
        messages.error(err)
        with out.lock:
            out.run_errors.append(err)

    parts: list[Sink] = build_sinks(
        run, streams, terminal=not status_table, show_source=many, on_output_error=run_output_failed
    )
    from bsstream.export.guard import GuardedOutput

    out.exports = [p for p in parts if isinstance(p, GuardedOutput)]
    out.live = next((p for p in parts if callable(getattr(p, "set_sent", None))), None)
    if rules:
        out.fail_on = FailOnSink(rules, on_match=lambda m: messages.say(format_match(m)))
        parts.append(out.fail_on)  # before the output files: their markers carry the match
    if run.output_dir is not None:
        from bsstream.export.guard import GuardedOutput

        paths, fail_on = plan.out_paths, out.fail_on

        def input_output_failed(err: OutputError, source: str) -> None:
            messages.error(err)
            with out.lock:
                out.output_errors[source] = err

        def output_file(src: str) -> Sink | None:
            if src not in paths:
                return None
            return GuardedOutput(
                OutputDirSink(paths[src], fail_on=fail_on),
                paths[src],
                lambda err: input_output_failed(err, src),
                source=src,
            )

        parts.append(BySource(output_file))
    parts.append(out.collector)
    if plan.inputs and (status_table or _progress_on_stderr(run, streams)):
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


def _progress_on_stderr(run: RunConfig, streams: Streams) -> bool:
    """Whether the batch progress display redraws on stderr (README "Progress display")."""
    from bsstream.streamkind import StreamKind, progress_on_stderr, stream_kind

    if streams.stdout_is_tty and not run.json:
        return False  # the live table (or --jobs' status display) on stdout shows progress
    stdout = StreamKind.TERMINAL if streams.stdout_is_tty else stream_kind(streams.stdout)
    stderr = StreamKind.TERMINAL if streams.stderr_is_tty else StreamKind.UNKNOWN
    return progress_on_stderr(stdout, stderr, requested=run.progress, quiet=run.quiet)


def _read_ca_cert(path: Path | None) -> bytes | None:
    """--ca-cert's PEM bytes; unreadable or not a PEM certificate: a usage error (exit 2)."""
    from bsstream.settings import load_ca_cert

    return None if path is None else load_ca_cert(path)


def _run_jobs(
    items: list[Any], jobs: int, process: Callable[[Any], None], stopped: Callable[[], bool]
) -> None:
    """``process`` every item, ``jobs`` at a time, in order of start; stop starting new ones
    once ``stopped()`` (an interrupt, stdout closed). The main thread only waits (and so keeps
    handling signals).

    ``process`` turns every failure into its item's fate and should not raise; if it does
    anyway, no thread prints a traceback: no new item starts, and the first exception is raised
    here, in the calling thread, once every worker has stopped."""
    if jobs <= 1:
        for item in items:
            if stopped():
                return
            process(item)
        return
    pending = list(reversed(items))
    lock = threading.Lock()
    escaped: list[BaseException] = []

    def worker() -> None:
        while not stopped():
            with lock:
                if not pending or escaped:
                    return
                item = pending.pop()
            try:
                process(item)
            except BaseException as exc:  # never a thread traceback: re-raised below
                with lock:
                    escaped.append(exc)
                return

    workers = [threading.Thread(target=worker, name=f"bsstream-job-{i}", daemon=True) for i in range(jobs)]
    for w in workers:
        w.start()
    _wait_all(workers)
    if escaped:
        raise escaped[0]


def _unexpected(name: str, exc: BaseException) -> BsError:
    """The per-input error for an exception no part of the stream turned into one."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return InputError(f"{name}: symlink loop", hint="the link never reaches a file; fix or remove it")
    return ServiceError(f"{name}: unexpected {type(exc).__name__}: {exc}", hint="please report this as a bug")


def _remove_stale_temporaries(run: RunConfig, messages: Messages) -> None:
    """Temporaries of a killed earlier run (see :func:`bsstream.export.atomic.remove_stale_temporaries`)
    next to each --output file and anywhere under --output-dir."""
    from bsstream.export.atomic import remove_stale_temporaries

    removed: list[Path] = []
    for output in run.outputs:
        target = Path(output)
        removed += remove_stale_temporaries(target.parent, names=[target.name])
    if run.output_dir is not None and run.output_dir.is_dir():
        removed += remove_stale_temporaries(run.output_dir, recursive=True)
    if removed:
        where = ", ".join(sorted({str(p.parent) for p in removed}))
        messages.say(f"removed {len(removed)} temporary file(s) left by a killed run in {where}")


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input (``run.jobs`` at a time); return the most severe exit status."""
    from bsstream.audio.decode import check_stdin
    from bsstream.audio.piped import open_source
    from bsstream.batch.failon import apply_matches
    from bsstream.batch.inputs import check_input
    from bsstream.batch.outdir import prepare_output
    from bsstream.export.guard import output_error
    from bsstream.protocol.messages import build_config
    from bsstream.render import OutputClosed
    from bsstream.session import Interrupts, Session, StreamOptions
    from bsstream.transport import Transport

    messages = Messages(streams.stderr)
    raw, split, channel_names = input_options(run)
    plan = plan_inputs(run)
    if any(inp.is_stdin for inp in plan.inputs):
        check_stdin(streams.stdin)  # a terminal: a usage error before anything streams
    _remove_stale_temporaries(run, messages)
    if run.insecure and not run.endpoint.is_loopback and not run.local:
        messages.say(f"warning: --insecure sends audio and your API key in plaintext to {run.endpoint.host}")
    ca_cert = _read_ca_cert(run.ca_cert)
    methods = _methods(run)
    out = build_outputs(run, streams, plan, messages, scan=len(methods) > 1)
    audio = None  # the HTML report's audio, from the PCM sent
    if out.exports:  # only then: bsstream.export.audio loads numpy (~60 ms, 11 MiB at start-up)
        from bsstream.export.audio import attach_audio

        audio = attach_audio(out.exports, run.embed_audio)
    interrupts = Interrupts()
    codes: dict[str, list[ExitStatus]] = {}
    codes_lock = threading.Lock()
    unstreamed: list[str] = []  # inputs whose results are not (all) in the --output files, and why
    for spec, err in plan.failed:
        messages.error(err)
        codes[spec] = [err.exit_status]

    with contextlib.ExitStack() as stack:
        endpoint, insecure = run.endpoint, run.insecure
        if run.local:
            from bsstream.emulator.server import Emulator

            # the user's own in-process server: no idle limit (a live input may pause for long)
            emulator = stack.enter_context(Emulator(idle_timeout=None))
            endpoint, insecure = Endpoint("127.0.0.1", emulator.port), True
            # its note comes with the first answer of a call (on_emulated), not before
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
                retry_for=run.retry_for,
                backoff_base=run.backoff_base,
                stats=run.stats,
                insecure=insecure,
                emulated=run.local,
                tag_method=len(methods) > 1,
            )
            for method in methods
        }
        progress = out.progress
        # the audio sent, for the batch progress display and the live view's status line
        reporters = [r for r in (progress, out.live) if r is not None]

        def report_sent(name: str, seconds: float) -> None:
            for reporter in reporters:
                reporter.set_sent(name, seconds)

        on_progress = report_sent if reporters else None

        def session(method: str) -> Session:
            return Session(
                transport,
                options[method],
                interrupts=interrupts,
                notify=messages.say,
                on_emulated=lambda: messages.once(EMULATOR_NOTE),
                on_progress=on_progress,
            )

        closed: list[BaseException] = []  # stdout's reader went away (| head): the run ends

        def input_warning(name: str, problem: str) -> None:
            """Streamable but odd input (README "Bad input"): a stderr line and a JSON event."""
            messages.say(f"warning: {name}: {problem}")
            out.sink.event({"event": "input_warning", "source": name, "message": problem})

        def stream_one(inp: Any, name: str) -> list[ExitStatus]:
            check_input(inp)
            # --timeout and Ctrl-C/SIGTERM also bound the wait for a FIFO's or stdin's first byte
            with open_source(
                inp.spec,
                stdin=streams.stdin,
                wait=run.timeout,
                cancel=interrupts.stop_sending,
                raw=raw,
                keep_channels=split,
                capture_seconds=run.capture_seconds,
            ) as source:
                source.listen(lambda problem: input_warning(source.name, problem))
                source = _tap(source, inp, run, audio, out.live, split)
                out_path = plan.out_paths.get(name)
                if out_path is not None:
                    try:
                        prepare_output(out_path)
                    except OSError as exc:
                        raise output_error(out_path, exc, source=name) from None
                if split:
                    from bsstream.audio.channels import channel_labels
                    from bsstream.audio.channels import split as split_channels
                    from bsstream.split import run_split

                    tee = split_channels(source, copies=len(methods))
                    labels = channel_labels(tee.channels, channel_names)
                    return run_split(tee, labels, methods, session, out.sink)
                if len(methods) == 1:
                    return [ExitStatus(session(methods[0]).run(source, out.sink).status)]
                return _run_tee(source, [session(m) for m in methods], out.sink)

        def process(inp: Any) -> None:
            """One input, all its methods; records its exit statuses. Whatever goes wrong
            becomes this input's fate (one line, one code); only a closed stdout ends the run."""
            name = source_name(inp)
            try:
                got = stream_one(inp, name)
            except (OutputClosed, BrokenPipeError) as exc:
                with codes_lock:
                    closed.append(exc)
                messages.muted = True
                interrupts.abort()  # cancel the other streams: nobody reads their results
                return
            except Exception as exc:
                err = exc if isinstance(exc, BsError) else _unexpected(name, exc)
                if run.debug and not isinstance(exc, BsError):
                    messages.raw("".join(traceback.format_exception(exc)))
                if err.exit_status not in SIGNALLED:  # the run says "interrupted" once
                    messages.error(err)
                    with codes_lock:
                        unstreamed.append(err.message)
                got = [interrupts.status if err.exit_status in SIGNALLED else err.exit_status]
                if progress is not None:
                    progress.finish_file(name, err.exit_status)
            failed_output = out.take_output_error(name)  # its line was said when it happened
            if failed_output is not None:
                got.append(failed_output.exit_status)
            with codes_lock:
                codes[name] = got

        stack.callback(interrupts.close)
        if audio is not None:
            stack.callback(audio.close)  # after the reports are written (callbacks run last first)
        stack.callback(out.sink.close)
        # before closing: an --output file lacking something is written as NAME.partial.EXT
        stack.callback(lambda: _mark_partial_exports(out, interrupts, plan, unstreamed))
        if progress is not None:
            stack.enter_context(progress)
            if not out.status_table:
                messages.console = out.progress_console
            stack.callback(setattr, messages, "console", None)
        elif out.live is not None and streams.stderr_is_tty:
            messages.console = AboveLive(out.live, streams.stderr)  # notes must not tear the frame
            stack.callback(setattr, messages, "console", None)
        with handle_signals(interrupts.signal):
            _run_jobs(plan.inputs, run.jobs, process, lambda: interrupts.interrupted or bool(closed))
        if closed:
            raise closed[0]  # main() ends quietly

    statuses: list[ExitStatus] = []
    reports = []
    completed_files = 0  # --output-dir files this run completed
    for name in [spec for spec, _ in plan.failed] + [source_name(inp) for inp in plan.inputs]:
        if name not in codes:  # the run was interrupted before its turn
            reports.append(out.collector.report(name, interrupts.status, not_started=True))
            continue
        code = most_severe(codes[name])
        if out.fail_on is not None:
            code = ExitStatus(apply_matches(code, out.fail_on.matched_source(name)))
        statuses.append(code)
        reports.append(out.collector.report(name, code))
        if name in plan.out_paths and code in (ExitStatus.SUCCESS, ExitStatus.FAIL_ON_MATCH):
            completed_files += 1
    statuses.extend(err.exit_status for err in out.run_errors)  # an --output file not written
    reports.extend(
        out.collector.report(source_name(i), ExitStatus.SUCCESS, skipped=True) for i in plan.skipped
    )
    if plan.skipped:
        messages.say(f"skipped {len(plan.skipped)} input(s) whose output in {run.output_dir} is complete")
    if len(reports) > 1 and not run.quiet:
        _print_report(reports, streams, on_stdout=out.status_table)
    if interrupts.interrupted:
        messages.say(_interrupted_line(run, out, completed_files))
        return interrupts.status
    partial = _partial_exports_text(out)
    if partial:
        messages.say(f"partial: {partial}")
    return most_severe(statuses)


def _mark_partial_exports(out: Outputs, interrupts: Any, plan: Plan, unstreamed: list[str]) -> None:
    """Tell each --output file what the run lacks (see :mod:`bsstream.export.partial`): an
    interrupt, inputs that could not be expanded or streamed. Inputs that streamed and failed
    the exports see themselves (their end status)."""
    from bsstream.export.partial import status_reason

    reasons = [status_reason(interrupts.status)] if interrupts.interrupted else []
    reasons += [err.message for _, err in plan.failed]
    reasons += unstreamed
    for export in out.exports:
        for reason in reasons:
            export.mark_partial(reason)


def _partial_exports_text(out: Outputs) -> str:
    """What the --output files written under their partial name hold; "" for none."""
    from bsstream.export.partial import partial_text

    return partial_text(out.exports)


def _interrupted_line(run: RunConfig, out: Outputs, completed_files: int) -> str:
    """The run's one "interrupted" line, naming only files that were in fact written: the
    --output files (what arrived, under their partial names NAME.partial.EXT) and the
    --output-dir files completed before the interrupt (an interrupted input leaves none)."""
    parts = []
    partial = _partial_exports_text(out)
    if partial:
        parts.append(partial)
    if completed_files:
        parts.append(
            f"{completed_files} complete output(s) in {run.output_dir}; "
            "run again with --skip-done to finish the rest"
        )
    return "interrupted: " + "; ".join(parts) if parts else "interrupted"


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


def _tap(source: Any, inp: Any, run: RunConfig, audio: Any, live: Any, split: bool) -> Any:
    """The decoded ``source``, watched as its PCM flows (one tap for every watcher, see
    :mod:`bsstream.audio.tap`): by the HTML report's audio store, and, for a live capture (a
    device, or stdin with --realtime) shown in the live view, by the status line's level meter."""
    from bsstream.audio.device import is_device

    observers: list[Any] = []
    if audio is not None:
        observers.append(audio.capture(source, split=split))
    watch = getattr(live, "watch_level", None)
    if watch is not None and (is_device(inp.spec) or (inp.is_stdin and run.realtime)):
        from bsstream.audio.level import LevelMeter

        meter = LevelMeter(wav_stream=split)
        watch(source.name, meter.reading)
        observers.append(meter)
    if not observers:
        return source
    from bsstream.audio.tap import TappedSource

    return TappedSource(source, observers)


def _run_tee(source: Any, sessions: list[Any], sink: Sink) -> list[ExitStatus]:
    """Decode once, stream to every session concurrently; each session's exit status."""
    from bsstream.audio.tee import Tee

    tee = Tee(source, len(sessions))
    codes: list[ExitStatus] = [ExitStatus.SUCCESS] * len(sessions)
    escaped: list[BaseException] = []

    def one(i: int) -> None:
        branch = tee.branches[i]
        try:
            codes[i] = ExitStatus(sessions[i].run(branch, sink).status)
        except BaseException as exc:  # never a thread traceback: raised in the caller below
            escaped.append(exc)
        finally:
            branch.close()  # a failed call stops taking audio; the other goes on

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(sessions))]
    for t in threads:
        t.start()
    _wait_all(threads)
    tee.close()
    if escaped:
        raise escaped[0]
    return codes


def default_streams() -> Streams:
    return Streams(
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
        stdout_is_tty=sys.stdout.isatty(),
        stderr_is_tty=sys.stderr.isatty(),
    )
