"""Atomic file output, and the base every export sink builds on.

:class:`AtomicFile` writes to a hidden temporary file in the destination's directory and
moves it over the final name with :func:`os.replace` on :meth:`AtomicFile.commit`, so a run
that is killed or fails never leaves a half-written file under the final name. A temporary
file that is never committed is removed by :meth:`AtomicFile.discard`, when the object is
garbage-collected, or at interpreter exit, and on every error path (also when the final
flush or close fails, e.g. on a full disk).

Temporary names are ``.NAME.<pid>.<host>.<random>.tmp``: the writer's process id and a short
tag of its host name. Only a SIGKILL (or a power cut) can leave one behind;
:func:`remove_stale_temporaries` removes those of a process of this host that is no longer
alive, and never touches a live writer's file or another host's (a shared output directory).

:class:`CollectingExport` is a Sink that gathers each input's stream (begin, messages,
events, end) and renders the whole file once, on ``close()``: under the requested name when
the run was complete, else under ``NAME.partial.EXT`` (see :mod:`bsstream.export.partial`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat
import tempfile
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from bsstream.export.partial import Completeness, partial_path
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, summarize


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _close_quietly(file: IO[bytes]) -> None:
    """Close ``file``; a failing final flush (ENOSPC, EIO) must not skip what follows."""
    with contextlib.suppress(OSError, ValueError):
        file.close()


def host_tag() -> str:
    """A short, file-name-safe tag of this machine's host name (6 hex digits)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:6]


# .NAME.<pid>.<host>.<random>.tmp; mkstemp's random part is 8 of [a-z0-9_]
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]{1,10})\.(?P<host>[0-9a-f]{6})\.[a-z0-9_]{8}\.tmp$")


def temp_prefix(name: str) -> str:
    """The start of a temporary file name for final name ``name`` (mkstemp adds the rest)."""
    return f".{name}.{os.getpid()}.{host_tag()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return True  # not a process we could have been: keep
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    except OSError:
        return True  # cannot tell: keep
    return True


def is_stale_temporary(path: str | os.PathLike[str], *, host: str | None = None) -> bool:
    """True for a temporary file of our naming pattern written on this host by a process that
    is no longer alive (a regular file; symlinks and directories never are)."""
    match = _TEMP_RE.match(Path(path).name)
    if match is None or match["host"] != (host or host_tag()):
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and not _pid_alive(int(match["pid"]))


def remove_stale_temporaries(
    directory: str | os.PathLike[str], *, names: Iterable[str] | None = None, recursive: bool = False
) -> list[Path]:
    """Remove the stale temporaries (see :func:`is_stale_temporary`) in ``directory``: only
    those for the final names in ``names`` when given, else all; below it too when
    ``recursive`` (hidden directories are not entered). Returns what was removed; errors
    (an unreadable or read-only directory) are ignored."""
    wanted = None if names is None else set(names)
    host = host_tag()
    removed: list[Path] = []

    def scan(folder: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if recursive and not entry.name.startswith("."):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        scan(entry.path)
                continue
            match = _TEMP_RE.match(entry.name)
            if match is None or (wanted is not None and match["name"] not in wanted):
                continue
            if is_stale_temporary(entry.path, host=host):
                try:
                    os.unlink(entry.path)
                except OSError:
                    continue
                removed.append(Path(entry.path))

    scan(os.fspath(directory) or ".")
    return removed


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class AtomicFile:
    """A binary file written under a temporary name and renamed into place on commit.

    Usable as a context manager: commits on a clean exit, discards on an exception.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        directory = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(self.path.name), suffix=".tmp", dir=directory)
        self.tmp_path = Path(tmp)
        try:
            self._file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        self._done = False
        # Remove the temporary file if this object is dropped (or the interpreter exits)
        # without a commit.
        self._finalizer = weakref.finalize(self, _unlink_quietly, tmp)

    def write(self, data: bytes) -> None:
        if self._done:
            raise ValueError(f"{self.path}: already committed or discarded")
        self._file.write(data)

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8"))

    def commit(self, to: str | os.PathLike[str] | None = None) -> None:
        """Flush, fsync and move the temporary file over the final name (or over ``to``, a
        name in the same directory: a partial export's ``NAME.partial.EXT``)."""
        if self._done:
            return
        self._done = True
        target = self.path if to is None else Path(to)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            try:
                mode = target.stat().st_mode & 0o7777
            except OSError:
                mode = _default_mode()
            os.chmod(self.tmp_path, mode)
            os.replace(self.tmp_path, target)
        except BaseException:
            _close_quietly(self._file)
            _unlink_quietly(str(self.tmp_path))
            raise
        finally:
            self._finalizer.detach()

    def discard(self) -> None:
        """Drop the temporary file; the final name is left untouched."""
        if self._done:
            return
        self._done = True
        try:
            _close_quietly(self._file)
        finally:
            _unlink_quietly(str(self.tmp_path))
            self._finalizer.detach()

    @property
    def closed(self) -> bool:
        return self._done

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@dataclass
class StreamRecord:
    """Everything one input's stream told an export."""

    info: StreamInfo
    messages: list[ResultMessage] = field(default_factory=list)
    events: list[JsonObject] = field(default_factory=list)
    outcome: StreamOutcome | None = None

    @property
    def source(self) -> str:
        return self.info.source

    @property
    def duration(self) -> float | None:
        """Audio seconds: the known duration, else the audio sent (None before end())."""
        if self.info.duration is not None:
            return self.info.duration
        if self.outcome is not None:
            return self.outcome.audio_seconds
        return None

    @property
    def summary(self) -> Summary:
        """The session's summary; computed from the messages if it gave none."""
        if self.outcome is not None and self.outcome.summary.tasks:
            return self.outcome.summary
        return summarize(self.messages)


class CollectingExport:
    """A Sink that collects every input's stream and writes one file on ``close()``.

    Subclasses implement :meth:`render`. Messages go to the input that began last with the
    same source (an input that never called ``begin`` gets a record of its own), so the
    exports also work for callers, like replay, that only send messages.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.streams: list[StreamRecord] = []
        self.completeness = Completeness()
        self.written: Path | None = None  # where close() wrote: path, its partial name, or None
        self._closed = False

    # -- Sink -----------------------------------------------------------------------------

    def begin(self, info: StreamInfo) -> None:
        self.completeness.begin(info)
        self.streams.append(StreamRecord(info))

    def message(self, message: ResultMessage) -> None:
        self._record_for(message.source, message.method).messages.append(message)

    def event(self, event: JsonObject) -> None:
        source = event.get("source")
        self._record_for(source if isinstance(source, str) else None).events.append(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        self.completeness.end(info, outcome)
        record = self._record_for(info.source, info.method)
        record.info = info
        record.outcome = outcome

    def mark_partial(self, reason: str) -> None:
        """The run lacks something this export should hold (an interrupt, an input that was
        not streamed): it is written as ``NAME.partial.EXT``."""
        self.completeness.mark(reason)

    @property
    def partial_reason(self) -> str | None:
        """Why this export is partial; None when complete (what :meth:`render` may show)."""
        return self.completeness.reason

    def close(self) -> None:
        """Write the file: the requested name when complete; else ``NAME.partial.EXT``, and
        nothing at all when no input ever began."""
        if self._closed:
            return
        self._closed = True
        if not self.completeness.partial:
            target = self.path
        elif self.completeness.begun:
            target = partial_path(self.path)
        else:
            return
        with AtomicFile(self.path) as f:  # the temporary is named after the requested file
            f.write_text(self.render())
            f.commit(to=target)
        self.written = target

    def abort(self) -> None:
        """Forget everything and write nothing (nothing is on disk before close)."""
        self._closed = True

    # -- for subclasses -------------------------------------------------------------------

    def render(self) -> str:
        raise NotImplementedError

    def _record_for(self, source: str | None, method: str | None = None) -> StreamRecord:
        if source:
            same = [r for r in reversed(self.streams) if r.source == source]
            for record in same:
                if method is None or record.info.method == method:
                    return record
            if same:
                return same[0]
        elif self.streams:
            return self.streams[-1]
        record = StreamRecord(StreamInfo(source=source or "", method=method or ""))
        self.streams.append(record)
        return record
