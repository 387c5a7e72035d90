"""``scan``: both analyses of one input merged into one stream for the outputs.

Each input is decoded once (audio/tee.py) and streamed to StreamAudio and
DeepfakeDetection at the same time. ``ScanMerge`` sits between the two sessions and the
outputs: the outputs see one begin and one end per input (method "scan"), every message
tagged with its method, and a merged outcome; one call failing does not lose the other's
results.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from bsstream.protocol.jsonlines import stats_line
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import METHOD_SCAN, Sink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, TaskSummary
from bsstream.status import most_severe


def merge_outcomes(outcomes: list[StreamOutcome]) -> StreamOutcome:
    """One outcome for several calls over the same audio."""
    tasks: list[TaskSummary] = []
    for outcome in outcomes:
        tasks.extend(outcome.summary.tasks)
    tasks.sort(key=lambda t: -1 if t.channel is None else t.channel)  # split: grouped by channel
    errors = [o.error for o in outcomes if o.error]
    return StreamOutcome(
        status=most_severe([o.status for o in outcomes]),
        summary=Summary(tasks=tuple(tasks)),
        audio_seconds=max((o.audio_seconds for o in outcomes), default=0.0),
        wall_seconds=max((o.wall_seconds for o in outcomes), default=0.0),
        messages=sum(o.messages for o in outcomes),
        results=sum(o.results for o in outcomes),
        error="; ".join(errors) if errors else None,
        stats=None,
    )


class ScanMerge:
    """Forwards to ``downstream`` as if the calls of one input were one stream."""

    def __init__(self, downstream: Sink, methods: int) -> None:
        self.downstream = downstream
        self.methods = methods
        self._lock = threading.Lock()
        self._begun: dict[str, int] = {}
        self._ended: dict[str, list[StreamOutcome]] = {}

    def begin(self, info: StreamInfo) -> None:
        with self._lock:
            first = info.source not in self._begun
            self._begun[info.source] = self._begun.get(info.source, 0) + 1
        if first:
            self.downstream.begin(replace(info, method=METHOD_SCAN))

    def message(self, message: ResultMessage) -> None:
        self.downstream.message(message)

    def event(self, event: JsonObject) -> None:
        self.downstream.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            self.downstream.event(stats_line(info.source, outcome.stats, info.method))
        with self._lock:
            done = self._ended.setdefault(info.source, [])
            done.append(outcome)
            last = len(done) == self.methods
        if last:
            self.downstream.end(replace(info, method=METHOD_SCAN), merge_outcomes(done))

    def close(self) -> None:
        self.downstream.close()
