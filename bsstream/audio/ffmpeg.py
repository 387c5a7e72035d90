"""Choosing the ffmpeg binary, running it as a streaming decoder pipe, and explaining failures.

**Which ffmpeg.** ``ffmpeg_exe()`` uses the binary shipped in the imageio-ffmpeg wheel (a
known version, so behaviour is the same on every machine), not whatever ``ffmpeg`` is on
PATH. The environment variable ``BSSTREAM_FFMPEG`` names another one: a path, or a name
looked up on PATH (``BSSTREAM_FFMPEG=ffmpeg`` for the system's). If it names nothing
executable, decoding fails with one line saying so (exit code 4, like any decoding failure).

**Streaming.** ``FfmpegPipe`` runs one ``ffmpeg ... -f s16le pipe:1`` process: samples are
read from its stdout as they are decoded (memory stays flat in the input length), its stderr
is drained by a thread into a bounded buffer (for the ``Duration:`` and a detail line only),
and for stdin input a second thread feeds it from our stream (any object with ``read``).
Live input (stdin, FIFOs) writes every packet at once (``-flush_packets 1``); when the
caller names the raw sample format (``-f s16le ...``: a WAV header we parsed ourselves), ffmpeg
is also told not to probe (``-probesize 32``): ffmpeg 5.1 otherwise reads about 32 KB (2 s of
8 kHz audio) before its first output, and a live source at a low rate stalls for that long.

**Failures, from facts.** Why ffmpeg failed is never read from the wording of its messages
(they change between versions: Debian's 5.1 and the bundled 9.0 say different things, and
exit with different codes, for the same file). :func:`classify` decides from facts: whether
any audio came out before the failure, what the input's first bytes are
(:mod:`bsstream.audio.sniff`), and probes run with the same binary whose *exit status* says
whether the input opens, has an audio stream, and has a decoder for it. ffmpeg's last error
line is appended as a detail only. There is no ffprobe in imageio-ffmpeg, so we do not use it.
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
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO

from bsstream.audio.format import BYTES_PER_SECOND, SAMPLE_RATE
from bsstream.audio.packaged import package_files
from bsstream.audio.sniff import HEAD_BYTES, Sniffed, sniff

try:
    import fcntl
except ImportError:  # pragma: no cover - windows
    fcntl = None  # type: ignore[assignment]

ENV_VAR = "BSSTREAM_FFMPEG"
STDERR_LINES = 64
FEED_BYTES = 64 * 1024
FIRST_READ_BYTES = 64 * 1024
PIPE_BYTES = 1024 * 1024  # ffmpeg's output pipe: 32 s of 16 kHz mono s16 (Linux's default cap)
FILE_FRAME_SAMPLES = (
    4000  # samples per frame ffmpeg hands between its threads for a file (250 ms; see decode_command)
)
DESCRIBE_WAIT = 1.0  # seconds to let the stderr thread catch up with the input's description
PROBE_TIMEOUT = 15.0  # seconds for one probe run (only after a failure)
DETAIL_CHARS = 90

_DURATION = re.compile(rb"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
# Only for choosing which stderr line to show as a detail (never for deciding anything).
_ERRORISH = re.compile(
    r"error|invalid|failed|no such|denied|unsupported|not found|could not|cannot|unknown|truncat|corrupt",
    re.IGNORECASE,
)
_GENERIC = re.compile(r"^(Error opening input files?|Error opening output files?|Conversion failed)", re.I)


class FfmpegStartError(OSError):
    """ffmpeg could not be found or started; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint or "reinstall bsstream, or set BSSTREAM_FFMPEG to an ffmpeg binary"


def ffmpeg_exe() -> str:
    """The ffmpeg to run: ``$BSSTREAM_FFMPEG`` if set (a path, or a name looked up on PATH),
    else imageio-ffmpeg's bundled binary. FfmpegStartError if that names nothing executable.

    Cached per value of the variable. Also points ``pydub.AudioSegment.converter`` at it when
    pydub is loaded, so pydub works without a system ffmpeg; bsstream itself never imports
    pydub for that (about 30 ms of start-up on every ffmpeg input).
    """
    exe = _resolve(os.environ.get(ENV_VAR, "").strip())
    pydub = sys.modules.get("pydub")
    segment = getattr(pydub, "AudioSegment", None)
    if segment is not None and getattr(segment, "converter", exe) != exe:
        segment.converter = exe
    return exe


@functools.lru_cache(maxsize=8)
def _resolve(choice: str) -> str:
    if choice:
        exe = _executable(choice)
        if exe is None:
            raise FfmpegStartError(
                f"{ENV_VAR}={choice} is not an executable file" + ("" if os.sep in choice else " on PATH"),
                hint=f"unset {ENV_VAR} to use the bundled ffmpeg, or set it to an ffmpeg binary",
            )
    else:
        exe = _bundled_binary() or _imageio_ffmpeg_exe()
    return exe


def _imageio_ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise FfmpegStartError(f"the bundled ffmpeg is missing ({exc})") from None


def _bundled_binary() -> str | None:
    """The one ffmpeg binary in imageio-ffmpeg's ``binaries`` folder, found without importing
    the package; None when that is not certain (then ``imageio_ffmpeg.get_ffmpeg_exe()``).

    ``get_ffmpeg_exe()`` imports imageio-ffmpeg (logging and all, about 9 ms) and runs
    ``ffmpeg -version`` to check the binary (about 13 ms, an 80 MB executable): a fifth of the
    start-up of a short MP3's run. A platform wheel holds exactly one binary; a binary that
    does not run is reported when ffmpeg is started (:class:`FfmpegStartError`), in one line as
    before. ``IMAGEIO_FFMPEG_EXE`` (imageio-ffmpeg's own choice) still goes through it."""
    if os.environ.get("IMAGEIO_FFMPEG_EXE"):
        return None
    found = [
        path
        for path in package_files("imageio_ffmpeg", "binaries")
        if os.path.basename(path).startswith("ffmpeg-") and os.access(path, os.X_OK)
    ]
    return found[0] if len(found) == 1 else None


def _executable(choice: str) -> str | None:
    if os.sep in choice or (os.altsep and os.altsep in choice):
        path = os.path.abspath(os.path.expanduser(choice))
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(choice)


def decode_command(
    exe: str,
    input_url: str,
    *,
    input_options: Sequence[str] = (),
    live: bool = False,
    keep_channels: bool = False,
) -> list[str]:
    """The ffmpeg command that decodes the first audio stream of ``input_url`` to s16le 16 kHz mono.

    ``input_options`` go before ``-i`` (e.g. ``-f s16le -ar 8000 -ac 2`` for raw samples).
    ``live`` (stdin, a FIFO): write every decoded packet at once instead of filling ffmpeg's
    32 KiB output buffer first, and, when ``input_options`` name the format (``-f``), skip
    stream probing, which older ffmpeg (5.1) does on ~32 KB of input before its first output.
    ``keep_channels`` (``--channels split``): keep the input's channels and write a WAV stream
    (its header says how many channels there are; the samples follow, interleaved).

    Not ``live``: the converted samples are regrouped into frames of ``FILE_FRAME_SAMPLES``
    (``asetnsamples``) before the encoder and the muxer. ffmpeg 7 and later run each stage on a
    thread of its own and hand every frame from one to the next; an MP3's frames hold 1152
    samples, so regrouping them cuts those hand-offs and the writes to the pipe by a factor of
    ten: the 20-minute MP3 decodes in about 0.85 s instead of 1.25 s (system time 1.0 -> 0.55 s)
    with the bundled ffmpeg 9. The ``aformat`` in front asks for the output format at that point,
    so ffmpeg converts exactly as before (one resampler for rate and channels; the same bytes).
    Live input keeps ffmpeg's own frames: regrouping would hold each one back until it is full.
    """
    no_probe = live and "-f" in input_options
    channels = "" if keep_channels else ":channel_layouts=mono"
    regroup = (
        f"aformat=sample_fmts=s16:sample_rates={SAMPLE_RATE}{channels},"
        f"asetnsamples=n={FILE_FRAME_SAMPLES}:p=0"
    )
    return [
        exe,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        *(["-probesize", "32"] if no_probe else []),
        *input_options,
        "-i",
        input_url,
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        *([] if live else ["-af", regroup]),
        *([] if keep_channels else ["-ac", "1"]),
        "-ar",
        str(SAMPLE_RATE),
        "-acodec",
        "pcm_s16le",
        "-f",
        "wav" if keep_channels else "s16le",
        *(["-flush_packets", "1"] if live else []),
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
    return text[:DETAIL_CHARS] + ("..." if len(text) > DETAIL_CHARS else "")


def failure_detail(lines: list[str]) -> str:
    """The most specific of ffmpeg's last stderr lines, shortened: shown after our own words,
    never used to decide anything. "" if there is none."""
    errorish = [x for x in lines if _ERRORISH.search(x)]
    specific = [x for x in errorish if not _GENERIC.match(_clean(x))]
    tagged = [x for x in lines if x.startswith("[") and not _GENERIC.match(_clean(x))]
    return _clean((specific or tagged or errorish or lines or [""])[-1])


# --- classifying a failure ----------------------------------------------------------------------

WHAT_WORKS = "give a WAV, MP3, FLAC, Ogg/Opus, M4A/AAC, WebM or a video with sound"


@dataclass(frozen=True)
class Probe:
    """What probe runs of the same ffmpeg said, by their exit status (None: could not tell)."""

    opens: bool | None  # the input opens as some container
    has_audio: bool | None  # ... with an audio stream (copied without decoding)
    decoder_opens: bool | None  # ... whose decoder opens


@dataclass(frozen=True)
class Facts:
    """What is known about a failed ffmpeg run, none of it from ffmpeg's wording."""

    returncode: int | None
    audio_bytes: int  # PCM bytes it wrote before failing
    head: bytes | None  # the input's first bytes (None: could not be read again)
    probe: Callable[[], Probe]  # runs only when the answer matters
    detail: str = ""  # ffmpeg's last error line, shown only
    given_format: str | None = None  # the format the caller named (``-f``): nothing to sniff


@dataclass(frozen=True)
class Failure:
    """``kind`` (one of KINDS) for code; ``problem`` and ``hint`` for the user's one line."""

    kind: str
    problem: str
    hint: str


KINDS = ("cut-short", "not-audio", "no-audio-track", "unreadable", "no-decoder", "undecodable", "failed")


def classify(facts: Facts) -> Failure:
    """Why ffmpeg failed, from facts: audio that came out, the input's first bytes, probes."""
    detail = f" (ffmpeg: {facts.detail})" if facts.detail else ""
    sniffed: Sniffed | None = sniff(facts.head) if facts.head and not facts.given_format else None
    what = facts.given_format or (sniffed.name if sniffed is not None and sniffed.media else None)
    early = _without_probe(facts, what, sniffed, detail)
    if early is not None:
        return early
    probe = facts.probe() if what is not None else Probe(None, None, None)
    return _from_probe(probe, what, facts.returncode, detail)


def _without_probe(facts: Facts, what: str | None, sniffed: Sniffed | None, detail: str) -> Failure | None:
    """What the facts tell without a probe: audio came out, ffmpeg did not end on its own, or
    the first bytes are no audio or video format."""
    if facts.audio_bytes > 0:
        seconds = facts.audio_bytes / BYTES_PER_SECOND
        return Failure(
            "cut-short",
            f"could not decode the rest of the {what or 'input'} after {seconds:.1f} s of audio{detail}",
            "the file may be damaged or cut short; check that it is complete",
        )
    rc = facts.returncode
    if rc is None or rc < 0:
        how = "did not end" if rc is None else f"was killed by signal {-rc}"
        return Failure("failed", f"could not decode (ffmpeg {how}){detail}", "try again; check the input")
    if facts.head is not None and what is None:
        kind_of = (
            f"it is {_article(sniffed.name)}"
            if sniffed
            else "no audio or video format found in its first bytes"
        )
        return Failure("not-audio", f"not an audio file ({kind_of})", WHAT_WORKS)
    return None


def _from_probe(probe: Probe, what: str | None, rc: int | None, detail: str) -> Failure:
    """What the probes of a container tell: no audio track, unreadable, no decoder, undecodable."""
    if probe.has_audio is False and probe.opens is True:
        return Failure(
            "no-audio-track",
            f"no audio track (the {what} has no audio stream)",
            "give a file with an audio stream",
        )
    if probe.has_audio is False and probe.opens is False:
        return Failure(
            "unreadable",
            f"could not read the {what} data (damaged or incomplete){detail}",
            "check that the file is complete, or export it again",
        )
    if probe.has_audio and probe.decoder_opens is False:
        return Failure(
            "no-decoder",
            f"no working decoder for the {what}'s audio codec{detail}",
            "convert it to WAV, FLAC or MP3 with the program that made it",
        )
    if probe.has_audio:
        return Failure(
            "undecodable",
            f"could not decode the {what} audio{detail}",
            "check that the file is a complete audio file",
        )
    return Failure(
        "failed", f"could not decode (ffmpeg exited with code {rc}){detail}", "check that the input is audio"
    )


def _article(name: str) -> str:
    return name if name == "text" else ("an " if name[0] in "AEIOU" else "a ") + name


def run_probe(exe: str, input_url: str, input_options: Sequence[str], head: bytes | None) -> Probe:
    """Probe an input with ``exe``: ``file:`` URLs directly, anything else by feeding ``head``
    (the first bytes of the stream) into a ``pipe:0`` input. Only exit statuses are read."""

    def ok(*output: str) -> bool | None:
        cmd = [exe, "-nostdin", "-v", "quiet", *input_options, "-i", input_url, *output]
        try:
            if input_url.startswith("file:"):
                done = subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT
                )
            else:
                done = subprocess.run(cmd, input=head or b"", capture_output=True, timeout=PROBE_TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.returncode == 0

    if not input_url.startswith("file:"):
        input_url = "pipe:0"
    has_audio = ok("-map", "0:a:0", "-c", "copy", "-t", "0", "-f", "null", "-")
    if has_audio is None:
        return Probe(None, None, None)
    if not has_audio:
        return Probe(ok("-f", "ffmetadata", "-"), False, None)
    return Probe(True, True, ok("-map", "0:a:0", "-t", "0", "-f", "null", "-"))


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Let ffmpeg run up to ``PIPE_BYTES`` ahead of its reader (Linux; elsewhere, or when the
    system's limit is lower, the pipe keeps its size). With the default 64 KiB (2 s of audio)
    the decoder stops whenever the sender is busy for longer, and two cores work one at a time."""
    setter = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if pipe is None or setter is None:
        return
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(pipe.fileno(), setter, PIPE_BYTES)


class FfmpegPipe:
    """One running ffmpeg decoder: read PCM from ``read()``, why it failed from ``failure()``.

    ``input_url`` is ``file:PATH`` or ``pipe:0``; with ``feed`` (a readable binary stream)
    a thread writes ``prefix`` and then what it reads from ``feed`` (all of it, or at most
    ``feed_limit`` bytes) into ffmpeg's stdin, and closes ``feed`` when done if ``close_feed``.
    ``input_options`` and ``live``: see ``decode_command``.
    ffmpeg runs in its own session so a terminal Ctrl-C reaches only us (the caller decides
    how to wind down) and ``close()`` kills and reaps it.

    A thread makes the first read of ffmpeg's output as soon as it is started, so
    ``wait_ready()`` can tell, from facts, when decoding has begun (audio arrived) or ffmpeg
    ended without writing any; ``read()`` hands that first read out first.
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
        live: bool = False,
        keep_channels: bool = False,
    ) -> None:
        self.duration: float | None = None
        self.input_url = input_url
        self.input_options = tuple(input_options)
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._head = bytearray()  # the first HEAD_BYTES fed to ffmpeg (stream input)
        self._first: bytes = b""  # the first read of ffmpeg's output, until read() hands it out
        self._first_pending = True
        self._first_done = threading.Event()
        self._audio_arrived = False
        self._described = threading.Event()  # stderr got past the input's description, or ended
        self._stderr_done = threading.Event()
        self._closing = False
        self._read_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        self._exe = ffmpeg_exe()
        posix = os.name == "posix"  # ffmpeg in its own process group (a new session on POSIX)
        group = 0 if posix else getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        try:
            self._proc = subprocess.Popen(
                decode_command(
                    self._exe, input_url, input_options=input_options, live=live, keep_channels=keep_channels
                ),
                stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                start_new_session=posix,
                creationflags=group,
            )
        except OSError as exc:
            raise FfmpegStartError(str(exc)) from exc
        _widen_pipe(self._proc.stdout)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="ffmpeg-stderr", daemon=True)
        self._stderr_thread.start()
        self._first_thread = threading.Thread(target=self._read_first, name="ffmpeg-first", daemon=True)
        self._first_thread.start()
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

    @property
    def audio_arrived(self) -> bool:
        """ffmpeg has written decoded audio (a fact, read from its output pipe)."""
        return self._audio_arrived

    def stderr_tail(self) -> list[str]:
        """The last lines ffmpeg wrote to stderr (bounded)."""
        return list(self._tail)

    def wait_ready(self, timeout: float) -> int | None:
        """Wait (at most ``timeout`` s) until ffmpeg has written its first audio, or ended.

        Returns ffmpeg's exit code if it ended without writing any audio, else None (it is
        decoding, or still waiting for input).
        """
        if not self._first_done.wait(timeout):
            return None
        if self._audio_arrived:
            # the Duration line precedes the first output; let the stderr thread reach it
            self._described.wait(DESCRIBE_WAIT)
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):  # its output ended: it is exiting
            self._proc.wait(timeout=5)
        self._stderr_thread.join(timeout=5)
        return self._proc.poll()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of PCM as soon as ffmpeg has any; b"" at the end or after close()."""
        with self._read_lock:
            if self._first_pending:
                self._first_done.wait()
                if self._closing:
                    return b""
                if self._first:
                    data, self._first = self._first[:n], self._first[n:]
                    self._first_pending = bool(self._first)
                    return data
                self._first_pending = False
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

    def failure(self, audio_bytes: int = 0) -> Failure:
        """Why ffmpeg failed (after it exited non-zero), having written ``audio_bytes``."""
        self._stderr_thread.join(timeout=5)
        head: bytes | None
        if self.input_url.startswith("file:"):
            try:
                with open(self.input_url[len("file:") :], "rb") as f:
                    head = f.read(HEAD_BYTES)
            except OSError:
                head = None
        else:
            if self._feed_thread is not None:
                self._feed_thread.join(timeout=1)
            head = bytes(self._head)
        stream_head = None if self.input_url.startswith("file:") else head

        def probe() -> Probe:
            return run_probe(self._exe, self.input_url, self.input_options, stream_head)

        facts = Facts(
            returncode=self._proc.poll(),
            audio_bytes=audio_bytes,
            head=head,
            probe=probe,
            detail=failure_detail(self.stderr_tail()),
            given_format=_format_name(_option(self.input_options, "-f")),
        )
        return classify(facts)

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
        self._first_thread.join(timeout=5)
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
        self._first_done.set()

    def _read_first(self) -> None:
        out = self._proc.stdout
        assert out is not None
        try:
            self._first = out.read(FIRST_READ_BYTES) or b""
        except (OSError, ValueError):
            self._first = b""
        finally:
            self._audio_arrived = bool(self._first)
            self._first_done.set()

    def _drain_stderr(self) -> None:
        err = self._proc.stderr
        assert err is not None
        try:
            for raw in iter(lambda: err.readline(4096), b""):
                if b"Duration:" in raw:
                    if self.duration is None:
                        self.duration = parse_duration(raw)
                    self._described.set()
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._tail.append(line)
        except (OSError, ValueError):
            pass
        finally:
            self._stderr_done.set()
            self._described.set()
            _close_quietly(err)

    def _feed(self, src: BinaryIO, prefix: bytes, limit: int | None, close_src: bool) -> None:
        sink = self._proc.stdin
        assert sink is not None
        read = getattr(src, "read1", None) or src.read
        try:
            if prefix:
                self._keep(prefix)
                _write_all(sink, prefix)
            while not self._closing and (limit is None or limit > 0):
                data = read(FEED_BYTES if limit is None else min(FEED_BYTES, limit))
                if not data:
                    break
                if limit is not None:
                    limit -= len(data)
                self._keep(data)
                _write_all(sink, data)
        except (OSError, ValueError):
            pass  # ffmpeg exited (broken pipe) or we are closing; ffmpeg's exit status says why
        finally:
            _close_quietly(sink)
            if close_src:
                _close_quietly(src)

    def _keep(self, data: bytes) -> None:
        room = HEAD_BYTES - len(self._head)
        if room > 0:
            self._head += data[:room]


def _format_name(ffmpeg_format: str | None) -> str | None:
    if ffmpeg_format is None:
        return None
    return "WAV" if ffmpeg_format == "wav" else f"raw {ffmpeg_format}"


def _option(options: Sequence[str], name: str) -> str | None:
    for i, option in enumerate(options[:-1]):
        if option == name:
            return options[i + 1]
    return None


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
