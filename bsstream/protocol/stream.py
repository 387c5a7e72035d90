"""Pure: what a stream tells its outputs, and the Sink protocol every output implements.

The session calls, per input: ``begin(info)``, ``message(m)`` for each StreamResult as it
arrives, ``event(e)`` for things like reconnects, ``end(info, outcome)``; the CLI calls
``close()`` once at the end of the run (also on failure and interrupt, so outputs flush).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.methods import SCAN, Method
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stats import Stats
from bsstream.protocol.summary import Summary
from bsstream.status import ExitStatus

METHOD_ANALYZE = Method.ANALYZE.value
METHOD_DEEPFAKE = Method.DEEPFAKE.value
METHOD_SCAN = SCAN  # both, merged (bsstream scan)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    source: str  # the input as given ("-" shows as "stdin")
    method: str  # METHOD_ANALYZE or METHOD_DEEPFAKE
    config: JsonObject = field(default_factory=dict)  # the AudioConfig sent, as data
    duration: float | None = None  # seconds, when known up front
    emulated: bool = False  # results come from the local emulator
    version: str | None = None  # the bsstream that streamed it (None: this one; replay keeps the file's)


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    status: ExitStatus  # an int is taken as the ExitStatus it names
    summary: Summary = field(default_factory=Summary)
    audio_seconds: float = 0.0  # audio sent
    wall_seconds: float = 0.0
    messages: int = 0
    results: int = 0
    error: str | None = None  # the one-line error, when status != 0
    stats: Stats | None = None  # the --stats figures, when asked

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ExitStatus(self.status))


@dataclass(frozen=True, slots=True)
class Reconnect:
    """A call failed and the stream reconnects after ``delay_seconds``, resuming at ``resume_from``."""

    source: str
    attempt: int  # the reconnect's number in this stream (1, 2, ...)
    max_attempts: int | None  # --retries (None: --retry-for decides)
    code: str  # the gRPC status code name of the failed call
    resume_from: float  # s of audio the next call starts at
    audio_lost_seconds: float  # audio that could no longer be replayed (never analysed)
    delay_seconds: float
    # the stream never connected: what the connection checks saw (a refused port, a host that
    # does not answer), and how long it goes on trying; in the stderr line, not the JSON event
    reason: str | None = None
    window_seconds: float | None = None

    def line(self) -> str:
        """The stderr line that announces it."""
        of = f"{self.attempt}/{self.max_attempts}" if self.max_attempts is not None else f"{self.attempt}"
        code = f"{self.code} ({self.reason})" if self.reason else self.code
        window = f", for up to {self.window_seconds:.0f} s" if self.reason and self.window_seconds else ""
        text = (
            f"{self.source}: {code}; reconnecting in {self.delay_seconds:.1f} s "
            f"(attempt {of}{window}), resuming at {self.resume_from:.2f} s"
        )
        if self.audio_lost_seconds:
            text += f"; {self.audio_lost_seconds:.2f} s of audio could not be replayed and is lost"
        return text

    def as_dict(self) -> JsonObject:
        """The JSON event (``{"event": "reconnect", ...}``), times rounded to the millisecond."""
        return {
            "event": "reconnect",
            "source": self.source,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "code": self.code,
            "resume_from": round(self.resume_from, 3),
            "audio_lost_seconds": round(self.audio_lost_seconds, 3),
            "delay_seconds": round(self.delay_seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class UtteranceLost:
    """No utterance result will cover ``start``-``end`` s: the audio could not be replayed
    (``reason`` "buffer") or replaying it kept failing ("stuck")."""

    source: str
    start: float
    end: float
    reason: str

    def line(self) -> str:
        why = (
            f"the replay buffer reaches back only to {self.end:.2f} s"
            if self.reason == "buffer"
            else "replaying it from its start failed twice"
        )
        return (
            f"{self.source}: no utterance result will cover {self.start:.2f}-{self.end:.2f} s: {why}; "
            f"the utterance in progress comes back starting at {self.end:.2f} s"
        )

    def as_dict(self) -> JsonObject:
        return {
            "event": "utterance_lost",
            "source": self.source,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "reason": self.reason,
        }


StreamEvent = Reconnect | UtteranceLost


class Sink(Protocol):
    def begin(self, info: StreamInfo) -> None: ...

    def message(self, message: ResultMessage) -> None: ...

    def event(self, event: JsonObject) -> None: ...

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """A sink that ignores everything (a base for sinks that need only some calls)."""

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: ResultMessage) -> None:
        pass

    def event(self, event: JsonObject) -> None:
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

    def event(self, event: JsonObject) -> None:
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

    def event(self, event: JsonObject) -> None:
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
