"""The end-of-run report: one row per input with its duration, status, time taken and the
dominant labels or the deepfake verdict. Pure, except :func:`build_report_table`, which builds
a Rich table (rich is imported there, lazily).

Terminal (stderr a TTY), :func:`build_report_table` (colourless here)::

     input               duration   status                  time   result
    ─────────────────────────────────────────────────────────────────────────────────────────
     calls/a.wav           12.3 s   ok                     1.2 s   emotion neutral 64% · gender male 91%
     calls/missing.wav          -   input error (4)        0.0 s
     b.mp3                   1:15   fail-on match (10)   1:02:05   SPOOFED 82%
    3 inputs: 1 ok, 1 input error, 1 fail-on match

Elsewhere, :func:`plain_report_lines`, one line per input then the totals::

    calls/a.wav: ok, audio 12.3 s, took 1.2 s, emotion neutral 64% · gender male 91%
    calls/missing.wav: input error (4), took 0.0 s
    b.mp3: fail-on match (10), audio 1:15, took 1:02:05, SPOOFED 82%
    3 inputs: 1 ok, 1 input error, 1 fail-on match

Status words (:func:`status_word`): ``ok``, ``fail-on match (10)``, ``input error (4)``,
``service error (1)``, ``connection (5)``, ``output error (6)``, ``auth (3)``, ``usage (2)``,
``interrupted (130)``, ``terminated (143)`` (SIGTERM), ``skipped`` (``--skip-done``: the
complete output already existed), ``not started`` (the run was interrupted before this
input's turn came); an unknown code shows as ``exit N``. After an interrupt every input still
has its line: done (its status), ``interrupted (130)`` or ``terminated (143)`` (it was
streaming) or ``not started``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bsstream.display import display_text, format_share
from bsstream.protocol.summary import DEEPFAKE_TASK, Summary
from bsstream.status import ExitStatus

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "InputReport",
    "build_report_table",
    "format_seconds",
    "headline",
    "plain_report_lines",
    "report_totals",
    "status_word",
]

_WORDS: dict[int, str] = {
    ExitStatus.SUCCESS: "ok",
    ExitStatus.FAIL_ON_MATCH: "fail-on match",
    ExitStatus.INPUT: "input error",
    ExitStatus.SERVICE_ERROR: "service error",
    ExitStatus.CONNECTION: "connection",
    ExitStatus.OUTPUT: "output error",
    ExitStatus.AUTH: "auth",
    ExitStatus.USAGE: "usage",
    ExitStatus.INTERRUPTED: "interrupted",
    ExitStatus.TERMINATED: "terminated",
}
SKIPPED = "skipped"
NOT_STARTED = "not started"


@dataclass(frozen=True, slots=True)
class InputReport:
    """One input's line in the report.

    ``duration``: audio seconds (known up front or sent), None when unknown; ``status``: the
    input's ExitStatus value (after ``--fail-on``); ``headline``: see :func:`headline`;
    ``skipped``: not streamed because its complete output already existed (``--skip-done``);
    ``not_started``: not streamed because the run was interrupted before its turn.
    """

    source: str
    duration: float | None
    status: int
    wall_seconds: float
    headline: str = ""
    skipped: bool = False
    not_started: bool = False


def status_word(code: int) -> str:
    """``ok`` for 0, else the word and the code: ``input error (4)``, ``fail-on match (10)``."""
    word = _WORDS.get(int(code))
    if word is None:
        return f"exit {int(code)}"
    return word if code == ExitStatus.SUCCESS else f"{word} ({int(code)})"


def _status_text(report: InputReport) -> str:
    if report.not_started:
        return NOT_STARTED
    return SKIPPED if report.skipped else status_word(report.status)


def _streamed(report: InputReport) -> bool:
    """Whether the input was streamed (and so has a time taken)."""
    return not (report.skipped or report.not_started)


def format_seconds(seconds: float | None) -> str:
    """``12.3 s`` below a minute, ``1:02`` (m:ss) below an hour, ``1:02:03`` above; ``-`` if unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def headline(summary: Summary, *, max_tasks: int | None = None) -> str:
    """The dominant labels, ``emotion neutral 64% · gender male 91%``, or for a deepfake stream
    the verdict, ``SPOOFED 82%`` (first, when other tasks are present too). ``max_tasks``
    limits the other tasks shown (``+N more`` says how many were left out). Empty without
    results.
    """
    parts: list[str] = []
    for verdict in summary.verdicts:  # one per channel with --channels split: "[agent] BONAFIDE 97%"
        channel = "" if verdict.channel_label is None else f"[{display_text(verdict.channel_label)}] "
        parts.append(f"{channel}{display_text(verdict.label).upper()} {format_share(verdict.share)}")
    others = [t for t in summary.tasks if t.task != DEEPFAKE_TASK]
    shown = others if max_tasks is None else others[: max(max_tasks, 0)]
    parts.extend(f"{display_text(t.title)} {display_text(t.label)} {format_share(t.share)}" for t in shown)
    if len(shown) < len(others):
        parts.append(f"+{len(others) - len(shown)} more")
    return " · ".join(parts)


def report_totals(reports: Sequence[InputReport]) -> str:
    """``3 inputs: 2 ok, 1 input error`` (kinds in the order first seen)."""
    counts: dict[str, int] = {}
    for r in reports:
        if r.not_started:
            word = NOT_STARTED
        else:
            word = SKIPPED if r.skipped else _WORDS.get(int(r.status), f"exit {int(r.status)}")
        counts[word] = counts.get(word, 0) + 1
    noun = "input" if len(reports) == 1 else "inputs"
    detail = ", ".join(f"{n} {word}" for word, n in counts.items())
    return f"{len(reports)} {noun}: {detail}" if detail else f"0 {noun}"


def _style(report: InputReport) -> str:
    if not _streamed(report):
        return "dim"
    if report.status == ExitStatus.SUCCESS:
        return "green"
    if report.status == ExitStatus.FAIL_ON_MATCH:
        return "yellow"
    return "red"


def build_report_table(reports: Iterable[InputReport]) -> Table:
    """The end-of-run table: input, duration, status, time, result; totals as the caption."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = list(reports)
    table = Table(
        box=box.SIMPLE_HEAD,
        caption=Text(report_totals(rows)),
        caption_justify="left",
        show_edge=False,
    )
    table.add_column("input", overflow="fold")
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("result", overflow="fold")
    for r in rows:
        table.add_row(
            Text(display_text(r.source)),
            Text(format_seconds(r.duration)),
            Text(_status_text(r), style=_style(r)),
            Text(format_seconds(r.wall_seconds) if _streamed(r) else "-"),
            Text(r.headline),
        )
    return table


def plain_report_lines(reports: Iterable[InputReport]) -> list[str]:
    """The report as plain lines (for a non-terminal stderr): one per input, then the totals."""
    rows = list(reports)
    lines = []
    for r in rows:
        parts = [_status_text(r)]
        if r.duration is not None:
            parts.append(f"audio {format_seconds(r.duration)}")
        if _streamed(r):
            parts.append(f"took {format_seconds(r.wall_seconds)}")
        if r.headline:
            parts.append(r.headline)
        lines.append(f"{display_text(r.source)}: {', '.join(parts)}")
    lines.append(report_totals(rows))
    return lines
