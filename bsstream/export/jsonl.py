"""``.jsonl`` export: exactly the ``--json`` stream, written to a file.

One compact JSON object per line, encoded by the ``--json`` renderer's own
:func:`bsstream.render.jsonl.dumps_line` (UTF-8, ``ensure_ascii=False``, ``separators=(",", ":")``),
so the file holds the same bytes as stdout in ``--json`` mode:

- per result message, ``message_to_dict(m)``:
  ``{"source":"call.wav","cid":1,"pid":2,"message_id":0,"result":[...]}``
  (with ``"method"`` after ``"source"`` when the message carries one, as in scan);
- each event dict as its own line, as given (e.g. ``{"event":"reconnect",...}``);
- at ``end()``, when the outcome has ``stats``: ``{"stats":{...},"source":"call.wav"}``.

Several inputs simply follow one another in the order the session streamed them; every
line names its source. Lines are streamed to a temporary file as they arrive and the file
is moved into place on ``close()``.
"""

from __future__ import annotations

import os
from typing import Any

from bsstream.export.atomic import AtomicFile
from bsstream.protocol.results import ResultMessage, message_to_dict
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.render.jsonl import dumps_line


class JsonlExport:
    """Sink writing the ``--json`` stream to a file, atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = AtomicFile(path)
        self.path = self._file.path

    def _line(self, data: Any) -> None:
        self._file.write_text(dumps_line(data) + "\n")

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: ResultMessage) -> None:
        self._line(message_to_dict(message))

    def event(self, event: dict[str, Any]) -> None:
        self._line(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            self._line({"stats": outcome.stats, "source": info.source})

    def close(self) -> None:
        self._file.commit()

    def abort(self) -> None:
        """Drop what was written; the final name is left untouched."""
        self._file.discard()
