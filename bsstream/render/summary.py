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

With ``--channels split`` the summary has one entry per task and channel: the task is named
with its channel (``summary gender [agent] male 100% ...``; ``[ch0]`` without
``--channel-names``), and there is one verdict line per channel
(``Deepfake verdict [agent]: BONAFIDE — ...``), in channel order.
"""

from __future__ import annotations

import math
from typing import Any

from bsstream.protocol.summary import Summary, TaskSummary
from bsstream.render import display_text, format_posterior

__all__ = [
    "format_share",
    "summary_line",
    "summary_lines",
    "summary_to_dict",
    "verdict_line",
    "verdict_lines",
]


def format_share(task: TaskSummary) -> str:
    """``64%``: the dominant label's share, as a whole percentage (``?%`` if not a number)."""
    return f"{task.share * 100:.0f}%" if math.isfinite(task.share) else "?%"


def summary_line(task: TaskSummary) -> str:
    """One task's plain summary line (see the module docstring for the format)."""
    parts = ["summary", display_text(task.title), display_text(task.label), format_share(task)]
    confidence = format_posterior(task.confidence)
    if confidence is not None:
        parts += ["confidence", confidence]
    if task.level is not None:
        parts += ["level", display_text(task.level)]
    return " ".join(parts)


def task_verdict_line(task: TaskSummary) -> str:
    """One deepfake summary as a verdict line (its channel named, with split)."""
    of = "of speech" if task.seconds > 0 else "of results"
    label = task.channel_label
    head = "Deepfake verdict" if label is None else f"Deepfake verdict [{display_text(label)}]"
    line = f"{head}: {display_text(task.label).upper()} — {format_share(task)} {of}"
    confidence = format_posterior(task.confidence)
    if confidence is not None:
        line += f", confidence {confidence}"
    return line


def verdict_line(summary: Summary) -> str | None:
    """The deepfake verdict (``Deepfake verdict: SPOOFED — 82% of speech, confidence 0.91``),
    or None when the stream had no deepfake results (or split channels: see
    :func:`verdict_lines`)."""
    task = summary.verdict
    return None if task is None else task_verdict_line(task)


def verdict_lines(summary: Summary) -> list[str]:
    """Every verdict line: the one of a mixed stream, or one per channel with split."""
    return [task_verdict_line(t) for t in summary.verdicts]


def summary_lines(summary: Summary) -> list[str]:
    """Every task's summary line, in the order tasks first appeared, then the verdict line(s)."""
    return [summary_line(t) for t in summary.tasks] + verdict_lines(summary)


def _round(value: float | None, digits: int) -> float | None:
    """Rounded for readable exports; None for a missing or non-finite value (strict JSON)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def task_summary_to_dict(task: TaskSummary) -> dict[str, Any]:
    """One task's summary as JSON-ready data (strings as the service sent them); with split
    also ``channel`` (0-based) and ``channel_name`` (when named)."""
    out: dict[str, Any] = {
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


def summary_to_dict(summary: Summary) -> dict[str, Any]:
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
