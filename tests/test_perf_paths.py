"""The hot path's shape (issue 17): the replay buffer keeps chunks without copying them and
stays within its bound, numpy loads without OpenBLAS's thread pool, and inputs other than URLs
start without the network stack. Nothing here times anything (bench/ measures)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from bsstream.audio import libsoxr
from bsstream.protocol.resume import AudioFeed

CHUNK = 8000  # 250 ms of 16 kHz mono s16


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_feed_hands_out_each_chunk_itself() -> None:
    """An aligned read of a whole chunk is that chunk's object: no copy on the way to the wire."""
    produced = [os.urandom(CHUNK) for _ in range(5)]
    feed = AudioFeed(iter(produced), max_buffer_bytes=10 * CHUNK)
    for i, chunk in enumerate(produced):
        assert feed.read(i * CHUNK, CHUNK) is chunk
    assert feed.read(5 * CHUNK, CHUNK) == b"" and feed.eof


def test_feed_reads_anywhere_like_the_bytes_it_holds() -> None:
    """Replays from any even point, of any size, across chunk boundaries and odd-sized
    chunks, give exactly the bytes a flat buffer would."""
    rng = random.Random(17)
    data = rng.randbytes(200_000)
    sizes = [rng.choice((2, 998, 3000, 8000, 12_346)) for _ in range(100)]
    pieces, at = [], 0
    for size in sizes:
        pieces.append(data[at : at + size])
        at += size
    data = data[:at]
    feed = AudioFeed(iter(pieces), max_buffer_bytes=len(data))
    position = 0
    while position < len(data):
        size = rng.choice((2, 100, 7999, 8000, 20_000))
        got = feed.read(position, size)
        assert got == data[position : position + size]
        back = position - 2 * rng.randrange(0, 5000)  # a resumed call starts earlier
        if back >= 0:
            assert feed.read(back, size) == data[back : back + size]
        position += len(got)
    assert feed.read(len(data), 10) == b""


def test_feed_drops_partly_read_chunks_at_the_right_byte() -> None:
    data = bytes(range(256)) * 200  # 51,200 bytes
    feed = AudioFeed(chunks_of(data, CHUNK), max_buffer_bytes=10**6)
    assert feed.read(0, 3 * CHUNK) == data[: 3 * CHUNK]
    feed.release_before(CHUNK + 1234)
    assert feed.buffer_start == CHUNK + 1234
    with pytest.raises(LookupError):
        feed.read(CHUNK + 1232, 2)
    assert feed.read(CHUNK + 1234, CHUNK) == data[CHUNK + 1234 : 2 * CHUNK + 1234]
    feed.release_before(len(data) * 2)  # past the end: everything read so far goes
    assert feed.buffer_start == feed.end == 3 * CHUNK
    assert feed.read(3 * CHUNK, CHUNK) == data[3 * CHUNK : 4 * CHUNK]


def test_feed_memory_stays_at_its_bound() -> None:
    """32 MB through a 1 MB replay buffer: what is allocated at once stays near the bound
    (no growing buffer reallocated while the old one is alive)."""
    bound = 1_000_000
    total = 4000 * CHUNK

    def produce() -> Iterator[bytes]:
        for _ in range(total // CHUNK):
            yield bytes(CHUNK)

    tracemalloc.start()
    try:
        feed = AudioFeed(produce(), max_buffer_bytes=bound)
        position = 0
        while data := feed.read(position, CHUNK):
            position += len(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert position == total
    assert feed.end - feed.buffer_start <= bound
    assert peak < bound + 200_000, peak


def _fresh_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_numpy_loads_without_blas_threads_and_leaves_the_environment() -> None:
    out = _fresh_python(
        "import os\n"
        "from bsstream.audio.resample import import_numpy\n"
        "import_numpy()\n"
        "print(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    )
    threads, env = out.split()
    assert threads == "1"  # OpenBLAS would start one per core
    assert env == "None"  # set only while numpy loaded


def test_file_inputs_load_no_network_stack() -> None:
    """The URL input imports http.client, ssl and urllib.request only when a URL is opened."""
    out = _fresh_python(
        "import sys\n"
        "import bsstream.audio.piped\n"
        "print(sorted(m for m in ('http.client', 'ssl', 'urllib.request') if m in sys.modules))\n"
    )
    assert out == "[]"


@pytest.mark.skipif(sys.platform != "linux", reason="Linux pipes only")
def test_ffmpeg_output_pipe_is_widened() -> None:
    """ffmpeg may decode up to PIPE_BYTES ahead of the reader instead of stalling at 64 KiB."""
    import fcntl
    from pathlib import Path

    from bsstream.audio import ffmpeg
    from bsstream.audio.decode import open_input

    with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
        if int(f.read()) < ffmpeg.PIPE_BYTES:
            pytest.skip("the system caps pipes below PIPE_BYTES")
    mp3 = Path(__file__).parent / "data" / "07_commonvoice_en_651325_48k_mono.mp3"
    with open_input(str(mp3)) as source:
        assert source.path == "ffmpeg"
        pipe = source._pipe  # type: ignore[attr-defined]
        size = fcntl.fcntl(pipe._proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        assert size >= ffmpeg.PIPE_BYTES
        assert sum(len(b) for b in source.blocks()) > 0


# a whole `analyze --json` run in a fresh interpreter; prints the heavy modules it loaded
_RUN_AND_LIST = """
import sys
from bsstream.cli import main
status = main(sys.argv[1:])
heavy = ("numpy", "soxr", "rich", "pydub", "http.client", "bsstream.export.html")
print("LOADED", status, sorted(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ("01_jfk_16k_mono_s16.wav", []),  # sent as it is: nothing to convert
        ("07_commonvoice_en_651325_48k_mono.mp3", []),  # ffmpeg decodes it
        # resampled in-process: by libsoxr through ctypes, or by numpy + python-soxr where it can't be
        ("05_vctk_p286_011_48k_mono_s16.wav", [] if libsoxr.load() else ["numpy", "soxr"]),
    ],
)
def test_analyze_json_loads_only_what_its_input_needs(recording: str, expected: list[str]) -> None:
    """No live view (--json): no rich; no --output: no exporters; numpy and soxr only for a
    WAV that needs converting. Each is tens of ms of start-up and MiBs of memory."""
    from pathlib import Path

    from tests.fake_server import CID, KEY, FakeServer

    path = Path(__file__).parent / "data" / recording
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "BEHAVIORALSIGNALS_"))}
    with FakeServer() as srv:
        args = ["analyze", str(path), "--endpoint", srv.address, "--insecure", "--cid", str(CID), "--json"]
        env["BS_API_KEY"] = KEY
        done = subprocess.run(
            [sys.executable, "-c", _RUN_AND_LIST, *args], capture_output=True, text=True, timeout=120, env=env
        )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")]
    assert line, done.stderr[-2000:]
    assert line[-1] == f"LOADED 0 {expected}", done.stderr[-2000:]
