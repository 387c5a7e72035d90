"""The thin ``Live`` loop for terminals: a live table while results arrive, then the full table,
the summary table and the verdict line.

All layout is in :mod:`bsstream.render.table`; this module only keeps a Timeline per input
and hands ``build_table`` to a :class:`rich.live.Live` that refreshes about four times a second
(the table is built at refresh time, not per message, so fast streams cost nothing extra).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, SummaryBuilder
from bsstream.protocol.timeline import Timeline
from bsstream.render import display_text
from bsstream.render.table import build_summary_table, build_table, verdict_line

__all__ = ["LiveSink"]

# Lines of the terminal the live view leaves for the header, caption and what is above it.
RESERVED_LINES = 8
MIN_LIVE_ROWS = 3


class _TimelineView:
    """What the Live shows: the tail of the timeline while streaming, all of it once finished."""

    def __init__(self, sink: LiveSink) -> None:
        self.sink = sink
        self.finished = False

    def __rich__(self) -> RenderableType:
        sink = self.sink
        with sink._lock:
            max_rows = (
                None if self.finished else max(sink.console.size.height - RESERVED_LINES, MIN_LIVE_ROWS)
            )
            return build_table(sink._timeline, max_rows=max_rows, title=sink._title)


class LiveSink:
    """The Sink for a terminal. ``console`` is the stdout console (never sys.stdout directly).

    ``redirect_stderr`` (default: only when stderr is a terminal too) lets messages written to
    sys.stderr during the live view appear above the table instead of tearing it.
    """

    def __init__(
        self,
        console: Console,
        *,
        show_source: bool,
        refresh_per_second: float = 4.0,
        redirect_stderr: bool | None = None,
    ) -> None:
        self.console = console
        self.show_source = show_source
        self.refresh_per_second = refresh_per_second
        if redirect_stderr is None:
            isatty = getattr(sys.stderr, "isatty", None)
            redirect_stderr = bool(isatty and isatty())
        self.redirect_stderr = redirect_stderr
        self._lock = threading.Lock()
        self._timeline = Timeline()
        self._seen = SummaryBuilder()  # for outcomes without a summary (constant memory)
        self._title: str | None = None
        self._live: Live | None = None
        self._view: _TimelineView | None = None

    # -- the Sink protocol -------------------------------------------------------------------

    def begin(self, info: StreamInfo) -> None:
        self._finish_live()  # a previous input that never ended
        with self._lock:
            self._timeline = Timeline()
            self._seen = SummaryBuilder()
            self._title = info.source if self.show_source else None
        self._view = _TimelineView(self)
        self._live = Live(
            self._view,
            console=self.console,
            refresh_per_second=self.refresh_per_second,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=self.redirect_stderr,
        )
        self._live.start()

    def message(self, message: ResultMessage) -> None:
        with self._lock:
            self._timeline.add(message)
            self._seen.add(message)

    def event(self, event: dict[str, Any]) -> None:
        pass  # reconnects and the like are reported on stderr by the session

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        had_rows = self._finish_live()
        with self._lock:
            seen, self._seen = self._seen, SummaryBuilder()
        if had_rows:
            self.console.line()
        else:
            self.console.print(
                Text(f"No results for {display_text(info.source) or 'the input'}.", style="dim")
            )
        summary = outcome.summary if outcome.summary.tasks else seen.summary()
        self.print_summary(summary, source=info.source if self.show_source else None)

    def close(self) -> None:
        self._finish_live()

    # -- helpers -----------------------------------------------------------------------------

    def print_summary(self, summary: Summary, *, source: str | None = None) -> None:
        """The summary table and the deepfake verdict line (nothing when there is no summary)."""
        if summary.tasks:
            title = "Summary" if source is None else f"Summary: {display_text(source)}"
            self.console.print(build_summary_table(summary, title=title))
        verdict = verdict_line(summary)
        if verdict is not None:
            self.console.print(Text(verdict, style="bold"))

    def _finish_live(self) -> bool:
        """Stop the Live, leaving the full table of whatever arrived on the screen (its final
        frame). Returns whether there was any row to show."""
        live, view = self._live, self._view
        self._live = self._view = None
        if live is None or view is None:
            return False
        with self._lock:
            has_rows = bool(self._timeline.rows)
        view.finished = True
        if not has_rows:
            live.update(Text(""), refresh=False)
        live.stop()
        if has_rows and not self.console.is_terminal:
            self.console.line()  # Live ends its final frame with a newline only on terminals
        return has_rows
