"""``--json``: one JSON line per StreamResult, written and flushed the moment it arrives.

The lines and their encoding are :mod:`bsstream.protocol.jsonlines`'s (the one owner of the
format): per input a ``{"stream":...}`` line when it starts, its result messages and events
as they arrive, a ``{"stats":...}`` line with ``--stats``, and an ``{"end":...}`` line when it
ends. Every line is flushed at once, so stdout stays usable line by line; a reader that closed
the stream raises :class:`bsstream.render.OutputClosed`.

:class:`JsonLinesWriter` is the writer itself, over any ``write(line)`` function: this module's
:class:`JsonlSink` (stdout), the ``.jsonl`` export and the ``--output-dir`` files all use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import IO, Any

from bsstream.protocol.jsonlines import (
    dumps_line,
    end_line,
    message_line,
    partial_line,
    stats_line,
    stream_line,
)
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.render import write_line

__all__ = ["JsonLinesWriter", "JsonlSink", "dumps_line"]


class JsonLinesWriter:
    """A Sink (without ``close``) writing the JSON lines through ``write(line)`` (no newline).

    ``frame`` False leaves out the ``stream`` and ``end`` lines (``replay`` of a file written
    before they existed, so it is written back as it was).
    """

    def __init__(self, write: Callable[[str], None], *, frame: bool = True) -> None:
        self._write = write
        self.frame = frame

    def line(self, data: Any) -> None:
        self._write(dumps_line(data))

    def begin(self, info: StreamInfo) -> None:
        if self.frame:
            self.line(stream_line(info))

    def message(self, message: ResultMessage) -> None:
        self.line(message_line(message))

    def event(self, event: dict[str, Any]) -> None:
        self.line(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            self.line(stats_line(info.source, outcome.stats))
        if self.frame:
            self.line(end_line(info, outcome))

    def partial(self, reason: str) -> None:
        """The last line of a partial file (see :func:`~bsstream.protocol.jsonlines.partial_line`)."""
        self.line(partial_line(reason))


class JsonlSink(JsonLinesWriter):
    """The Sink for ``--json``: every line written to ``out`` and flushed."""

    def __init__(self, out: IO[str], *, frame: bool = True) -> None:
        super().__init__(lambda line: write_line(out, line), frame=frame)
        self.out = out

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader is gone: nothing left to say
            self.out.flush()
