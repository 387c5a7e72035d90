"""``--json``: one JSON line per StreamResult, written and flushed the moment it arrives.

Lines on this stream, and nothing else:

- a result message: ``message_to_dict`` (``source`` [, ``method``], ``cid``, ``pid``,
  ``message_id``, ``result`` with proto field names; every string exactly as sent);
- an event, as the session gave it (it carries its own key, e.g. ``{"event": "reconnect", ...}``);
- at the end of an input, only when ``--stats`` figures exist: ``{"stats": {...}, "source": ...}``.

Encoding: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``; a reader that closed
the stream raises :class:`bsstream.render.OutputClosed`.
"""

from __future__ import annotations

import contextlib
import json
from typing import IO, Any

from bsstream.protocol.results import ResultMessage, message_to_dict
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.render import write_line

__all__ = ["JsonlSink", "dumps_line"]


def dumps_line(data: Any) -> str:
    """The one-line JSON encoding every line of the stream uses."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


class JsonlSink:
    """The Sink for ``--json`` (and ``.jsonl`` exports)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: ResultMessage) -> None:
        write_line(self.out, dumps_line(message_to_dict(message)))

    def event(self, event: dict[str, Any]) -> None:
        write_line(self.out, dumps_line(event))

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            write_line(self.out, dumps_line({"stats": outcome.stats, "source": info.source}))

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader is gone: nothing left to say
            self.out.flush()
