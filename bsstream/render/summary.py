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

from bsstream.display import format_share as share_text
from bsstream.protocol.summary import Summary, TaskSummary, summary_to_dict
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
    return share_text(task.share)


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
