"""The engine's audio: exact chunks pulled from the source without blocking the event loop,
read by absolute position through the replay buffer (:class:`bsstream.protocol.resume.AudioFeed`).

The source's blocks go into the replay buffer as they come, whatever their size (a decoder's
blocks are up to 64 KiB, several chunks each): the buffer cuts the chunks by position, so no
rechunking copy, and one thread handoff brings several chunks. Only a trailing odd byte (half
a sample) at the very end is never sent.

A sync source (a decoder, the caller's iterator of PCM chunks) is read ahead on a thread of
its own, a few blocks at most: the stream takes a block that is ready without a thread
handoff (a wake-up and a GIL switch per block cost more than decoding a second of audio), and
decoding goes on beside the sending. A list or tuple of chunks (in memory) and an async source
are pulled on the loop when the stream needs them. A pull in flight survives the cancellation
of the attempt that asked for it (the next attempt takes its block), so no audio is lost or
read twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from bsstream.protocol.resume import AudioFeed


class _ThreadPuller:
    """Reads a blocking iterator on a daemon thread of its own, up to ``depth`` items ahead.

    The loop takes an item that is ready without waiting for the thread (no wake-up, no GIL
    handoff per block); only when none is ready does it wait, and the thread hands the next
    item straight to the waiting future. An item is taken once: by the future that waits for
    it, or from the ready queue by the next pull. ``depth`` 0: an item is read only when one
    is asked for (a paced stream takes its source at the pace it sends)."""

    def __init__(self, items: Iterator[bytes], loop: asyncio.AbstractEventLoop, depth: int) -> None:
        self._items = items
        self._loop = loop
        self._depth = depth
        self._cond = threading.Condition()
        self._ready: deque[tuple[bytes | None, BaseException | None]] = deque()
        self._waiter: asyncio.Future[bytes | None] | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def pull(self) -> asyncio.Future[bytes | None]:
        """The next item (None: the end), ready or to come. Called on the loop, one at a time."""
        future: asyncio.Future[bytes | None] = self._loop.create_future()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bsstream-audio", daemon=True)
                self._thread.start()
            if self._ready:
                item, error = self._ready.popleft()
                _settle(future, item, error)
            else:
                self._waiter = future
            self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._waiter is None and len(self._ready) >= self._depth:
                    self._cond.wait()
                if self._closed:
                    return
            try:
                item: bytes | None = next(self._items, None)
                error: BaseException | None = None
            except Exception as exc:  # a decoder failure ends the audio; the engine reports it
                item, error = None, exc
            with self._cond:
                waiter, self._waiter = self._waiter, None
                if waiter is None:
                    self._ready.append((item, error))
            if waiter is not None:
                try:
                    self._loop.call_soon_threadsafe(_settle, waiter, item, error)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    return
            if item is None:
                return


def _settle(
    future: asyncio.Future[bytes | None] | None, item: bytes | None, error: BaseException | None
) -> None:
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(item)


async def _anext(items: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await items.__anext__()
    except StopAsyncIteration:
        return None


class ChunkFeed:
    """Chunks of ``chunk_bytes`` by absolute byte position, with a replay buffer of
    ``max_buffer_bytes`` (see AudioFeed). ``error``: what ended the source, when it failed.
    ``read_ahead``: blocks a sync source is read ahead of the stream (0 for a paced stream:
    the source, and what watches its blocks, such as the level meter, keeps the sending pace)."""

    READ_AHEAD = 6  # decoder blocks: at most 6 x 64 KiB

    def __init__(
        self,
        blocks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        chunk_bytes: int,
        max_buffer_bytes: int,
        read_ahead: int = READ_AHEAD,
    ) -> None:
        self.chunk_bytes = chunk_bytes
        self._read_ahead = read_ahead
        self.error: BaseException | None = None
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._done = False
        self._next: asyncio.Future[bytes | None] | None = None
        self._sync: Iterator[bytes] | None = None
        self._async: AsyncIterator[bytes] | None = None
        self._puller: _ThreadPuller | None = None
        if chunk_bytes <= 0 or chunk_bytes % 2:
            raise ValueError("chunk_bytes must be positive and even")
        self._inline = isinstance(blocks, (list, tuple))  # in memory: pulling never blocks
        if isinstance(blocks, AsyncIterable):
            self._async = blocks.__aiter__()
        else:
            self._sync = iter(blocks)
        self.buffer = AudioFeed(self._drain(), max_buffer_bytes=max_buffer_bytes)

    def _drain(self) -> Iterator[bytes]:
        """What AudioFeed reads: the chunks pulled so far (read() pulls enough first)."""
        while True:
            if self._pending:
                chunk = self._pending.popleft()
                self._pending_bytes -= len(chunk)
                yield chunk
            elif self._done:
                return
            else:
                raise RuntimeError("audio read before it was pulled")

    @property
    def failure(self) -> BaseException | None:
        """What ended the source, when it failed."""
        return self.error or self.buffer.error

    @property
    def buffer_start(self) -> int:
        return self.buffer.buffer_start

    async def read(self, position: int, size: int) -> bytes:
        """Up to ``size`` bytes at absolute ``position`` (fewer only at the end of the audio)."""
        while not self._done and position + size > self.buffer.end + self._pending_bytes:
            await self._pull()
        if self._done:  # the audio ends on a whole sample: a trailing odd byte is never sent
            total = self.buffer.end + self._pending_bytes
            size = max(0, min(size, total - total % 2 - position))
        return self.buffer.read(position, size)

    def release_before(self, position: int) -> None:
        self.buffer.release_before(position)

    async def _pull(self) -> None:
        if self._next is None:
            self._next = self._start_pull()
        try:
            chunk = await asyncio.shield(self._next)
        except asyncio.CancelledError:
            raise  # the pull goes on; the next read takes its chunk
        except Exception as exc:
            self._next = None
            self.error = exc
            self._done = True
            return
        self._next = None
        if chunk is None:
            self._done = True
            return
        if chunk:
            self._pending.append(chunk)
            self._pending_bytes += len(chunk)

    def _start_pull(self) -> asyncio.Future[bytes | None]:
        if self._async is not None:
            return asyncio.ensure_future(_anext(self._async))
        if self._inline:
            return self._pull_inline()
        if self._puller is None:
            assert self._sync is not None
            self._puller = _ThreadPuller(self._sync, asyncio.get_running_loop(), self._read_ahead)
        return self._puller.pull()

    def _pull_inline(self) -> asyncio.Future[bytes | None]:
        assert self._sync is not None
        pulled: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        try:
            pulled.set_result(next(self._sync, None))
        except Exception as exc:
            pulled.set_exception(exc)
        return pulled

    async def aclose(self) -> None:
        """Stop pulling (a blocked sync read ends when its source is closed)."""
        if self._puller is not None:
            self._puller.close()
        if self._next is not None and not self._next.done():
            self._next.cancel()
        if self._async is not None:
            aclose = getattr(self._async, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # e.g. still running in a cancelled pull
                    await aclose()
