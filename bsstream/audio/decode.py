"""Any input (a path or ``-`` for stdin) -> a stream of PCM signed 16-bit LE, 16 kHz, mono.

Which decoder handles what (decided by sniffing the first bytes, never by the file name):

============================================  ==============================================
input                                          path
============================================  ==============================================
WAV already PCM16 16 kHz mono (file/stdin)     *native*: our streaming WAV parser, samples
                                               copied from the input (no process)
WAV integer PCM (8/16/24/32-bit, any rate and  *pydub*: ``AudioSegment.from_wav`` then
channel count), file of at most 10 MiB whose   ``set_frame_rate/set_channels/set_sample_width``
data length fits the file                      (falls back to ffmpeg if pydub fails or its
                                               result is not as long as the header says)
everything else: other WAVs (float, mu-law,    *ffmpeg*: a streaming ``ffmpeg ... -f s16le
A-law, extensible float, > 10 MiB), mp3, flac, pipe:1`` process; first audio stream, samples
ogg/opus, m4a/aac, webm, video; stdin that is  read as they are decoded
not PCM16 16 kHz mono WAV; FIFOs
============================================  ==============================================

pydub loads a file whole, so it is only used for small WAV files it can read itself (its
``from_file`` on other formats needs ffprobe, which the bundled ffmpeg does not have).
Memory on the native and ffmpeg paths is flat in the input length, and the first block is
available as soon as the first samples are decoded.

Every failure raises :class:`bsstream.status.InputError` (exit code 4) with one line that
names the input, and a hint saying what to do: up front from :func:`open_input` when it can be
known then (missing, directory, unreadable, empty, truncated WAV header, not audio, no audio
track), otherwise from :meth:`PcmSource.blocks` (e.g. ffmpeg failing mid-stream).
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, BinaryIO

from bsstream.audio import wav
from bsstream.audio.ffmpeg import FfmpegPipe, FfmpegStartError, ffmpeg_exe, file_url, import_pydub
from bsstream.protocol.messages import BYTES_PER_SECOND, SAMPLE_RATE
from bsstream.status import InputError

__all__ = ["BLOCK_BYTES", "PYDUB_MAX_BYTES", "PcmSource", "ffmpeg_exe", "open_input"]

BLOCK_BYTES = 64 * 1024  # the largest block blocks() yields (even)
PYDUB_MAX_BYTES = 10 * 1024 * 1024  # WAV files up to this size may be loaded whole by pydub
PYDUB_SLACK_BYTES = 320  # 10 ms: pydub's resampler may round the length a little
PROBE_TIMEOUT = 10.0  # seconds open_input waits for ffmpeg to open a file's input
# ... and stdin's: live input may be slow to arrive; errors found later come from blocks()
STDIN_PROBE_TIMEOUT = 2.0


def _err(name: str, problem: str, hint: str | None = None) -> InputError:
    return InputError(f"{name}: {problem}", hint=hint)


class PcmSource:
    """A decoded input: PCM signed 16-bit little-endian, 16 kHz, mono, as a stream of blocks.

    ``name`` is the input as the user gave it (``"stdin"`` for ``-``); ``duration`` is the
    audio's length in seconds when known before streaming, else None; ``path`` says which
    decoder runs (``"native"``, ``"pydub"`` or ``"ffmpeg"``). A context manager; ``close()``
    is idempotent and may be called from another thread while ``blocks()`` is consumed (the
    consumer then ends promptly, without an error).
    """

    path = "base"

    def __init__(self, name: str, duration: float | None = None) -> None:
        self.name = name
        self.duration = duration
        self._closed = threading.Event()
        self._started = False

    def blocks(self) -> Iterator[bytes]:
        """Even-length blocks of at most BLOCK_BYTES; InputError on a decode failure. Call once."""
        if self._started:
            raise RuntimeError(f"{self.name}: blocks() may be called only once")
        self._started = True
        return self._blocks()

    def _blocks(self) -> Iterator[bytes]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release everything (processes, threads, files). Idempotent; safe from any thread."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> PcmSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} path={self.path} duration={self.duration}>"


class _NativeSource(PcmSource):
    """Samples copied straight from a WAV stream that is already PCM16 16 kHz mono.

    A regular file is read in the consumer's thread. A pipe (stdin, a FIFO) is read by a
    thread into a small bounded queue, so close() from another thread releases a consumer
    waiting for live input at once (a read blocked on a pipe cannot be interrupted).
    """

    path = "native"
    QUEUE_BLOCKS = 4  # at most this many blocks wait in memory

    def __init__(
        self,
        name: str,
        stream: BinaryIO,
        *,
        limit: int | None,
        duration: float | None,
        owns: bool,
        live: bool = False,
    ) -> None:
        super().__init__(name, duration)
        self._stream = stream
        self._limit = limit  # bytes of samples to read; None: to the end of the stream
        self._owns = owns
        self._live = live
        self._lock = threading.Lock()
        # read1 returns what a pipe has now (low latency for live stdin); files read whole blocks
        self._read: Callable[[int], bytes] = _reader(stream) if live else stream.read
        self._queue: queue.Queue[bytes | Exception | None] = queue.Queue(self.QUEUE_BLOCKS)

    def _blocks(self) -> Iterator[bytes]:
        carry = b""
        produced = 0
        try:
            for data in self._threaded_reads() if self._live else self._direct_reads():
                if carry:
                    data = carry + data
                    carry = b""
                if len(data) % 2:
                    carry = data[-1:]
                    data = data[:-1]
                if data:
                    produced += len(data)
                    yield data
            if produced == 0 and not self.closed:
                raise _err(self.name, "contains no audio samples", "give a recording with sound")
        finally:
            self.close()

    def _direct_reads(self) -> Iterator[bytes]:
        remaining = self._limit
        while not self.closed and (remaining is None or remaining > 0):
            want = BLOCK_BYTES if remaining is None else min(BLOCK_BYTES, remaining)
            with self._lock:
                if self.closed:
                    return
                try:
                    data = self._read(want)
                except (OSError, ValueError) as exc:
                    if self.closed:
                        return
                    raise _err(self.name, f"read failed ({exc})", "check the input") from exc
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data

    def _threaded_reads(self) -> Iterator[bytes]:
        threading.Thread(target=self._pump, name="pcm-reader", daemon=True).start()
        while not self.closed:
            item = self._queue.get()
            if item is None or self.closed:
                return
            if isinstance(item, Exception):
                raise _err(self.name, f"read failed ({item})", "check the input") from item
            yield item

    def _pump(self) -> None:
        remaining = self._limit
        try:
            while not self.closed and (remaining is None or remaining > 0):
                data = self._read(BLOCK_BYTES if remaining is None else min(BLOCK_BYTES, remaining))
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                self._put(data)
            self._put(None)
        except (OSError, ValueError) as exc:
            self._put(exc)
        finally:
            if self._owns:
                with contextlib.suppress(OSError, ValueError):
                    self._stream.close()

    def _put(self, item: bytes | Exception | None) -> None:
        while not self.closed:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        if self._live:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)  # wake a consumer waiting for the next block
        elif self._owns and self._lock.acquire(timeout=5):
            try:
                self._stream.close()
            finally:
                self._lock.release()


class _MemorySource(PcmSource):
    """Samples already decoded in memory (the pydub path, small files only)."""

    path = "pydub"

    def __init__(self, name: str, pcm: bytes) -> None:
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        super().__init__(name, len(pcm) / BYTES_PER_SECOND)
        self._pcm: bytes | None = pcm

    def _blocks(self) -> Iterator[bytes]:
        pcm = self._pcm
        try:
            if not pcm:
                raise _err(self.name, "contains no audio samples", "give a recording with sound")
            for start in range(0, len(pcm), BLOCK_BYTES):
                if self.closed:
                    return
                yield pcm[start : start + BLOCK_BYTES]
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._pcm = None


class _FfmpegSource(PcmSource):
    """Samples read from a streaming ffmpeg decoder as they are produced."""

    path = "ffmpeg"

    def __init__(self, name: str, pipe: FfmpegPipe, *, duration: float | None) -> None:
        super().__init__(name, duration)
        self._pipe = pipe

    @property
    def pid(self) -> int:
        """The ffmpeg process id (for diagnostics and tests)."""
        return self._pipe.pid

    def _blocks(self) -> Iterator[bytes]:
        pipe = self._pipe
        carry = b""
        produced = 0
        try:
            while not self.closed:
                data = pipe.read(BLOCK_BYTES)
                if not data:
                    break
                if carry:
                    data = carry + data
                    carry = b""
                if len(data) % 2:
                    carry = data[-1:]
                    data = data[:-1]
                if data:
                    produced += len(data)
                    yield data
            if self.closed or pipe.closing:
                return
            rc = pipe.wait(timeout=30)
            if rc != 0:
                problem, hint = pipe.failure()
                raise _err(self.name, problem, hint)
            if produced == 0:
                raise _err(self.name, "contains no audio samples", "give a recording with sound")
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._pipe.close()


def open_input(spec: str, *, stdin: BinaryIO | None = None) -> PcmSource:
    """Open one input for decoding. ``spec`` is a path, or ``-`` to read ``stdin``
    (default ``sys.stdin.buffer``; any object with ``read`` works, ``fileno`` is not needed).

    Raises InputError for what can be known up front: missing, a directory, unreadable,
    empty, a truncated WAV header, not audio, no audio track.
    """
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return _open_stream("stdin", stream, owns=False)
    if not spec:
        raise _err("input", "empty path", "give an audio file path or - for stdin")
    try:
        st = os.stat(spec)
    except FileNotFoundError:
        raise _err(spec, "no such file", "check the path") from None
    except PermissionError:
        raise _err(spec, "permission denied", "check the file and folder permissions") from None
    except OSError as exc:
        raise _err(spec, f"cannot access ({exc.strerror or exc})", "check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise _err(spec, "is a directory", "give an audio file, not a folder")
    try:
        f = open(spec, "rb")  # noqa: SIM115 - owned by the returned source
    except PermissionError:
        raise _err(spec, "permission denied", "check the file permissions (it must be readable)") from None
    except OSError as exc:
        raise _err(spec, f"cannot open ({exc.strerror or exc})", "check the path") from None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO, a device, process substitution (/dev/fd/N): read it like stdin.
        return _open_stream(spec, f, owns=True)
    try:
        return _open_file(spec, f, st.st_size)
    except BaseException:
        f.close()
        raise


def _open_file(name: str, f: BinaryIO, size: int) -> PcmSource:
    if size == 0:
        raise _err(name, "file is empty", "give a recording with sound")
    try:
        head = f.read(12)
        header = wav.read_header(f.read, prefix=head, keep=False) if wav.starts_like_wav(head) else None
    except wav.WavError as exc:
        raise _err(name, str(exc), "the WAV file is damaged; re-export it") from None
    except OSError as exc:
        raise _err(name, f"read failed ({exc.strerror or exc})", "check the file") from None
    if header is None:
        f.close()
        return _ffmpeg_file(name, duration=None)
    data_bytes = header.data_bytes_in(size)
    duration = header.duration_of(data_bytes)
    if header.is_pcm16_16k_mono:
        if data_bytes == 0:
            f.close()
            raise _err(name, "contains no audio samples", "give a recording with sound")
        f.seek(header.data_offset)
        return _NativeSource(name, f, limit=data_bytes, duration=duration, owns=True)
    f.close()
    consistent = header.data_size is not None and header.data_size <= size - header.data_offset
    if header.is_pcm and consistent and size <= PYDUB_MAX_BYTES:
        pcm = _pydub_pcm(name)
        # pydub trusts the header; accept its result only if it has the length we expect
        if pcm is not None and abs(len(pcm) - duration * BYTES_PER_SECOND) <= PYDUB_SLACK_BYTES:
            return _MemorySource(name, pcm)
    return _ffmpeg_file(name, duration=duration)


def _pydub_pcm(name: str) -> bytes | None:
    """The file decoded by pydub to PCM16 16 kHz mono, or None if pydub cannot read it."""
    try:
        ffmpeg_exe()  # points pydub at our ffmpeg
        segment = import_pydub().from_wav(name)
        segment = segment.set_frame_rate(SAMPLE_RATE).set_channels(1).set_sample_width(2)
        return bytes(segment.raw_data)
    except Exception:  # pydub raises many things for files it cannot read; ffmpeg will say why
        return None


def _start_ffmpeg(name: str, url: str, **options: Any) -> FfmpegPipe:
    try:
        return FfmpegPipe(url, **options)
    except FfmpegStartError as exc:
        raise _err(name, f"cannot run ffmpeg ({exc})", "reinstall bsstream or put ffmpeg on PATH") from None


def _ffmpeg_file(name: str, *, duration: float | None) -> PcmSource:
    pipe = _start_ffmpeg(name, file_url(name))
    return _after_probe(name, pipe, duration, PROBE_TIMEOUT)


def _after_probe(name: str, pipe: FfmpegPipe, duration: float | None, timeout: float) -> PcmSource:
    """Wait (bounded) for ffmpeg to open its input, so "not audio" and "no audio track" are
    reported by open_input; take the duration from its ``Duration:`` line unless known."""
    rc = pipe.wait_ready(timeout)
    if rc is not None and rc != 0 and not pipe.output_opened:
        # it failed before decoding anything; a failure after it started decoding (even if it
        # has already ended) is reported by blocks(), after the audio it produced
        problem, hint = pipe.failure()
        pipe.close()
        raise _err(name, problem, hint)
    if duration is None:
        duration = pipe.duration
    return _FfmpegSource(name, pipe, duration=duration)


def _reader(stream: BinaryIO) -> Callable[[int], bytes]:
    read1 = getattr(stream, "read1", None)
    return read1 if callable(read1) else stream.read


def _open_stream(name: str, stream: BinaryIO, *, owns: bool) -> PcmSource:
    """stdin or another non-seekable stream: a native WAV when it already is PCM16 16 kHz mono,
    otherwise ffmpeg fed from the stream by a thread (everything sniffed is replayed first)."""
    read = _reader(stream)
    try:
        head = wav.read_upto(read, 12)
    except OSError as exc:
        raise _err(name, f"read failed ({exc.strerror or exc})", "check the input") from None
    if not head:
        if owns:
            stream.close()
        raise _err(name, "stdin is empty" if name == "stdin" else "input is empty", "pipe audio into it")
    prefix = head
    if wav.starts_like_wav(head):
        try:
            header = wav.read_header(lambda n: wav.read_upto(read, n), prefix=head, keep=True)
        except wav.WavError as exc:
            if owns:
                stream.close()
            raise _err(name, str(exc), "the WAV stream is damaged") from None
        limit = header.data_size  # None: a placeholder, read to the end
        duration = None if limit is None else header.duration_of(limit)
        if header.is_pcm16_16k_mono:
            return _NativeSource(name, stream, limit=limit, duration=duration, owns=owns, live=True)
        raw_format = header.raw_format
        if raw_format is not None:
            # We know the samples' layout: hand ffmpeg the bare samples. Its own WAV demuxer
            # would wait on a pipe for the whole declared length (or 64 KiB) before decoding.
            options: dict[str, Any] = {
                "input_options": [
                    "-f",
                    raw_format,
                    "-ar",
                    str(header.sample_rate),
                    "-ac",
                    str(header.channels),
                ],
                "feed_limit": limit,
            }
            prefix = b""
        else:
            options = {}
            prefix = header.header_bytes
    else:
        duration = None
        options = {}
    try:
        pipe = _start_ffmpeg(
            name, "pipe:0", feed=stream, prefix=prefix, close_feed=owns, flush=True, **options
        )
    except InputError:
        if owns:
            stream.close()
        raise
    return _after_probe(name, pipe, duration, STDIN_PROBE_TIMEOUT)
