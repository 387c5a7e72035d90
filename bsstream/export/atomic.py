"""Atomic file output, and the base every export sink builds on.

:class:`AtomicFile` writes to a hidden temporary file in the destination's directory and
moves it over the final name with :func:`os.replace` on :meth:`AtomicFile.commit`, so a run
that is killed or fails never leaves a half-written file under the final name. A temporary
file that is never committed is removed by :meth:`AtomicFile.discard`, when the object is
garbage-collected, or at interpreter exit (only a SIGKILL can leave one behind, under a
hidden ``.NAME.*.tmp`` name).

:class:`CollectingExport` is a Sink that gathers each input's stream (begin, messages,
events, end) and renders the whole file once, on ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, summarize


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


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
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        self.tmp_path = Path(tmp)
        self._file = os.fdopen(fd, "wb")
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

    def commit(self) -> None:
        """Flush, fsync and move the temporary file over the final name."""
        if self._done:
            return
        self._done = True
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            try:
                mode = self.path.stat().st_mode & 0o7777
            except OSError:
                mode = _default_mode()
            os.chmod(self.tmp_path, mode)
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self._file.close()
            _unlink_quietly(str(self.tmp_path))
            raise
        finally:
            self._finalizer.detach()

    def discard(self) -> None:
        """Drop the temporary file; the final name is left untouched."""
        if self._done:
            return
        self._done = True
        self._file.close()
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


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with AtomicFile(path) as f:
        f.write_text(text)


@dataclass
class StreamRecord:
    """Everything one input's stream told an export."""

    info: StreamInfo
    messages: list[ResultMessage] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
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
        self._closed = False

    # -- Sink -----------------------------------------------------------------------------

    def begin(self, info: StreamInfo) -> None:
        self.streams.append(StreamRecord(info))

    def message(self, message: ResultMessage) -> None:
        self._record_for(message.source, message.method).messages.append(message)

    def event(self, event: dict[str, Any]) -> None:
        source = event.get("source")
        self._record_for(source if isinstance(source, str) else None).events.append(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        record = self._record_for(info.source, info.method)
        record.info = info
        record.outcome = outcome

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        write_atomic(self.path, self.render())

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
