"""Pure: what a stream tells its outputs, and the Sink protocol every output implements.

The session calls, per input: ``begin(info)``, ``message(m)`` for each StreamResult as it
arrives, ``event(e)`` for things like reconnects, ``end(info, outcome)``; the CLI calls
``close()`` once at the end of the run (also on failure and interrupt, so outputs flush).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bsstream.protocol.results import ResultMessage
from bsstream.protocol.summary import Summary

METHOD_ANALYZE = "StreamAudio"
METHOD_DEEPFAKE = "DeepfakeDetection"
METHOD_SCAN = "scan"  # both, merged (bsstream scan)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    source: str  # the input as given ("-" shows as "stdin")
    method: str  # METHOD_ANALYZE or METHOD_DEEPFAKE
    config: dict[str, Any] = field(default_factory=dict)  # the AudioConfig sent, as data
    duration: float | None = None  # seconds, when known up front
    emulated: bool = False  # results come from the local emulator
    version: str | None = None  # the bsstream that streamed it (None: this one; replay keeps the file's)


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    status: int  # an ExitStatus value
    summary: Summary = field(default_factory=Summary)
    audio_seconds: float = 0.0  # audio sent
    wall_seconds: float = 0.0
    messages: int = 0
    results: int = 0
    error: str | None = None  # the one-line error, when status != 0
    stats: dict[str, Any] | None = None  # the --stats figures, when asked


class Sink(Protocol):
    def begin(self, info: StreamInfo) -> None: ...

    def message(self, message: ResultMessage) -> None: ...

    def event(self, event: dict[str, Any]) -> None: ...

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """A sink that ignores everything (a base for sinks that need only some calls)."""

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: ResultMessage) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        pass

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        pass

    def close(self) -> None:
        pass


class Locked(NullSink):
    """Serialises every call to ``sink`` (streams running concurrently share one output)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._lock = threading.RLock()

    def begin(self, info: StreamInfo) -> None:
        with self._lock:
            self.sink.begin(info)

    def message(self, message: ResultMessage) -> None:
        with self._lock:
            self.sink.message(message)

    def event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.sink.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        with self._lock:
            self.sink.end(info, outcome)

    def close(self) -> None:
        with self._lock:
            self.sink.close()


class FanOut(NullSink):
    """Sends every call to several sinks, in order."""

    def __init__(self, sinks: Iterable[Sink]) -> None:
        self.sinks = list(sinks)

    def begin(self, info: StreamInfo) -> None:
        for s in self.sinks:
            s.begin(info)

    def message(self, message: ResultMessage) -> None:
        for s in self.sinks:
            s.message(message)

    def event(self, event: dict[str, Any]) -> None:
        for s in self.sinks:
            s.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        for s in self.sinks:
            s.end(info, outcome)

    def close(self) -> None:
        errors: list[BaseException] = []
        for s in self.sinks:
            try:
                s.close()
            except Exception as exc:  # close every sink even if one fails
                errors.append(exc)
        if errors:
            raise errors[0]
