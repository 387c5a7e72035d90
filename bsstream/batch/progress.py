"""The batch progress display on stderr (Rich): files done/total, per active file the audio
seconds sent versus its duration, and throughput as a real-time factor.

Layout (transient: it disappears when the run ends, before the end-of-run table)::

    files     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  3/20 · 1 failed · 14.2x
    call1.wav ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  12.3/60.0 s · 15.2x
    stdin     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  4.0 s · 1.0x

The real-time factor is audio seconds sent / wall seconds (per file since it started; overall
since the display started, summed over every file, so ``--jobs`` shows up as a larger factor).
A file of unknown duration shows the seconds sent only, with a pulsing bar.

On stderr only when :func:`bsstream.streamkind.progress_on_stderr` allows it (stderr a
terminal, and stdout a file or /dev/null rather than a pipe or the terminal, unless
``--progress`` / ``--no-progress`` / ``--quiet`` say otherwise); with ``--jobs`` above 1 and
stdout a terminal it is the per-file status display on stdout. All methods are thread-safe
(``--jobs`` calls them from several streams).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from bsstream.display import display_text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

__all__ = ["BatchProgress", "format_rtf", "format_sent"]

_NAME_WIDTH = 32


def format_rtf(audio_seconds: float, wall_seconds: float) -> str:
    """``12.3x``: audio seconds per wall second (``-`` before any time has passed)."""
    if wall_seconds <= 0 or audio_seconds < 0:
        return "-"
    return f"{audio_seconds / wall_seconds:.1f}x"


def format_sent(sent: float, duration: float | None) -> str:
    """``12.3/60.0 s`` (or ``12.3 s`` when the duration is unknown)."""
    if duration is None or duration <= 0:
        return f"{sent:.1f} s"
    return f"{sent:.1f}/{duration:.1f} s"


def _short(name: str) -> str:
    name = display_text(name)
    return name if len(name) <= _NAME_WIDTH else "…" + name[-(_NAME_WIDTH - 1) :]


@dataclass
class _Active:
    task_id: TaskID
    duration: float | None
    started: float
    sent: float = 0.0


@dataclass
class _State:
    done: int = 0
    failed: int = 0
    audio: float = 0.0
    active: dict[str, _Active] = field(default_factory=dict)


class BatchProgress:
    """The progress display; use as a context manager around the batch::

        with BatchProgress(console, total_files=len(inputs)) as progress:
            progress.start_file("a.wav", duration=61.2)
            progress.set_sent("a.wav", 12.5)       # audio seconds sent so far
            progress.finish_file("a.wav", status)  # an ExitStatus value

    ``name`` identifies an active file (use the input's source name). ``set_sent`` for a name
    that is not active is ignored (a late callback cannot fail the
    run); ``finish_file`` always counts one file done, also for an input that failed before
    ``start_file`` (e.g. it could not be opened).
    """

    def __init__(
        self, console: Console, total_files: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console
        self.total_files = total_files
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self._started = clock()
        self._progress: Progress | None = None
        self._overall: TaskID | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> BatchProgress:
        from rich.progress import BarColumn, Progress, TextColumn

        self._started = self._clock()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            transient=True,
            refresh_per_second=4,
        )
        self._overall = self._progress.add_task(
            "files".ljust(_NAME_WIDTH), total=max(self.total_files, 1), detail=self._overall_detail()
        )
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    # -- the API --------------------------------------------------------------------------

    def start_file(self, name: str, duration: float | None) -> None:
        """A file started streaming; ``duration`` in seconds, None when unknown (stdin, pipes)."""
        with self._lock:
            if self._progress is None or name in self._state.active:
                return
            known = duration if duration is not None and duration > 0 else None
            task_id = self._progress.add_task(
                _short(name).ljust(_NAME_WIDTH), total=known, detail=format_sent(0.0, known)
            )
            self._state.active[name] = _Active(task_id, known, self._clock())

    def set_sent(self, name: str, audio_seconds: float) -> None:
        """The total audio seconds of ``name`` sent so far (it never goes back)."""
        with self._lock:
            active = self._state.active.get(name)
            if active is None:
                return
            self._set_sent(active, max(audio_seconds, active.sent))

    def finish_file(self, name: str, status: int) -> None:
        """``name`` ended with ``status`` (an ExitStatus value; 0 and 10 are not failures)."""
        with self._lock:
            active = self._state.active.pop(name, None)
            self._state.done += 1
            if status not in (0, 10):
                self._state.failed += 1
            if self._progress is None:
                return
            if active is not None:
                self._progress.remove_task(active.task_id)
            self._update_overall()

    def __rich__(self) -> RenderableType:
        """The current display as a renderable (``console.print(progress)``; used by tests)."""
        if self._progress is None:
            return ""
        return self._progress.get_renderable()

    @property
    def files_done(self) -> int:
        return self._state.done

    @property
    def audio_seconds(self) -> float:
        """Audio seconds sent so far, over every file."""
        return self._state.audio

    # -- internals (called with the lock held) --------------------------------------------

    def _set_sent(self, active: _Active, sent: float) -> None:
        self._state.audio += sent - active.sent
        active.sent = sent
        if self._progress is None:
            return
        now = self._clock()
        detail = f"{format_sent(sent, active.duration)} · {format_rtf(sent, now - active.started)}"
        completed = min(sent, active.duration) if active.duration is not None else None
        self._progress.update(active.task_id, detail=detail, completed=completed)  # None: unchanged
        self._update_overall()

    def _overall_detail(self) -> str:
        s = self._state
        parts = [f"{s.done}/{self.total_files}"]
        if s.failed:
            parts.append(f"{s.failed} failed")
        parts.append(format_rtf(s.audio, self._clock() - self._started))
        return " · ".join(parts)

    def _update_overall(self) -> None:
        if self._progress is not None and self._overall is not None:
            self._progress.update(self._overall, completed=self._state.done, detail=self._overall_detail())
