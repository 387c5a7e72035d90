"""``.srt`` and ``.vtt`` export: subtitles a person can read over the recording.

One level, one input per file; each cue at most :data:`MAX_LINES` lines of at most
:data:`MAX_LINE` characters; cues never overlap. A cue shows one result window's labels as
``task label NN%`` joined by `` · `` (the final label and its posterior as a percentage;
ranges like ``23 - 30`` as ``23–30``; ``_`` in a task name as a space)::

    1
    00:00:00,040 --> 00:00:06,120
    emotion neutral 59% · gender male 58%
    age 46–65 59% · positivity neutral 62%

What goes in (:class:`SubtitleOptions`, ``--subtitle-level`` and ``--subtitle-tasks``):

- **Level**: ``utterance`` (default) or ``segment``. An input without results of that level
  uses what it has (results without a level tag, else the other level); the VTT's ``NOTE``
  says which level a file shows.
- **Tasks**: the given names in the given order (``all``: every task with a label, in the
  order first seen). A name absent from the results is simply absent (no error). Default
  :data:`DEFAULT_TASKS` (``deepfake,emotion,gender,age,positivity``): the four analysis tasks
  that always fit two lines, and the deepfake verdict; when none of them is in the results
  (another service's tasks), every task with a label is shown. Tasks with an empty final
  label (``features``) never show.
- ``--channels split``: each cue (each page) starts with its channel, ``agent: `` (its
  ``--channel-names`` name, else ``ch0: ``, ``ch1: ``). While two channels' windows overlap,
  the cue stacks them, one line per channel in channel order (``agent: ...`` over
  ``customer: ...``; with more channels, the two that started last).

How it is laid out (:func:`cue_lines`, :func:`build_cues`):

- Parts are packed in order into lines of at most 42 characters (a part longer than a line is
  wrapped at spaces, a word longer than a line is cut). More than two lines: the window is
  shown as consecutive cues of two lines each (pages, each with the channel prefix),
  time-sliced, in order.
- A window longer than :data:`MAX_CUE_SECONDS` (7 s) is cut into equal consecutive cues of
  at most 7 s; the pages take turns over them (a 49 s utterance with two pages: 8 cues of
  6.1 s, pages 1, 2, 1, 2, ...).
- Overlapping windows of one channel (scan's two methods with different windows, odd times):
  the window that started last is shown; one it covered shows again when that one ends (a
  rest shorter than :data:`MIN_REST_SECONDS` is dropped). Windows of the same times are one
  cue.
- A window shorter than 0.5 s (zero or negative length too) is shown for 0.5 s; negative
  times are clamped to 0; results with unparseable times are skipped.

Several inputs (:func:`per_input_paths`): one file per input, never one timeline:
``--output x.srt`` with ``calls/a.wav`` and ``calls/b.wav`` writes ``x.a.srt`` and ``x.b.srt``
(the input's file name without its extension; ``stdin`` for ``-``; characters other than
letters, digits, ``.``, ``-`` and ``_`` become ``_``; two inputs with the same name use their
whole relative path, ``calls_2024_a.wav``). ``x.srt`` itself is written only when the run has
one input (``replay``: when the file holds one input's results).
Each file is complete or partial (``x.b.partial.srt``) on its own: an input that ended with
status 0 or 10 is complete; an input that never began has no file.

Escaping (labels are the service's text, not markup):

- Control characters and newlines become spaces.
- SRT has no escape mechanism that players agree on: ffmpeg/libass (mpv, VLC with libass)
  read ``<...>`` as a tag (even ``< b >``; an unknown one like ``</script>`` vanishes), do not
  decode ``&lt;`` (it shows literally), and read ``{...}`` as an ASS override block and ``\\N``
  as a line break. So ``<`` ``>`` become the lookalikes ``‹`` ``›`` (U+2039, U+203A),
  ``{`` ``}`` become ``❴`` ``❵`` (U+2774, U+2775) and ``\\`` becomes ``⧵`` (U+29F5); ``&``
  stays as it is (so ``&amp;`` shows as ``&amp;``). No ``-->`` can remain.
- VTT: ``&``, ``<``, ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` (the WebVTT rules), so no ``-->``
  appears in a cue's text.

UTF-8 without BOM, LF line ends, a blank line after every cue. SRT: numbered from 1,
``HH:MM:SS,mmm``; VTT: ``WEBVTT`` header, ``HH:MM:SS.mmm``.

Provenance (:func:`provenance_lines`):

- VTT: a ``NOTE`` block right after the header, always: the bsstream version, the source as
  given and the method(s), whether the results come from the local emulator, the level and
  tasks shown, and, for a partial file (``NAME.partial.vtt``), that it is partial and why.
  Players do not show it.
- SRT has no comments, so what matters is said in a first cue, shown for the first
  :data:`NOTICE_SECONDS` s (at most half the results' span: a 2 s recording gets 1 s) over
  whatever starts then (what it covers shows when it ends), and only when there is something to
  warn about: ``[emulator results, not Behavioral Signals]`` for emulated results,
  ``[partial: <why>]`` for a partial file (a long reason: ``[partial: the run did not
  complete]``). Complete results from the service get no extra cue.
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bsstream.export.atomic import AtomicFile, CollectingExport, StreamRecord
from bsstream.export.partial import COMPLETE_STATUSES, partial_path, status_reason
from bsstream.protocol.results import Result, ResultMessage
from bsstream.status import UsageError

MAX_LINE = 42  # characters per line (the common broadcast and Netflix limit)
MAX_LINES = 2  # lines per cue
MAX_CUE_SECONDS = 7.0  # a longer window is cut into consecutive cues
MIN_CUE_SECONDS = 0.5
MIN_REST_SECONDS = 0.3  # the rest of a covered window shorter than this is not shown again
NOTICE_SECONDS = 4.0  # how long the SRT's first (provenance) cue shows
EMULATED_NOTICE = "[emulator results, not Behavioral Signals]"
PARTIAL_NOTICE_MAX = 30  # a longer reason is only in the other formats: a cue line stays short
LEVELS = ("utterance", "segment")
DEFAULT_LEVEL = "utterance"
DEFAULT_TASKS = ("deepfake", "emotion", "gender", "age", "positivity")
ALL_TASKS = "all"
SEPARATOR = " · "
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_RANGE = re.compile(r"(\d)\s+-\s+(\d)")
_SRT_SAFE = str.maketrans({"<": "\u2039", ">": "\u203a", "{": "\u2774", "}": "\u2775", "\\": "\u29f5"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class SubtitleOptions:
    """What a subtitle file shows: ``--subtitle-level`` and ``--subtitle-tasks``."""

    level: str = DEFAULT_LEVEL
    tasks: tuple[str, ...] | None = None  # None: DEFAULT_TASKS; (ALL_TASKS,): every task
    per_input: bool | None = None  # a file per input; None: when the results are of several

    def describe(self) -> str:
        if self.tasks is None:
            return ",".join(DEFAULT_TASKS) + " (default)"
        return ",".join(self.tasks)


def parse_subtitle_tasks(text: str | None) -> tuple[str, ...] | None:
    """``--subtitle-tasks TASK[,TASK...]`` (or ``all``); None for the default. UsageError for
    an empty list or name."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not names or any(not name for name in names):
        raise UsageError(
            f"--subtitle-tasks {text!r}: give task names separated by commas",
            hint="e.g. --subtitle-tasks emotion,gender (or all)",
        )
    if ALL_TASKS in names:
        return (ALL_TASKS,)
    return tuple(dict.fromkeys(names))


def subtitle_options(level: str | None, tasks: str | None, *, several: bool | None = None) -> SubtitleOptions:
    """The options from the command line's values (UsageError for bad ones); ``several``: the
    run has several inputs (a file per input even if only one of them streams)."""
    chosen = level or DEFAULT_LEVEL
    if chosen not in LEVELS:
        raise UsageError(f"--subtitle-level {chosen!r}: choose utterance or segment")
    return SubtitleOptions(chosen, parse_subtitle_tasks(tasks), several)


@dataclass
class Cue:
    start: float
    end: float
    text: str


@dataclass(eq=False)  # compared by identity
class _Window:
    key: tuple[str, float, float, str | None]  # channel label, start, end, level
    start: float
    end: float
    level: str | None
    order: int
    parts: dict[str, str] = field(default_factory=dict)
    priority: int = 0  # the SRT's notice: shown over everything
    pages: list[list[str]] = field(default_factory=list)


def _clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _percent(posterior: float | None) -> str:
    if posterior is None:
        return ""
    if 0.0 <= posterior <= 1.0:
        return f" {round(posterior * 100)}%"
    return f" {posterior:.2f}"


def part_text(task: str, label: str, posterior: float | None) -> str:
    """``age 23–30 64%``: the task (``_`` as a space), the label (a number range with an en
    dash), the posterior as a percentage (two decimals if it is not in 0..1)."""
    name = _clean(task.replace("_", " "))
    shown = _RANGE.sub("\\1\u2013\\2", _clean(label))
    text = f"{name} {shown}".strip()
    return text + _percent(posterior)


def _channel_label(message: ResultMessage) -> str:
    if message.channel is None:
        return ""
    return _clean(message.channel_name) if message.channel_name else f"ch{message.channel}"


class _Collector:
    """The windows of one input's results, for the chosen tasks."""

    def __init__(self, tasks: tuple[str, ...] | None) -> None:
        self.explicit = tasks is not None and tasks != (ALL_TASKS,)
        self.every = tasks == (ALL_TASKS,)
        self.wanted: tuple[str, ...] = tasks if tasks is not None and self.explicit else DEFAULT_TASKS
        self.windows: dict[tuple[str, float, float, str | None], _Window] = {}
        self.all_parts: dict[tuple[str, float, float, str | None], dict[str, str]] = {}

    def add(self, channel: str, result: Result) -> None:
        start, end = result.start, result.end
        if start is None or end is None or not result.final_label.strip():
            return
        key = (channel, start, end, result.level)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = _Window(key, start, end, result.level, len(self.windows))
            self.all_parts[key] = {}
        text = part_text(result.task, result.final_label, result.final_posterior)
        self.all_parts[key][result.task] = text
        if result.task in self.wanted:
            window.parts[result.task] = text

    def chosen(self) -> list[_Window]:
        """The windows with their parts in the order shown (see the module docstring)."""
        use_all = self.every or (not self.explicit and not any(w.parts for w in self.windows.values()))
        for key, window in self.windows.items():
            if use_all:
                window.parts = dict(self.all_parts[key])
            else:
                rank = {task: i for i, task in enumerate(self.wanted)}
                window.parts = dict(sorted(window.parts.items(), key=lambda kv: rank[kv[0]]))
        return [w for w in self.windows.values() if w.parts]


def pick_level(windows: Iterable[_Window], wanted: str) -> str | None:
    """The level a file shows: ``wanted`` if there are such windows, else windows without a
    level, else the other level (else any other level name, sorted)."""
    present = {w.level for w in windows}
    if wanted in present or not present:
        return wanted
    if None in present:
        return None
    others = [level for level in LEVELS if level in present] or sorted(str(x) for x in present)
    return others[0]


def wrap_parts(parts: Sequence[str], width: int = MAX_LINE) -> list[str]:
    """The parts packed in order into lines of at most ``width`` characters, joined by
    `` · `` on a line; a part longer than a line is wrapped on its own lines."""
    lines: list[str] = []
    current = ""
    for part in parts:
        if len(part) > width:
            if current:
                lines.append(current)
            pieces = textwrap.wrap(part, width, break_long_words=True, break_on_hyphens=False)
            lines.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
        elif current and len(current) + len(SEPARATOR) + len(part) <= width:
            current += SEPARATOR + part
        else:
            if current:
                lines.append(current)
            current = part
    if current:
        lines.append(current)
    return lines


def cue_lines(parts: Sequence[str], prefix: str = "") -> list[str]:
    """The lines of a window: ``prefix`` (``agent: ``) glued to the first part."""
    items = list(parts)
    if prefix and items:
        items[0] = prefix + items[0]
    return wrap_parts(items)


Shown = tuple[_Window, ...]  # what one cue shows: one window, or one per channel (stacked)


def _shown(active: Sequence[_Window]) -> Shown:
    """Among the windows active at a moment: the notice if it is; else, per channel, the one
    that started last (then the one ending first); of several channels the :data:`MAX_LINES`
    that started last, in channel order."""
    notice = [w for w in active if w.priority]
    if notice:
        return (notice[0],)
    top: dict[str, _Window] = {}
    for w in active:
        best = top.get(w.key[0])
        if best is None or (w.start, -w.end, -w.order) > (best.start, -best.end, -best.order):
            top[w.key[0]] = w
    latest = sorted(top.values(), key=lambda w: (w.start, -w.order), reverse=True)[:MAX_LINES]
    return tuple(sorted(latest, key=lambda w: w.key[0]))


def visible_pieces(windows: Sequence[_Window]) -> list[tuple[float, float, Shown]]:
    """What shows when, without overlap (see :func:`_shown`); a covered window shows again
    after the one covering it ends (unless only a sliver of it is left)."""
    bounds = sorted({t for w in windows for t in (w.start, w.end)})
    todo = sorted(windows, key=lambda w: w.start)
    active: list[_Window] = []
    pieces: list[tuple[float, float, Shown]] = []
    i = 0
    for left, right in itertools.pairwise(bounds):
        while i < len(todo) and todo[i].start <= left:
            active.append(todo[i])
            i += 1
        active = [w for w in active if w.end > left]
        if not active:
            continue
        _extend(pieces, left, right, _shown(active))
    return [p for p in pieces if _worth_showing(p)]


def _extend(pieces: list[tuple[float, float, Shown]], left: float, right: float, shown: Shown) -> None:
    """Add [left, right) showing ``shown``: it lengthens the last piece when that shows the same."""
    if pieces and pieces[-1][2] == shown and pieces[-1][1] == left:
        pieces[-1] = (pieces[-1][0], right, shown)
    else:
        pieces.append((left, right, shown))


def _worth_showing(piece: tuple[float, float, Shown]) -> bool:
    """A piece where a window starts, or a rest long enough to read."""
    start, end, shown = piece
    return any(start == w.start for w in shown) or end - start >= MIN_REST_SECONDS


def _stacked_pages(shown: Shown) -> list[list[str]]:
    """Several channels at once: one line each, their pages taking turns together."""
    rows = [cue_pages(list(w.parts.values()), _prefix(w), max_lines=1) for w in shown]
    count = max(len(row) for row in rows)
    return [[row[n % len(row)][0] for row in rows] for n in range(count)]


def _prefix(window: _Window) -> str:
    return f"{window.key[0]}: " if window.key[0] else ""


def cue_pages(parts: Sequence[str], prefix: str = "", max_lines: int = MAX_LINES) -> list[list[str]]:
    """A window's pages of at most ``max_lines`` lines: as many parts per page as fit, each
    page starting with ``prefix`` (a part too long for one page fills pages of its own)."""
    pages: list[list[str]] = []
    todo = list(parts)
    while todo:
        k = 1
        while k < len(todo) and len(cue_lines(todo[: k + 1], prefix)) <= max_lines:
            k += 1
        lines = cue_lines(todo[:k], prefix)
        pages.extend(lines[i : i + max_lines] for i in range(0, len(lines), max_lines))
        todo = todo[k:]
    return pages


def slice_piece(start: float, end: float, pages: Sequence[Sequence[str]]) -> list[Cue]:
    """One visible piece as cues: the pages taking turns over equal slices of at most
    :data:`MAX_CUE_SECONDS`."""
    count = max(len(pages), math.ceil((end - start) / MAX_CUE_SECONDS - 1e-9))
    step = (end - start) / count
    return [
        Cue(
            start + n * step,
            end if n == count - 1 else start + (n + 1) * step,
            "\n".join(pages[n % len(pages)]),
        )
        for n in range(count)
    ]


def _collect(records: Iterable[StreamRecord], options: SubtitleOptions) -> list[_Window]:
    collector = _Collector(options.tasks)
    for record in records:
        for message in record.messages:
            channel = _channel_label(message)
            for result in message.results:
                collector.add(channel, result)
    windows = collector.chosen()
    level = pick_level(windows, options.level)
    return [w for w in windows if w.level == level]


def build_cues(
    records: Iterable[StreamRecord], options: SubtitleOptions | None = None, notice: Sequence[str] = ()
) -> list[Cue]:
    """The cues of one input's streams (one level, the chosen tasks), in time order, without
    overlap, each at most two lines of 42 characters; text not yet escaped. ``notice``: the
    lines of a first cue shown over everything else for :data:`NOTICE_SECONDS` (at most half of
    the time up to the last window's end, so a short recording still shows its results)."""
    windows = _collect(records, options or SubtitleOptions())
    for w in windows:
        w.start = max(w.start, 0.0)
        w.end = max(w.end, w.start + MIN_CUE_SECONDS)
        w.pages = cue_pages(list(w.parts.values()), _prefix(w))
    if notice:
        lines = wrap_parts([_clean(x) for x in notice])
        span = max((w.end for w in windows), default=2 * NOTICE_SECONDS)
        until = min(NOTICE_SECONDS, span / 2)
        windows.append(_Window(("", 0.0, until, None), 0.0, until, None, -1, priority=1, pages=[lines]))
    cues: list[Cue] = []
    for start, end, shown in visible_pieces(windows):
        cues.extend(slice_piece(start, end, shown[0].pages if len(shown) == 1 else _stacked_pages(shown)))
    return cues


def per_input_paths(path: Path, sources: Sequence[str]) -> dict[str, Path]:
    """``x.srt`` -> ``x.<input>.srt`` for each source (naming rules in the module docstring)."""

    def safe(text: str) -> str:
        return _NAME_UNSAFE.sub("_", text).strip("._") or "input"

    def stem(source: str) -> str:
        tail = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return safe(Path(tail).stem if "." in tail.lstrip(".") else tail)

    names = {s: stem(s) for s in sources}
    clashing = {n for n in names.values() if list(names.values()).count(n) > 1}
    names = {s: (safe(s.replace("/", "_")) if n in clashing else n) for s, n in names.items()}
    taken: dict[str, int] = {}
    out: dict[str, Path] = {}
    for source in sorted(sources):
        name = names[source]
        taken[name] = taken.get(name, 0) + 1
        if taken[name] > 1:
            name = f"{name}-{taken[name]}"
        out[source] = path.with_name(f"{path.stem}.{name}{path.suffix}")
    return out


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def srt_timestamp(seconds: float) -> str:
    return _timestamp(seconds, ",")


def vtt_timestamp(seconds: float) -> str:
    return _timestamp(seconds, ".")


def vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def srt_escape(text: str) -> str:
    """Label text that SRT players show literally (see the module docstring)."""
    return text.translate(_SRT_SAFE)


def _emulated(records: Sequence[StreamRecord]) -> bool:
    return any(r.info.emulated for r in records)


def _fact(singular: str, values: Sequence[str]) -> list[str]:
    """``source: a`` / ``sources: a, b``; nothing for no values."""
    if not values:
        return []
    return [f"{singular if len(values) == 1 else singular + 's'}: " + ", ".join(values)]


def provenance_lines(
    export: CollectingExport,
    records: Sequence[StreamRecord] | None = None,
    reason: str | None = None,
    options: SubtitleOptions | None = None,
) -> list[str]:
    """Where the results come from, one fact per line (the VTT's NOTE block): for ``records``
    (one input's) and ``reason``, else for every stream of ``export`` and its partial reason."""
    from bsstream.version import __version__

    streams = export.streams if records is None else records
    if records is None:
        reason = export.partial_reason
    versions = [r.info.version for r in streams if r.info.version]
    lines = [f"bsstream {versions[0] if versions else __version__}"]
    lines += _fact("source", list(dict.fromkeys(_clean(r.source) for r in streams if r.source)))
    lines += _fact("method", list(dict.fromkeys(r.info.method for r in streams if r.info.method)))
    if _emulated(streams):
        lines.append("emulated: results from the local emulator, not Behavioral Signals models")
    else:
        lines.append("emulated: no")
    if options is not None:
        lines.append(_subtitles_fact(streams, options))
    if reason is not None:
        lines.append(f"PARTIAL: {_clean(reason)}")
    return lines


def _subtitles_fact(records: Sequence[StreamRecord], options: SubtitleOptions) -> str:
    """``subtitles: utterance; tasks ...``: the level the file shows and the tasks asked for."""
    windows = _collect(records, options)
    level = windows[0].level if windows else options.level
    return f"subtitles: {level or 'results without a level'}; tasks {options.describe()}"


def srt_notice(records: Sequence[StreamRecord], reason: str | None) -> list[str]:
    """The lines of the SRT's first cue; empty when there is nothing to warn about."""
    lines = []
    if _emulated(records):
        lines.append(EMULATED_NOTICE)
    if reason is not None:
        why = _clean(reason)
        if len(why) > PARTIAL_NOTICE_MAX:
            why = "the run did not complete"
        lines.append(f"[partial: {why}]")
    return lines


def _record_reason(records: Sequence[StreamRecord]) -> str | None:
    """Why one input's file is partial: its stream did not end, or ended badly."""
    for record in records:
        outcome = record.outcome
        if outcome is None:
            return "did not finish"
        if int(outcome.status) not in COMPLETE_STATUSES:
            return status_reason(int(outcome.status), outcome.error)
    return None


class SubtitleExport(CollectingExport):
    """Sink writing subtitles on ``close()``: one file per input (see the module docstring)."""

    def __init__(self, path: str | Path, options: SubtitleOptions | None = None) -> None:
        super().__init__(path)
        self.options = options or SubtitleOptions()
        self.files: list[tuple[Path, Path]] = []  # (requested, written) per input file

    def render(self) -> str:
        return self.render_input(self.streams, self.partial_reason)

    def render_input(self, records: Sequence[StreamRecord], reason: str | None) -> str:
        raise NotImplementedError

    def _sources(self) -> list[str]:
        return list(dict.fromkeys(r.source for r in self.streams))

    def close(self) -> None:
        """One input: the requested name (see :class:`CollectingExport`). Several: a file per
        input, each complete or partial on its own."""
        if self._closed:
            return
        sources = self._sources()
        several = self.options.per_input
        if not (len(sources) > 1 if several is None else several):
            super().close()
            if self.written is not None:
                self.files = [(self.path, self.written)]
            return
        self._closed = True
        self._write_per_input(sources)

    def _write_per_input(self, sources: Sequence[str]) -> None:
        partial = False
        for source, path in per_input_paths(self.path, sources).items():
            records = [r for r in self.streams if r.source == source]
            reason = _record_reason(records)
            target = path if reason is None else partial_path(path)
            partial = partial or reason is not None
            with AtomicFile(path) as f:
                f.write_text(self.render_input(records, reason))
                f.commit(to=target)
            self.files.append((path, target))
        # one name for callers that read only ``written`` (partial_text reads ``files``)
        if self.files:
            self.written = self.path if not partial else next(t for p, t in self.files if p != t)


class SrtExport(SubtitleExport):
    """Sink writing SubRip subtitles on ``close()``."""

    def render_input(self, records: Sequence[StreamRecord], reason: str | None) -> str:
        out = []
        cues = build_cues(records, self.options, srt_notice(records, reason))
        for n, cue in enumerate(cues, start=1):
            out.append(
                f"{n}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{srt_escape(cue.text)}\n\n"
            )
        return "".join(out)


class VttExport(SubtitleExport):
    """Sink writing WebVTT subtitles on ``close()``."""

    def render_input(self, records: Sequence[StreamRecord], reason: str | None) -> str:
        lines = provenance_lines(self, records, reason, self.options)
        note = "\n".join(line.replace("-->", "->") for line in lines)
        out = ["WEBVTT\n\n", f"NOTE\n{note}\n\n"]
        for cue in build_cues(records, self.options):
            out.append(f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{vtt_escape(cue.text)}\n\n")
        return "".join(out)
