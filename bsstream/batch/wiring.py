"""Sinks that connect the batch pieces to a run: one output file per input, per-input
reports, and the progress display."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bsstream.batch.report import InputReport, headline
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import NullSink, Sink, StreamInfo, StreamOutcome

if TYPE_CHECKING:  # rich loads only when a run shows progress
    from bsstream.batch.progress import BatchProgress


class BySource(NullSink):
    """Routes each input's calls to its own sink, made by ``factory(source)`` at begin."""

    def __init__(self, factory: Callable[[str], Sink | None]) -> None:
        self.factory = factory
        self._sinks: dict[str, Sink] = {}
        self._lock = threading.Lock()

    def _get(self, source: str) -> Sink | None:
        with self._lock:
            return self._sinks.get(source)

    def begin(self, info: StreamInfo) -> None:
        with self._lock:
            sink = self._sinks.get(info.source)
            if sink is None:
                made = self.factory(info.source)
                if made is None:
                    return
                sink = self._sinks[info.source] = made
        sink.begin(info)

    def message(self, message: ResultMessage) -> None:
        sink = self._get(message.source)
        if sink is not None:
            sink.message(message)

    def event(self, event: JsonObject) -> None:
        source = event.get("source")
        sink = self._get(source) if isinstance(source, str) else None
        if sink is not None:
            sink.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        sink = self._get(info.source)
        if sink is not None:
            sink.end(info, outcome)

    def close(self) -> None:
        with self._lock:
            sinks = list(self._sinks.values())
        for sink in sinks:
            sink.close()


class ReportCollector(NullSink):
    """Remembers each input's outcome for the end-of-run table."""

    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[StreamInfo, StreamOutcome]] = {}
        self._lock = threading.Lock()

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        with self._lock:
            self.outcomes[info.source] = (info, outcome)

    def report(
        self, source: str, status: int, *, skipped: bool = False, not_started: bool = False
    ) -> InputReport:
        found = None if not_started else self.outcomes.get(source)
        if found is None:
            return InputReport(source, None, status, 0.0, "", skipped=skipped, not_started=not_started)
        info, outcome = found
        duration = info.duration if info.duration is not None else outcome.audio_seconds
        return InputReport(
            source, duration, status, outcome.wall_seconds, headline(outcome.summary, max_tasks=3)
        )


class ProgressSink(NullSink):
    """Feeds a BatchProgress: a file starts at begin and is done at end."""

    def __init__(self, progress: BatchProgress) -> None:
        self.progress = progress

    def begin(self, info: StreamInfo) -> None:
        self.progress.start_file(info.source, info.duration)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        self.progress.set_sent(info.source, outcome.audio_seconds)
        self.progress.finish_file(info.source, outcome.status)
