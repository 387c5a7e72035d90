"""Wiring of analyze / deepfake / scan: inputs -> transport -> one Session per input and
method -> sinks.

Knows no option parsing (cli.py does that) and writes only to the streams it is given.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, BinaryIO, TypeVar

from bsstream.engine.options import Options
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.methods import Method
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import FanOut, Locked, NullSink, Sink, StreamInfo, StreamOutcome
from bsstream.redact import safe_line, write_message
from bsstream.settings import Credentials, Endpoint
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

if TYPE_CHECKING:
    from rich.console import Console

    from bsstream.audio.decode import PcmSource
    from bsstream.audio.raw import RawFormat
    from bsstream.audio.tap import PcmObserver
    from bsstream.batch.inputs import Input
    from bsstream.batch.progress import BatchProgress
    from bsstream.batch.report import InputReport
    from bsstream.batch.wiring import ReportCollector
    from bsstream.export.audio import AudioStore
    from bsstream.export.guard import GuardedOutput
    from bsstream.interrupts import Interrupts
    from bsstream.render.live import LiveSink
    from bsstream.session import PcmSourceLike, Session, StreamOptions
    from bsstream.transport import Transport

T = TypeVar("T")

EMULATOR_NOTE = "note: results from the local emulator, not Behavioral Signals models"


@dataclass(slots=True)
class RunConfig:
    """Everything a run needs, already validated. Each field is the Click parameter of the same
    name (``bsstream.cli`` fills it by name: one definition per option); ``stream`` holds the
    options the engine is told (``--chunk-ms``, ``--level``, ``--realtime``, ``--logits``,
    ``--embeddings``, ``--timeout``, ``--retry-for``, ``--retries``)."""

    method: str
    inputs: list[str]
    credentials: Credentials
    endpoint: Endpoint
    stream: Options = field(default_factory=Options)
    insecure: bool = False
    ca_cert: bytes | None = None  # --ca-cert's PEM, read and checked once by bsstream.cli
    local: bool = False
    json: bool = False
    stats: bool = False
    outputs: Sequence[str] = ()
    jobs: int = 1
    output_dir: Path | None = None
    skip_done: bool = False
    shard: str | None = None
    fail_on: Sequence[str] = ()
    quiet: bool = False
    progress: bool | None = None  # --progress / --no-progress; None: bsstream.streamkind's rule
    debug: bool = False  # a worker's unexpected exception also prints its traceback
    raw: str | None = None  # --raw FORMAT[:RATE[:CHANNELS]] (README "Inputs")
    sample_rate: int | None = None  # --sample-rate (with --raw)
    raw_channels: int | None = None  # --raw-channels (with --raw)
    channels: str = "mix"  # --channels mix|split
    channel_names: str | None = None  # --channel-names agent,customer
    duration: float | None = None  # --duration: stop a capture (mic:) after this long
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
    :func:`~bsstream.redact.write_message`, the one writer), each flushed, whole lines even from
    several threads. ``printer``, fixed for the whole run: a display that owns the terminal
    (the progress display's console, the live view) prints the lines instead, above itself."""

    def __init__(self, stderr: IO[str], printer: Callable[[str], None] | None = None) -> None:
        self.stderr = stderr
        self.printer = printer
        self.muted = False  # stdout was closed by its reader (| head): end quietly
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        if self.muted:
            return
        with self._lock:
            if self.printer is not None:
                self.printer(safe_line(line))
            else:
                write_message(self.stderr, line)

    def raw(self, text: str) -> None:
        """Several lines as they are (a --debug traceback); secrets still masked."""
        with self._lock:
            write_message(self.stderr, text, raw=True)

    def once(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.say(line)

    def error(self, err: BsError) -> None:
        self.say(f"error: {err.line()}")


def console_printer(console: Console) -> Callable[[str], None]:
    """Message lines through a Rich console (a progress display redraws below them)."""

    def print_line(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    return print_line


def above_live(live: LiveSink, stderr: IO[str]) -> Callable[[str], None]:
    """Where :class:`Messages` print while the live view shows on stdout and stderr is the same
    terminal: above the frame (a line written straight to the terminal would tear it); on
    stderr as usual whenever no frame is showing."""

    def print_line(text: str) -> None:
        if not live.print_above(text):
            write_message(stderr, text)

    return print_line


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


def terminal_sink(run: RunConfig, streams: Streams, *, show_source: bool = False) -> Sink:
    """The terminal output: JSON lines, the live table (stdout a terminal) or plain lines."""
    if run.json:
        from bsstream.render.jsonl import JsonlSink

        return JsonlSink(streams.stdout)
    if streams.stdout_is_tty:
        return live_sink(run, streams, show_source=show_source)
    from bsstream.render.plain import PlainSink

    return PlainSink(streams.stdout, show_source=show_source)


def live_sink(run: RunConfig, streams: Streams, *, show_source: bool = False) -> LiveSink:
    """The live table on the terminal that is stdout (NO_COLOR honoured)."""
    from rich.console import Console

    from bsstream.render.live import LiveSink

    environ = streams.environ if streams.environ is not None else os.environ
    console = Console(file=streams.stdout, no_color=environ.get("NO_COLOR", "") != "")
    return LiveSink(
        console,
        show_source=show_source,
        audio_progress=True,  # the session reports the audio sent (see _session)
        realtime=run.stream.realtime,
        embeddings=run.stream.embeddings,
    )


def export_sinks(
    run: RunConfig,
    *,
    show_source: bool = False,
    on_output_error: Callable[[OutputError], None] | None = None,
) -> list[Sink]:
    """The --output files. ``on_output_error``: a file that cannot be written (disk full, ...)
    is dropped and reported through it instead of raising (see :mod:`bsstream.export.guard`)."""
    if not run.outputs:
        return []
    from bsstream.export import open_exports
    from bsstream.export.guard import GuardedOutput
    from bsstream.export.subtitles import subtitle_options

    subtitles = subtitle_options(run.subtitle_level, run.subtitle_tasks, several=show_source)
    exports = open_exports(list(run.outputs), subtitles)
    if on_output_error is None:
        return exports
    return [GuardedOutput(e, p, on_output_error) for e, p in zip(exports, run.outputs, strict=True)]


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
    """
    sinks = [terminal_sink(run, streams, show_source=show_source)] if terminal else []
    return sinks + export_sinks(run, show_source=show_source, on_output_error=on_output_error)


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

    def event(self, event: JsonObject) -> None:
        # --channels split: each channel's call reports its --stats as an event with its channel
        stats = event.get("stats")
        if isinstance(stats, dict) and "channel" in event and self.stats_to_stderr:
            label = str(event.get("channel_name") or f"ch{event['channel']}")
            figures = Stats.from_json(stats)
            self.say_stats(str(event.get("source", "")), figures, str(event.get("method", "")), label)

    def say_stats(self, source: str, s: Stats, method: str, channel: str | None = None) -> None:
        """``stats call.wav [agent] (StreamAudio): audio 2.35 s, ...`` on stderr."""
        rtf = s.real_time_factor
        where = (f" [{channel}]" if channel else "") + (f" ({method})" if self.scan else "")

        def secs(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f} s"

        self.messages.say(
            f"stats {source}{where}: audio {s.audio_seconds:.2f} s, "
            f"wall {s.wall_seconds:.2f} s, "
            f"real-time factor {'-' if rtf is None else f'{rtf:.3f}'}, results {s.results}, "
            f"latency p50 {secs(s.latency_p50)} p95 {secs(s.latency_p95)}"
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

    inputs: list[Input]
    skipped: list[Input]
    out_paths: dict[str, Path]  # source name -> output file (with --output-dir)
    failed: list[tuple[str, BsError]]  # specs that could not be expanded


def source_name(inp: Input) -> str:
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


@dataclass(frozen=True, slots=True)
class InputOptions:
    """--raw, --channels and --channel-names, checked."""

    raw: RawFormat | None = None
    split: bool = False
    channel_names: list[str] = field(default_factory=list)


def input_options(run: RunConfig) -> InputOptions:
    """--raw, --channels, --channel-names, --duration and --fail-on's channels checked
    (UsageError, exit 2, before anything runs)."""
    from bsstream.audio.channels import parse_channel_names
    from bsstream.audio.device import check_duration
    from bsstream.batch.failon import check_channels, parse_fail_ons

    raw = _raw_format(run)
    if run.channels not in ("mix", "split"):
        raise UsageError(f"--channels {run.channels!r}: choose mix or split")
    names = parse_channel_names(run.channel_names)
    if names and run.channels != "split":
        raise UsageError("--channel-names names the channels of --channels split: add --channels split")
    check_duration(run.duration)
    check_channels(parse_fail_ons(run.fail_on), split=run.channels == "split", names=names)
    return InputOptions(raw, run.channels == "split", names)


def _raw_format(run: RunConfig) -> RawFormat | None:
    """--raw FORMAT[:RATE[:CHANNELS]] with --sample-rate and --raw-channels; None without."""
    from bsstream.audio.device import is_device
    from bsstream.audio.raw import parse_raw

    if run.raw is None and (run.sample_rate is not None or run.raw_channels is not None):
        raise UsageError("--sample-rate and --raw-channels describe headerless input: give --raw FORMAT too")
    if not run.raw:
        return None
    raw = parse_raw(run.raw, sample_rate=run.sample_rate, channels=run.raw_channels)
    if any(is_device(spec) for spec in run.inputs):
        raise UsageError("--raw describes headerless files or stdin, not a capture device (mic:)")
    return raw


def plan_inputs(run: RunConfig) -> Plan:
    """The inputs expanded (each once), sharded, and with --output-dir their files and the
    ones --skip-done skips."""
    from bsstream.batch.inputs import parse_shard, shard

    if run.inputs.count("-") > 1:
        raise UsageError("stdin ('-') can be given only once")
    if run.skip_done and run.output_dir is None:
        raise UsageError("--skip-done needs --output-dir (it skips inputs whose output file is complete)")
    shard_spec = parse_shard(run.shard) if run.shard else None
    inputs, failed = _expand(run.inputs)
    if shard_spec is not None:
        inputs = shard(inputs, *shard_spec)
    plan = Plan(inputs, [], {}, failed)
    if run.output_dir is not None:
        _plan_output_dir(plan, run.output_dir, skip_done=run.skip_done)
    return plan


def _expand(specs: list[str]) -> tuple[list[Input], list[tuple[str, BsError]]]:
    """Every input the specs name, each file once; the specs that could not be expanded (a
    usage error is raised)."""
    from bsstream.batch.inputs import expand_inputs

    inputs: list[Input] = []
    failed: list[tuple[str, BsError]] = []
    seen: set[str] = set()
    for spec in specs:
        try:
            expanded = expand_inputs([spec])
        except UsageError:
            raise
        except BsError as err:
            failed.append((spec, err))
            continue
        for inp in expanded:
            key = str(inp.path.resolve()) if inp.path is not None and inp.path.exists() else inp.spec
            if key not in seen:
                seen.add(key)
                inputs.append(inp)
    return inputs, failed


def _plan_output_dir(plan: Plan, output_dir: Path, *, skip_done: bool) -> None:
    """Each input's file under --output-dir; with --skip-done, inputs whose file is complete
    move from ``plan.inputs`` to ``plan.skipped``."""
    from bsstream.batch.outdir import is_done, output_path

    taken: set[str] = set()
    todo = []
    for inp in plan.inputs:
        path = output_path(output_dir, inp, taken)
        plan.out_paths[source_name(inp)] = path
        if skip_done and is_done(path):
            plan.skipped.append(inp)
        else:
            todo.append(inp)
    plan.inputs = todo


@dataclass(slots=True)
class Outputs:
    """Where a run's results go, and the batch pieces that watch them."""

    sink: Sink  # what the sessions write to
    collector: ReportCollector  # each input's outcome, for the end-of-run table
    progress: BatchProgress | None = None  # when one is shown
    live: LiveSink | None = None  # the live view on stdout (told the audio sent)
    status_table: bool = False  # --jobs > 1 on a terminal: the per-file status display on stdout
    output_errors: dict[str, OutputError] = field(default_factory=dict)  # input -> its --output-dir file's
    run_errors: list[OutputError] = field(default_factory=list)  # --output files that could not be written
    exports: list[GuardedOutput] = field(default_factory=list)  # the --output files
    matched: set[str] = field(default_factory=set)  # inputs with a --fail-on match
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_output_error(self, source: str) -> OutputError | None:
        """The --output-dir failure of ``source`` (already reported), once."""
        with self.lock:
            return self.output_errors.pop(source, None)

    def run_output_failed(self, err: OutputError) -> None:
        with self.lock:
            self.run_errors.append(err)

    def input_output_failed(self, source: str, err: OutputError) -> None:
        with self.lock:
            self.output_errors[source] = err

    def match_found(self, source: str) -> None:
        with self.lock:
            self.matched.add(source)


def open_outputs(run: RunConfig, streams: Streams, plan: Plan) -> tuple[Outputs, Messages]:
    """The run's displays and the message writer printing through them (chosen once, for the
    whole run), then every sink of the run."""
    from bsstream.batch.wiring import ReportCollector

    status_table = run.jobs > 1 and streams.stdout_is_tty and not run.json
    out = Outputs(sink=NullSink(), collector=ReportCollector(), status_table=status_table)
    terminal = _open_terminal(run, streams, plan, out)
    messages = Messages(streams.stderr, _open_progress(run, streams, plan, out))
    out.sink = _fan_out(run, plan, out, messages, terminal, scan=len(_methods(run)) > 1)
    return out, messages


def _open_terminal(run: RunConfig, streams: Streams, plan: Plan, out: Outputs) -> Sink | None:
    """What stdout shows while streaming: nothing under --jobs' status display, else the live
    view on a terminal (``out.live``), JSON lines or plain lines."""
    many = len(plan.inputs) + len(plan.skipped) + len(plan.failed) > 1
    if out.status_table:
        return None
    if streams.stdout_is_tty and not run.json:
        out.live = live_sink(run, streams, show_source=many)
        return out.live
    return terminal_sink(run, streams, show_source=many)


def _open_progress(
    run: RunConfig, streams: Streams, plan: Plan, out: Outputs
) -> Callable[[str], None] | None:
    """The batch progress display (``out.progress``) when one is shown; where messages print
    meanwhile: through its console on stderr, above the live view, or (None) straight to stderr."""
    if plan.inputs and (out.status_table or _progress_on_stderr(run, streams)):
        from rich.console import Console

        from bsstream.batch.progress import BatchProgress

        console = Console(file=streams.stdout if out.status_table else streams.stderr)
        out.progress = BatchProgress(console, len(plan.inputs))
        return None if out.status_table else console_printer(console)
    if out.live is not None and streams.stderr_is_tty:
        return above_live(out.live, streams.stderr)  # notes must not tear the frame
    return None


def _fan_out(
    run: RunConfig, plan: Plan, out: Outputs, messages: Messages, terminal: Sink | None, *, scan: bool
) -> Sink:
    """Every sink of the run as one (thread-safe; merged per input for scan): the terminal
    output and files, --fail-on's lines, --output-dir, the report and progress; then the error
    and --stats lines."""
    from bsstream.batch.wiring import ProgressSink
    from bsstream.export.guard import GuardedOutput
    from bsstream.scan import ScanMerge

    def run_output_failed(err: OutputError) -> None:
        messages.error(err)
        out.run_output_failed(err)

    many = len(plan.inputs) + len(plan.skipped) + len(plan.failed) > 1
    exports = export_sinks(run, show_source=many, on_output_error=run_output_failed)
    out.exports = [e for e in exports if isinstance(e, GuardedOutput)]
    parts: list[Sink] = [*([terminal] if terminal is not None else []), *exports]
    parts += _fail_on_sinks(run, out, messages)
    parts += _output_dir_sinks(run, plan, out, messages)
    parts.append(out.collector)
    if out.progress is not None:
        parts.append(ProgressSink(out.progress))
    outputs: Sink = Locked(FanOut(parts))
    if scan:
        outputs = ScanMerge(outputs, 2)
    return FanOut([outputs, ErrorReporter(messages, stats_to_stderr=not run.json, scan=scan)])


def _fail_on_sinks(run: RunConfig, out: Outputs, messages: Messages) -> list[Sink]:
    """--fail-on: each match said on stderr as it arrives and noted for the run's exit status
    (applied after the results, :func:`_verdicts`); no other sink reads it."""
    from bsstream.batch.failon import FailOnSink, Match, format_match, parse_fail_ons

    rules = parse_fail_ons(run.fail_on)
    if not rules:
        return []

    def on_match(match: Match) -> None:
        messages.say(format_match(match))
        out.match_found(match.source)

    return [FailOnSink(rules, on_match=on_match)]


def _output_dir_sinks(run: RunConfig, plan: Plan, out: Outputs, messages: Messages) -> list[Sink]:
    """--output-dir: one JSON-lines file per input (its marker applies --fail-on itself)."""
    if run.output_dir is None:
        return []
    from bsstream.batch.failon import parse_fail_ons
    from bsstream.batch.outdir import OutputDirSink
    from bsstream.batch.wiring import BySource
    from bsstream.export.guard import GuardedOutput

    paths, rules = plan.out_paths, parse_fail_ons(run.fail_on)

    def failed(source: str) -> Callable[[OutputError], None]:
        def report(err: OutputError) -> None:
            messages.error(err)
            out.input_output_failed(source, err)

        return report

    def output_file(src: str) -> Sink | None:
        if src not in paths:
            return None
        return GuardedOutput(OutputDirSink(paths[src], rules=rules), paths[src], failed(src), source=src)

    return [BySource(output_file)]


def _progress_on_stderr(run: RunConfig, streams: Streams) -> bool:
    """Whether the batch progress display redraws on stderr (README "Progress display")."""
    from bsstream.streamkind import StreamKind, progress_on_stderr, stream_kind

    if streams.stdout_is_tty and not run.json:
        return False  # the live table (or --jobs' status display) on stdout shows progress
    stdout = StreamKind.TERMINAL if streams.stdout_is_tty else stream_kind(streams.stdout)
    stderr = StreamKind.TERMINAL if streams.stderr_is_tty else StreamKind.UNKNOWN
    return progress_on_stderr(stdout, stderr, requested=run.progress, quiet=run.quiet)


def _run_jobs(items: list[T], jobs: int, process: Callable[[T], None], stopped: Callable[[], bool]) -> None:
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


@dataclass
class EarlySource:
    """The first input as :func:`_open_first` left it: its source (closed by ``stack``), or what
    opening it raised."""

    input: Input
    stack: contextlib.ExitStack
    source: PcmSource | None
    error: Exception | None


@dataclass(slots=True)
class RunState:
    """One run as its steps share it: the config and environment, what was planned and opened,
    and what the streams leave behind (each input's exit statuses, what could not be streamed,
    a closed stdout)."""

    run: RunConfig
    streams: Streams
    inputs: InputOptions
    plan: Plan
    methods: list[str]
    out: Outputs
    messages: Messages
    interrupts: Interrupts
    audio: AudioStore | None = None  # the HTML report's audio, from the PCM sent
    first_open: EarlySource | None = None  # the first input, opened before the connection
    transport: Transport | None = None
    options: dict[str, StreamOptions] = field(default_factory=dict)  # per method
    codes: dict[str, list[ExitStatus]] = field(default_factory=dict)  # input -> its streams' statuses
    unstreamed: list[str] = field(default_factory=list)  # why inputs are not (all) in the --output files
    closed: list[BaseException] = field(default_factory=list)  # stdout's reader went away (| head)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, statuses: list[ExitStatus]) -> None:
        with self.lock:
            self.codes[name] = statuses

    def stopped(self) -> bool:
        """No new input starts: an interrupt, or nobody reads stdout any more."""
        return self.interrupts.interrupted or bool(self.closed)


def run_streams(run: RunConfig, streams: Streams) -> int:
    """Stream every input (``run.jobs`` at a time); return the most severe exit status."""
    state = prepare_run(run, streams)
    with contextlib.ExitStack() as stack:
        _open_first(state, stack)
        _connect(state, stack)
        _stream_inputs(state, stack)
    return _finish(state, _verdicts(state))


def prepare_run(run: RunConfig, streams: Streams) -> RunState:
    """Everything checked and opened before the first stream: the options, the inputs, the
    outputs and displays, the report's audio store."""
    from bsstream.audio.decode import check_stdin
    from bsstream.interrupts import Interrupts

    inputs = input_options(run)
    plan = plan_inputs(run)
    if any(inp.is_stdin for inp in plan.inputs):
        check_stdin(streams.stdin)  # a terminal: a usage error before anything streams
    out, messages = open_outputs(run, streams, plan)
    state = RunState(run, streams, inputs, plan, _methods(run), out, messages, Interrupts())
    _remove_stale_temporaries(run, messages)
    if run.insecure and not run.endpoint.is_loopback and not run.local:
        messages.say(f"warning: --insecure sends audio and your API key in plaintext to {run.endpoint.host}")
    if out.exports:  # only then (an HTML report's audio loads numpy when it captures)
        from bsstream.export.html import attach_audio

        state.audio = attach_audio(out.exports, run.embed_audio)
    for spec, err in plan.failed:
        messages.error(err)
        state.codes[spec] = [err.exit_status]
    return state


def _open_first(state: RunState, stack: contextlib.ExitStack) -> None:
    """The first input's decoder, started before the connection loads grpc: for a file ffmpeg
    decodes (MP3, FLAC ...), ffmpeg starts and decodes on the other core while the interpreter
    imports grpc.aio and the stubs (about 60 ms), instead of after. Only a regular file: stdin,
    a FIFO, a URL or a device would be waited on or captured before there is a connection.

    What opening raises is kept and raised when the input's turn comes, so its line and exit
    status are what they would have been."""
    from bsstream.batch.inputs import check_input

    first = state.plan.inputs[0] if state.plan.inputs else None
    if first is None or first.path is None or not first.path.is_file():
        return
    own = contextlib.ExitStack()
    stack.callback(own.close)  # the run's end closes it, if its turn never came
    try:
        check_input(first)
        source = own.enter_context(_open(state, first))
    except Exception as exc:  # its own fate, told in its turn (_stream_one)
        own.close()
        state.first_open = EarlySource(first, own, None, exc)
        return
    state.first_open = EarlySource(first, own, source, None)


def _opened(state: RunState, inp: Input, own: contextlib.ExitStack) -> PcmSource:
    """This input's source, closed when ``own`` closes: the one :func:`_open_first` opened, or
    one opened now."""
    from bsstream.batch.inputs import check_input

    early = state.first_open
    if early is not None and early.input is inp:
        state.first_open = None
        own.enter_context(early.stack)
        if early.error is not None:
            raise early.error
        assert early.source is not None
        return early.source
    check_input(inp)
    return own.enter_context(_open(state, inp))


def _open(state: RunState, inp: Input) -> PcmSource:
    """``open_source`` with this run's options (a context manager: the source)."""
    from bsstream.audio.piped import open_source

    # --timeout and Ctrl-C/SIGTERM also bound the wait for a FIFO's or stdin's first byte
    return open_source(
        inp.spec,
        stdin=state.streams.stdin,
        wait=state.run.stream.timeout,
        cancel=state.interrupts.stop_sending,
        raw=state.inputs.raw,
        keep_channels=state.inputs.split,
        capture_seconds=state.run.duration,
    )


def _connect(state: RunState, stack: contextlib.ExitStack) -> None:
    """The connection (the in-process emulator with --local) and each method's stream options."""
    from bsstream.session import StreamOptions
    from bsstream.transport import Transport

    run = state.run
    ca_cert = run.ca_cert
    endpoint, insecure = run.endpoint, run.insecure
    if run.local:
        from bsstream.emulator.server import Emulator

        # the user's own in-process server: no idle limit (a live input may pause for long)
        emulator = stack.enter_context(Emulator(idle_timeout=None))
        endpoint, insecure = Endpoint("127.0.0.1", emulator.port), True
        # its note comes with the first answer of a call (on_emulated), not before
    state.transport = stack.enter_context(Transport(endpoint, insecure=insecure, ca_cert=ca_cert))
    state.options = {
        method: StreamOptions.build(
            Method(method),
            run.stream,
            run.credentials,
            insecure=insecure,
            emulated=run.local,
            tag_method=len(state.methods) > 1,
            stats=run.stats,
        )
        for method in state.methods
    }


def _stream_inputs(state: RunState, stack: contextlib.ExitStack) -> None:
    """Every input, ``--jobs`` at a time, until done, interrupted or stdout closed; the outputs
    closed after (an --output file lacking something as NAME.partial.EXT)."""
    stack.callback(state.interrupts.close)
    if state.audio is not None:
        stack.callback(state.audio.close)  # after the reports are written (callbacks run last first)
    stack.callback(state.out.sink.close)
    stack.callback(_mark_partial_exports, state)  # before closing
    if state.out.progress is not None:
        stack.enter_context(state.out.progress)
    with handle_signals(state.interrupts.signal):
        _run_jobs(state.plan.inputs, state.run.jobs, functools.partial(_process, state), state.stopped)
    if state.closed:
        raise state.closed[0]  # main() ends quietly


def _process(state: RunState, inp: Input) -> None:
    """One input, all its methods; records its exit statuses. Whatever goes wrong becomes this
    input's fate (one line, one code); only a closed stdout ends the run."""
    from bsstream.render import OutputClosed

    name = source_name(inp)
    try:
        got = _stream_one(state, inp, name)
    except (OutputClosed, BrokenPipeError) as exc:
        with state.lock:
            state.closed.append(exc)
        state.messages.muted = True
        state.interrupts.abort()  # cancel the other streams: nobody reads their results
        return
    except Exception as exc:
        got = [_input_failed(state, name, exc)]
    failed_output = state.out.take_output_error(name)  # its line was said when it happened
    if failed_output is not None:
        got.append(failed_output.exit_status)
    state.record(name, got)


def _input_failed(state: RunState, name: str, exc: Exception) -> ExitStatus:
    """An input that could not be streamed: its line (once for an interrupt: the run says it),
    its status."""
    err = exc if isinstance(exc, BsError) else _unexpected(name, exc)
    if state.run.debug and not isinstance(exc, BsError):
        state.messages.raw("".join(traceback.format_exception(exc)))
    if err.exit_status not in SIGNALLED:
        state.messages.error(err)
        with state.lock:
            state.unstreamed.append(err.message)
    if state.out.progress is not None:
        state.out.progress.finish_file(name, err.exit_status)
    return state.interrupts.status if err.exit_status in SIGNALLED else err.exit_status


def _stream_one(state: RunState, inp: Input, name: str) -> list[ExitStatus]:
    """Open, decode and stream one input to every method (each channel, with --channels split)."""
    with contextlib.ExitStack() as own:
        opened = _opened(state, inp, own)
        opened.listen(lambda problem: _input_warning(state, opened.name, problem))
        source = _tap(opened, inp, state.run, state.audio, state.out.live, state.inputs.split)
        _prepare_output_file(state, name)
        if state.inputs.split:
            return _stream_channels(state, source)
        if len(state.methods) == 1:
            return [_session(state, state.methods[0]).run(source, state.out.sink).status]
        return _run_tee(source, [_session(state, m) for m in state.methods], state.out.sink)


def _input_warning(state: RunState, name: str, problem: str) -> None:
    """Streamable but odd input (README "Bad input"): a stderr line and a JSON event."""
    state.messages.say(f"warning: {name}: {problem}")
    state.out.sink.event({"event": "input_warning", "source": name, "message": problem})


def _prepare_output_file(state: RunState, name: str) -> None:
    """The input's --output-dir file can be written (its directories made), or an OutputError."""
    from bsstream.batch.outdir import prepare_output
    from bsstream.export.guard import output_error

    out_path = state.plan.out_paths.get(name)
    if out_path is not None:
        try:
            prepare_output(out_path)
        except OSError as exc:
            raise output_error(out_path, exc, source=name) from None


def _stream_channels(state: RunState, source: PcmSourceLike) -> list[ExitStatus]:
    """--channels split: each channel its own call per method, from one decode."""
    from bsstream.audio.channels import channel_labels
    from bsstream.audio.channels import split as split_channels
    from bsstream.split import run_split

    tee = split_channels(source, copies=len(state.methods))
    labels = channel_labels(tee.channels, state.inputs.channel_names)
    return run_split(tee, labels, state.methods, functools.partial(_session, state), state.out.sink)


def _session(state: RunState, method: str) -> Session:
    """One stream's session: notes on stderr, the audio sent to the progress display and the
    live view's status line."""
    from bsstream.session import Session

    assert state.transport is not None
    messages = state.messages
    reporters = [r for r in (state.out.progress, state.out.live) if r is not None]

    def report_sent(name: str, seconds: float) -> None:
        for reporter in reporters:
            reporter.set_sent(name, seconds)

    return Session(
        state.transport,
        state.options[method],
        interrupts=state.interrupts,
        notify=messages.say,
        on_emulated=lambda: messages.once(EMULATOR_NOTE),
        on_progress=report_sent if reporters else None,
    )


def _verdicts(state: RunState) -> dict[str, ExitStatus]:
    """Each input's exit status once its results are in: the most severe of its streams',
    then --fail-on applied (a success whose results matched a rule becomes 10)."""
    from bsstream.batch.failon import apply_matches

    return {
        name: apply_matches(most_severe(codes), name in state.out.matched)
        for name, codes in state.codes.items()
    }


def _finish(state: RunState, verdicts: dict[str, ExitStatus]) -> int:
    """The end-of-run table, the skipped, interrupted and partial lines; the run's status."""
    run, out, plan, messages = state.run, state.out, state.plan, state.messages
    reports, completed_files = _reports(state, verdicts)
    if plan.skipped:
        messages.say(f"skipped {len(plan.skipped)} input(s) whose output in {run.output_dir} is complete")
    if len(reports) > 1 and not run.quiet:
        _print_report(reports, state.streams, on_stdout=out.status_table)
    if state.interrupts.interrupted:
        messages.say(_interrupted_line(run, out, completed_files))
        return state.interrupts.status
    partial = _partial_exports_text(out)
    if partial:
        messages.say(f"partial: {partial}")
    statuses = list(verdicts.values()) + [err.exit_status for err in out.run_errors]
    return most_severe(statuses)


def _reports(state: RunState, verdicts: dict[str, ExitStatus]) -> tuple[list[InputReport], int]:
    """Each input's line in the end-of-run table, in the order given; how many --output-dir
    files this run completed."""
    out, plan = state.out, state.plan
    reports = []
    completed_files = 0
    for name in [spec for spec, _ in plan.failed] + [source_name(inp) for inp in plan.inputs]:
        code = verdicts.get(name)
        if code is None:  # the run was interrupted before its turn
            reports.append(out.collector.report(name, state.interrupts.status, not_started=True))
            continue
        reports.append(out.collector.report(name, code))
        if name in plan.out_paths and code in (ExitStatus.SUCCESS, ExitStatus.FAIL_ON_MATCH):
            completed_files += 1
    reports.extend(
        out.collector.report(source_name(i), ExitStatus.SUCCESS, skipped=True) for i in plan.skipped
    )
    return reports, completed_files


def _mark_partial_exports(state: RunState) -> None:
    """Tell each --output file what the run lacks (see :mod:`bsstream.export.partial`): an
    interrupt, inputs that could not be expanded or streamed. Inputs that streamed and failed
    the exports see themselves (their end status)."""
    from bsstream.export.partial import status_reason

    interrupts = state.interrupts
    reasons = [status_reason(interrupts.status)] if interrupts.interrupted else []
    reasons += [err.message for _, err in state.plan.failed]
    reasons += state.unstreamed
    for export in state.out.exports:
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


def _print_report(reports: list[InputReport], streams: Streams, *, on_stdout: bool) -> None:
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


def _tap(
    source: PcmSourceLike,
    inp: Input,
    run: RunConfig,
    audio: AudioStore | None,
    live: LiveSink | None,
    split: bool,
) -> PcmSourceLike:
    """The decoded ``source``, watched as its PCM flows (one tap for every watcher, see
    :mod:`bsstream.audio.tap`): by the HTML report's audio store, and, for a live capture (a
    device, or stdin with --realtime) shown in the live view, by the status line's level meter."""
    from bsstream.audio.device import is_device

    observers: list[PcmObserver] = []
    if audio is not None:
        observers.append(audio.capture(source, split=split))
    if live is not None and (is_device(inp.spec) or (inp.is_stdin and run.stream.realtime)):
        from bsstream.audio.level import LevelMeter

        meter = LevelMeter(wav_stream=split)
        live.watch_level(source.name, meter.reading)
        observers.append(meter)
    if not observers:
        return source
    from bsstream.audio.tap import TappedSource

    return TappedSource(source, observers)


def _run_tee(source: PcmSourceLike, sessions: list[Session], sink: Sink) -> list[ExitStatus]:
    """Decode once, stream to every session concurrently; each session's exit status."""
    from bsstream.audio.tee import Tee

    tee = Tee(source, len(sessions))
    codes: list[ExitStatus] = [ExitStatus.SUCCESS] * len(sessions)
    escaped: list[BaseException] = []

    def one(i: int) -> None:
        branch = tee.branches[i]
        try:
            codes[i] = sessions[i].run(branch, sink).status
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
