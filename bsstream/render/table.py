"""Pure builders: results so far -> rich renderables. No I/O, no Live.

Every string from the service goes into a :class:`rich.text.Text` (never parsed as markup), is
escaped for display (control characters become visible), and is coloured by label through a
stable hash; the text itself is exact in a colourless capture.
"""

from __future__ import annotations

import zlib

from rich import box
from rich.table import Table
from rich.text import Text

from bsstream.protocol.results import parse_number
from bsstream.protocol.summary import Summary
from bsstream.protocol.timeline import Cell, Row, Timeline
from bsstream.render import display_text, format_posterior, format_window
from bsstream.render.summary import format_share, verdict_line

__all__ = ["PALETTE", "build_summary_table", "build_table", "cell_text", "label_style", "verdict_line"]

# Readable on dark and light backgrounds; a label keeps its colour across runs and machines.
PALETTE: tuple[str, ...] = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "bright_red",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
    "dark_orange",
)


def label_style(label: str) -> str:
    """The colour of a label: a stable hash (crc32, not Python's salted hash) into PALETTE."""
    digest = zlib.crc32(label.encode("utf-8", "surrogatepass"))
    return PALETTE[digest % len(PALETTE)]


def cell_text(cell: Cell | None) -> Text:
    """``neutral 0.70``: the final label and its posterior (2 decimals); the label alone when the
    posterior is missing or unparseable; empty for a task with no result in this window."""
    if cell is None:
        return Text("")
    text = Text(display_text(cell.label), style=label_style(cell.label))
    posterior = format_posterior(cell.posterior)
    if posterior is not None:
        if cell.label:
            text.append(" ")
        text.append(posterior, style="dim")
    return text


def _row_window(row: Row) -> str:
    return format_window(
        row.start_time, parse_number(row.start_time), row.end_time, parse_number(row.end_time)
    )


def build_table(
    timeline: Timeline,
    *,
    max_rows: int | None = None,
    show_source: bool = False,
    title: str | None = None,
) -> Table:
    """One row per time window (and level), one column per task in the order first seen.

    Columns: [source,] time (``0.00-2.00``), level, then the tasks. With ``max_rows`` only the
    last ``max_rows`` rows are shown (the live view) and a caption says how many earlier rows
    are hidden.
    """
    table = Table(
        box=box.SIMPLE_HEAD,
        title=None if title is None else Text(display_text(title)),
        pad_edge=False,
        show_edge=False,
    )
    if show_source:
        table.add_column("source", overflow="fold")
    table.add_column("time", no_wrap=True)
    table.add_column("level")
    tasks = list(timeline.tasks)  # a snapshot: the live view may render while results arrive
    for task in tasks:
        table.add_column(Text(display_text(task), style="bold"), overflow="fold")

    rows = list(timeline.rows)
    hidden = 0
    if max_rows is not None:
        keep = max(max_rows, 0)
        hidden = max(len(rows) - keep, 0)
        rows = rows[hidden:]
    for row in rows:
        cells: list[Text] = []
        if show_source:
            cells.append(Text(display_text(row.source)))
        cells.append(Text(_row_window(row)))
        cells.append(Text(display_text(row.level) if row.level is not None else ""))
        cells.extend(cell_text(row.cells.get(task)) for task in tasks)
        table.add_row(*cells)
    if hidden:
        noun = "row" if hidden == 1 else "rows"
        table.caption = f"{hidden} earlier {noun} hidden; the full table prints when the stream ends"
    return table


def build_summary_table(summary: Summary, *, title: str | None = "Summary") -> Table:
    """Per task: the dominant label, its share of speech time, confidence, and the level used."""
    table = Table(box=box.SIMPLE_HEAD, title=title, pad_edge=False, show_edge=False)
    table.add_column("task", overflow="fold")
    table.add_column("dominant label", overflow="fold")
    table.add_column("share", justify="right")
    table.add_column("confidence", justify="right")
    table.add_column("level")
    for t in summary.tasks:
        table.add_row(
            Text(display_text(t.task), style="bold"),
            Text(display_text(t.label), style=label_style(t.label)),
            Text(format_share(t)),
            Text(format_posterior(t.confidence) or ""),
            Text(display_text(t.level) if t.level is not None else ""),
        )
    return table
