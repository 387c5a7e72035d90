"""Pure: what kind of thing a standard stream is, and whether a progress display may redraw on
stderr (the rule of README "Progress display").

The rule. A display that redraws (Rich moves the cursor up over its own last frame) is only
safe while nothing else writes to the same screen. When stdout is a pipe, whatever reads it
(``| jq``, ``| cat``, ``| tee``) may print to that terminal at any moment, and the redraw would
overwrite its lines; when stdout is the terminal itself and carries ``--json`` lines, those are
overwritten the same way. So, with ``--progress`` / ``--no-progress`` absent, the progress
display on stderr is shown only when

- stderr is a terminal, and not ``--quiet``, and
- stdout does not reach a screen: a regular file (``> out.jsonl``) or a device that is not a
  terminal (``> /dev/null``).

A pipe, a socket, a terminal, or a stream whose kind cannot be told: no display. ``--progress``
asks for it anyway whenever stderr is a terminal (even with ``--quiet``: it is the explicit
choice); ``--no-progress`` never shows it. Redrawing to a stderr that is not a terminal is
never done. (With stdout a terminal and no ``--json``, the live table or the per-file status
display on stdout is the progress; that is not this rule's business.)
"""

from __future__ import annotations

import os
import stat
from enum import Enum
from typing import Protocol

__all__ = ["StreamKind", "progress_on_stderr", "stream_kind"]


class StreamKind(str, Enum):
    TERMINAL = "terminal"
    FILE = "file"  # a regular file
    DEVICE = "device"  # a character or block device that is not a terminal (/dev/null)
    PIPE = "pipe"  # a pipe or FIFO
    SOCKET = "socket"
    UNKNOWN = "unknown"  # no file descriptor (an in-memory stream), closed, or anything else


class HasFileno(Protocol):
    """A file object (``sys.stdout``, an open file, a socket's file; ``io.StringIO`` too, whose
    ``fileno`` raises)."""

    def fileno(self) -> int: ...


def stream_kind(stream: HasFileno) -> StreamKind:
    """The kind of ``stream`` (a file object with ``fileno``), from ``isatty`` and ``fstat``."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return StreamKind.UNKNOWN
    try:
        if os.isatty(fd):
            return StreamKind.TERMINAL
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return StreamKind.UNKNOWN
    if stat.S_ISREG(mode):
        return StreamKind.FILE
    if stat.S_ISFIFO(mode):
        return StreamKind.PIPE
    if stat.S_ISSOCK(mode):
        return StreamKind.SOCKET
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return StreamKind.DEVICE
    return StreamKind.UNKNOWN


def progress_on_stderr(
    stdout: StreamKind, stderr: StreamKind, *, requested: bool | None, quiet: bool
) -> bool:
    """Whether the progress display may redraw on stderr (see the module docstring).

    ``requested``: True for ``--progress``, False for ``--no-progress``, None when neither.
    """
    if stderr is not StreamKind.TERMINAL or requested is False:
        return False
    if requested:
        return True
    return not quiet and stdout in (StreamKind.FILE, StreamKind.DEVICE)
