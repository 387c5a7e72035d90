"""``.jsonl`` export: exactly the ``--json`` stream, written to a file.

The lines are written by the same :class:`~bsstream.protocol.jsonlines.JsonLinesWriter` as stdout in
``--json`` mode (the format is :mod:`bsstream.protocol.jsonlines`'s), so the file holds the same
bytes: per input a ``{"stream":...}`` line, its result messages and events, a ``{"stats":...}``
line with ``--stats``, and an ``{"end":...}`` line. Several inputs simply follow one another in
the order the session streamed them; every line names its source.

Lines are streamed to a temporary file as they arrive. On ``close()`` a complete run moves it
over the requested name; an interrupted or failed one (see :mod:`bsstream.export.partial`)
appends ``{"partial":{"reason":...}}`` and moves it to ``NAME.partial.jsonl`` instead, leaving
the requested name as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from bsstream.export.atomic import AtomicFile
from bsstream.export.partial import Completeness, partial_path
from bsstream.protocol.jsonlines import JsonLinesWriter
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome


class JsonlExport:
    """Sink writing the ``--json`` stream to a file, atomically (partial: ``NAME.partial.jsonl``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = AtomicFile(path)
        self.path = self._file.path
        self.completeness = Completeness()
        self.written: Path | None = None
        self._writer = JsonLinesWriter(lambda line: self._file.write_text(line + "\n"))

    @property
    def frame(self) -> bool:
        """Whether the ``stream``/``end`` lines are written (replay of an old file: not)."""
        return self._writer.frame

    @frame.setter
    def frame(self, value: bool) -> None:
        self._writer.frame = value

    def begin(self, info: StreamInfo) -> None:
        self.completeness.begin(info)
        self._writer.begin(info)

    def message(self, message: ResultMessage) -> None:
        self._writer.message(message)

    def event(self, event: JsonObject) -> None:
        self._writer.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        self.completeness.end(info, outcome)
        self._writer.end(info, outcome)

    def mark_partial(self, reason: str) -> None:
        """See :meth:`bsstream.export.atomic.CollectingExport.mark_partial`."""
        self.completeness.mark(reason)

    @property
    def partial_reason(self) -> str | None:
        return self.completeness.reason

    def close(self) -> None:
        if self._file.closed:
            return
        reason = self.completeness.reason
        if reason is None:
            self._file.commit()
            self.written = self.path
        elif self.completeness.begun:
            self._writer.partial(reason)
            target = partial_path(self.path)
            self._file.commit(to=target)
            self.written = target
        else:
            self._file.discard()

    def abort(self) -> None:
        """Drop what was written; the final name is left untouched."""
        self._file.discard()
