"""The audio of an HTML report: captured from the PCM the run already streams, never decoded twice.

The run decodes every input to PCM (s16le, 16 kHz, mono; with ``--channels split`` a WAV
stream with the channels interleaved) and streams it. When an ``.html`` output is asked for,
:meth:`AudioStore.capture` gives a :class:`CapturedAudio` that the run feeds every block that
flows to the sessions (it taps the decoded source once, for the live view's level meter too:
:mod:`bsstream.audio.tap`; :meth:`AudioStore.wrap` is the same on its own), as it flows, to

- a loudness summary: the RMS of every 50 ms (2 hours: 144,000 floats), reduced to at most
  :data:`WAVE_POINTS` values for the report's overview strip (:meth:`CapturedAudio.waveform`);
- an ffmpeg encoder process (the bundled ffmpeg, or ``$BSSTREAM_FFMPEG``) reading the PCM on
  its stdin and writing Opus in WebM at :data:`BITRATE` mono to a temporary file, so memory
  stays bounded whatever the length. Channels are mixed down to mono for listening.

Embedding (``--embed-audio`` / ``--no-embed-audio``; default: only inputs of at most
:data:`EMBED_LIMIT_SECONDS`): with the default, an input known to be longer is not encoded at
all, and a stream of unknown length (stdin, a capture) stops being encoded once it passes the
limit. An encoder that cannot start or fails leaves the report without audio (and says why in
the report); it never fails the run. Works for files, stdin, URLs and captures alike, since it
sits on the decoded PCM.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from bsstream.audio.wav import stream_data_start

if TYPE_CHECKING:  # numpy is loaded only when audio is captured (an HTML report), not for any --output
    import numpy as np

__all__ = [
    "BITRATE",
    "EMBED_LIMIT_SECONDS",
    "MIME",
    "WAVE_POINTS",
    "AudioStore",
    "CapturedAudio",
]

RATE = 16000
EMBED_LIMIT_SECONDS = 30 * 60  # the default embeds inputs up to 30 minutes (~5.4 MB of Opus)
BITRATE = "24k"  # Opus, mono: speech stays clear; about 180 kB per minute
MIME = "audio/webm"
WAVE_STEP = 800  # samples per loudness value (50 ms)
WAVE_POINTS = 1600  # at most this many values in the report


def _encoder_command(exe: str, channels: int, out: str) -> list[str]:
    return [
        exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(RATE), "-ac", str(channels), "-i", "pipe:0",
        "-ac", "1", "-c:a", "libopus", "-b:a", BITRATE, "-application", "voip",
        "-f", "webm", out,
    ]  # fmt: skip


class CapturedAudio:
    """One input's audio as it flowed: its loudness, and its encoded file when embedded."""

    def __init__(self, name: str, embed: bool | None, duration: float | None, split: bool) -> None:
        self.name = name
        self.embed = embed
        self.split = split
        self.channels = 0 if split else 1  # split: known from the WAV header
        self.samples = 0
        self.problem: str | None = None  # why the audio is not embedded
        self._rms: list[np.ndarray] = []
        self._carry = b""
        self._header = b""
        self._proc: subprocess.Popen[bytes] | None = None
        self._path: str | None = None
        self._lock = threading.Lock()
        self._finished = False
        if embed is False:
            self.problem = "not embedded (--no-embed-audio)"
        elif embed is None and duration is not None and duration > EMBED_LIMIT_SECONDS:
            self.problem = _too_long()

    @property
    def seconds(self) -> float:
        return self.samples / RATE

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, block: bytes) -> None:
        with self._lock:
            if self._finished:
                return
            if self.channels == 0:
                block = self._read_header(block)
                if not block:
                    return
            self._pcm(block)

    def _read_header(self, block: bytes) -> bytes:
        """``--channels split``: skip the WAV header (its channel count is kept)."""
        self._header += block
        found = stream_data_start(self._header)
        if found is None:
            if len(self._header) > 65536:
                self._finished, self.problem = True, "not embedded (the decoded stream has no WAV header)"
            return b""
        self.channels, start = found
        rest, self._header = self._header[start:], b""
        return rest

    def _pcm(self, block: bytes) -> None:
        frame = 2 * self.channels
        data = self._carry + block
        cut = len(data) - len(data) % frame
        data, self._carry = data[:cut], data[cut:]
        if not data:
            return
        import numpy as np

        samples = np.frombuffer(data, dtype="<i2").astype(np.float32)
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels).mean(axis=1)
        self.samples += len(samples)
        self._loudness(samples)
        self._encode(data)

    def _loudness(self, samples: np.ndarray) -> None:
        import numpy as np

        full = len(samples) - len(samples) % WAVE_STEP
        if full:
            blocks = samples[:full].reshape(-1, WAVE_STEP)
            self._rms.append(np.sqrt(np.mean(blocks * blocks, axis=1)))
        if full < len(samples):  # a short tail: its own (shorter) window
            tail = samples[full:]
            self._rms.append(np.array([math.sqrt(float(np.mean(tail * tail)))], dtype=np.float32))

    def _encode(self, data: bytes) -> None:
        if self.problem is not None:
            return
        if self.embed is None and self.seconds > EMBED_LIMIT_SECONDS:
            self._stop_encoder()
            self.problem = _too_long()
            return
        if self._proc is None and not self._start_encoder():
            return
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
        except OSError:
            self._stop_encoder()
            self.problem = "not embedded (the audio encoder stopped)"

    def _start_encoder(self) -> bool:
        from bsstream.audio.ffmpeg import ffmpeg_exe

        try:
            fd, self._path = tempfile.mkstemp(prefix="bsstream-audio-", suffix=".webm")
            os.close(fd)
            command = _encoder_command(ffmpeg_exe(), self.channels, self._path)
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except Exception as exc:  # no ffmpeg, no temp dir: a report without audio
            self.problem = f"not embedded (the audio encoder could not start: {exc})"
            self._discard_file()
            return False
        return True

    def _stop_encoder(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        self._discard_file()

    def _discard_file(self) -> None:
        path, self._path = self._path, None
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- results ----------------------------------------------------------------------------

    def finish(self, timeout: float = 60.0) -> None:
        """No more audio: let the encoder finish its file (idempotent)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            proc = self._proc
            if proc is None:
                return
            assert proc.stdin is not None and proc.stderr is not None
            try:
                proc.stdin.close()
                err = proc.stderr.read()
                code = proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                code, err = -1, b""
            proc.stderr.close()
            if code != 0:
                self._stop_encoder()
                detail = err.decode("utf-8", "replace").strip().splitlines()
                self.problem = "not embedded (the audio encoder failed" + (
                    f": {detail[-1][:200]})" if detail else ")"
                )

    def data_uri(self) -> str | None:
        """``data:audio/webm;base64,...`` of the encoded audio; None when there is none."""
        self.finish()
        if self._path is None or self.problem is not None or self.samples == 0:
            return None
        with open(self._path, "rb") as f:
            data = f.read()
        return f"data:{MIME};base64," + base64.b64encode(data).decode("ascii")

    def waveform(self, points: int = WAVE_POINTS) -> list[int]:
        """Loudness for the overview strip: at most ``points`` values 0..100, the loudest 50 ms
        window of each bucket on a dB scale (-60 dBFS .. 0 dBFS)."""
        import numpy as np

        with self._lock:
            rms = np.concatenate(self._rms) if self._rms else np.zeros(0, dtype=np.float32)
        if rms.size == 0:
            return []
        n = min(points, rms.size)
        edges = np.linspace(0, rms.size, n + 1).astype(int)
        peaks = np.maximum.reduceat(rms, edges[:-1])
        db = 20 * np.log10(np.maximum(peaks, 1e-9) / 32768.0)
        return [int(v) for v in np.clip(np.round((db + 60) * 100 / 60), 0, 100)]

    def close(self) -> None:
        with self._lock:
            self._finished = True
            self._stop_encoder()


def _too_long() -> str:
    return f"not embedded (longer than {EMBED_LIMIT_SECONDS // 60} min; --embed-audio embeds it anyway)"


class PcmSource(Protocol):
    """A decoded input as the run streams it (``bsstream.audio.decode.PcmSource`` and its taps)."""

    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class AudioStore:
    """Each input's captured audio, by source name, for the HTML report(s) of a run."""

    def __init__(self, embed: bool | None) -> None:
        self.embed = embed
        self._audio: dict[str, CapturedAudio] = {}
        self._lock = threading.Lock()

    def capture(self, source: PcmSource, *, split: bool = False) -> CapturedAudio:
        """A new :class:`CapturedAudio` for ``source``, to be fed its blocks (the run taps the
        source once for every watcher: :class:`bsstream.audio.tap.TappedSource`)."""
        audio = CapturedAudio(source.name, self.embed, source.duration, split)
        with self._lock:
            old = self._audio.get(source.name)
            if old is not None:
                old.close()
            self._audio[source.name] = audio
        return audio

    def get(self, name: str) -> CapturedAudio | None:
        with self._lock:
            return self._audio.get(name)

    def close(self) -> None:
        with self._lock:
            audios = list(self._audio.values())
        for audio in audios:
            audio.close()
