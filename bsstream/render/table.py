"""Pure builders: results so far -> rich renderables. No I/O, no Live.

The window table (one row per time window and level, one column per task) is laid out for a
given width by :func:`plan_layout`, from what is known before the rows arrive, never from the
rows themselves, so columns do not move as results come in:

- each task's column is as wide as its longest label (every label the service has listed in
  the task's predictions, plus the vendor's documented labels as a hint; capped), the time
  column as wide as the stream's last window can be (from its duration when known);
- when the table does not fit, it degrades in this order: posteriors left out (the "now" lines
  of the live view keep them), one space between columns instead of two, tasks folded onto
  two or three lines per window ("decks", headers stacked likewise), and last the tasks that
  still do not fit left out and named in the caption;
- every cell is one line per deck, never wrapped: a header longer than its column is
  abbreviated (``speaking_rate`` -> ``rate``, else ``hesitati…``), a label longer than the
  cap ends in ``…``; a label is never split across lines.

With ``--channels split`` (rows carry a channel) a ``channel`` column follows the source
column: the channel's name, or ``ch0``, ``ch1``, ... (headed ``ch`` when the labels are
shorter than ``channel``; part of the fixed columns, so it is never folded or left out).

Segment and utterance rows are told apart by their level (``seg`` / ``utt``) and utterance
rows' time in bold. An embedding-only task (``features``) shows as a dimension count
(``192-d``), and only when embeddings were asked for.

Every string from the service goes into a :class:`rich.text.Text` (never parsed as markup), is
escaped for display (control characters become visible), and is coloured by label through
:mod:`bsstream.render.palette`; the text itself is exact in a colourless capture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from bsstream.protocol.results import parse_number
from bsstream.protocol.summary import Summary
from bsstream.protocol.timeline import Cell, Row, Timeline
from bsstream.render import display_text, format_posterior, format_window
from bsstream.render.palette import PALETTE, label_style
from bsstream.render.summary import format_share, verdict_line, verdict_lines

__all__ = [
    "PALETTE",
    "Layout",
    "build_summary_table",
    "build_table",
    "cell_text",
    "fit",
    "label_style",
    "level_text",
    "plan_layout",
    "verdict_line",
    "verdict_lines",
]

# Width hints from the vendor's documented labels (api-contract.md): a column is sized for
# these before the first result arrives. Tasks not listed are sized from their predictions.
LABEL_HINTS: dict[str, tuple[str, ...]] = {
    "gender": ("male", "female"),
    "age": ("18 - 22", "23 - 30", "31 - 45", "46 - 65"),
    "emotion": ("happy", "angry", "neutral", "sad"),
    "strength": ("weak", "neutral", "strong"),
    "positivity": ("negative", "neutral", "positive"),
    "speaking_rate": ("slow", "normal", "fast"),
    "hesitation": ("no", "yes"),
    "engagement": ("disengaged", "neutral", "engaged"),
    "deepfake": ("bonafide", "spoofed"),
}
DEEPFAKE_TASK = "deepfake"  # the verdict lane comes first

LABEL_CAP = 18  # the widest a label column gets (longer labels end in "…")
HEADER_MIN = 6  # a column is at least this wide, so its abbreviated header stays readable
POSTERIOR = 5  # " 0.70"
LEVEL_WIDTH = 3  # "seg" / "utt"
SOURCE_CAP = 24
CHANNEL_CAP = 12  # the widest the channel column gets (longer names end in "…")
TIME_HINT = 999.99  # the time column's size when the stream's duration is unknown
MAX_DECKS = 3
EMBEDDING_MIN = 6  # "1024-d"

_LEVELS = {"segment": "seg", "utterance": "utt"}


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells with a final ``…`` (unchanged when it fits)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    out = Text(text)
    out.truncate(width, overflow="ellipsis")
    return out.plain


def abbreviate(name: str, width: int) -> str:
    """A header for a column ``width`` wide: the name, else its last ``_`` part
    (``speaking_rate`` -> ``rate``), else the name cut with ``…``."""
    if cell_len(name) <= width:
        return name
    last = name.rsplit("_", 1)[-1]
    if last != name and 3 <= cell_len(last) <= width:
        return last
    return fit(name, width)


def level_text(level: str | None) -> str:
    """``seg`` / ``utt`` for the two levels the contract names; any other as sent (escaped)."""
    if level is None:
        return ""
    return _LEVELS.get(level, display_text(level))


def cell_text(cell: Cell | None, *, posterior: bool = True, width: int | None = None) -> Text:
    """``neutral 0.70``: the final label and its posterior (2 decimals); the label alone when
    the posterior is missing or unparseable (or not wanted); ``192-d`` for an embedding-only
    result; empty for a task with no result in this window. With ``width``, the label is cut
    (with ``…``) so the cell fits."""
    if cell is None:
        return Text("")
    if cell.embedding_only:
        return Text(f"{cell.dims}-d", style="dim")
    value = format_posterior(cell.posterior) if posterior else None
    label = display_text(cell.label)
    if width is not None:
        room = width - (len(value) + (1 if label else 0) if value is not None else 0)
        label = fit(label, max(room, 1))
    text = Text(label, style=label_style(cell.label))
    if value is not None:
        if cell.label:
            text.append(" ")
        text.append(value, style="dim")
    return text


def _row_window(row: Row) -> str:
    return format_window(
        row.start_time, parse_number(row.start_time), row.end_time, parse_number(row.end_time)
    )


# -- layout ------------------------------------------------------------------------------------


def ordered_tasks(timeline: Timeline) -> list[str]:
    """The tasks in column order: the deepfake verdict lane first, then as first seen."""
    tasks = list(timeline.tasks)  # a snapshot: the live view may render while results arrive
    if DEEPFAKE_TASK in tasks:
        tasks.remove(DEEPFAKE_TASK)
        tasks.insert(0, DEEPFAKE_TASK)
    return tasks


def is_embedding_task(timeline: Timeline, task: str) -> bool:
    """A task whose newest result carries only an embedding (``features``)."""
    cell = timeline.latest.get(task)
    return cell is not None and cell.embedding_only


def shown_tasks(timeline: Timeline, *, embeddings: bool) -> list[tuple[str, bool]]:
    """The tasks that get a column, in order, each with whether it is an embedding task.

    Left out: a task whose results carry nothing to show (``features`` without an embedding:
    no label, no posterior), and an embedding task unless embeddings were asked for."""
    shown = []
    for task in ordered_tasks(timeline):
        cell = timeline.latest.get(task)
        if cell is None:
            continue
        if cell.embedding_only:
            if embeddings:
                shown.append((task, True))
        elif cell.label or cell.posterior is not None or timeline.labels.get(task):
            shown.append((task, False))
    return shown


def label_width(timeline: Timeline, task: str) -> int:
    """The width of a task's labels: its longest known label (hint or prediction), capped."""
    labels = list(LABEL_HINTS.get(task, ())) + list(timeline.labels.get(task, ()))
    widest = max((cell_len(display_text(label)) for label in labels), default=1)
    return max(min(widest, LABEL_CAP), 1)


def time_width(duration: float | None) -> int:
    """The time column's width: as wide as the last window of a ``duration``-second stream."""
    last = duration if duration is not None and math.isfinite(duration) and duration >= 0 else TIME_HINT
    return len(format_window("", last, "", last))


@dataclass(frozen=True, slots=True)
class Lane:
    """One task's column: its width with and without posteriors."""

    task: str
    labels: int  # the width of its labels alone
    embedding: bool = False

    def width(self, posteriors: bool) -> int:
        if self.embedding:
            return EMBEDDING_MIN
        return self.labels + (POSTERIOR if posteriors else 0)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything goes in a window table of a given width (see :func:`plan_layout`)."""

    time_width: int
    source_width: int  # 0: no source column
    gap: int  # spaces between columns
    posteriors: bool
    slots: tuple[tuple[str, ...], ...]  # per column after time and level: its task per deck
    slot_widths: tuple[int, ...]
    hidden: tuple[str, ...]  # tasks left out: the terminal is too narrow
    channel_width: int = 0  # 0: no channel column (a mixed stream)

    @property
    def decks(self) -> int:
        return max((len(s) for s in self.slots), default=1)

    @property
    def fixed_widths(self) -> list[int]:
        before = [w for w in (self.source_width, self.channel_width) if w]
        return [*before, self.time_width, LEVEL_WIDTH]

    @property
    def total_width(self) -> int:
        widths = self.fixed_widths + list(self.slot_widths)
        return sum(widths) + self.gap * (len(widths) - 1)


def _deal(lanes: Sequence[Lane], decks: int, posteriors: bool) -> tuple[list[tuple[str, ...]], list[int]]:
    """Lanes dealt into ``decks`` lines: deck d holds lanes d*n..(d+1)*n-1 (n columns)."""
    if not lanes:
        return [], []
    columns = math.ceil(len(lanes) / decks)
    slots: list[tuple[str, ...]] = []
    widths: list[int] = []
    for c in range(columns):
        members = [lanes[d * columns + c] for d in range(decks) if d * columns + c < len(lanes)]
        slots.append(tuple(lane.task for lane in members))
        header = min(max(cell_len(display_text(lane.task)) for lane in members), HEADER_MIN)
        widths.append(max(max(lane.width(posteriors) for lane in members), header))
    return slots, widths


def plan_layout(
    timeline: Timeline,
    width: int | None,
    *,
    embeddings: bool = False,
    duration: float | None = None,
    show_source: bool = False,
    max_decks: int = MAX_DECKS,
) -> Layout:
    """The layout of the window table for ``width`` columns (None: unlimited).

    Tried in order, the first that fits wins: posteriors with two spaces between columns,
    labels alone with two spaces, with one, then two and three decks (with posteriors when
    they fit with two spaces, else labels alone). If three decks of labels do not fit
    either, tasks are left out from the last one (they are named in ``hidden``). Depends only
    on the tasks, their label vocabularies, the duration and the width: the same inputs give
    the same layout.
    """
    lanes = [
        Lane(task, label_width(timeline, task), embedding)
        for task, embedding in shown_tasks(timeline, embeddings=embeddings)
    ]
    source_width = 0
    if show_source:
        sources = {display_text(row.source) for row in timeline.rows} or {"source"}
        source_width = min(max(max(cell_len(s) for s in sources), len("source")), SOURCE_CAP)
    tw = time_width(duration)
    cw = channel_width(timeline)
    attempts = [(1, True, 2), (1, False, 2), (1, False, 1)]
    for decks in range(2, max(min(max_decks, MAX_DECKS), 1) + 1):
        attempts += [(decks, True, 2), (decks, False, 2), (decks, False, 1)]
    hidden: list[str] = []
    while True:
        for decks, posteriors, gap in attempts:
            slots, widths = _deal(lanes, decks, posteriors)
            layout = Layout(tw, source_width, gap, posteriors, tuple(slots), tuple(widths), tuple(hidden), cw)
            if width is None or layout.total_width <= width:
                return _widen_headers(layout, width)
        if not lanes:
            return layout  # not even time and level fit: rich cuts them with "…"
        hidden.insert(0, lanes.pop().task)
        attempts = attempts[-1:]  # leaving tasks out: only the most compact form


def channel_width(timeline: Timeline) -> int:
    """The channel column's width: its longest label (capped), at least ``ch``; 0 without
    channels."""
    if not timeline.channels:
        return 0
    widest = max(cell_len(display_text(c)) for c in list(timeline.channels))
    return max(min(widest, CHANNEL_CAP), 2)


def _channel_header(width: int) -> str:
    return "channel" if width >= len("channel") else "ch"


def _widen_headers(layout: Layout, width: int | None) -> Layout:
    """Columns whose header had to be abbreviated get wider, left to right, while the table
    still fits (the spare width of a wide terminal goes to whole task names)."""
    spare = None if width is None else width - layout.total_width
    widths = list(layout.slot_widths)
    for i, slot in enumerate(layout.slots):
        wanted = max(cell_len(display_text(task)) for task in slot)
        extra = wanted - widths[i]
        if extra > 0 and (spare is None or extra <= spare):
            widths[i] = wanted
            spare = None if spare is None else spare - extra
    return replace(layout, slot_widths=tuple(widths))


# -- the window table ----------------------------------------------------------------------------


def _header(names: Sequence[str], width: int, decks: int, style: str = "bold") -> Text:
    """A column header, one line per deck (top-aligned: a column with fewer tasks than decks
    leaves its last lines blank)."""
    lines = [abbreviate(name, width) for name in names]
    lines += [""] * (decks - len(lines))
    return Text("\n".join(lines), style=style)


def _stack(texts: Sequence[Text]) -> Text:
    if len(texts) == 1:
        return texts[0]
    return Text("\n").join(texts)


def build_table(
    timeline: Timeline,
    *,
    width: int | None = None,
    max_rows: int | None = None,
    show_source: bool = False,
    title: str | None = None,
    embeddings: bool = False,
    duration: float | None = None,
    layout: Layout | None = None,
) -> Table:
    """One row per time window (and level), one column per task (see the module docstring).

    Columns: [source,] [channel,] time (``0.00-2.00``), level (``seg``/``utt``), then the tasks, laid out
    for ``width`` columns by :func:`plan_layout` (unless ``layout`` is given; spare width
    goes to headers that would be abbreviated). With
    ``max_rows`` only the last ``max_rows`` windows are shown (the live view) and the caption
    says how many earlier ones are hidden; tasks left out for want of width are named there
    too.
    """
    if layout is None:
        layout = plan_layout(
            timeline, width, embeddings=embeddings, duration=duration, show_source=show_source
        )
    table = Table(
        box=box.SIMPLE_HEAD,
        title=None if title is None else Text(display_text(title), no_wrap=True, overflow="ellipsis"),
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0) if layout.gap >= 2 else (0, 0),
        collapse_padding=False,
    )

    def column(header: Text | str, w: int) -> None:
        table.add_column(header, width=w, min_width=w, max_width=w, no_wrap=True, overflow="ellipsis")

    decks = layout.decks
    if layout.source_width:
        column(_header(["source"], layout.source_width, decks, ""), layout.source_width)
    if layout.channel_width:
        cw = layout.channel_width
        column(_header([_channel_header(cw)], cw, decks, ""), cw)
    column(_header(["time"], layout.time_width, decks, ""), layout.time_width)
    column(_header(["lvl"], LEVEL_WIDTH, decks, ""), LEVEL_WIDTH)
    for slot, w in zip(layout.slots, layout.slot_widths, strict=True):
        column(_header([display_text(t) for t in slot], w, decks), w)

    rows = list(timeline.rows)
    hidden_rows = 0
    if max_rows is not None:
        keep = max(max_rows, 0)
        hidden_rows = max(len(rows) - keep, 0)
        rows = rows[hidden_rows:]
    for row in rows:
        table.add_row(*_row_cells(row, layout))
    notes = []
    if hidden_rows:
        noun = "row" if hidden_rows == 1 else "rows"
        notes.append(f"{hidden_rows} earlier {noun} hidden; all print when the stream ends")
    if layout.hidden:
        notes.append("too narrow for: " + ", ".join(display_text(t) for t in layout.hidden))
    if notes:
        table.caption = Text("\n".join(notes), style="dim", no_wrap=True, overflow="ellipsis")
        table.caption_justify = "left"
    return table


def _row_cells(row: Row, layout: Layout) -> list[Text]:
    """One window's cells: [source,] [channel,] time, level, then the task slots."""
    utterance = row.level == "utterance"
    cells: list[Text] = []
    if layout.source_width:
        cells.append(Text(fit(display_text(row.source), layout.source_width)))
    if layout.channel_width:
        cells.append(Text(fit(display_text(row.channel), layout.channel_width), style="bold"))
    cells.append(Text(fit(_row_window(row), layout.time_width), style="bold" if utterance else ""))
    cells.append(Text(fit(level_text(row.level), LEVEL_WIDTH), style="bold" if utterance else "dim"))
    for slot, w in zip(layout.slots, layout.slot_widths, strict=True):
        texts = [cell_text(row.cells.get(t), posterior=layout.posteriors, width=w) for t in slot]
        cells.append(_stack(texts))
    return cells


def table_height(layout: Layout, rows: int) -> int:
    """Lines a window table takes: header (one per deck), its rule, ``rows`` windows."""
    return layout.decks + 1 + rows * layout.decks


# -- the summary ---------------------------------------------------------------------------------


def build_summary_table(
    summary: Summary, *, title: str | None = "Summary", width: int | None = None
) -> Table:
    """Per task: the dominant label, its share of speech time, confidence, and the level used;
    with ``--channels split`` one row per task and channel, the channel in a first column.

    Two spaces between columns; below 64 columns (``width``) the headers ``label`` and
    ``conf.`` replace ``dominant label`` and ``confidence``. No cell wraps: a name too long
    for the terminal ends in ``…``."""
    narrow = width is not None and width < 64
    table = Table(
        box=box.SIMPLE_HEAD,
        title=None if title is None else Text(display_text(title), no_wrap=True, overflow="ellipsis"),
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    split = summary.split
    if split:
        table.add_column("ch" if narrow else "channel", no_wrap=True, overflow="ellipsis")
    table.add_column("task", no_wrap=True, overflow="ellipsis")
    table.add_column("label" if narrow else "dominant label", no_wrap=True, overflow="ellipsis")
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("conf." if narrow else "confidence", justify="right", no_wrap=True)
    table.add_column("level", no_wrap=True, overflow="ellipsis")
    for t in summary.tasks:
        channel = [Text(display_text(t.channel_label or ""))] if split else []
        table.add_row(
            *channel,
            Text(display_text(t.task), style="bold"),
            Text(display_text(t.label), style=label_style(t.label)),
            Text(format_share(t)),
            Text(format_posterior(t.confidence) or ""),
            Text(display_text(t.level) if t.level is not None else ""),
        )
    return table
