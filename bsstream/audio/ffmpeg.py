"""Finding the ffmpeg binary and running it as a streaming decoder pipe.

``ffmpeg_exe()`` prefers an ``ffmpeg`` on PATH and otherwise uses the binary shipped in the
imageio-ffmpeg wheel, so every format decodes on a machine with no system ffmpeg. There is
no ffprobe: everything we need to know (duration, errors) is read from ffmpeg's own stderr.

``FfmpegPipe`` runs one ``ffmpeg ... -f s16le pipe:1`` process: samples are read from its
stdout as they are decoded (memory stays flat in the input length), its stderr is drained
by a thread into a bounded buffer (the ``Duration:`` line and the last error line are kept),
and for stdin input a second thread feeds it from our stream (any object with ``read``).
pydub and imageio_ffmpeg are imported lazily so the CLI starts fast.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import shutil
import subprocess
import threading
import warnings
from collections.abc import Sequence
from typing import IO, Any, BinaryIO

from bsstream.protocol.messages import SAMPLE_RATE

STDERR_LINES = 64
FEED_BYTES = 64 * 1024

_DURATION = re.compile(rb"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_ERRORISH = re.compile(
    r"error|invalid|failed|no such|denied|unsupported|not found|could not|cannot|unknown|truncat|corrupt",
    re.IGNORECASE,
)
# ffmpeg's summary lines that repeat a more specific line above them.
_GENERIC = re.compile(r"^(Error opening input files?|Error opening output files?|Conversion failed)", re.I)


def import_pydub() -> Any:
    """``pydub.AudioSegment``, imported quietly (pydub warns at import when ffmpeg is not on PATH,
    and its audioop import is deprecated on 3.11/3.12)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
    return AudioSegment


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg to run: ``ffmpeg`` from PATH if present, else imageio-ffmpeg's bundled binary.

    Cached. Also points ``pydub.AudioSegment.converter`` at it, so pydub works without a
    system ffmpeg.
    """
    exe = shutil.which("ffmpeg")
    if exe is None:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    with contextlib.suppress(ImportError):  # pydub is a dependency; be lenient anyway
        import_pydub().converter = exe
    return exe


def decode_command(
    exe: str, input_url: str, *, input_options: Sequence[str] = (), flush: bool = False
) -> list[str]:
    """The ffmpeg command that decodes the first audio stream of ``input_url`` to s16le 16 kHz mono.

    ``input_options`` go before ``-i`` (e.g. ``-f s16le -ar 8000 -ac 2`` for raw samples);
    ``flush`` writes every decoded packet at once (low latency for live input) instead of
    filling ffmpeg's 32 KiB output buffer first.
    """
    return [
        exe,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        *input_options,
        "-i",
        input_url,
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-acodec",
        "pcm_s16le",
        "-f",
        "s16le",
        *(["-flush_packets", "1"] if flush else []),
        "pipe:1",
    ]


def file_url(path: str) -> str:
    """An ffmpeg input URL for a local path: ``file:`` so names with ``:`` (``a:b.wav``) or a
    leading ``-`` are never taken for a protocol or an option."""
    return "file:" + os.path.abspath(path)


def parse_duration(line: bytes) -> float | None:
    """Seconds from ffmpeg's ``Duration: HH:MM:SS.ss`` line; None for ``N/A`` or no match."""
    m = _DURATION.search(line)
    if not m:
        return None
    hours, minutes, seconds = m.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _clean(line: str) -> str:
    text = _LOG_PREFIX.sub("", line.strip())
    text = " ".join(text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


_WHAT_WORKS = "give a WAV, MP3, FLAC, Ogg/Opus, M4A/AAC, WebM or a video with sound"


def explain_failure(lines: list[str], returncode: int | None) -> tuple[str, str]:
    """(problem, what to do) for a failed ffmpeg run, from the tail of its stderr."""
    text = "\n".join(lines)
    if "matches no streams" in text or "does not contain any stream" in text:
        if re.search(r"^Input #0, (tty|txt|srt|ass|webvtt|image2|\w+_pipe)\b", text, re.M):
            return "not an audio file (ffmpeg reads it as text or an image)", _WHAT_WORKS
        return "no audio track", "give a file with an audio stream"
    if "Invalid data found when processing input" in text:
        return "not an audio file (ffmpeg: Invalid data found when processing input)", _WHAT_WORKS
    errorish = [x for x in lines if _ERRORISH.search(x)]
    specific = [x for x in errorish if not _GENERIC.match(_clean(x))]
    tagged = [x for x in lines if x.startswith("[") and not _GENERIC.match(_clean(x))]
    chosen = _clean((specific or tagged or errorish or lines or [""])[-1])
    if chosen:
        return f"could not decode (ffmpeg: {chosen})", "check that the file is a complete audio file"
    return f"could not decode (ffmpeg exited with code {returncode})", "check that the input is audio"


class FfmpegPipe:
    """One running ffmpeg decoder: read PCM from ``read()``, errors from ``failure()``.

    ``input_url`` is ``file:PATH`` or ``pipe:0``; with ``feed`` (a readable binary stream)
    a thread writes ``prefix`` and then what it reads from ``feed`` (all of it, or at most
    ``feed_limit`` bytes) into ffmpeg's stdin, and closes ``feed`` when done if ``close_feed``.
    ``input_options`` and ``flush``: see ``decode_command``.
    ffmpeg runs in its own session so a terminal Ctrl-C reaches only us (the caller decides
    how to wind down) and ``close()`` kills and reaps it.
    """

    def __init__(
        self,
        input_url: str,
        *,
        input_options: Sequence[str] = (),
        feed: BinaryIO | None = None,
        prefix: bytes = b"",
        feed_limit: int | None = None,
        close_feed: bool = False,
        flush: bool = False,
    ) -> None:
        self.duration: float | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._ready = threading.Event()  # input probed (output opened) or ffmpeg has ended
        self.output_opened = False  # ffmpeg got as far as opening its output (it was decoding)
        self._stderr_done = threading.Event()
        self._closing = False
        self._read_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - windows
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        try:
            self._proc = subprocess.Popen(
                decode_command(ffmpeg_exe(), input_url, input_options=input_options, flush=flush),
                stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                **kwargs,
            )
        except OSError as exc:
            raise FfmpegStartError(str(exc)) from exc
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="ffmpeg-stderr", daemon=True)
        self._stderr_thread.start()
        self._feed_thread: threading.Thread | None = None
        if feed is not None:
            self._feed_thread = threading.Thread(
                target=self._feed,
                args=(feed, prefix, feed_limit, close_feed),
                name="ffmpeg-feed",
                daemon=True,
            )
            self._feed_thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def stderr_tail(self) -> list[str]:
        """The last lines ffmpeg wrote to stderr (bounded)."""
        return list(self._tail)

    def wait_ready(self, timeout: float) -> int | None:
        """Wait (at most ``timeout`` s) until ffmpeg has opened its input and output, or ended.

        Returns ffmpeg's exit code if it has ended by then, else None (it is decoding).
        """
        self._ready.wait(timeout)
        if self._stderr_done.is_set():  # stderr closed: ffmpeg is exiting
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        return self._proc.poll()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of PCM as soon as ffmpeg has any; b"" at the end or after close()."""
        with self._read_lock:
            out = self._proc.stdout
            if self._closing or out is None or out.closed:
                return b""
            try:
                return out.read(n) or b""
            except (OSError, ValueError):
                if self._closing:
                    return b""
                raise

    def wait(self, timeout: float | None = None) -> int:
        """Wait for ffmpeg to exit (after its stdout ended) and for its stderr to be drained."""
        rc = self._proc.wait(timeout)
        self._stderr_thread.join(timeout=5)
        return rc

    def failure(self) -> tuple[str, str]:
        """(problem, what to do) from ffmpeg's stderr after it failed."""
        self._stderr_thread.join(timeout=5)
        return explain_failure(self.stderr_tail(), self._proc.poll())

    @property
    def closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Kill and reap ffmpeg, stop the threads, close the pipes. Idempotent; any thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._closing = True
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(OSError):  # already gone
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # only a process ignoring SIGKILL
            proc.wait(timeout=10)
        # The killed process closed its end of stdout, so a reader blocked in read() returns now.
        if self._read_lock.acquire(timeout=5):
            try:
                if proc.stdout is not None:
                    proc.stdout.close()
            finally:
                self._read_lock.release()
        self._stderr_thread.join(timeout=5)
        if self._feed_thread is not None:
            # It ends on its next write (broken pipe); it may stay blocked reading a live stdin,
            # which we cannot interrupt; it is a daemon thread and holds nothing we need.
            self._feed_thread.join(timeout=0.2)
            if not self._feed_thread.is_alive():
                _close_quietly(proc.stdin)
        self._ready.set()

    def _drain_stderr(self) -> None:
        err = self._proc.stderr
        assert err is not None
        try:
            for raw in iter(lambda: err.readline(4096), b""):
                if self.duration is None and b"Duration:" in raw:
                    self.duration = parse_duration(raw)
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._tail.append(line)
                if line.startswith(("Output #0", "Stream mapping:", "Press [q]")):
                    self.output_opened = True
                    self._ready.set()
        except (OSError, ValueError):
            pass
        finally:
            self._stderr_done.set()
            self._ready.set()
            _close_quietly(err)

    def _feed(self, src: BinaryIO, prefix: bytes, limit: int | None, close_src: bool) -> None:
        sink = self._proc.stdin
        assert sink is not None
        read = getattr(src, "read1", None) or src.read
        try:
            if prefix:
                _write_all(sink, prefix)
            while not self._closing and (limit is None or limit > 0):
                data = read(FEED_BYTES if limit is None else min(FEED_BYTES, limit))
                if not data:
                    break
                if limit is not None:
                    limit -= len(data)
                _write_all(sink, data)
        except (OSError, ValueError):
            pass  # ffmpeg exited (broken pipe) or we are closing; ffmpeg's exit status says why
        finally:
            _close_quietly(sink)
            if close_src:
                _close_quietly(src)


class FfmpegStartError(OSError):
    """ffmpeg could not be started."""


def _write_all(sink: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = sink.write(view)
        if written is None:  # pragma: no cover - non-blocking pipes only
            continue
        view = view[written:]


def _close_quietly(f: IO[bytes] | None) -> None:
    if f is None:
        return
    with contextlib.suppress(OSError, ValueError):
        f.close()
