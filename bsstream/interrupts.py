"""Ctrl-C / SIGTERM state shared by every stream of a run, and how it reaches the engine.

Loads no grpc (the engine's :class:`~bsstream.engine.core.Control` is made on first use), so a
run can hold it, and let a decoder see a signal, before the connection's imports.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bsstream.status import ExitStatus

if TYPE_CHECKING:
    import asyncio

    from bsstream.engine.core import Control

_SIGTERM = int(getattr(signal, "SIGTERM", 15))


class Interrupts:
    """Ctrl-C / SIGTERM state shared by every stream of a run.

    First signal: stop sending (half-close) and give the server ``grace`` seconds to send
    its final results, then cancel. Second signal: cancel at once. :attr:`status` is the exit
    status the signal asks for: 143 after a SIGTERM (any of the signals), else 130.
    """

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.stop_sending = threading.Event()
        self.aborted = threading.Event()
        self.count = 0
        self.terminated = False  # a SIGTERM arrived
        self._callbacks: list[Callable[[], None]] = []
        self._stop_callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._control: Control | None = None

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    @property
    def status(self) -> ExitStatus:
        """The exit status of a stream or run these signals stopped."""
        return ExitStatus.TERMINATED if self.terminated else ExitStatus.INTERRUPTED

    def signal(self, signum: int | None = None) -> None:
        if signum == _SIGTERM:
            self.terminated = True
        self.count += 1
        self.stop_sending.set()
        with self._lock:
            stops = list(self._stop_callbacks)
        for callback in stops:
            callback()
        if self.count == 1:
            self._timer = threading.Timer(self.grace, self.abort)
            self._timer.daemon = True
            self._timer.start()
        else:
            self.abort()

    def abort(self) -> None:
        self.aborted.set()
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def register(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
        if self.aborted.is_set():
            callback()

    def unregister(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` at the first signal (now, if one already came)."""
        with self._lock:
            self._stop_callbacks.append(callback)
        if self.stop_sending.is_set():
            callback()

    def control(self, loop: asyncio.AbstractEventLoop) -> Control:
        """The engine's stop/abort for these signals, on ``loop`` (one per run)."""
        with self._lock:
            if self._control is not None:
                return self._control
            from bsstream.engine.core import Control

            control = self._control = Control()

        def stop() -> None:
            loop.call_soon_threadsafe(control.stop, self.status)

        def abort() -> None:
            loop.call_soon_threadsafe(control.abort)

        self.on_stop(stop)
        self.register(abort)
        return control

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
