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

This module holds the small text helpers every renderer shares. It imports no rich, so the
plain and JSON-lines paths stay light.
"""

from __future__ import annotations

import math
import os
import sys
import unicodedata
from typing import IO

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


# Bidirectional-text controls ("trojan source") are shown escaped like control characters;
# other format characters (ZWJ in emoji sequences, soft hyphens) are left alone.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def display_text(text: str) -> str:
    """``text`` safe for one line on a terminal: control characters, lone surrogates, line and
    paragraph separators and bidi controls become visible escapes (``\\x1b``, ``\\n``-style as
    ``\\x0a``); everything else (any script, emoji) is kept as is.

    Only for display: the JSON lines always carry strings exactly as the service sent them.
    """
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(
        _escape(ch) if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch
        for ch in text
    )


def format_time(text: str, value: float | None) -> str:
    """A wire time for display: ``2`` -> ``2.00``; unparseable text is shown as sent (escaped);
    an empty time shows as ``?``."""
    if value is not None and math.isfinite(value):
        return f"{value:.2f}"
    return display_text(text) if text.strip() else "?"


def format_window(start_time: str, start: float | None, end_time: str, end: float | None) -> str:
    """``0.00-2.00``: a result's time window for display."""
    return f"{format_time(start_time, start)}-{format_time(end_time, end)}"


def format_posterior(value: float | None) -> str | None:
    """A posterior with two decimals (``0.70``), or None when missing or unparseable."""
    return None if value is None or not math.isfinite(value) else f"{value:.2f}"


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
