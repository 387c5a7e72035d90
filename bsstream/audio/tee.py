"""Decode once, stream twice: one PcmSource fanned out to several consumers (``scan``).

A pump thread reads the source and puts every block on each branch's bounded queue, so
memory stays bounded and the slower consumer sets the pace. A branch that is closed (its
call failed) stops receiving, so it never blocks the others.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Protocol

_END = object()
QUEUE_BLOCKS = 64


class _Source(Protocol):
    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Branch:
    """One consumer's view of the shared source (the PcmSource interface)."""

    def __init__(self, tee: Tee) -> None:
        self._tee = tee
        self.name = tee.source.name
        self.duration = tee.source.duration
        self.queue: queue.Queue[object] = queue.Queue(QUEUE_BLOCKS)
        self.closed = threading.Event()

    def blocks(self) -> Iterator[bytes]:
        self._tee.start()
        while True:
            try:
                item = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.closed.is_set():
                    return
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item

    def close(self) -> None:
        self.closed.set()


class Tee:
    def __init__(self, source: _Source, n: int) -> None:
        self.source = source
        self.branches = [Branch(self) for _ in range(n)]
        self._started = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, name="bsstream-tee", daemon=True)

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def _put(self, branch: Branch, item: object) -> None:
        while not branch.closed.is_set():
            try:
                branch.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _pump(self) -> None:
        try:
            for block in self.source.blocks():
                if all(b.closed.is_set() for b in self.branches):
                    return
                self._deliver(block)
        except BaseException as exc:  # handed to every consumer, which reports it
            for branch in self.branches:
                self._put(branch, exc)
            return
        for branch in self.branches:
            self._put(branch, _END)

    def _deliver(self, block: bytes) -> None:
        """Hand one decoded block to the branches: here the same block to every open one."""
        for branch in self.branches:
            if not branch.closed.is_set():
                self._put(branch, block)

    def close(self) -> None:
        for branch in self.branches:
            branch.close()
        self.source.close()
