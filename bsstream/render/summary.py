"""The end-of-stream summary as plain lines and as a JSON-ready dict (pure; reused by exports).

Plain summary line, one per task, fields separated by single spaces::

    summary <task> <dominant label> <share>% [confidence <0.00>] [level <level>]

e.g. ``summary emotion neutral 64% confidence 0.71 level segment``. ``share`` is the dominant
label's share of the task's speech time (of its results when no result had usable times),
``confidence`` the time-weighted mean posterior of that label where it was final, ``level``
the result level the summary used. Missing parts are omitted, never printed as placeholders.

The deepfake verdict line (only when the stream had a ``deepfake`` task)::

    Deepfake verdict: SPOOFED — 82% of speech, confidence 0.91

The label is whatever the dominant label was, upper-cased; "of results" replaces "of speech"
when the results carried no usable times.
"""

from __future__ import annotations

import math
from typing import Any

from bsstream.protocol.summary import Summary, TaskSummary
from bsstream.render import display_text, format_posterior

__all__ = ["format_share", "summary_line", "summary_lines", "summary_to_dict", "verdict_line"]


def format_share(task: TaskSummary) -> str:
    """``64%``: the dominant label's share, as a whole percentage (``?%`` if not a number)."""
    return f"{task.share * 100:.0f}%" if math.isfinite(task.share) else "?%"


def summary_line(task: TaskSummary) -> str:
    """One task's plain summary line (see the module docstring for the format)."""
    parts = ["summary", display_text(task.task), display_text(task.label), format_share(task)]
    confidence = format_posterior(task.confidence)
    if confidence is not None:
        parts += ["confidence", confidence]
    if task.level is not None:
        parts += ["level", display_text(task.level)]
    return " ".join(parts)


def verdict_line(summary: Summary) -> str | None:
    """The deepfake verdict (``Deepfake verdict: SPOOFED — 82% of speech, confidence 0.91``),
    or None when the stream had no deepfake results."""
    task = summary.verdict
    if task is None:
        return None
    of = "of speech" if task.seconds > 0 else "of results"
    line = f"Deepfake verdict: {display_text(task.label).upper()} — {format_share(task)} {of}"
    confidence = format_posterior(task.confidence)
    if confidence is not None:
        line += f", confidence {confidence}"
    return line


def summary_lines(summary: Summary) -> list[str]:
    """Every task's summary line, in the order tasks first appeared, then the verdict line."""
    lines = [summary_line(t) for t in summary.tasks]
    verdict = verdict_line(summary)
    if verdict is not None:
        lines.append(verdict)
    return lines


def _round(value: float | None, digits: int) -> float | None:
    """Rounded for readable exports; None for a missing or non-finite value (strict JSON)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def task_summary_to_dict(task: TaskSummary) -> dict[str, Any]:
    """One task's summary as JSON-ready data (strings as the service sent them)."""
    return {
        "task": task.task,
        "label": task.label,
        "share": _round(task.share, 4),
        "seconds": _round(task.seconds, 3),
        "confidence": _round(task.confidence, 4),
        "level": task.level,
        "results": task.results,
    }


def summary_to_dict(summary: Summary) -> dict[str, Any]:
    """The summary as JSON-ready data::

        {"tasks": [{"task": "emotion", "label": "neutral", "share": 0.64, "seconds": 12.0,
                    "confidence": 0.71, "level": "segment", "results": 6}, ...],
         "verdict": {...the deepfake task's entry...} | null}

    ``share`` is 0..1 (4 decimals), ``seconds`` 3 decimals, ``confidence`` 4 decimals or null.
    """
    verdict = summary.verdict
    return {
        "tasks": [task_summary_to_dict(t) for t in summary.tasks],
        "verdict": None if verdict is None else task_summary_to_dict(verdict),
    }
