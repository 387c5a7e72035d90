"""The sync faces' way to the engine: one background event loop per process, shared by every
sync stream, and a bounded hand-off of a stream's items to the thread that reads them.

So the CLI and ``bsstream.stream`` run the same async engine as ``bsstream.aio``: there is
one path to the wire.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
HANDOFF_SIZE = 64  # items a stream may have waiting for its reader before it stops reading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's engine loop (started on first use, on a daemon thread)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=serve, name="bsstream-engine", daemon=True).start()
            started.wait()
            _loop = loop
        return _loop


def submit(coro: Coroutine[object, object, R]) -> concurrent.futures.Future[R]:
    """Run ``coro`` on the background loop."""
    return asyncio.run_coroutine_threadsafe(coro, background_loop())


def call(coro: Coroutine[object, object, R], timeout: float | None = None) -> R:
    """Run ``coro`` on the background loop and wait for its result."""
    return submit(coro).result(timeout)


@atexit.register
def _stop() -> None:
    loop = _loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(loop.stop)


class Done:
    """The end of a hand-off."""


DONE = Done()


class Handoff(Generic[T]):
    """Items from the engine's loop to one reader thread; at most ``size`` wait, then the
    engine waits (and stops reading the call) until the reader takes one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int = HANDOFF_SIZE) -> None:
        self._loop = loop
        self._items: queue.SimpleQueue[T | Done] = queue.SimpleQueue()
        self._slots = asyncio.Semaphore(size)

    async def put(self, item: T) -> None:
        """On the loop: hand over ``item`` (waits while ``size`` items are waiting)."""
        await self._slots.acquire()
        self._items.put(item)

    def finish(self, _future: object = None) -> None:
        """From any thread: nothing more will come."""
        self._items.put(DONE)

    def get(self) -> T | Done:
        """On the reader's thread: the next item, or DONE."""
        item = self._items.get()
        if not isinstance(item, Done):
            self._loop.call_soon_threadsafe(self._slots.release)
        return item


class Running(Generic[R]):
    """A coroutine running on the background loop; :meth:`cancel` and :meth:`wait` from any
    thread (unlike ``run_coroutine_threadsafe``'s future, ``wait`` returns only once the
    coroutine has really finished, its cleanup done)."""

    def __init__(
        self, coro: Coroutine[object, object, R], on_done: Callable[[], None] = lambda: None
    ) -> None:
        self.loop = background_loop()
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self._task: asyncio.Task[R] | None = None
        self._cancel = False
        self._on_done = on_done
        self.loop.call_soon_threadsafe(self._start, coro)

    def _start(self, coro: Coroutine[object, object, R]) -> None:
        self._task = self.loop.create_task(coro)
        self._task.add_done_callback(self._finished)
        if self._cancel:
            self._task.cancel()

    def _finished(self, task: asyncio.Task[R]) -> None:
        if task.cancelled():
            self.future.cancel()
            self.future.set_running_or_notify_cancel()
        elif task.exception() is not None:
            self.future.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            self.future.set_result(task.result())
        self._on_done()

    def cancel(self) -> None:
        def cancel() -> None:
            self._cancel = True
            if self._task is not None:
                self._task.cancel()

        self.loop.call_soon_threadsafe(cancel)

    def wait(self, timeout: float | None = None) -> R:
        """The coroutine's result (its exception raised; CancelledError when cancelled)."""
        return self.future.result(timeout)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for the coroutine to end, whatever its end."""
        with contextlib.suppress(BaseException):  # cancelled or failed: the caller has its own
            self.future.result(timeout)
