"""An input (a path or ``-`` for stdin) -> a stream of PCM signed 16-bit LE, 16 kHz, mono.

Which decoder handles what (decided by sniffing the first bytes, never by the file name):

============================================  ==============================================
input                                          path
============================================  ==============================================
WAV already PCM16 16 kHz mono (file/stdin)     *native*: our streaming WAV parser, samples
                                               copied from the input (no process)
WAV file, integer PCM (8/16/24/32-bit) or     *soxr*: read in ~2 s blocks, downmixed,
IEEE float (32/64-bit), mono or stereo, any    resampled by libsoxr's streaming resampler
rate (``bsstream.audio.resample``)             (HQ); in-process, no ffmpeg
everything else: other WAVs (mu-law, A-law,    *ffmpeg*: a streaming ``ffmpeg ... -f s16le
more than 2 channels, codecs), mp3, flac,      pipe:1`` process; first audio stream, samples
ogg/opus, m4a/aac, webm, video; stdin that is  read as they are decoded
not PCM16 16 kHz mono WAV; FIFOs
============================================  ==============================================

Memory on every path is flat in the input length, and the first block is available as soon
as the first samples are decoded.

Every failure raises :class:`bsstream.status.InputError` (exit code 4) with one line that
names the input, and a hint saying what to do: up front from :func:`open_input` when it can be
known then (missing, directory, unreadable, empty, truncated WAV header, not audio, no audio
track), otherwise from :meth:`PcmSource.blocks` (e.g. ffmpeg failing mid-stream).

What is odd but still streamable (a file that ends before its header says, a placeholder data
length, a partial last sample frame) is a *warning*: the valid audio streams and
:meth:`PcmSource.listen` hears one line per problem (README "Bad input").

Waiting for input: a FIFO is opened without blocking and, like stdin, waited on in slices,
so ``cancel`` (Ctrl-C, SIGTERM) ends the wait at once and ``wait`` seconds without a first
byte end it with a timeout (exit 5). stdin that is a terminal is refused (a usage error).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import select
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, BinaryIO

from bsstream.audio import wav
from bsstream.audio.ffmpeg import Failure, FfmpegPipe, FfmpegStartError, ffmpeg_exe, file_url
from bsstream.status import ConnectionFailure, InputError, Interrupted, UsageError

__all__ = ["BLOCK_BYTES", "IN_PROCESS_WAV", "PcmSource", "ffmpeg_exe", "open_input"]

BLOCK_BYTES = 64 * 1024  # the largest block blocks() yields (even)
# Uncompressed mono/stereo WAV files are converted in-process (numpy + libsoxr) instead of by
# an ffmpeg process: about half the CPU, and no pipe between the decoder and Python
IN_PROCESS_WAV = True
PROBE_TIMEOUT = 10.0  # seconds open_input waits for ffmpeg to open a file's input
# ... and stdin's: live input may be slow to arrive; errors found later come from blocks()
STDIN_PROBE_TIMEOUT = 2.0
WAIT_SLICE = 0.1  # seconds between checks of ``cancel`` while waiting for input
STDIN_IS_A_TERMINAL = (
    "stdin is a terminal: pipe audio in, e.g. arecord -q -f S16_LE -r 16000 -c 1 -t wav | bsstream analyze -"
)


def _err(name: str, problem: str, hint: str | None = None) -> InputError:
    return InputError(f"{name}: {problem}", hint=hint)


class DecodeError(InputError):
    """ffmpeg failed on an input; ``kind`` (one of ``ffmpeg.KINDS``) says why, from facts."""

    def __init__(self, name: str, failure: Failure) -> None:
        super().__init__(f"{name}: {failure.problem}", hint=failure.hint)
        self.failure = failure
        self.kind = failure.kind


class PcmSource:
    """A decoded input: PCM signed 16-bit little-endian, 16 kHz, mono, as a stream of blocks.

    ``name`` is the input as the user gave it (``"stdin"`` for ``-``); ``duration`` is the
    audio's length in seconds when known before streaming, else None; ``path`` says which
    decoder runs (``"native"``, ``"soxr"`` or ``"ffmpeg"``). A context manager; ``close()``
    is idempotent and may be called from another thread while ``blocks()`` is consumed (the
    consumer then ends promptly, without an error).
    """

    path = "base"

    def __init__(self, name: str, duration: float | None = None) -> None:
        self.name = name
        self.duration = duration
        self.warnings: list[str] = []  # every warning so far (one line each, without the name)
        self._closed = threading.Event()
        self._started = False
        self._listener: Callable[[str], None] | None = None
        self._announced = 0  # how many of ``warnings`` the listener has heard
        self._warn_lock = threading.Lock()

    def blocks(self) -> Iterator[bytes]:
        """Even-length blocks of at most BLOCK_BYTES; InputError on a decode failure. Call once.

        The warnings known up front reach the listener when the first block is asked for (so
        after a session has begun its stream); later ones as they are found."""
        if self._started:
            raise RuntimeError(f"{self.name}: blocks() may be called only once")
        self._started = True
        return self._announcing(self._blocks())

    def _announcing(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        self._announce()
        yield from blocks

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(problem)`` once for each warning (the input is ``name``)."""
        self._listener = listener
        if self._started:
            self._announce()

    def warn(self, problem: str) -> None:
        """Record a warning about this input (streaming goes on)."""
        with self._warn_lock:
            self.warnings.append(problem)
        if self._started:
            self._announce()

    def _announce(self) -> None:
        with self._warn_lock:
            listener = self._listener
            if listener is None:
                return
            pending = self.warnings[self._announced :]
            self._announced = len(self.warnings)
        for line in pending:
            listener(line)

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
        header: wav.WavHeader | None = None,
    ) -> None:
        super().__init__(name, duration)
        self._header = header  # a stream's header: its declared length is checked at the end
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
            if self._header is not None and not self.closed:
                short = self._header.stream_warning(produced + len(carry))
                if short is not None:
                    self.warn(short)
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


class _ResampledSource(PcmSource):
    """An uncompressed WAV file converted in-process (:mod:`bsstream.audio.resample`): read in
    blocks of two seconds (the first one second), downmixed and resampled by libsoxr. Flat memory;
    the first block is out after one read."""

    path = "soxr"

    def __init__(self, name: str, f: BinaryIO, header: wav.WavHeader, *, limit: int, duration: float) -> None:
        super().__init__(name, duration)
        from bsstream.audio.resample import converter_for

        self._converter = converter_for(header)
        self._stream = f
        self._limit = limit  # bytes of whole sample frames to read
        self._lock = threading.Lock()

    def _blocks(self) -> Iterator[bytes]:
        converter = self._converter
        buf = bytearray(converter.block_bytes)
        view = memoryview(buf)
        remaining = self._limit
        produced = 0
        # the first read is half a block (a second of audio): the first chunk goes out sooner
        step = max(converter.block_align, len(buf) // 2 // converter.block_align * converter.block_align)
        try:
            while remaining > 0 and not self.closed:
                want = min(step, remaining)
                step = len(buf)
                with self._lock:
                    if self.closed:
                        return
                    try:
                        got = self._stream.readinto(view[:want])  # type: ignore[attr-defined]
                    except (OSError, ValueError) as exc:
                        if self.closed:
                            return
                        raise _err(self.name, f"read failed ({exc})", "check the input") from exc
                if not got:
                    break  # the file shrank while we read it: stream what there was
                got -= got % converter.block_align
                if not got:
                    break
                remaining -= got
                data = converter.feed(view[:got])
                produced += len(data)
                yield from _at_most_block(data)  # the resampler may give a little more at times
            if self.closed:
                return
            tail = converter.flush()
            produced += len(tail)
            yield from _at_most_block(tail)
            if produced == 0:
                raise _err(self.name, "contains no audio samples", "give a recording with sound")
        finally:
            view.release()
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        if self._lock.acquire(timeout=5):
            try:
                self._stream.close()
            finally:
                self._lock.release()


def _at_most_block(data: bytes) -> Iterator[bytes]:
    """``data`` in pieces of at most BLOCK_BYTES (itself when it fits; nothing when empty)."""
    for start in range(0, len(data), BLOCK_BYTES):
        yield data[start : start + BLOCK_BYTES]


class _FfmpegSource(PcmSource):
    """Samples read from a streaming ffmpeg decoder as they are produced."""

    path = "ffmpeg"

    def __init__(
        self,
        name: str,
        pipe: FfmpegPipe,
        *,
        duration: float | None,
        fed: tuple[_CountingReader, wav.WavHeader] | None = None,
    ) -> None:
        super().__init__(name, duration)
        self._pipe = pipe
        self._fed = fed  # raw samples fed from a stream, and the header that declared their length
        self.wav_tag: int | None = None  # a WAV codec's format tag, to name it if ffmpeg has no decoder

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
                raise DecodeError(self.name, _no_decoder(pipe.failure(produced), self.wav_tag))
            if produced == 0:
                raise _err(self.name, "contains no audio samples", "give a recording with sound")
            if self._fed is not None:
                counter, header = self._fed
                short = header.stream_warning(counter.count)
                if short is not None:
                    self.warn(short)
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._pipe.close()


class _CountingReader:
    """A stream's reads, counted (the bytes fed to ffmpeg)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._read = _reader(stream)
        self._stream = stream
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._read(n)
        self.count += len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def open_input(
    spec: str,
    *,
    stdin: BinaryIO | None = None,
    wait: float | None = None,
    cancel: threading.Event | None = None,
) -> PcmSource:
    """Open one input for decoding. ``spec`` is a path, or ``-`` to read ``stdin``
    (default ``sys.stdin.buffer``; any object with ``read`` works, ``fileno`` is not needed).

    Raises InputError for what can be known up front: missing, a directory, unreadable,
    empty, a truncated WAV header or one no audio can have, not audio, no audio track.
    A FIFO or a pipe on stdin is waited on for its first byte: at most ``wait`` seconds
    (None: no limit; then ConnectionFailure, exit 5), and Interrupted as soon as ``cancel``
    is set. UsageError for stdin that is a terminal.
    """
    if spec == "-":
        return _open_stdin(stdin, wait, cancel)
    st = _stat_input(spec)
    if stat.S_ISFIFO(st.st_mode):
        return _ends_on(_open_stream(spec, _open_fifo(spec, wait, cancel), owns=True), cancel)
    try:
        f = open(spec, "rb")  # noqa: SIM115 - owned by the returned source
    except PermissionError:
        raise _err(spec, "permission denied", "check the file permissions (it must be readable)") from None
    except OSError as exc:
        raise _err(spec, f"cannot open ({exc.strerror or exc})", "check the path") from None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO, a device, process substitution (/dev/fd/N): read it like stdin.
        return _ends_on(_open_stream(spec, f, owns=True), cancel)
    try:
        return _open_file(spec, f, st.st_size)
    except BaseException:
        f.close()
        raise


def _open_stdin(stdin: BinaryIO | None, wait: float | None, cancel: threading.Event | None) -> PcmSource:
    """``-``: ``stdin`` (default ``sys.stdin.buffer``), a pipe waited on for its first byte."""
    stream = stdin if stdin is not None else sys.stdin.buffer
    fd = _fileno(stream)
    if fd is not None:
        check_stdin(stream)
        _wait_readable(fd, "stdin", wait, cancel)
        if stream is getattr(sys.stdin, "buffer", None):
            # read the descriptor unbuffered: a daemon thread blocked in a read of the
            # buffered sys.stdin at exit would make the interpreter abort (_enter_buffered_busy)
            raw = io.FileIO(os.dup(fd), "rb")
            return _ends_on(_open_stream("stdin", raw, owns=True), cancel)  # type: ignore[arg-type]
    return _ends_on(_open_stream("stdin", stream, owns=False), cancel)


def _stat_input(spec: str) -> os.stat_result:
    """What ``spec`` is; InputError when it is empty, missing, not accessible or a directory."""
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
    return st


def check_stdin(stream: BinaryIO) -> None:
    """UsageError when ``stream`` (stdin) is a terminal: audio has to be piped in."""
    fd = _fileno(stream)
    if fd is not None and os.isatty(fd):
        raise UsageError(STDIN_IS_A_TERMINAL)


def _fileno(stream: object) -> int | None:
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # BytesIO, a closed or detached stream
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


def _open_fifo(name: str, wait: float | None, cancel: threading.Event | None) -> BinaryIO:
    """Open a FIFO without blocking (a plain open() waits for a writer and cannot be
    interrupted), wait for its first byte, then read it with blocking reads."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        raise _err(name, "permission denied", "check the file permissions (it must be readable)") from None
    except OSError as exc:
        raise _err(name, f"cannot open ({exc.strerror or exc})", "check the path") from None
    try:
        _wait_readable(fd, name, wait, cancel, fifo=True)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.FileIO(fd, "rb")  # type: ignore[return-value]


def _wait_readable(
    fd: int, name: str, wait: float | None, cancel: threading.Event | None, *, fifo: bool = False
) -> None:
    """Until ``fd`` has a byte (or its end) to read: at most ``wait`` seconds, in slices so
    ``cancel`` is seen at once. A FIFO with no writer yet is not readable (Linux reports no
    hang-up before a writer has come and gone)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return  # always readable
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{name}: interrupted while waiting for input")
        left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
        if left <= 0:
            what = "no writer opened the FIFO" if fifo else "nothing was written to it"
            raise ConnectionFailure(
                f"{name}: no input within {wait:g} s ({what})",
                hint="start the program that writes the audio, or raise --timeout",
            )
        try:
            if poller.poll(max(1, int(left * 1000))):
                return  # data, or the end of the input (the reads find out which)
        except InterruptedError:  # pragma: no cover - Python retries poll() itself (PEP 475)
            continue


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
    # a codec's duration is ffmpeg's to say; for samples it follows from the bytes there are
    duration = header.duration_of(data_bytes) if header.known_layout else None
    if data_bytes == 0 and header.known_layout:
        f.close()
        raise _err(name, "contains no audio samples", "give a recording with sound")
    warnings = header.file_warnings(size)
    if header.is_pcm16_16k_mono:
        f.seek(header.data_offset)
        source: PcmSource = _NativeSource(name, f, limit=data_bytes, duration=duration, owns=True)
    elif (resampled := _resampled_file(name, f, header, data_bytes, duration)) is not None:
        source = resampled
    else:
        f.close()
        source = _decoded_file(name, header, duration)
    for line in warnings:
        source.warn(line)
    return source


def _resampled_file(
    name: str, f: BinaryIO, header: wav.WavHeader, data_bytes: int, duration: float | None
) -> PcmSource | None:
    """Uncompressed mono or stereo samples, converted in-process (see :mod:`bsstream.audio.resample`);
    None when this WAV is ffmpeg's to decode (more channels, mu-law, A-law, a codec)."""
    if not IN_PROCESS_WAV or duration is None:
        return None
    from bsstream.audio import resample

    if not resample.handles(header):
        return None
    f.seek(header.data_offset)
    return _ResampledSource(name, f, header, limit=data_bytes, duration=duration)


def _decoded_file(name: str, header: wav.WavHeader, duration: float | None) -> PcmSource:
    """A WAV the in-process path does not take: ffmpeg."""
    tag = None if header.known_layout else header.format_tag
    try:
        source = _ffmpeg_file(name, duration=duration)
    except DecodeError as exc:
        if tag is None or exc.kind != "no-decoder":
            raise
        raise DecodeError(name, _no_decoder(exc.failure, tag)) from None
    if isinstance(source, _FfmpegSource):
        source.wav_tag = tag  # ffmpeg may say it has no decoder only once it starts decoding
    return source


def _no_decoder(failure: Failure, tag: int | None) -> Failure:
    """ffmpeg having no decoder for a WAV's codec (a fact: see ``ffmpeg.classify``), said in
    the WAV's terms."""
    if tag is None or failure.kind != "no-decoder":
        return failure
    return Failure(
        failure.kind,
        f"unknown WAV format tag 0x{tag:04X} (ffmpeg has no decoder for it)",
        "convert it to PCM WAV, FLAC or MP3 with the program that made it",
    )


def _start_ffmpeg(name: str, url: str, **options: Any) -> FfmpegPipe:
    try:
        return FfmpegPipe(url, **options)
    except FfmpegStartError as exc:
        raise _err(name, f"cannot run ffmpeg ({exc})", exc.hint) from None


def _ffmpeg_file(name: str, *, duration: float | None) -> PcmSource:
    pipe = _start_ffmpeg(name, file_url(name))
    return _after_probe(name, pipe, duration, PROBE_TIMEOUT)


def _after_probe(
    name: str,
    pipe: FfmpegPipe,
    duration: float | None,
    timeout: float,
    *,
    fed: tuple[_CountingReader, wav.WavHeader] | None = None,
) -> PcmSource:
    """Wait (bounded) for ffmpeg's first audio or its end, so "not audio" and "no audio track"
    are reported by open_input; take the duration from its ``Duration:`` line unless known."""
    rc = pipe.wait_ready(timeout)
    if rc is not None and rc != 0:
        # it failed without writing any audio; a failure after it wrote some (even if it has
        # already ended) is reported by blocks(), after that audio
        failure = pipe.failure()
        pipe.close()
        raise DecodeError(name, failure)
    if duration is None:
        duration = pipe.duration
    return _FfmpegSource(name, pipe, duration=duration, fed=fed)


def _reader(stream: BinaryIO) -> Callable[[int], bytes]:
    read1 = getattr(stream, "read1", None)
    return read1 if callable(read1) else stream.read


def _ends_on(source: PcmSource, cancel: threading.Event | None) -> PcmSource:
    """Close a live source as soon as ``cancel`` is set: a read blocked on a silent pipe cannot
    be interrupted, so without this a stream would half-close only after the interrupt's grace
    period. The audio read so far has been sent; the session then waits for its results."""
    if cancel is None:
        return source

    def watch() -> None:
        while not source.closed:
            if cancel.wait(WAIT_SLICE * 2):
                source.close()
                return

    threading.Thread(target=watch, name="input-cancel", daemon=True).start()
    return source


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
    fed: tuple[_CountingReader, wav.WavHeader] | None = None
    input_options: list[str] = []  # ffmpeg's options before -i (none: it probes the stream)
    feed_limit: int | None = None
    if wav.starts_like_wav(head):
        try:
            header = wav.read_header(lambda n: wav.read_upto(read, n), prefix=head, keep=True)
        except wav.WavError as exc:
            if owns:
                stream.close()
            raise _err(name, str(exc), "the WAV stream is damaged") from None
        limit = header.data_size  # None: a placeholder, read to the end
        # a claim only (what arrives may be shorter: blocks() then warns), and shown as such
        duration = None if limit is None or not header.known_layout else header.duration_of(limit)
        if header.is_pcm16_16k_mono:
            return _NativeSource(
                name, stream, limit=limit, duration=duration, owns=owns, live=True, header=header
            )
        raw_format = header.raw_format
        if raw_format is not None:
            counter = _CountingReader(stream)
            fed = (counter, header)
            stream = counter  # type: ignore[assignment]
            # We know the samples' layout: hand ffmpeg the bare samples. Its own WAV demuxer
            # would wait on a pipe for the whole declared length (or 64 KiB) before decoding.
            input_options = ["-f", raw_format, "-ar", str(header.sample_rate), "-ac", str(header.channels)]
            feed_limit = limit
            prefix = b""
        else:
            # a codec in a WAV: its header is replayed; naming the format lets ffmpeg skip
            # probing, which would wait for 24-32 KB of live input before the first output
            input_options = ["-f", "wav"]
            prefix = header.header_bytes
    else:
        duration = None
    try:
        pipe = _start_ffmpeg(
            name,
            "pipe:0",
            feed=stream,
            prefix=prefix,
            close_feed=owns,
            live=True,
            input_options=input_options,
            feed_limit=feed_limit,
        )
    except InputError:
        if owns:
            stream.close()
        raise
    return _after_probe(name, pipe, duration, STDIN_PROBE_TIMEOUT, fed=fed)
