"""Pure: per-task summaries (time-weighted dominant label) and the deepfake verdict.

For each task the summary uses one level only, so a run with both levels does not count the
same speech twice: the level whose results cover the most time, to the millisecond (when no
result of the task has usable times: the level with the most results). Ties go to utterance;
a tie between two other levels (e.g. results without a level) goes to the one seen first.
Nothing else (such as the number of results) takes part, wherever a summary is shown: the
table, the plain lines, the exports, replay.

A result weighs its duration (end - start); when no result of a task has usable times,
each result weighs one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import Result, ResultMessage

DEEPFAKE_TASK = "deepfake"


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One task over a whole stream: its dominant final label, weighted by window duration."""

    task: str
    level: str | None  # the level whose results were used (None: results carried no level)
    label: str  # the dominant final label
    share: float  # its share of the task's weight, 0..1
    seconds: float  # seconds covered by the task's results at that level
    confidence: float | None  # weighted mean posterior of the label where it was final
    results: int  # results counted
    channel: int | None = None  # --channels split: the input channel (0-based) summarised
    channel_name: str | None = None  # ... and its --channel-names name

    @property
    def channel_label(self) -> str | None:
        """How the channel is shown in text: its name, else ``ch0``, ``ch1``, ...; None for a
        mixed stream."""
        if self.channel is None:
            return None
        return self.channel_name if self.channel_name else f"ch{self.channel}"

    @property
    def title(self) -> str:
        """The task as named in text: ``emotion``, or with split ``emotion [agent]``."""
        label = self.channel_label
        return self.task if label is None else f"{self.task} [{label}]"


@dataclass(frozen=True, slots=True)
class Summary:
    """What a stream's results add up to: one :class:`TaskSummary` per task (and channel)."""

    tasks: tuple[TaskSummary, ...] = ()

    @property
    def verdict(self) -> TaskSummary | None:
        """The deepfake task's summary, if the stream had one; None with ``--channels split``
        (no single verdict for several speakers: :attr:`verdicts` has one per channel)."""
        for task in self.tasks:
            if task.task == DEEPFAKE_TASK and task.channel is None:
                return task
        return None

    @property
    def verdicts(self) -> tuple[TaskSummary, ...]:
        """Every deepfake summary: one for a mixed stream, one per channel with split."""
        return tuple(t for t in self.tasks if t.task == DEEPFAKE_TASK)

    @property
    def split(self) -> bool:
        """Whether the summary is per channel (``--channels split``)."""
        return any(t.channel is not None for t in self.tasks)

    def get(self, task: str, channel: int | None = None) -> TaskSummary | None:
        """The summary of ``task`` (of one input channel, with split), None when it has none."""
        for t in self.tasks:
            if t.task == task and t.channel == channel:
                return t
        return None


def _duration(result: Result) -> float:
    start, end = result.start, result.end
    if start is None or end is None or end <= start:
        return 0.0
    return end - start


@dataclass(slots=True)
class _LabelTotals:
    seconds: float = 0.0  # summed durations of results with this final label
    count: int = 0
    p_time: float = 0.0  # sum of posterior x duration (where the posterior parses)
    time_with_p: float = 0.0
    p_count: float = 0.0  # sum of posteriors (count-weighted mode)
    count_with_p: int = 0


@dataclass(slots=True)
class _LevelTotals:
    seconds: float = 0.0  # every result of the level, labelled or not
    count: int = 0
    labels: dict[str, _LabelTotals] = field(default_factory=dict)


class SummaryBuilder:
    """Accumulates what the summary needs as results arrive, in memory independent of the
    stream's length (a few numbers per task, level and label)."""

    def __init__(self) -> None:
        # (task, channel) -> level -> totals; channel is None for a mixed stream
        self._tasks: dict[tuple[str, int | None], dict[str | None, _LevelTotals]] = {}
        self._names: dict[int, str | None] = {}  # channel -> its --channel-names name

    def add(self, message: ResultMessage) -> None:
        if message.channel is not None:
            self._names.setdefault(message.channel, message.channel_name)
        for result in message.results:
            self.add_result(result, channel=message.channel)

    def add_result(self, result: Result, *, channel: int | None = None) -> None:
        levels = self._tasks.setdefault((result.task, channel), {})
        totals = levels.get(result.level)
        if totals is None:
            totals = levels[result.level] = _LevelTotals()
        duration = _duration(result)
        totals.seconds += duration
        totals.count += 1
        if result.final_label == "":
            return
        label = totals.labels.get(result.final_label)
        if label is None:
            label = totals.labels[result.final_label] = _LabelTotals()
        label.seconds += duration
        label.count += 1
        p = result.final_posterior
        if p is not None:
            label.p_time += p * duration
            label.time_with_p += duration
            label.p_count += p
            label.count_with_p += 1

    def summary(self) -> Summary:
        """Summaries for every task seen, in the order tasks first appeared; with channels
        (``--channels split``) one per task and channel, grouped by channel in channel order."""
        tasks = []
        for (task, channel), levels in self._tasks.items():
            summary = _summarize_task(task, levels)
            if summary is not None:
                if channel is not None:
                    summary = replace(summary, channel=channel, channel_name=self._names.get(channel))
                tasks.append(summary)
        tasks.sort(key=lambda t: -1 if t.channel is None else t.channel)  # stable: order kept within
        return Summary(tasks=tuple(tasks))


def _summary_level(levels: dict[str | None, _LevelTotals]) -> str | None:
    """The level a task's summary uses (see the module docstring): most time covered, rounded
    to the millisecond so float sums of the same windows compare equal; without usable times
    the most results; ties to utterance, then to the level seen first."""
    use_time = any(t.seconds > 0 for t in levels.values())

    def key(level: str | None) -> tuple[float, bool]:
        totals = levels[level]
        cover = round(totals.seconds, 3) if use_time else totals.count
        return (cover, level == "utterance")

    return max(levels, key=key)  # max keeps the first of equal keys: the level seen first


def _summarize_task(task: str, levels: dict[str | None, _LevelTotals]) -> TaskSummary | None:
    level = _summary_level(levels)
    labels = levels[level].labels
    if not labels:
        return None
    seconds = sum(t.seconds for t in labels.values())
    use_time = seconds > 0
    weights = {name: (t.seconds if use_time else float(t.count)) for name, t in labels.items()}
    total = sum(weights.values())
    label = max(weights, key=lambda k: weights[k])  # first seen wins ties (dicts keep order)
    chosen = labels[label]
    if use_time:
        confidence = chosen.p_time / chosen.time_with_p if chosen.time_with_p > 0 else None
    else:
        confidence = chosen.p_count / chosen.count_with_p if chosen.count_with_p > 0 else None
    return TaskSummary(
        task=task,
        level=level,
        label=label,
        share=weights[label] / total if total > 0 else 0.0,
        seconds=seconds,
        confidence=confidence,
        results=sum(t.count for t in labels.values()),
    )


def summarize(messages: Iterable[ResultMessage]) -> Summary:
    """Summaries for every task seen, in the order tasks first appeared."""
    builder = SummaryBuilder()
    for message in messages:
        builder.add(message)
    return builder.summary()


def _round(value: float | None, digits: int) -> float | None:
    """Rounded for readable exports; None for a missing or non-finite value (strict JSON)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def task_summary_to_dict(task: TaskSummary) -> JsonObject:
    """One task's summary as JSON-ready data (strings as the service sent them); with split
    also ``channel`` (0-based) and ``channel_name`` (when named)."""
    out: JsonObject = {
        "task": task.task,
        "label": task.label,
        "share": _round(task.share, 4),
        "seconds": _round(task.seconds, 3),
        "confidence": _round(task.confidence, 4),
        "level": task.level,
        "results": task.results,
    }
    if task.channel is not None:
        out["channel"] = task.channel
        if task.channel_name is not None:
            out["channel_name"] = task.channel_name
    return out


def summary_to_dict(summary: Summary) -> JsonObject:
    """The summary as JSON-ready data::

        {"tasks": [{"task": "emotion", "label": "neutral", "share": 0.64, "seconds": 12.0,
                    "confidence": 0.71, "level": "segment", "results": 6}, ...],
         "verdict": {...the deepfake task's entry...} | null}

    ``share`` is 0..1 (4 decimals), ``seconds`` 3 decimals, ``confidence`` 4 decimals or null.
    With ``--channels split`` every entry has ``"channel"`` (and ``"channel_name"``), one per
    task and channel, and ``verdict`` is null (each channel's deepfake entry is in ``tasks``).
    """
    verdict = summary.verdict
    return {
        "tasks": [task_summary_to_dict(t) for t in summary.tasks],
        "verdict": None if verdict is None else task_summary_to_dict(verdict),
    }
