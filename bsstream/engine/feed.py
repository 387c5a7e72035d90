"""The engine's audio: exact chunks pulled from the source without blocking the event loop,
read by absolute position through the replay buffer (:class:`bsstream.protocol.resume.AudioFeed`).

A sync source (a decoder, the caller's iterator of PCM chunks) is pulled on a thread of its
own, one chunk when the stream asks for it; a list or tuple of chunks (in memory) and an
async source are pulled on the loop. A pull
in flight survives the cancellation of the attempt that asked for it (the next attempt takes
its chunk), so no chunk is lost or read twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from bsstream.audio.chunks import rechunk
from bsstream.protocol.resume import AudioFeed


async def arechunk(blocks: AsyncIterable[bytes], chunk_bytes: int) -> AsyncIterator[bytes]:
    """:func:`bsstream.audio.chunks.rechunk` for an async source: chunks of exactly
    ``chunk_bytes`` (the last may be shorter, never odd)."""
    pending = bytearray()
    async for block in blocks:
        pending += block
        while len(pending) >= chunk_bytes:
            yield bytes(pending[:chunk_bytes])
            del pending[:chunk_bytes]
    tail = len(pending) - len(pending) % 2
    if tail:
        yield bytes(pending[:tail])


class _ThreadPuller:
    """Pulls one item at a time from a blocking iterator on a daemon thread of its own."""

    def __init__(self, items: Iterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._items = items
        self._loop = loop
        self._want = threading.Semaphore(0)
        self._closed = False
        self._future: asyncio.Future[bytes | None] | None = None
        self._thread: threading.Thread | None = None

    def pull(self) -> asyncio.Future[bytes | None]:
        self._future = self._loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bsstream-audio", daemon=True)
            self._thread.start()
        self._want.release()
        return self._future

    def close(self) -> None:
        self._closed = True
        self._want.release()

    def _run(self) -> None:
        while True:
            self._want.acquire()
            if self._closed:
                return
            future = self._future
            try:
                item: bytes | None = next(self._items, None)
                error: BaseException | None = None
            except Exception as exc:  # a decoder failure ends the audio; the engine reports it
                item, error = None, exc
            try:
                self._loop.call_soon_threadsafe(_settle, future, item, error)
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
    ``max_buffer_bytes`` (see AudioFeed). ``error``: what ended the source, when it failed."""

    def __init__(
        self,
        blocks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        chunk_bytes: int,
        max_buffer_bytes: int,
    ) -> None:
        self.chunk_bytes = chunk_bytes
        self.error: BaseException | None = None
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._done = False
        self._next: asyncio.Future[bytes | None] | None = None
        self._sync: Iterator[bytes] | None = None
        self._async: AsyncIterator[bytes] | None = None
        self._puller: _ThreadPuller | None = None
        self._inline = isinstance(blocks, (list, tuple))  # in memory: pulling never blocks
        if isinstance(blocks, AsyncIterable):
            self._async = arechunk(blocks, chunk_bytes).__aiter__()
        else:
            self._sync = rechunk(blocks, chunk_bytes)
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
        elif chunk:
            self._pending.append(chunk)
            self._pending_bytes += len(chunk)

    def _start_pull(self) -> asyncio.Future[bytes | None]:
        if self._async is not None:
            return asyncio.ensure_future(_anext(self._async))
        if self._inline:
            return self._pull_inline()
        if self._puller is None:
            assert self._sync is not None
            self._puller = _ThreadPuller(self._sync, asyncio.get_running_loop())
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
