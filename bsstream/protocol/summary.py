"""Pure: per-task summaries (time-weighted dominant label) and the deepfake verdict.

For each task the summary uses one level only, the one whose results cover the most time
(ties go to utterance), so a run with both levels does not count the same speech twice.
A result weighs its duration (end - start); when no result of a task has usable times,
each result weighs one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bsstream.protocol.results import Result, ResultMessage

DEEPFAKE_TASK = "deepfake"


@dataclass(frozen=True, slots=True)
class TaskSummary:
    task: str
    level: str | None  # the level whose results were used (None: results carried no level)
    label: str  # the dominant final label
    share: float  # its share of the task's weight, 0..1
    seconds: float  # seconds covered by the task's results at that level
    confidence: float | None  # weighted mean posterior of the label where it was final
    results: int  # results counted


@dataclass(frozen=True, slots=True)
class Summary:
    tasks: tuple[TaskSummary, ...] = ()

    @property
    def verdict(self) -> TaskSummary | None:
        """The deepfake task's summary, if the stream had one."""
        for task in self.tasks:
            if task.task == DEEPFAKE_TASK:
                return task
        return None

    def get(self, task: str) -> TaskSummary | None:
        for t in self.tasks:
            if t.task == task:
                return t
        return None


def _duration(result: Result) -> float:
    start, end = result.start, result.end
    if start is None or end is None or end <= start:
        return 0.0
    return end - start


def _summarize_task(task: str, results: list[Result]) -> TaskSummary | None:
    by_level: dict[str | None, list[Result]] = {}
    for r in results:
        by_level.setdefault(r.level, []).append(r)

    def covered(level: str | None) -> tuple[float, int, bool]:
        rs = by_level[level]
        return (sum(_duration(r) for r in rs), len(rs), level == "utterance")

    level = max(by_level, key=covered)
    chosen = [r for r in by_level[level] if r.final_label != ""]
    if not chosen:
        return None
    seconds = sum(_duration(r) for r in chosen)
    use_time = seconds > 0

    weights: dict[str, float] = {}
    for r in chosen:
        weights[r.final_label] = weights.get(r.final_label, 0.0) + (_duration(r) if use_time else 1.0)
    total = sum(weights.values())
    label = max(weights, key=lambda k: weights[k])  # first seen wins ties (dicts keep order)

    num = den = 0.0
    for r in chosen:
        if r.final_label != label:
            continue
        p = r.final_posterior
        if p is None:
            continue
        w = _duration(r) if use_time else 1.0
        num += p * w
        den += w
    confidence = num / den if den > 0 else None
    return TaskSummary(
        task=task,
        level=level,
        label=label,
        share=weights[label] / total if total > 0 else 0.0,
        seconds=seconds,
        confidence=confidence,
        results=len(chosen),
    )


def summarize(messages: Iterable[ResultMessage]) -> Summary:
    """Summaries for every task seen, in the order tasks first appeared."""
    by_task: dict[str, list[Result]] = {}
    for message in messages:
        for result in message.results:
            by_task.setdefault(result.task, []).append(result)
    tasks = []
    for task, results in by_task.items():
        summary = _summarize_task(task, results)
        if summary is not None:
            tasks.append(summary)
    return Summary(tasks=tuple(tasks))
