"""Output files that fail (full disk, read-only file system, permission denied) become one
clear error for the input or run they belong to, never an exception that stops the batch.

:class:`GuardedOutput` wraps one file sink (an ``--output`` export or one input's
``--output-dir`` file): the first ``OSError`` from any call drops the file (its temporary is
removed, nothing appears under the final name), is reported once through ``on_error`` as an
:class:`~bsstream.status.OutputError` naming the file and the cause, and later calls are
ignored. The stream itself goes on: the other outputs still get every result.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import NullSink, Sink, StreamInfo, StreamOutcome
from bsstream.status import OutputError

__all__ = ["GuardedOutput", "check_writable_dir", "output_error"]

_P = ParamSpec("_P")

_CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on device", "free some space or write elsewhere"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write elsewhere"),
    errno.EROFS: ("read-only file system", "choose a writable place"),
    errno.EACCES: ("permission denied", "choose a writable place or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose a writable place or fix its permissions"),
    errno.ENOENT: ("the directory disappeared", "check the output path"),
    errno.ENOTDIR: ("a part of the path is not a directory", "check the output path"),
    errno.EISDIR: ("is a directory", "choose a file name"),
    errno.ENAMETOOLONG: ("file name too long", "use a shorter output path"),
    errno.EIO: ("I/O error", "check the disk"),
}


def output_error(path: str | os.PathLike[str], exc: OSError, *, source: str | None = None) -> OutputError:
    """The one line for an output ``path`` that could not be written: the file, the cause, and
    (for a per-input file) the input it belongs to."""
    cause, hint = _CAUSES.get(
        exc.errno or 0, (exc.strerror or str(exc) or type(exc).__name__, "check the output path")
    )
    where = f"{source}: " if source else ""
    return OutputError(
        f"{where}cannot write {os.fspath(path)}: {cause}", hint=f"{hint}; this output was not written"
    )


def check_writable_dir(directory: str | os.PathLike[str]) -> None:
    """OSError (EROFS for a read-only file system, else EACCES) when no file can be created in
    ``directory``; a full disk only shows when writing."""
    if os.access(directory, os.W_OK | os.X_OK):
        return
    read_only = False
    with contextlib.suppress(OSError, AttributeError):
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    code = errno.EROFS if read_only else errno.EACCES
    raise OSError(code, os.strerror(code), os.fspath(directory))


class GuardedOutput(NullSink):
    """One output file's sink whose I/O failures become one :class:`OutputError` (see module)."""

    def __init__(
        self,
        sink: Sink,
        path: str | os.PathLike[str],
        on_error: Callable[[OutputError], None],
        *,
        source: str | None = None,
    ) -> None:
        self.sink = sink
        self.path = path
        self.source = source
        self.on_error = on_error
        self.error: OutputError | None = None

    def _fail(self, exc: OSError) -> None:
        abort = getattr(self.sink, "abort", None)
        if abort is not None:
            with contextlib.suppress(Exception):
                abort()
        self.error = output_error(self.path, exc, source=self.source)
        self.on_error(self.error)

    def _call(self, method: Callable[_P, None], *args: _P.args, **kwargs: _P.kwargs) -> None:
        if self.error is not None:
            return
        try:
            method(*args, **kwargs)
        except OSError as exc:
            self._fail(exc)

    def begin(self, info: StreamInfo) -> None:
        self._call(self.sink.begin, info)

    def message(self, message: ResultMessage) -> None:
        self._call(self.sink.message, message)

    def event(self, event: JsonObject) -> None:
        self._call(self.sink.event, event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        self._call(self.sink.end, info, outcome)

    def close(self) -> None:
        self._call(self.sink.close)

    def abort(self) -> None:
        abort = getattr(self.sink, "abort", None)
        if abort is not None:
            abort()

    def mark_partial(self, reason: str) -> None:
        """Forwarded to the export (see :mod:`bsstream.export.partial`)."""
        mark = getattr(self.sink, "mark_partial", None)
        if mark is not None and self.error is None:
            mark(reason)

    @property
    def files(self) -> list[tuple[Path, Path]]:
        """(requested, written) per file of an export writing several (subtitles per input)."""
        files = getattr(self.sink, "files", None)
        return list(files) if self.error is None and isinstance(files, list) else []

    @property
    def written(self) -> Path | None:
        """Where the export was written (its partial name for a partial run); None if not."""
        if self.error is not None:
            return None
        written = getattr(self.sink, "written", None)
        return written if isinstance(written, Path) else None
