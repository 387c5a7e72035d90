"""The thin ``Live`` loop for terminals: the live view while results arrive, then the full
window table, the summary table and the verdict line.

All layout is in :mod:`bsstream.render.view` (the frame: status line, "now" lines, the newest
windows) and :mod:`bsstream.render.table` (the window and summary tables); this module only
keeps a Timeline and the status figures per input and hands the frame to a
:class:`rich.live.Live` that refreshes about four times a second (the frame is built at refresh
time for the console's current size, not per message, so fast streams cost nothing extra and a
resized terminal gets a fitting frame at the next refresh).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, SummaryBuilder
from bsstream.protocol.timeline import Timeline
from bsstream.render import display_text
from bsstream.render.table import build_summary_table, build_table, verdict_lines
from bsstream.render.view import LiveStatus, build_live_view

__all__ = ["LevelReading", "LiveSink"]


class LevelReading(Protocol):
    """An input level as the status line shows it (``bsstream.audio.level.Level``), dBFS."""

    @property
    def rms(self) -> float: ...

    @property
    def peak(self) -> float: ...


class _TimelineView:
    """What the Live shows: the live frame while streaming, the full window table once
    finished."""

    def __init__(self, sink: LiveSink) -> None:
        self.sink = sink
        self.finished = False

    def __rich__(self) -> RenderableType:
        sink = self.sink
        width, height = sink.console.size
        with sink._lock:
            if self.finished:
                return build_table(
                    sink._timeline,
                    width=width,
                    title=sink._title,
                    embeddings=sink._embeddings,
                    duration=sink._duration,
                )
            return build_live_view(
                sink._timeline,
                sink.status(),
                width=width,
                height=height,
                title=sink._title,
                embeddings=sink._embeddings,
            )


class LiveSink:
    """The Sink for a terminal. ``console`` is the stdout console (never sys.stdout directly).

    ``redirect_stderr`` (default: only when stderr is a terminal too) lets messages written to
    sys.stderr during the live view appear above the table instead of tearing it.
    ``audio_progress``: :meth:`set_sent` will report the audio sent (a live run; replay has
    none), so the status line says "waiting for audio" until the first chunk. ``realtime``:
    the status line says how far behind live the newest result is. ``embeddings``: show the
    embedding dimension (None: as the stream's config asked).
    """

    def __init__(
        self,
        console: Console,
        *,
        show_source: bool,
        refresh_per_second: float = 4.0,
        redirect_stderr: bool | None = None,
        audio_progress: bool = False,
        realtime: bool = False,
        embeddings: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.show_source = show_source
        self.refresh_per_second = refresh_per_second
        self.audio_progress = audio_progress
        self.realtime = realtime
        self.embeddings = embeddings
        self.clock = clock
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
        self._embeddings = bool(embeddings)
        self._duration: float | None = None
        self._started = clock()
        self._sent: float | None = None
        self._behind: float | None = None
        self._source = ""
        # source -> its level now (live captures)
        self._meters: dict[str, Callable[[], LevelReading | None]] = {}

    # -- the Sink protocol -------------------------------------------------------------------

    def begin(self, info: StreamInfo) -> None:
        self._finish_live()  # a previous input that never ended
        with self._lock:
            self._timeline = Timeline()
            self._seen = SummaryBuilder()
            self._title = info.source if self.show_source else None
            self._embeddings = (
                bool(info.config.get("feature_embedding")) if self.embeddings is None else self.embeddings
            )
            self._duration = info.duration
            self._source = info.source
            self._started = self.clock()
            self._sent = 0.0 if self.audio_progress else None
            self._behind = None
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
            ends = [r.end for r in message.results if r.end is not None]
            if ends and self._sent is not None:
                self._behind = max(self._sent - max(ends), 0.0)

    def set_sent(self, source: str, seconds: float) -> None:
        """The audio sent so far for ``source`` (the session's progress callback; with scan both
        calls report, the furthest counts)."""
        with self._lock:
            if self._sent is not None and seconds > self._sent:
                self._sent = seconds

    def watch_level(self, source: str, reading: Callable[[], LevelReading | None]) -> None:
        """Show ``source``'s input level in the status line while it streams: ``reading()``
        gives the newest level (an object with ``rms`` and ``peak`` in dBFS, or None), asked at
        each refresh (a :class:`bsstream.audio.level.LevelMeter`'s ``reading``)."""
        with self._lock:
            self._meters[source] = reading

    def print_above(self, line: str) -> bool:
        """Print a message line above the live view (a stderr message while stdout and stderr
        are the same terminal: written straight to the terminal it would tear the frame).
        Returns False, printing nothing, when no live view is showing."""
        live = self._live  # no lock held while printing: a refresh may be waiting for it
        if live is None or not live.is_started:
            return False
        self.console.print(Text(line))  # wrapped between words at the terminal's width
        return True

    def status(self) -> LiveStatus:
        """The status line's figures now (call with the lock held)."""
        meter = self._meters.get(self._source)
        level = meter() if meter is not None else None
        return LiveStatus(
            level=None if level is None else level.rms,
            peak=None if level is None else level.peak,
            sent=self._sent,
            duration=self._duration,
            results=self._timeline.results,
            elapsed=self.clock() - self._started,
            behind=self._behind,
            realtime=self.realtime,
        )

    def event(self, event: JsonObject) -> None:
        pass  # reconnects and the like are reported on stderr by the session

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        had_rows = self._finish_live()
        with self._lock:
            seen, self._seen = self._seen, SummaryBuilder()
            self._meters.pop(info.source, None)
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
        """The summary table and the deepfake verdict line(s) (nothing when there is no
        summary)."""
        if summary.tasks:
            title = "Summary" if source is None else f"Summary: {display_text(source)}"
            self.console.print(build_summary_table(summary, title=title, width=self.console.width))
        for verdict in verdict_lines(summary):  # one per channel with --channels split
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
