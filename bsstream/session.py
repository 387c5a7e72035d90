"""One stream end to end for the CLI: a thin adapter over the engine's sync face.

The stream itself runs on the engine (:mod:`bsstream.engine`, grpc.aio) on the process's
background event loop; this module hands what it emits to the sink on the caller's thread,
in order (``begin``, messages and events as they arrive, ``end`` with the outcome), and
turns Ctrl-C / SIGTERM (:class:`Interrupts`) into the engine's stop and abort.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Protocol

from bsstream.engine import bridge
from bsstream.engine.core import (
    DIAGNOSE_TIMEOUT,
    MIN_CONNECT_WAIT,
    AudioInput,
    Emulated,
    Item,
    StreamEnd,
    StreamEngine,
)
from bsstream.engine.options import StreamOptions
from bsstream.engine.wire import CHANNELS, Checks, Link, Target
from bsstream.interrupts import Interrupts
from bsstream.protocol.messages import config_to_dict
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import Reconnect, Sink, StreamInfo, StreamOutcome, UtteranceLost
from bsstream.settings import Endpoint
from bsstream.status import SIGNALLED

__all__ = [
    "DIAGNOSE_TIMEOUT",
    "MIN_CONNECT_WAIT",
    "CallStarter",
    "Interrupts",
    "PcmSourceLike",
    "Session",
    "StreamOptions",
]


class PcmSourceLike(Protocol):
    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class CallStarter(Checks, Protocol):
    """What a session needs of the transport (bsstream.transport.Transport): where the
    engine's channel goes, the connection checks, and a hook to close that channel with it."""

    endpoint: Endpoint
    insecure: bool
    ca_cert: bytes | None

    def on_close(self, callback: Callable[[], None]) -> None: ...


class Session:
    """Streams one input; returns its outcome. Never raises for a stream-level failure."""

    def __init__(
        self,
        transport: CallStarter,
        options: StreamOptions,
        *,
        interrupts: Interrupts | None = None,
        notify: Callable[[str], None] = lambda line: None,
        on_emulated: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        sleep_jitter: Callable[[], float] = random.random,
        on_progress: Callable[[str, float], None] | None = None,
    ) -> None:
        self.transport = transport
        self.options = options
        self.interrupts = interrupts or Interrupts()
        self.notify = notify
        self.on_emulated = on_emulated
        self.clock = clock
        self.jitter = sleep_jitter
        self.on_progress = on_progress

    def run(self, source: PcmSourceLike, sink: Sink) -> StreamOutcome:
        opts = self.options
        info = StreamInfo(
            source=source.name,
            method=opts.method,
            config=config_to_dict(opts.config),
            duration=source.duration,
            emulated=opts.emulated,
        )
        sink.begin(info)
        audio = AudioInput(source.name, source.blocks(), source.duration)
        end = self._stream(audio, sink)
        outcome = end.outcome
        if outcome.status in SIGNALLED:
            outcome = replace(outcome, status=self.interrupts.status)  # SIGTERM may follow Ctrl-C
        sink.end(replace(info, emulated=info.emulated or end.emulated), outcome)
        return outcome

    def _stream(self, audio: AudioInput, sink: Sink) -> StreamEnd:
        """Run the engine on the background loop; hand its items to ``sink`` here, in order."""
        loop = bridge.background_loop()
        target = _hold_channel(self.transport, loop)
        control = self.interrupts.control(loop)
        handoff: bridge.Handoff[Item] = bridge.Handoff(loop)

        async def stream() -> StreamEnd:
            link = Link(CHANNELS.acquire(target), self.transport)
            try:
                engine = StreamEngine(
                    link,
                    self.options,
                    audio,
                    handoff.put,
                    control=control,
                    clock=self.clock,
                    jitter=self.jitter,
                    on_progress=self.on_progress,
                )
                return await engine.run()
            finally:
                await CHANNELS.release(target)

        running = bridge.Running(stream(), on_done=handoff.finish)
        try:
            self._deliver(handoff, sink)
        except BaseException:
            running.cancel()  # the engine cancels its call
            running.settle()
            raise
        return running.wait()

    def _deliver(self, handoff: bridge.Handoff[Item], sink: Sink) -> None:
        while True:
            item = handoff.get()
            if isinstance(item, bridge.Done):
                return
            if isinstance(item, ResultMessage):
                sink.message(item)
            elif isinstance(item, (Reconnect, UtteranceLost)):
                self.notify(item.line())
                sink.event(item.as_dict())
            elif isinstance(item, Emulated):
                self.on_emulated()


def _hold_channel(transport: CallStarter, loop: asyncio.AbstractEventLoop) -> Target:
    """The engine's channel for this transport, kept open until the transport closes (the
    streams of a run share one connection, as they did on the transport's own channel)."""
    target = Target(transport.endpoint, transport.insecure, transport.ca_cert)
    with _held_lock:
        if id(transport) in _held:
            return target
        _held.add(id(transport))

    async def acquire() -> None:
        CHANNELS.acquire(target)

    def release() -> None:
        with _held_lock:
            _held.discard(id(transport))
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError, TimeoutError, asyncio.TimeoutError):
                asyncio.run_coroutine_threadsafe(CHANNELS.release(target), loop).result(5.0)

    asyncio.run_coroutine_threadsafe(acquire(), loop).result()
    transport.on_close(release)
    return target


_held: set[int] = set()
_held_lock = threading.Lock()
