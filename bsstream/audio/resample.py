"""Uncompressed WAV samples -> PCM16 16 kHz mono, in-process, one block at a time.

The PCM WAV path of :mod:`bsstream.audio.decode`: instead of an ffmpeg process whose output
reaches Python through a pipe, the samples are read from the file in blocks of two seconds
(the first one second) and resampled by libsoxr's streaming resampler (quality HQ: the same
library and precision ffmpeg's ``aresample=resampler=soxr`` uses). Memory is one block whatever
the file's length.

Two converters do it, with the same output to within a sample's rounding:

- :class:`SoxrConverter` (where libsoxr's C API can be reached through ctypes, see
  :mod:`bsstream.audio.libsoxr`: Linux and macOS wheels): samples widened and stereo
  downmixed by the stdlib's ``audioop`` (``audioop-lts`` from Python 3.13), resampled by libsoxr
  straight to 16-bit. No numpy: about 60 ms and 15 MiB less per run, and the resampler runs
  without the GIL, beside the event loop that sends its output.
- :class:`Converter`: numpy for the conversions and the downmix, python-soxr's
  ``ResampleStream`` for the resampling; elsewhere, and for the rare same-rate layouts
  (16 kHz but not 16-bit mono) the first one leaves.

Which WAVs (:func:`handles`): integer PCM (8-bit unsigned, 16/24/32-bit signed) and IEEE
float (32/64-bit), one or two channels, any rate. Mono is taken as is; stereo is the mean of
the two channels, as ffmpeg downmixes it. More channels go to ffmpeg, whose downmix knows
channel layouts (LFE dropped, surrounds attenuated); so do mu-law and A-law.

numpy and soxr are imported only when a file is decoded by :class:`Converter` (start-up stays
at Click).
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from bsstream.audio import libsoxr, wav
from bsstream.audio.format import SAMPLE_RATE

if TYPE_CHECKING:
    import ctypes

    import numpy as np
    import numpy.typing as npt
    import soxr

BLOCK_SECONDS = 2.0  # input read per step; against 1 s: the 20-min WAV streams ~15% faster (half
# the blocks through the engine's read-ahead), ~1.5 MiB more at peak
MAX_CHANNELS = 2  # more: ffmpeg (layout-aware downmix)
QUALITY = "HQ"  # soxr's 20-bit precision; ffmpeg's soxr default precision is 20 too

_INT_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)


def import_numpy() -> ModuleType:
    """numpy, imported with its OpenBLAS limited to one thread.

    At import OpenBLAS starts a thread per core that spins for a while: about 50 ms of CPU
    here, for BLAS routines this module never calls. The setting is read once, when the
    library loads, so the environment is restored right after (child processes and an
    explicit OPENBLAS_NUM_THREADS are left as they were)."""
    if "numpy" in sys.modules:
        import numpy

        return numpy
    set_here = "OPENBLAS_NUM_THREADS" not in os.environ
    if set_here:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy
    finally:
        if set_here:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
    return numpy


def handles(header: wav.WavHeader) -> bool:
    """True when :class:`Converter` can turn this WAV's samples into PCM16 16 kHz mono."""
    if not 1 <= header.channels <= MAX_CHANNELS or header.sample_rate <= 0:
        return False
    width = header.bits_per_sample // 8
    if header.block_align != width * header.channels:
        return False
    if header.format_tag == wav.WAVE_FORMAT_PCM:
        return header.bits_per_sample in _INT_BITS
    if header.format_tag == wav.WAVE_FORMAT_IEEE_FLOAT:
        return header.bits_per_sample in _FLOAT_BITS
    return False


class WavConverter(Protocol):
    """What :mod:`bsstream.audio.decode` reads a WAV's samples through."""

    block_align: int

    @property
    def block_bytes(self) -> int: ...

    def feed(self, data: bytes | bytearray | memoryview) -> bytes: ...

    def flush(self) -> bytes: ...


def converter_for(header: wav.WavHeader) -> WavConverter:
    """The converter for this WAV (``handles(header)`` must be true): :class:`SoxrConverter`
    where it can, else :class:`Converter`."""
    if not handles(header):
        raise ValueError("not a WAV layout the in-process resampler handles")
    if header.sample_rate != SAMPLE_RATE:
        lib = libsoxr.load()
        if lib is not None:
            return SoxrConverter(header, lib)
    return Converter(header)


def _import_audioop() -> ModuleType:
    """The stdlib's audioop (deprecated in 3.11 and 3.12, where importing it warns; from 3.13
    the ``audioop-lts`` package, a dependency there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


class _Layout:
    """What both converters read of the WAV's header, and the size of their steps."""

    def __init__(self, header: wav.WavHeader) -> None:
        self.channels = header.channels
        self.rate = header.sample_rate
        self.bits = header.bits_per_sample
        self.is_float = header.format_tag == wav.WAVE_FORMAT_IEEE_FLOAT
        self.block_align = header.block_align
        self.frames_per_block = max(1, round(self.rate * BLOCK_SECONDS))

    @property
    def block_bytes(self) -> int:
        """Input bytes per step (about ``BLOCK_SECONDS`` of audio)."""
        return self.frames_per_block * self.block_align


class SoxrConverter(_Layout):
    """Like :class:`Converter`, without numpy: ``audioop`` widens the samples (8-bit to 16,
    24-bit to 32) and takes the mean of two integer channels (rounded down, at the widened
    precision), then libsoxr resamples to 16-bit with no dither. Float stereo is resampled as two
    channels and averaged after, at 16 kHz."""

    def __init__(self, header: wav.WavHeader, lib: ctypes.CDLL) -> None:
        super().__init__(header)
        self._audioop = _import_audioop()
        if self.is_float:
            itype = libsoxr.FLOAT32_I if self.bits == 32 else libsoxr.FLOAT64_I
            width = self.channels  # resampled as they are, averaged after
        else:
            itype = libsoxr.INT16_I if self.bits <= 16 else libsoxr.INT32_I
            width = 1
        self._post_mix = self.is_float and self.channels == 2
        self._resampler = libsoxr.Resampler(lib, self.rate, SAMPLE_RATE, width, itype)
        self._premix = not self._post_mix  # type: ignore[arg-type]

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._mixed(self._resampler.process(self._prepared(data)))

    def flush(self) -> bytes:
        return self._mixed(self._resampler.flush())

    def _prepared(self, data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
        """The samples as libsoxr takes them: 16 or 32-bit integers in one channel, or floats as
        they are."""
        if self.is_float:
            return data
        audioop = self._audioop
        width = self.bits // 8
        if self.bits == 8:  # unsigned, 128 is silence: shifted to signed (wrapping), then widened
            data = audioop.lin2lin(audioop.bias(data, 1, -128), 1, 2)
            width = 2
        elif self.bits == 24:
            data = audioop.lin2lin(data, 3, 4)
            width = 4
        if self.channels == 2 and self._premix:
            data = audioop.tomono(data, width, 0.5, 0.5)
        return data

    def _mixed(self, pcm16: bytes) -> bytes:
        if self._post_mix and pcm16:
            return self._audioop.tomono(pcm16, 2, 0.5, 0.5)  # type: ignore[no-any-return]
        return pcm16


class Converter(_Layout):
    """Stateful: feed whole frames of the WAV's samples, get PCM16 16 kHz mono bytes.

    ``feed(data)`` takes any number of whole sample frames (``len(data) % block_align == 0``);
    ``flush()`` returns what the resampler still holds at the end. Output of successive calls
    concatenated is the whole conversion.
    """

    def __init__(self, header: wav.WavHeader) -> None:
        if not handles(header):
            raise ValueError("not a WAV layout the in-process resampler handles")
        super().__init__(header)
        self._np = import_numpy()
        self._stream: soxr.ResampleStream | None = None
        if self.rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="float32", quality=QUALITY)

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        mono = self._mono(data)
        if self._stream is not None:
            mono = self._stream.resample_chunk(mono, last=False)
        return self._pcm16(mono)

    def flush(self) -> bytes:
        if self._stream is None:
            return b""
        np = self._np
        return self._pcm16(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))

    def _samples(self, data: bytes | bytearray | memoryview) -> npt.NDArray[np.float32]:
        """Every sample (interleaved) as float32 on the int16 scale (full scale = 32768)."""
        np = self._np
        f32 = np.float32
        if self.is_float:
            raw = np.frombuffer(data, dtype="<f4" if self.bits == 32 else "<f8")
            out = raw.astype(f32)
            out *= 32768.0
            return out  # type: ignore[no-any-return]
        if self.bits == 16:
            return np.frombuffer(data, dtype="<i2").astype(f32)  # type: ignore[no-any-return]
        if self.bits == 8:  # unsigned, 128 is silence
            out = np.frombuffer(data, dtype=np.uint8).astype(f32)
            out -= 128.0
            out *= 256.0
            return out  # type: ignore[no-any-return]
        if self.bits == 32:
            out = np.frombuffer(data, dtype="<i4").astype(f32)
            out *= 1.0 / 65536.0
            return out  # type: ignore[no-any-return]
        # 24-bit: three bytes per sample, placed in the top of an int32 (sign included)
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
        wide = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        wide[:, 1:] = raw
        out = wide.view("<i4").reshape(-1).astype(f32)
        out *= 1.0 / 65536.0
        return out  # type: ignore[no-any-return]

    def _mono(self, data: bytes | bytearray | memoryview) -> npt.NDArray[np.float32]:
        if self.channels == 2 and self.bits == 16 and not self.is_float:
            # the usual stereo WAV: summed straight into float32 (no stereo float32 copy)
            np = self._np
            pairs = np.frombuffer(data, dtype="<i2").reshape(-1, 2)
            mono = np.add(pairs[:, 0], pairs[:, 1], dtype=np.float32)
            mono *= 0.5
            return mono  # type: ignore[no-any-return]
        samples = self._samples(data)
        if self.channels == 1:
            return samples
        frames = samples.reshape(-1, 2)
        mono = frames[:, 0] + frames[:, 1]
        mono *= 0.5
        return mono  # type: ignore[no-any-return]

    def _pcm16(self, mono: npt.NDArray[np.float32]) -> bytes:
        np = self._np
        if not len(mono):
            return b""
        np.rint(mono, out=mono)
        np.clip(mono, -32768.0, 32767.0, out=mono)
        return mono.astype("<i2").tobytes()  # type: ignore[no-any-return]
