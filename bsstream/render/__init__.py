"""Renderers: the only part of bsstream that knows how results look on a terminal or in a pipe.

Layout:

- ``view.py``    pure: the live frame for a terminal size (status line, "now" lines, the tail)
- ``table.py``   pure builders: the window table's layout for a width, Timeline -> rich Table,
                 Summary -> rich Table, the verdict line
- ``palette.py`` pure: the one label -> colour mapping (terminal and HTML report)
- ``plain.py``   one plain line per result (``PlainSink``), for pipes and non-terminals
- ``jsonl.py``   one flushed JSON line per StreamResult (``JsonlSink``), for ``--json``
- ``live.py``    the thin rich ``Live`` loop around the view (``LiveSink``)
- ``summary.py`` the summary as plain lines and as a JSON-ready dict (shared with exports)

This module holds the small helpers every renderer shares (the text helpers are
:mod:`bsstream.display`'s, re-exported). It imports no rich, so the plain and JSON-lines
paths stay light.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from bsstream.display import display_text, format_posterior, format_time, format_window

__all__ = [
    "OutputClosed",
    "display_text",
    "format_posterior",
    "format_time",
    "format_window",
    "quiet_stdout",
    "write_line",
]


class OutputClosed(Exception):
    """The reader closed our output stream (``| head``): the CLI should end quietly."""


def write_line(out: IO[str], line: str) -> None:
    """Write one line and flush it now; a reader that went away raises :class:`OutputClosed`."""
    try:
        out.write(line + "\n")
        out.flush()
    except BrokenPipeError as exc:
        raise OutputClosed(str(exc)) from exc
    except ValueError as exc:  # "I/O operation on closed file"
        if getattr(out, "closed", False) or "closed file" in str(exc):
            raise OutputClosed(str(exc)) from exc
        raise


def quiet_stdout() -> None:
    """After :class:`OutputClosed` on stdout: point fd 1 at /dev/null so the interpreter's final
    flush does not print "Exception ignored ... BrokenPipeError" on the way out."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # no real fd (in-process runs, captured streams)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)
