"""The engine's audio feed (issue 17): a source's blocks go into the replay buffer as they come,
whatever their size (read ahead on a thread, in memory, async), and come out as the same exact
chunks a rechunking step would make; the latency records stay compact; a CSV output loads no
numpy."""

from __future__ import annotations

import asyncio
import os
import random
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest

from bsstream.audio.chunks import rechunk
from bsstream.engine.feed import ChunkFeed
from bsstream.protocol.stats import LatencyTracker

CHUNK = 8000
DATA = Path(__file__).parent / "data"


def odd_blocks(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at random places: odd sizes, empty blocks, blocks of many chunks."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rng.choice((0, 1, 3, 999, 7999, 8000, 8001, 20001, 65536))
        out.append(data[i : i + n])
        i += n
    return out


async def read_all(feed: ChunkFeed) -> list[bytes]:
    chunks: list[bytes] = []
    position = 0
    while True:
        chunk = await feed.read(position, feed.chunk_bytes)
        if not chunk:
            return chunks
        chunks.append(chunk)
        position += len(chunk)


def thread_source(blocks: list[bytes]) -> Iterator[bytes]:
    yield from blocks  # a generator: pulled on the feed's thread


async def async_source(blocks: list[bytes]) -> AsyncIterator[bytes]:
    for block in blocks:
        await asyncio.sleep(0)
        yield block


class SlowFirst:
    """A source whose reader is slower than the stream at first, then faster (the read-ahead
    queue runs empty, then full)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._it = iter(blocks)
        self._n = 0

    def __iter__(self) -> SlowFirst:
        return self

    def __next__(self) -> bytes:
        self._n += 1
        if self._n < 4:
            time.sleep(0.01)
        return next(self._it)


@pytest.mark.parametrize("kind", ["thread", "unbuffered-thread", "list", "async", "slow-first"])
@pytest.mark.parametrize("length", [5 * CHUNK, 5 * CHUNK + 1, 5 * CHUNK + 2, 7 * CHUNK + 4321])
def test_blocks_of_any_size_come_out_as_the_chunks_rechunk_makes(kind: str, length: int) -> None:
    data = os.urandom(length)
    blocks = odd_blocks(data, seed=length)
    expected = list(rechunk(blocks, CHUNK))  # exact chunks, a trailing odd byte dropped
    source: object = {
        "thread": lambda: thread_source(blocks),
        "unbuffered-thread": lambda: thread_source(blocks),
        "list": lambda: blocks,
        "async": lambda: async_source(blocks),
        "slow-first": lambda: SlowFirst(blocks),
    }[kind]()

    async def run() -> list[bytes]:
        ahead = 0 if kind == "unbuffered-thread" else ChunkFeed.READ_AHEAD
        feed = ChunkFeed(source, chunk_bytes=CHUNK, max_buffer_bytes=10**9, read_ahead=ahead)  # type: ignore[arg-type]
        try:
            return await read_all(feed)
        finally:
            await feed.aclose()

    got = asyncio.run(run())
    assert got == expected
    assert all(len(c) % 2 == 0 for c in got)


def test_a_replay_from_an_earlier_position_is_the_same_bytes() -> None:
    data = os.urandom(12 * CHUNK + 6)
    blocks = odd_blocks(data, seed=3)

    async def run() -> tuple[bytes, bytes]:
        feed = ChunkFeed(thread_source(blocks), chunk_bytes=CHUNK, max_buffer_bytes=len(data))
        try:
            first = b"".join(await read_all(feed))
            again = await feed.read(3 * CHUNK + 2, 5 * CHUNK)  # unaligned, across blocks
            return first, again
        finally:
            await feed.aclose()

    first, again = asyncio.run(run())
    assert first == data
    assert again == data[3 * CHUNK + 2 : 8 * CHUNK + 2]


def test_a_decoder_failure_after_some_blocks_ends_the_audio_with_its_error() -> None:
    def failing() -> Iterator[bytes]:
        yield bytes(3 * CHUNK + 100)
        raise OSError("disk gone")

    async def run() -> tuple[list[bytes], BaseException | None]:
        feed = ChunkFeed(failing(), chunk_bytes=CHUNK, max_buffer_bytes=10**9)
        try:
            return await read_all(feed), feed.failure
        finally:
            await feed.aclose()

    chunks, failure = asyncio.run(run())
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, CHUNK, 100]
    assert isinstance(failure, OSError)


def test_latency_records_stay_compact_while_no_result_comes() -> None:
    """Two hours of 250 ms chunks without a result (a server that only listens): the send
    records are arrays of doubles, not a float object and a list slot per figure."""
    tracker = LatencyTracker()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(28_800):
            tracker.sent((i + 1) * 0.25, 1000.0 + i * 0.001)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 28_800 * 2 * 8 * 1.2  # lists of floats would take about 4x this
    tracker.received(4.0, 2000.0)
    assert list(tracker.latencies) == [pytest.approx(2000.0 - (1000.0 + 15 * 0.001))]


_RUN_AND_LIST = """
import sys
from bsstream.cli import main
status = main(sys.argv[1:])
print("LOADED", status, sorted(m for m in ("numpy", "soxr") if m in sys.modules))
"""


def test_a_csv_output_loads_no_numpy(tmp_path: Path) -> None:
    """Only the HTML report's audio capture needs numpy; a 16 kHz mono WAV with --output x.csv
    runs without it (tens of ms of start-up and MiBs of memory)."""
    import subprocess
    import sys

    from tests.fake_server import CID, KEY, FakeServer

    out = tmp_path / "x.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "BEHAVIORALSIGNALS_"))}
    env["BS_API_KEY"] = KEY
    with FakeServer() as srv:
        args = [
            "analyze", str(DATA / "01_jfk_16k_mono_s16.wav"), "--endpoint", srv.address, "--insecure",
            "--cid", str(CID), "--json", "--output", str(out),
        ]  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", _RUN_AND_LIST, *args], capture_output=True, text=True, timeout=120, env=env
        )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")]
    assert line, done.stderr[-2000:]
    assert line[-1] == "LOADED 0 []", done.stderr[-2000:]
    assert out.is_file()


@pytest.mark.parametrize("read_ahead", [ChunkFeed.READ_AHEAD, 0])
def test_the_read_ahead_is_bounded(read_ahead: int) -> None:
    """An endless source is read only a few blocks ahead of what the stream has taken (none
    for a paced stream)."""
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield bytes(CHUNK)

    async def run() -> int:
        feed = ChunkFeed(endless(), chunk_bytes=CHUNK, max_buffer_bytes=10**9, read_ahead=read_ahead)
        try:
            await feed.read(0, CHUNK)
            for _ in range(200):  # until the reader has filled its queue
                if pulled >= read_ahead + 1:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            return pulled
        finally:
            await feed.aclose()

    assert asyncio.run(run()) == read_ahead + 1  # the one taken, and read_ahead waiting
