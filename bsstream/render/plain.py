"""Plain lines for pipes and non-terminals: one line per result as it arrives, then the summary.

Result line, fields separated by single spaces (empty or missing fields are omitted)::

    [[<channel>] ][<source>: ]<start>-<end> [<level>] <task> <final label> [<posterior>]
    [[<channel>] ][<source>: ]<start>-<end> [<level>] <task> embedding (<N> values)

e.g. ``0.00-2.00 segment emotion neutral 0.70``. A result with neither a final label nor a
posterior says nothing and gets no line (the ``features`` results a service may send without
``--embeddings``), except that an embedding shows as its size: ``4.00-6.00 segment features
embedding (12 values)``. Times and posteriors show with two decimals when they parse;
unparseable times are shown as sent (``abc-2.00``), an empty time as ``?``; an unparseable
posterior is left out. Control characters in any string are shown escaped
(``\\x1b``) so one result is always one line. The source prefix appears when several inputs
are streamed; the channel (its ``--channel-names`` name, else ``ch0``, ``ch1``) with
``--channels split``. At the end of each input: the summary lines and the deepfake verdict line of
:mod:`bsstream.render.summary`, prefixed the same way.
"""

from __future__ import annotations

import contextlib
from typing import IO

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import Result, ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, SummaryBuilder
from bsstream.protocol.timeline import embedding_dims
from bsstream.render import display_text, format_posterior, format_window, write_line
from bsstream.render.summary import summary_lines

__all__ = ["PlainSink", "embedding_size", "format_result", "has_content"]


def _prefix(source: str | None) -> str:
    return "" if source is None else f"{display_text(source) or '?'}: "


def _lane(message: ResultMessage) -> str:
    """``[agent] `` (or ``[ch1] ``) before the lines of a --channels split message."""
    if message.channel is None:
        return ""
    return f"[{display_text(message.channel_name or f'ch{message.channel}')}] "


# how many values an embedding string holds: the one definition, in the result model's module
embedding_size = embedding_dims


def has_content(result: Result) -> bool:
    """Whether a result has anything to show: a final label, a posterior or an embedding."""
    return (
        bool(result.final_label)
        or result.final_posterior is not None
        or (embedding_size(result.embedding) is not None)
    )


def format_result(result: Result, *, source: str | None = None) -> str:
    """One result as one plain line, e.g. ``0.00-2.00 segment emotion neutral 0.70`` (see the
    module docstring; :func:`has_content` says whether it is worth a line)."""
    parts = [format_window(result.start_time, result.start, result.end_time, result.end)]
    if result.level is not None and result.level != "":
        parts.append(display_text(result.level))
    if result.task:
        parts.append(display_text(result.task))
    if result.final_label:
        parts.append(display_text(result.final_label))
    posterior = format_posterior(result.final_posterior)
    if posterior is not None:
        parts.append(posterior)
    size = embedding_size(result.embedding)
    if size is not None and not result.final_label and posterior is None:
        parts.append(f"embedding ({size} values)")
    return _prefix(source) + " ".join(parts)


def summary_text_lines(summary: Summary, *, source: str | None = None) -> list[str]:
    """The summary and verdict lines, each with the source prefix when given."""
    prefix = _prefix(source)
    return [prefix + line for line in summary_lines(summary)]


class PlainSink:
    """The Sink for plain output: each message's result lines written and flushed as it arrives.

    Errors and reconnect events are not written here (they belong on stderr). A closed reader
    raises :class:`bsstream.render.OutputClosed`.
    """

    def __init__(self, out: IO[str], *, show_source: bool) -> None:
        self.out = out
        self.show_source = show_source
        # the summary of what this sink saw, per input (constant memory), for outcomes without one
        self._seen: dict[str, SummaryBuilder] = {}

    def _source(self, source: str) -> str | None:
        return source if self.show_source else None

    def begin(self, info: StreamInfo) -> None:
        self._seen[info.source] = SummaryBuilder()

    def message(self, message: ResultMessage) -> None:
        self._seen.setdefault(message.source, SummaryBuilder()).add(message)
        shown = [r for r in message.results if has_content(r)]
        if not shown:
            return
        source = self._source(message.source)
        lane = _lane(message)
        write_line(self.out, "\n".join(lane + format_result(r, source=source) for r in shown))

    def event(self, event: JsonObject) -> None:
        pass

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        # The session's summary; if it sent none, the summary of what this sink saw.
        seen = self._seen.pop(info.source, None)
        summary = outcome.summary if outcome.summary.tasks or seen is None else seen.summary()
        lines = summary_text_lines(summary, source=self._source(info.source))
        if lines:
            write_line(self.out, "\n".join(lines))

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader is gone: nothing left to say
            self.out.flush()
