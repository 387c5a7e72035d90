"""``bsstream replay FILE.jsonl``: re-render a saved ``--json`` stream without a server.

The file is what the ``--json`` writer (or a ``.jsonl`` export, or an ``--output-dir`` file)
wrote; its lines are read with :func:`bsstream.protocol.jsonlines.decode_line`, the format's one
owner. Per source, in order of first appearance, the sinks get one ``begin``, the messages and
events, one ``end``, as in a live run:

- the ``{"stream":...}`` line restores the input's method (``scan`` too), duration, config,
  ``emulated`` flag and the bsstream version that streamed it; the ``{"end":...}`` line its
  status, audio seconds sent, result count and error (and ``emulated`` when the server said so);
- a file written before those lines existed is still read: the method is guessed from the
  tasks (``deepfake`` -> DeepfakeDetection), the audio seconds are the last result's end, the
  config is empty; ``--json`` then writes no ``stream``/``end`` lines either;
- a stats line becomes that source's ``outcome.stats`` (scan's per-method stats lines pass
  through as they are); the completion marker of an ``--output-dir`` file is skipped; the
  ``{"partial":...}`` line of a partial export is kept, so exports made from it are partial too.

So ``replay --json`` writes a file back byte for byte. Empty lines are skipped. The first
unknown or malformed line stops reading: what came before it is rendered (exports written
from it are partial), then one line ``FILE:LINE: <reason>`` goes to stderr and the exit
status is ``ExitStatus.INPUT`` (4).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

import click

from bsstream.display import display_text
from bsstream.helptext import GroupedCommand
from bsstream.options import subtitle_options
from bsstream.protocol.jsonlines import (
    EndLine,
    EventLine,
    MalformedLine,
    PartialLine,
    Record,
    StatsLine,
    StreamLine,
    decode_line,
)
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import (
    METHOD_ANALYZE,
    METHOD_DEEPFAKE,
    FanOut,
    Sink,
    StreamInfo,
    StreamOutcome,
)
from bsstream.protocol.summary import DEEPFAKE_TASK, summarize
from bsstream.redact import write_message
from bsstream.render import OutputClosed, quiet_stdout
from bsstream.render.jsonl import JsonlSink
from bsstream.render.plain import PlainSink
from bsstream.status import ExitStatus

if TYPE_CHECKING:  # rich loads only when a command runs (``bsstream --help`` stays light)
    from rich.console import Console

__all__ = [
    "ReplayError",
    "ReplayGroup",
    "ReplayLog",
    "load_replay",
    "play",
    "replay_command",
    "replay_file",
]


@dataclass(frozen=True, slots=True)
class ReplayError:
    """The first line that could not be read (``line`` 0: the file itself)."""

    path: str
    line: int
    reason: str

    def text(self) -> str:
        where = display_text(self.path)
        return f"{where}:{self.line}: {self.reason}" if self.line else f"{where}: {self.reason}"


@dataclass(slots=True)
class ReplayGroup:
    """Everything one source produced, in file order."""

    source: str
    items: list[ResultMessage | JsonObject] = field(default_factory=list)  # messages and events
    stats: JsonObject | None = None
    stats_seen: bool = False  # its stats or end line was read: later events belong to the next
    info: StreamInfo | None = None  # from its stream line
    end: EndLine | None = None  # its end line

    @property
    def messages(self) -> list[ResultMessage]:
        return [i for i in self.items if isinstance(i, ResultMessage)]

    @property
    def method(self) -> str:
        """The method the stream used: from its stream line, as recorded on its messages (scan),
        else guessed from its tasks."""
        if self.info is not None and self.info.method:
            return self.info.method
        messages = self.messages
        for m in messages:
            if m.method:
                return m.method
        if any(r.task == DEEPFAKE_TASK for m in messages for r in m.results):
            return METHOD_DEEPFAKE
        return METHOD_ANALYZE

    def begin_info(self) -> StreamInfo:
        """The StreamInfo its ``begin`` gets: the stream line's, else what can be told."""
        if self.info is not None:
            return replace(self.info, source=self.source, method=self.method)
        return StreamInfo(source=self.source, method=self.method)

    def _stats(self) -> Stats | None:
        return None if self.stats is None else Stats.from_json(self.stats)

    def outcome(self) -> StreamOutcome:
        """Its outcome: from the end line when there is one (status, audio sent, error)."""
        messages = self.messages
        results = sum(len(m.results) for m in messages)
        summary = summarize(messages)
        if self.end is None:
            last = max((r.end or 0.0 for m in messages for r in m.results if r.end is not None), default=0.0)
            return StreamOutcome(
                status=ExitStatus.SUCCESS,
                summary=summary,
                audio_seconds=max(last, 0.0),
                messages=len(messages),
                results=results,
                stats=self._stats(),
            )
        return StreamOutcome(
            status=self.end.status,
            summary=summary,
            audio_seconds=self.end.audio_seconds,
            messages=len(messages),
            results=self.end.results if self.end.results is not None else results,
            error=self.end.error,
            stats=self._stats(),
        )


@dataclass(slots=True)
class ReplayLog:
    path: str
    groups: list[ReplayGroup] = field(default_factory=list)
    error: ReplayError | None = None
    framed: bool = False  # the file has stream lines (written by a bsstream that writes them)
    partial: str | None = None  # the reason of its {"partial":...} line

    @property
    def messages(self) -> int:
        return sum(len(g.messages) for g in self.groups)


# -- reading -------------------------------------------------------------------------------------


def _lines(stream: BinaryIO) -> Iterable[tuple[int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield number, raw.rstrip(b"\r\n")


def load_replay(path: str | Path, stream: BinaryIO | None = None) -> ReplayLog:
    """Read a saved stream (``path`` ``-``: stdin) up to its first bad line, grouped by source.

    Events carrying a ``source`` go to that source; the others to the source being read (or,
    right after a source's stats or end line, to the next source).
    """
    loader = _Loader(str(path))
    opened: BinaryIO | None = None
    try:
        if stream is None:
            if loader.log.path == "-":
                stream = sys.stdin.buffer
            else:
                stream = opened = open(path, "rb")  # noqa: SIM115 - closed in finally
        loader.read(stream)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        loader.log.error = ReplayError(loader.log.path, 0, f"cannot read the file: {reason}")
    finally:
        if opened is not None:
            opened.close()
    return loader.finish()


class _Loader:
    """The state of :func:`load_replay`: the groups so far, the source being read and the
    events waiting for the source they belong to."""

    def __init__(self, name: str) -> None:
        self.log = ReplayLog(path=name)
        self.groups: dict[str, ReplayGroup] = {}
        self.current: ReplayGroup | None = None
        self.pending: list[JsonObject] = []

    def read(self, stream: BinaryIO) -> None:
        """Add each line's record, up to the first bad line (then ``log.error`` says why)."""
        for number, raw in _lines(stream):
            try:
                record = self._decode(raw, number)
            except MalformedLine as exc:
                self.log.error = ReplayError(self.log.path, number, str(exc))
                return
            if record is not None:
                self.add(record)

    @staticmethod
    def _decode(raw: bytes, number: int) -> Record | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedLine("not UTF-8 text") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        return decode_line(text)

    def group(self, source: str) -> ReplayGroup:
        """The group of ``source`` (a new one at the end), with the pending events moved to it."""
        g = self.groups.get(source)
        if g is None:
            g = self.groups[source] = ReplayGroup(source)
            self.log.groups.append(g)
        if self.pending:
            g.items.extend(self.pending)
            self.pending.clear()
        return g

    def event(self, data: JsonObject, source: str | None) -> None:
        if source is not None:
            self.group(source).items.append(data)
        elif self.current is not None and not self.current.stats_seen:
            self.current.items.append(data)
        else:
            self.pending.append(data)

    def add(self, record: Record) -> None:
        if isinstance(record, ResultMessage):
            self.current = self.group(record.source)
            self.current.items.append(record)
        elif isinstance(record, StreamLine):
            self.log.framed = True
            self.current = self.group(record.source)
            self.current.info = record.info
        elif isinstance(record, EventLine):
            self.event(record.data, record.source)
        elif isinstance(record, StatsLine):
            self._stats(record)
        elif isinstance(record, EndLine):
            self.current = self.group(record.source)
            self.current.end = record
            self.current.stats_seen = True
        elif isinstance(record, PartialLine):
            self.log.partial = record.reason or "partial"
        # MarkerLine: the completion marker of an --output-dir file, skipped

    def _stats(self, record: StatsLine) -> None:
        if record.method is not None:  # scan: one per method, passed through as read
            self.event(record.data, record.source)
        else:
            self.current = self.group(record.source)
            self.current.stats = record.stats
            self.current.stats_seen = True

    def finish(self) -> ReplayLog:
        """The log, with events after the last source's stats (or a file of events only)
        added to the last source."""
        if self.pending:
            target = self.log.groups[-1] if self.log.groups else self.group("")
            target.items.extend(self.pending)
        return self.log


# -- playing -------------------------------------------------------------------------------------


def play(log: ReplayLog, sink: Sink) -> None:
    """Feed a loaded stream to a sink: begin, messages and events, end, per source."""
    for g in log.groups:
        info = g.begin_info()
        sink.begin(info)
        for item in g.items:
            if isinstance(item, ResultMessage):
                sink.message(item)
            else:
                sink.event(item)
        ended = info if g.end is None or not g.end.emulated else replace(info, emulated=True)
        sink.end(ended, g.outcome())


def _report(log: ReplayLog, err: IO[str]) -> int:
    if log.error is not None:
        write_message(err, log.error.text())
        return ExitStatus.INPUT
    if not log.groups:
        write_message(err, f"{log.path}: no results in the file")
    return ExitStatus.SUCCESS


def replay_file(path: str | Path, sinks: Sink | Sequence[Sink], *, err: IO[str] | None = None) -> int:
    """Replay a saved stream into ``sinks`` and close them; errors go to ``err`` (stderr).

    Returns the exit status: 0, or ``ExitStatus.INPUT`` when a line was unknown or malformed
    (everything before it has been rendered). ``OutputClosed`` propagates.
    """
    log = load_replay(path)
    return _replay(log, sinks, err=err)


def _prepare(log: ReplayLog, sinks: list[Sink]) -> None:
    """Files written before the stream/end lines existed are written back without them."""
    for sink in sinks:
        if hasattr(sink, "frame"):
            sink.frame = log.framed


def _mark_partial(sinks: list[Sink], reason: str, *, from_file: bool = False) -> None:
    """What replay lacks (a partial file, a bad line, Ctrl-C) goes into the outputs: exports
    are written as ``NAME.partial.EXT``; the JSON lines on stdout get a file's own partial line
    back (``from_file``)."""
    for sink in sinks:
        if from_file and isinstance(sink, JsonlSink):
            sink.partial(reason)
        mark = getattr(sink, "mark_partial", None)
        if mark is not None:
            mark(reason)


def _replay(log: ReplayLog, sinks: Sink | Sequence[Sink], *, err: IO[str] | None) -> int:
    sink_list = list(sinks) if isinstance(sinks, Sequence) else [sinks]
    _prepare(log, sink_list)
    sink = FanOut(sink_list)
    out = err if err is not None else sys.stderr
    try:
        play(log, sink)
        if log.partial is not None:
            _mark_partial(sink_list, log.partial, from_file=True)
        if log.error is not None:
            _mark_partial(sink_list, f"replay stopped at an unreadable line: {log.error.text()}")
    except KeyboardInterrupt:
        _mark_partial(sink_list, "interrupted (Ctrl-C)")
        raise
    finally:
        sink.close()
        _report_partial(sink_list, out)
    return _report(log, out)


def _report_partial(sinks: list[Sink], err: IO[str]) -> None:
    from bsstream.export.partial import WrittenExport, partial_text

    text = partial_text(s for s in sinks if isinstance(s, WrittenExport))
    if text:
        write_message(err, f"partial: {text}")


def _terminal_sinks(log: ReplayLog, console: Console, *, as_json: bool) -> list[Sink]:
    """The sinks of a live run: JSON lines, the table on a terminal, plain lines otherwise."""
    from bsstream.render.live import LiveSink

    show_source = len(log.groups) > 1
    if as_json:
        return [JsonlSink(console.file)]
    if console.is_terminal:
        return [LiveSink(console, show_source=show_source)]
    return [PlainSink(console.file, show_source=show_source)]


@click.command("replay", cls=GroupedCommand)  # examples, option groups: bsstream/helptext.py
@click.argument("file", metavar="FILE.jsonl")
@click.option("--json", "as_json", is_flag=True, help="Write the JSON lines again instead of the table.")
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="Also export to FILE (format by extension: .jsonl .json .csv .srt .vtt .html); repeatable.",
)
@subtitle_options
@click.pass_context
def replay_command(
    ctx: click.Context,
    file: str,
    as_json: bool,
    outputs: tuple[str, ...],
    subtitle_level: str | None = None,
    subtitle_tasks: str | None = None,
) -> None:
    """Re-render a saved --json stream (FILE.jsonl, or - for stdin): the table or plain lines
    and the summary, the JSON lines again, or exports. No server, no credentials.
    """
    from rich.console import Console

    out_console = Console()
    err = sys.stderr  # lines through bsstream.redact.write_message; errors raised to cli.main
    subtitles = None
    if outputs:  # checked before the file is read (UsageError: one line, exit 2)
        from bsstream.export.subtitles import subtitle_options as parse_subtitle_options

        subtitles = parse_subtitle_options(subtitle_level, subtitle_tasks)
    log = load_replay(file)
    try:
        sinks = _terminal_sinks(log, out_console, as_json=as_json)
        if outputs:
            from bsstream.export import open_exports

            sinks.extend(open_exports(list(outputs), subtitles))
        code = _replay(log, sinks, err=err)
    except OutputClosed:
        quiet_stdout()
        code = _report(log, err)
    ctx.exit(int(code))
