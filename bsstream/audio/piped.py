"""Every input kind -> a PcmSource: files and stdin (:mod:`bsstream.audio.decode`), URLs
(:mod:`bsstream.audio.url`), capture devices (:mod:`bsstream.audio.device`), headerless samples
(``--raw``, :mod:`bsstream.audio.raw`), and, for ``--channels split``, a decode that keeps
the input's channels (:mod:`bsstream.audio.channels` splits them).

:func:`open_source` is what the CLI calls; without ``--raw`` or ``--channels split`` a file or
stdin goes to :func:`bsstream.audio.decode.open_input` unchanged.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

from bsstream.audio import decode, wav
from bsstream.audio.device import explain_open_failure, is_device, parse_device
from bsstream.audio.ffmpeg import file_url
from bsstream.audio.raw import RawFormat
from bsstream.audio.sniff import _containers
from bsstream.audio.url import UrlBody, is_url, open_url
from bsstream.status import BsError, InputError

__all__ = ["DEFAULT_URL_TIMEOUT", "open_source"]

DEFAULT_URL_TIMEOUT = 60.0
DEVICE_OPEN_TIMEOUT = 5.0  # seconds to wait for a capture device's first samples before streaming
DURATION_GRACE = 5.0  # a --duration capture ends this long after its time even if the device stalls


def open_source(
    spec: str,
    *,
    stdin: BinaryIO | None = None,
    wait: float | None = None,
    cancel: threading.Event | None = None,
    raw: RawFormat | None = None,
    keep_channels: bool = False,
    capture_seconds: float | None = None,
) -> decode.PcmSource:
    """Open any input (see the module docstring). ``keep_channels``: the source yields a WAV
    stream (header, then interleaved PCM16 16 kHz frames) instead of mono samples."""
    if is_device(spec):
        return _open_device(spec, cancel, keep_channels, capture_seconds)
    if is_url(spec):
        return _open_url(spec, wait, cancel, raw, keep_channels)
    if raw is None and not keep_channels:
        return decode.open_input(spec, stdin=stdin, wait=wait, cancel=cancel)
    if spec == "-":
        return _open_stdin(stdin, wait, cancel, raw, keep_channels)
    return _open_path(spec, wait, cancel, raw, keep_channels)


def _open_url(
    spec: str, wait: float | None, cancel: threading.Event | None, raw: RawFormat | None, keep_channels: bool
) -> decode.PcmSource:
    """An http(s) URL, downloaded as it is decoded; the download's failure wins over the decoder's."""
    body = open_url(spec, timeout=wait or DEFAULT_URL_TIMEOUT)
    try:
        inner = _stream_source(body.name, body, raw=raw, keep_channels=keep_channels, cancel=cancel)  # type: ignore[arg-type]
    except BsError:
        if body.error is not None:
            raise body.error from None
        raise
    return _BodyChecked(inner, body)


def _open_stdin(
    stdin: BinaryIO | None,
    wait: float | None,
    cancel: threading.Event | None,
    raw: RawFormat | None,
    keep_channels: bool,
) -> decode.PcmSource:
    """stdin with --raw or --channels split: waited on for its first byte, then streamed."""
    stream = stdin if stdin is not None else sys.stdin.buffer
    fd = decode._fileno(stream)
    owns = False
    if fd is not None:
        decode.check_stdin(stream)
        decode._wait_readable(fd, "stdin", wait, cancel)
        if stream is getattr(sys.stdin, "buffer", None):
            stream = io.FileIO(os.dup(fd), "rb")  # type: ignore[assignment]
            owns = True
    return _stream_source("stdin", stream, raw=raw, keep_channels=keep_channels, cancel=cancel, owns=owns)


def _open_path(
    spec: str, wait: float | None, cancel: threading.Event | None, raw: RawFormat | None, keep_channels: bool
) -> decode.PcmSource:
    """A file, FIFO or device path with --raw or --channels split."""
    st = _stat(spec)
    if stat.S_ISFIFO(st.st_mode):
        fifo = decode._open_fifo(spec, wait, cancel)
        return _stream_source(spec, fifo, raw=raw, keep_channels=keep_channels, cancel=cancel)
    if not stat.S_ISREG(st.st_mode):
        try:
            f = open(spec, "rb")  # noqa: SIM115 - owned by the source
        except OSError as exc:
            raise InputError(f"{spec}: cannot open ({exc.strerror or exc})", hint="check the path") from None
        return _stream_source(spec, f, raw=raw, keep_channels=keep_channels, cancel=cancel)
    if st.st_size == 0:
        raise InputError(f"{spec}: file is empty", hint="give a recording with sound")
    try:
        with open(spec, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise InputError(f"{spec}: cannot open ({exc.strerror or exc})", hint="check the path") from None
    duration = None
    if raw is not None:
        _check_headerless(spec, head, raw)
        duration = raw.duration_of(st.st_size)
    pipe = decode._start_ffmpeg(
        spec, file_url(spec), input_options=raw.input_options() if raw else (), keep_channels=keep_channels
    )
    return decode._after_probe(spec, pipe, duration, decode.PROBE_TIMEOUT)


def _stat(spec: str) -> os.stat_result:
    if not spec:
        raise InputError("input: empty path", hint="give an audio file path or - for stdin")
    try:
        st = os.stat(spec)
    except FileNotFoundError:
        raise InputError(f"{spec}: no such file", hint="check the path") from None
    except PermissionError:
        raise InputError(f"{spec}: permission denied", hint="check the file and folder permissions") from None
    except OSError as exc:
        raise InputError(f"{spec}: cannot access ({exc.strerror or exc})", hint="check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{spec}: is a directory", hint="give an audio file, not a folder")
    return st


def _check_headerless(name: str, head: bytes, raw: RawFormat) -> None:
    """--raw given for input that has a container header (a WAV, FLAC, ...): explained, exit 4."""
    found = _containers(head)
    if found is not None and found.media:
        raise InputError(
            f"{name}: --raw {raw.format} says headerless samples, but this is {found.name} (it has a header)",
            hint="drop --raw: a file with a header is decoded as it says",
        )


def _stream_source(
    name: str,
    stream: BinaryIO,
    *,
    raw: RawFormat | None,
    keep_channels: bool,
    cancel: threading.Event | None,
    owns: bool = True,
) -> decode.PcmSource:
    """A non-seekable stream: the usual stream decoder, or ffmpeg with --raw's layout or
    keeping the channels."""
    if raw is None and not keep_channels:
        return decode._ends_on(decode._open_stream(name, stream, owns=owns), cancel)
    read = decode._reader(stream)
    try:
        head = wav.read_upto(read, 16)
    except OSError as exc:
        raise InputError(f"{name}: read failed ({exc.strerror or exc})", hint="check the input") from None
    if not head:
        if owns:
            stream.close()
        raise InputError(
            f"{name}: {'stdin' if name == 'stdin' else 'input'} is empty", hint="pipe audio into it"
        )
    if raw is not None:
        try:
            _check_headerless(name, head, raw)
        except InputError:
            if owns:
                stream.close()
            raise
    try:
        pipe = decode._start_ffmpeg(
            name,
            "pipe:0",
            feed=stream,
            prefix=head,
            close_feed=owns,
            live=True,
            input_options=raw.input_options() if raw else (),
            keep_channels=keep_channels,
        )
    except InputError:
        if owns:
            stream.close()
        raise
    return decode._ends_on(decode._after_probe(name, pipe, None, decode.STDIN_PROBE_TIMEOUT), cancel)


def _open_device(
    spec: str, cancel: threading.Event | None, keep_channels: bool, seconds: float | None
) -> decode.PcmSource:
    device = parse_device(spec)
    options, target = device.ffmpeg_input()
    if seconds is not None:
        options = ["-t", f"{seconds:g}", *options]
    pipe = decode._start_ffmpeg(
        device.display, target, input_options=options, live=True, keep_channels=keep_channels
    )
    rc = pipe.wait_ready(DEVICE_OPEN_TIMEOUT)
    if rc is not None:  # ended before any audio: it did not open (or gave nothing)
        pipe.close()
        raise explain_open_failure(device)
    source = decode._ends_on(decode._FfmpegSource(device.display, pipe, duration=seconds), cancel)
    return source if seconds is None else stop_after(source, seconds + DURATION_GRACE)


def stop_after(source: decode.PcmSource, seconds: float) -> decode.PcmSource:
    """Close ``source`` ``seconds`` after now, whatever it is doing: ffmpeg's ``-t`` ends a
    capture by the samples it has seen, so a device that stops delivering would otherwise keep
    a ``--duration`` run waiting for ever. What was read so far has been sent, as on Ctrl-C."""
    timer = threading.Timer(seconds, source.close)
    timer.daemon = True
    timer.name = "capture-duration"
    timer.start()
    return source


class _BodyChecked(decode.PcmSource):
    """A URL's source: after its audio, the download's own failure (a stall, a cut connection)
    is raised; it also replaces a decoder error that the cut caused."""

    def __init__(self, inner: decode.PcmSource, body: UrlBody) -> None:
        super().__init__(inner.name, inner.duration)
        self.path = inner.path
        self._inner = inner
        self._body = body

    def listen(self, listener: Callable[[str], None]) -> None:
        self._inner.listen(listener)

    def _blocks(self) -> Iterator[bytes]:
        try:
            yield from self._inner.blocks()
        except InputError:
            if self._body.error is not None and not self.closed:
                raise self._body.error from None
            raise
        finally:
            self._inner.close()
        if self._body.error is not None and not self.closed:
            raise self._body.error

    def close(self) -> None:
        super().close()
        self._inner.close()
        self._body.close()
