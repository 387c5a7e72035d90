"""Pure: the live view's frame for a terminal of a given size. No I/O, no Live.

While a stream runs, one frame, never taller than the terminal, top to bottom::

    call.wav                                   (the input's name, when several are streamed)
    streaming · sent 12.3 s of 169.0 s · 42 results · 0:12 elapsed · 0.4 s behind live
    gender         female 0.99   age         23 - 30 0.63   ...     (now: newest per task;
    ...                                                                 per channel with split)
    <blank>
    time         lvl  gender  age      emotion  ...                 (the newest windows)
    ─────────────────────────────────────────────
    8.16-10.16   seg  female  23 - 30  neutral  ...
    N earlier rows hidden; all print when the stream ends

The status line shows from the first chunk (audio sent, results received, time elapsed, and
with ``--realtime`` how far the newest result is behind the audio being sent; for a live capture
its input level first, ``level ▮▮▮▮▯▯▯▯ -23 dBFS``, see :func:`level_meter`); the "now" lines
show each task's newest label and posterior (its newest segment result; utterance results show
in the table); the window table below is the tail of :func:`bsstream.render.table.build_table`
that fits, so the newest results are always on screen. When the stream ends the frame becomes
the full window table (see :mod:`bsstream.render.live`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.text import Text

from bsstream.protocol.timeline import Timeline
from bsstream.render import display_text
from bsstream.render.table import (
    EMBEDDING_MIN,
    POSTERIOR,
    Layout,
    build_table,
    cell_text,
    fit,
    label_width,
    plan_layout,
    shown_tasks,
)

__all__ = ["LiveStatus", "build_live_view", "format_clock", "level_meter", "now_lines", "status_text"]

TILE_GAP = 3  # spaces between two tiles of the "now" lines
NAME_CAP = 16  # a task name in the "now" lines is cut with "…" past this
MIN_TAIL_ROWS = 2  # below this the "now" lines give way to the table
SPARE_LINES = 1  # the line the cursor sits on below the frame
METER_CELLS = 8  # the level meter's bar: one cell per 7.5 dB from -60 dBFS to 0
METER_FLOOR = -60.0  # dBFS at the bar's empty end
CLIP_DBFS = -0.5  # a peak this close to full scale: "clip" after the meter


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What the status line says (all numbers measured by the caller)."""

    sent: float | None = None  # audio seconds sent so far (None: not known, as in replay)
    duration: float | None = None  # the input's length, when known
    results: int = 0
    elapsed: float = 0.0  # wall seconds since the stream began
    behind: float | None = None  # --realtime: how far the newest result is behind the audio sent
    realtime: bool = False
    level: float | None = None  # a live capture: RMS of the newest ~0.2 s, dBFS (None: no meter)
    peak: float | None = None  # ... and its peak, dBFS


def format_clock(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``: elapsed wall time."""
    total = int(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def level_meter(rms: float, peak: float | None = None, *, words: int = 2) -> str:
    """The input level as a bar of :data:`METER_CELLS` cells (-60 dBFS empty, 0 dBFS full) and
    the RMS in dBFS, ``clip`` after it when the peak reaches full scale. ``words``: 2 gives
    ``level ▮▮▮▮▯▯▯▯ -23 dBFS``, 1 ``▮▮▮▮▯▯▯▯ -23 dBFS``, 0 ``▮▮▮▮▯▯▯▯ -23``."""
    db = rms if math.isfinite(rms) else METER_FLOOR
    filled = round((min(max(db, METER_FLOOR), 0.0) - METER_FLOOR) / -METER_FLOOR * METER_CELLS)
    text = "▮" * filled + "▯" * (METER_CELLS - filled) + f" {round(max(db, -99.0)):3d}"
    if words >= 1:
        text += " dBFS"
    if words >= 2:
        text = "level " + text
    if peak is not None and peak >= CLIP_DBFS:
        text += " clip"
    return text


def _results(n: int, short: bool) -> str:
    if short:
        return f"{n} res"
    return "no results yet" if n == 0 else f"{n} result{'s' if n != 1 else ''}"


def status_text(status: LiveStatus, width: int) -> Text:
    """The status line, as long as ``width`` allows: the most telling wording that fits, then
    the same with fewer words, then cut with ``…``."""
    variants = status_variants(status)
    for parts in variants:
        line = " · ".join(parts)
        if cell_len(line) <= width:
            return Text(line, style="bold")
    return Text(fit(" · ".join(variants[-1]), width), style="bold")


def status_variants(status: LiveStatus) -> list[list[str]]:
    """The status line's wordings, longest first: full, compact, terse and tiny parts."""
    sent = status.sent
    waiting = sent is None or sent <= 0
    state = "waiting for audio" if waiting and status.results == 0 and sent is not None else "streaming"
    behind = status.behind if status.realtime else None
    full, compact = _long_wordings(status, state, behind)
    terse, tiny = _short_wordings(status, state, compact, behind)
    if status.level is not None:  # a live capture: its meter next, before what it has sent
        meter = [level_meter(status.level, status.peak, words=w) for w in (2, 1, 0)]
        full.insert(1, meter[0])
        compact.insert(1, meter[0])
        terse.insert(1 if state != "streaming" else 0, meter[1])
        tiny.insert(1 if state != "streaming" else 0, meter[2])
    return [full, compact, terse, tiny]


def _long_wordings(status: LiveStatus, state: str, behind: float | None) -> tuple[list[str], list[str]]:
    """The full and compact wordings: state, audio sent (of the length), results, clock, lag."""
    sent = status.sent
    of = f" of {status.duration:.1f} s" if status.duration is not None and status.duration > 0 else ""
    slash = f"/{status.duration:.1f}" if of else ""
    clock = format_clock(status.elapsed)
    results = _results(status.results, False)
    full, compact = [state], [state]
    if sent is not None:
        full.append(f"sent {sent:.1f} s{of}")
        compact.append(f"sent {sent:.1f}{slash} s")
    full += [results, f"{clock} elapsed"]
    compact += [results, clock]
    if behind is not None:
        full.append(f"{behind:.1f} s behind live")
        compact.append(f"{behind:.1f} s behind live")
    return full, compact


def _short_wordings(
    status: LiveStatus, state: str, compact: list[str], behind: float | None
) -> tuple[list[str], list[str]]:
    """The terse wording (without what the screen already says) and the tiny one."""
    terse = compact[1:] if state == "streaming" else list(compact)  # what the screen already says
    if behind is not None:
        terse[-1] = f"{behind:.1f} s behind"
    results = _results(status.results, False)
    tiny = [p.replace("sent ", "") for p in terse]
    tiny = [_results(status.results, True) if p == results else p for p in tiny]
    if behind is not None:
        tiny[-1] = f"lag {behind:.1f} s"
    return terse, tiny


def _tiles(timeline: Timeline, embeddings: bool, channel: str | None = None) -> list[tuple[str, Text, int]]:
    """Per task shown: its name, its newest cell (of ``channel``, when given) as text, and the
    width of its values."""
    tiles = []
    for task, embedding in shown_tasks(timeline, embeddings=embeddings):
        value_width = EMBEDDING_MIN if embedding else label_width(timeline, task) + POSTERIOR
        cell = timeline.now(task, channel)
        tiles.append((display_text(task), cell_text(cell, width=value_width), value_width))
    return tiles


Grid = tuple[int, list[int], list[int]]  # tiles per line, name widths, value widths


def _grid(tiles: list[tuple[str, Text, int]], width: int) -> Grid:
    """How many tiles go on a line (as many as fit, lines evenly filled) and the columns' widths."""

    def widths(per_line: int) -> tuple[list[int], list[int]]:
        names, values = [0] * per_line, [0] * per_line
        for i, (name, _, value_width) in enumerate(tiles):
            j = i % per_line
            names[j] = max(names[j], min(cell_len(name), NAME_CAP))
            values[j] = max(values[j], value_width)
        return names, values

    def fits(per_line: int) -> bool:
        names, values = widths(per_line)
        return sum(names) + sum(values) + per_line + TILE_GAP * (per_line - 1) <= width

    most = next((n for n in range(len(tiles), 0, -1) if fits(n)), 1)
    lines_needed = math.ceil(len(tiles) / most)
    per_line = math.ceil(len(tiles) / lines_needed)  # as many lines, evenly filled
    if not fits(per_line):
        per_line = most
    return (per_line, *widths(per_line))


def _tile_lines(tiles: list[tuple[str, Text, int]], grid: Grid, width: int, heads: list[str]) -> list[Text]:
    """The tiles laid out on the grid; line i starts with ``heads[i]`` (the channel column)."""
    per_line, names, values = grid
    lines = []
    for n, start in enumerate(range(0, len(tiles), per_line)):
        line = Text(no_wrap=True, overflow="ellipsis")
        if heads:
            line.append(heads[min(n, len(heads) - 1)], style="bold")
        for j, (name, value, _) in enumerate(tiles[start : start + per_line]):
            if j:
                line.append(" " * TILE_GAP)
            line.append(fit(name, names[j]).ljust(names[j]), style="dim")
            line.append(" ")
            padded = value.copy()
            padded.pad_right(max(values[j] - padded.cell_len, 0))
            line.append_text(padded)
        line.rstrip()
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    return lines


def now_lines(timeline: Timeline, width: int, *, embeddings: bool = False) -> list[Text]:
    """The "now" lines: per task its name and newest label with posterior, as many tasks to a
    line as fit (columns aligned; sized from the label vocabularies, so they do not move).
    With ``--channels split``, one block of lines per channel, its label in a first column."""
    tiles = _tiles(timeline, embeddings)
    if not tiles:
        return []
    channels = list(timeline.channels)
    if not channels:
        return _tile_lines(tiles, _grid(tiles, width), width, [])
    label = min(max(cell_len(display_text(c)) for c in channels), NAME_CAP)
    grid = _grid(tiles, width - label - TILE_GAP)
    lines: list[Text] = []
    for channel in channels:
        name = fit(display_text(channel), label)
        head = name + " " * (label - cell_len(name) + TILE_GAP)
        blank = " " * (label + TILE_GAP)
        lines += _tile_lines(_tiles(timeline, embeddings, channel), grid, width, [head, blank])
    return lines


def build_live_view(
    timeline: Timeline,
    status: LiveStatus,
    *,
    width: int,
    height: int,
    title: str | None = None,
    embeddings: bool = False,
) -> RenderableType:
    """The frame shown while streaming, at most ``height`` - 1 lines and ``width`` columns."""
    budget = max(height - SPARE_LINES, 1)
    head: list[RenderableType] = []
    if title is not None:
        head.append(Text(fit(display_text(title), width), style="bold", no_wrap=True))
    head.append(status_text(status, width))
    if not timeline.rows:
        head.append(Text(fit("waiting for the first result…", width), style="dim", no_wrap=True))
        return Group(*head[:budget])
    now = now_lines(timeline, width, embeddings=embeddings)
    rows = len(timeline.rows)

    def tail_rows(layout: Layout, with_now: bool) -> int:
        """How many windows fit under the head (and the now lines) with this layout."""
        used = len(head) + (len(now) + 1 if with_now else 0) + layout.decks + 1
        used += 1 if layout.hidden else 0  # the caption naming the tasks left out
        room = (budget - used) // layout.decks
        if rows > room:
            room = (budget - used - 1) // layout.decks  # a caption line says how many are hidden
        return room

    layout = plan_layout(timeline, width, embeddings=embeddings, duration=status.duration)
    while tail_rows(layout, False) < 1 and layout.decks > 1:  # a short terminal: fewer decks
        layout = plan_layout(
            timeline, width, embeddings=embeddings, duration=status.duration, max_decks=layout.decks - 1
        )
    if tail_rows(layout, False) < 1:
        return Group(*head[:budget])  # not even one window fits: the status alone
    with_now = bool(now) and tail_rows(layout, True) >= min(MIN_TAIL_ROWS, rows)
    keep = tail_rows(layout, with_now)
    parts: list[RenderableType] = list(head)
    if with_now:
        parts.extend(now)
        parts.append(Text(""))
    parts.append(build_table(timeline, layout=layout, max_rows=keep))
    return Group(*parts)
