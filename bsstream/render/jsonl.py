"""``--json``: one JSON line per StreamResult, written and flushed the moment it arrives.

The lines and their encoding are :mod:`bsstream.protocol.jsonlines`'s (the one owner of the
format): per input a ``{"stream":...}`` line when it starts, its result messages and events
as they arrive, a ``{"stats":...}`` line with ``--stats``, and an ``{"end":...}`` line when it
ends. Every line is flushed at once, so stdout stays usable line by line; a reader that closed
the stream raises :class:`bsstream.render.OutputClosed`.

:class:`~bsstream.protocol.jsonlines.JsonLinesWriter` is the writer itself, over any
``write(line)`` function: this module's :class:`JsonlSink` (stdout), the ``.jsonl`` export and
the ``--output-dir`` files all use it.
"""

from __future__ import annotations

import contextlib
from typing import IO

from bsstream.protocol.jsonlines import JsonLinesWriter, dumps_line
from bsstream.render import write_line

__all__ = ["JsonLinesWriter", "JsonlSink", "dumps_line"]


class JsonlSink(JsonLinesWriter):
    """The Sink for ``--json``: every line written to ``out`` and flushed."""

    def __init__(self, out: IO[str], *, frame: bool = True) -> None:
        super().__init__(lambda line: write_line(out, line), frame=frame)
        self.out = out

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader is gone: nothing left to say
            self.out.flush()
