"""One place where the decoded PCM can be watched as it flows to the sessions.

:class:`TappedSource` stands in for a decoded source (``name``, ``duration``, ``close()``, ...
pass through) and hands every block of :meth:`TappedSource.blocks` to each of its observers
before yielding it: the HTML report's audio (:class:`bsstream.export.audio.CapturedAudio`) and
the live view's level meter (:class:`bsstream.audio.level.LevelMeter`). The source is wrapped
once whatever watches it (:func:`tap` adds to an existing tap).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

__all__ = ["PcmObserver", "TappedSource", "tap"]


class PcmSource(Protocol):
    """A decoded input (:class:`bsstream.audio.decode.PcmSource` and its stand-ins)."""

    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class PcmObserver(Protocol):
    def feed(self, block: bytes) -> None:
        """A block of the decoded stream, as the sessions get it."""

    def finish(self) -> None:
        """No more blocks (the stream ended, failed or was stopped)."""


class TappedSource:
    """A decoded source whose blocks also go to ``observers`` (see the module docstring)."""

    # the source's, read through __getattr__ (declared, never set here)
    name: str
    duration: float | None

    def __init__(self, source: PcmSource, observers: list[PcmObserver] | None = None) -> None:
        self._source = source
        self.observers: list[PcmObserver] = list(observers or ())

    def __getattr__(self, name: str) -> object:
        return getattr(self._source, name)

    def blocks(self) -> Iterator[bytes]:
        try:
            for block in self._source.blocks():
                for observer in self.observers:
                    observer.feed(block)
                yield block
        finally:
            for observer in self.observers:
                observer.finish()

    def close(self) -> None:
        self._source.close()


def tap(source: PcmSource, observer: PcmObserver) -> TappedSource:
    """``source`` with ``observer`` watching its blocks (an already tapped source gains one)."""
    if isinstance(source, TappedSource):
        source.observers.append(observer)
        return source
    return TappedSource(source, [observer])
