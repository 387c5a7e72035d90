"""``bsstream replay FILE.jsonl``: re-render a saved ``--json`` stream without a server.

The file is what :class:`bsstream.render.jsonl.JsonlSink` wrote: result-message lines, event
lines (a top-level ``"event"`` key) and stats lines (a top-level ``"stats"`` key). Results are
rebuilt with ``message_from_dict`` and fed through the same sinks as a live run, one
``begin``/``end`` per source in order of first appearance; events go to the sinks' ``event``
and a stats line becomes that source's ``outcome.stats``, so ``replay --json`` writes the file
back byte for byte. Empty lines are skipped.

The first unknown or malformed line stops reading: what came before it is rendered, then one
line ``FILE:LINE: <reason>`` goes to stderr and the exit status is ``ExitStatus.INPUT`` (4).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import click

from bsstream.protocol.results import ResultMessage, message_from_dict
from bsstream.protocol.stream import (
    METHOD_ANALYZE,
    METHOD_DEEPFAKE,
    FanOut,
    Sink,
    StreamInfo,
    StreamOutcome,
)
from bsstream.protocol.summary import DEEPFAKE_TASK, summarize
from bsstream.redact import safe_line
from bsstream.render import OutputClosed, display_text, quiet_stdout
from bsstream.render.jsonl import JsonlSink, dumps_line
from bsstream.render.plain import PlainSink
from bsstream.status import BsError, ExitStatus

if TYPE_CHECKING:  # rich loads only when a command runs (``bsstream --help`` stays light)
    from rich.console import Console

__all__ = [
    "ReplayError",
    "ReplayGroup",
    "ReplayLog",
    "load_replay",
    "parse_record",
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
    items: list[ResultMessage | dict[str, Any]] = field(default_factory=list)  # messages and events
    stats: dict[str, Any] | None = None
    stats_seen: bool = False

    @property
    def messages(self) -> list[ResultMessage]:
        return [i for i in self.items if isinstance(i, ResultMessage)]

    @property
    def method(self) -> str:
        """The method the stream used: as recorded (scan), else guessed from its tasks."""
        messages = self.messages
        for m in messages:
            if m.method:
                return m.method
        if any(r.task == DEEPFAKE_TASK for m in messages for r in m.results):
            return METHOD_DEEPFAKE
        return METHOD_ANALYZE


@dataclass(slots=True)
class ReplayLog:
    path: str
    groups: list[ReplayGroup] = field(default_factory=list)
    error: ReplayError | None = None

    @property
    def messages(self) -> int:
        return sum(len(g.messages) for g in self.groups)


# -- reading -------------------------------------------------------------------------------------

_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def parse_record(text: str) -> ResultMessage | dict[str, Any] | None:
    """One line of a saved stream: a ResultMessage, an event/stats dict, or None (empty line).

    Raises ValueError with the reason for anything else.
    """
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        kind = "null" if data is None else _JSON_TYPES.get(type(data), type(data).__name__)
        raise ValueError(f"expected a JSON object (a result message, event or stats line), got {kind}")
    try:
        dumps_line(data).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds an invalid unicode escape (a lone surrogate)") from None
    if "event" in data:
        return data
    if data.get("complete") is True and "result" not in data:
        return None  # the completion marker of an --output-dir file
    if "stats" in data and "result" not in data:
        if data["stats"] is not None and not isinstance(data["stats"], dict):
            raise ValueError("stats must be an object")
        if not isinstance(data.get("source", ""), str):
            raise ValueError("source must be a string")
        return data
    if "result" not in data and "message_id" not in data:
        keys = ", ".join(display_text(str(k)) for k in list(data)[:6]) or "none"
        raise ValueError(f"unknown record: not a result message, event or stats line (keys: {keys})")
    try:
        return message_from_dict(data)
    except (ValueError, TypeError) as exc:  # MalformedLine is a ValueError
        raise ValueError(f"malformed result message: {exc}") from None


def _lines(stream: BinaryIO) -> Iterable[tuple[int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield number, raw.rstrip(b"\r\n")


def load_replay(path: str | Path, stream: BinaryIO | None = None) -> ReplayLog:
    """Read a saved stream (``path`` ``-``: stdin) up to its first bad line, grouped by source.

    Events carrying a ``source`` go to that source; the others to the source being read (or,
    right after a source's stats line, to the next source).
    """
    name = str(path)
    log = ReplayLog(path=name)
    groups: dict[str, ReplayGroup] = {}
    current: ReplayGroup | None = None
    pending: list[dict[str, Any]] = []  # events waiting for the source they belong to

    def group(source: str) -> ReplayGroup:
        g = groups.get(source)
        if g is None:
            g = groups[source] = ReplayGroup(source)
            log.groups.append(g)
        if pending:
            g.items.extend(pending)
            pending.clear()
        return g

    opened: BinaryIO | None = None
    try:
        if stream is None:
            if name == "-":
                stream = sys.stdin.buffer
            else:
                stream = opened = open(path, "rb")  # noqa: SIM115 - closed in finally
        for number, raw in _lines(stream):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                log.error = ReplayError(name, number, "not UTF-8 text")
                break
            if number == 1:
                text = text.removeprefix("\ufeff")
            try:
                record = parse_record(text)
            except ValueError as exc:
                log.error = ReplayError(name, number, str(exc))
                break
            if record is None:
                continue
            if isinstance(record, ResultMessage):
                current = group(record.source)
                current.items.append(record)
            elif "event" in record:
                source = record.get("source")
                if isinstance(source, str):
                    group(source).items.append(record)
                elif current is not None and not current.stats_seen:
                    current.items.append(record)
                else:
                    pending.append(record)
            else:  # stats
                current = group(record.get("source", ""))
                current.stats = record["stats"]
                current.stats_seen = True
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.error = ReplayError(name, 0, f"cannot read the file: {reason}")
    finally:
        if opened is not None:
            opened.close()
    if pending:  # events after the last source's stats (or a file of events only)
        target = log.groups[-1] if log.groups else group("")
        target.items.extend(pending)
    return log


# -- playing -------------------------------------------------------------------------------------


def play(log: ReplayLog, sink: Sink) -> None:
    """Feed a loaded stream to a sink: begin, messages and events, end, per source."""
    for g in log.groups:
        info = StreamInfo(source=g.source, method=g.method)
        sink.begin(info)
        messages: list[ResultMessage] = []
        for item in g.items:
            if isinstance(item, ResultMessage):
                messages.append(item)
                sink.message(item)
            else:
                sink.event(item)
        outcome = StreamOutcome(
            status=ExitStatus.SUCCESS,
            summary=summarize(messages),
            messages=len(messages),
            results=sum(len(m.results) for m in messages),
            stats=g.stats,
        )
        sink.end(info, outcome)


def _report(log: ReplayLog, err: IO[str]) -> int:
    if log.error is not None:
        err.write(log.error.text() + "\n")
        err.flush()
        return ExitStatus.INPUT
    if not log.groups:
        err.write(f"{display_text(log.path)}: no results in the file\n")
        err.flush()
    return ExitStatus.SUCCESS


def replay_file(path: str | Path, sinks: Sink | Sequence[Sink], *, err: IO[str] | None = None) -> int:
    """Replay a saved stream into ``sinks`` and close them; errors go to ``err`` (stderr).

    Returns the exit status: 0, or ``ExitStatus.INPUT`` when a line was unknown or malformed
    (everything before it has been rendered). ``OutputClosed`` propagates.
    """
    log = load_replay(path)
    return _replay(log, sinks, err=err)


def _replay(log: ReplayLog, sinks: Sink | Sequence[Sink], *, err: IO[str] | None) -> int:
    sink: Sink = FanOut(sinks) if isinstance(sinks, Sequence) else sinks
    try:
        play(log, sink)
    finally:
        sink.close()
    return _report(log, err if err is not None else sys.stderr)


def _terminal_sinks(log: ReplayLog, console: Console, *, as_json: bool) -> list[Sink]:
    """The sinks of a live run: JSON lines, the table on a terminal, plain lines otherwise."""
    from bsstream.render.live import LiveSink

    show_source = len(log.groups) > 1
    if as_json:
        return [JsonlSink(console.file)]
    if console.is_terminal:
        return [LiveSink(console, show_source=show_source)]
    return [PlainSink(console.file, show_source=show_source)]


@click.command("replay")
@click.argument("file", metavar="FILE.jsonl")
@click.option("--json", "as_json", is_flag=True, help="Write the JSON lines again instead of the table.")
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="FILE",
    help="Also export to FILE (format by extension: .jsonl .json .csv .srt .vtt .html); repeatable.",
)
@click.pass_context
def replay_command(ctx: click.Context, file: str, as_json: bool, outputs: tuple[str, ...]) -> None:
    """Re-render a saved --json stream (FILE.jsonl, or - for stdin): the table or plain lines
    and the summary, the JSON lines again, or exports. No server, no credentials.

    \b
    Examples:
      bsstream analyze call.wav --json > call.jsonl
      bsstream replay call.jsonl
      bsstream replay call.jsonl --output call.html --output call.csv
    """
    from rich.console import Console

    out_console = Console()
    err_console = Console(stderr=True)
    err = err_console.file
    log = load_replay(file)
    try:
        sinks = _terminal_sinks(log, out_console, as_json=as_json)
        if outputs:
            from bsstream.export import open_exports

            sinks.extend(open_exports(list(outputs)))
        code = _replay(log, sinks, err=err)
    except OutputClosed:
        quiet_stdout()
        code = _report(log, err)
    except BsError as exc:
        err.write(safe_line(f"error: {exc.line()}") + "\n")
        code = exc.exit_status
    except KeyboardInterrupt:
        code = ExitStatus.INTERRUPTED
    ctx.exit(int(code))
