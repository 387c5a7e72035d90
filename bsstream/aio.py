"""The asyncio face: the same streams as :mod:`bsstream.api`, as async iterators on the
caller's event loop (grpc.aio). Sources may also be async iterables of PCM chunks.

One process can hold many concurrent streams: each is a few tasks, not threads (a sync
source that must be decoded is read on a thread of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bsstream.engine.client import resolve, run
from bsstream.engine.options import Connection, Method, Options
from bsstream.engine.sources import AsyncSource, Opened, needs_decoding, open_source
from bsstream.protocol.results import ResultMessage

HANDOFF_SIZE = 64  # results a stream holds for a slow reader before it stops reading the call


class _End:
    """The end of a stream's results."""


async def stream(
    source: AsyncSource,
    method: Method | str = Method.ANALYZE,
    options: Options | None = None,
    connection: Connection | None = None,
) -> AsyncIterator[ResultMessage]:
    """Stream ``source``; yield each result message as it arrives (see :func:`bsstream.stream`).

    Closing the iterator early (``break`` then ``aclose()``, or cancelling the task) cancels
    the call; a failure raises a :class:`bsstream.BsError` subclass.

    >>> import asyncio, bsstream, bsstream.aio
    >>> async def chunks():
    ...     for _ in range(8):
    ...         yield bytes(8000)  # 0.25 s of 16 kHz mono s16le each
    >>> async def main(address):
    ...     connection = bsstream.Connection.emulator(address)
    ...     return [m async for m in bsstream.aio.stream(chunks(), connection=connection)]
    >>> with bsstream.Emulator() as emulator:
    ...     messages = asyncio.run(main(emulator.address))
    >>> all(m.source == "<pcm>" for m in messages)
    True
    """
    chosen, opts, conn = resolve(method, options, connection)
    opened = await asyncio.to_thread(open_source, source) if needs_decoding(source) else open_source(source)
    try:
        async for message in _results(opened, chosen, opts, conn):
            yield message
    finally:
        opened.close()


async def analyze(
    source: AsyncSource, options: Options | None = None, connection: Connection | None = None
) -> AsyncIterator[ResultMessage]:
    """:func:`stream` with ``Method.ANALYZE``.

    >>> import asyncio, bsstream, bsstream.aio
    >>> async def first_task(address):
    ...     connection = bsstream.Connection.emulator(address)
    ...     path = "tests/data/01_jfk_16k_mono_s16.wav"
    ...     async for message in bsstream.aio.analyze(path, connection=connection):
    ...         if message.results:
    ...             return message.results[0].task
    >>> with bsstream.Emulator() as emulator:
    ...     isinstance(asyncio.run(first_task(emulator.address)), str)
    True
    """
    async for message in stream(source, Method.ANALYZE, options, connection):
        yield message


async def deepfake(
    source: AsyncSource, options: Options | None = None, connection: Connection | None = None
) -> AsyncIterator[ResultMessage]:
    """:func:`stream` with ``Method.DEEPFAKE``."""
    async for message in stream(source, Method.DEEPFAKE, options, connection):
        yield message


async def _results(
    opened: Opened, method: Method, options: Options, connection: Connection
) -> AsyncIterator[ResultMessage]:
    queue: asyncio.Queue[ResultMessage | _End] = asyncio.Queue(HANDOFF_SIZE)

    async def stream_all() -> None:
        end = await run(opened.audio, method, options, connection, queue.put)
        await queue.put(_End())
        if end.error is not None:
            raise end.error

    task = asyncio.ensure_future(stream_all())
    try:
        while not isinstance(item := await _next(queue, task), _End):
            yield item
        await task  # raises the stream's error
    finally:
        if not task.done():
            task.cancel()  # closed early: the engine cancels the call
        await asyncio.gather(task, return_exceptions=True)


async def _next(queue: asyncio.Queue[ResultMessage | _End], task: asyncio.Task[None]) -> ResultMessage | _End:
    """The next item; if the stream task failed before its end marker, its exception."""
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    if not queue.empty():
        return queue.get_nowait()
    await task  # it ended without the marker: an exception (or cancellation) is raised here
    return _End()
