"""libsoxr's streaming resampler through ctypes, without numpy.

python-soxr (a dependency) links libsoxr into its extension module and exports libsoxr's C API
from it (``soxr_create``, ``soxr_process``, ...). Importing ``soxr`` imports numpy, about 60 ms
and 15 MiB before the first sample; loading the extension's shared object with ctypes gives the
same resampler, same code, same quality recipe, for neither. ctypes also releases the GIL for
the length of each call, so a file's resampling runs beside the event loop that sends it.

:func:`load` returns None where this cannot work (no such exported symbols, as on Windows,
where a ``.pyd`` exports only its init function; a python-soxr built differently; a libsoxr
that refuses the recipe); the caller then takes python-soxr's own Python API.

Only what the WAV path needs: interleaved I/O, a fixed ratio, the HQ recipe (python-soxr's
default: 20-bit precision, linear phase, the same as ffmpeg's ``aresample=resampler=soxr``),
no dither on 16-bit output (the output is then exactly reproducible).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

from bsstream.audio.packaged import package_files

# soxr.h
FLOAT32_I = 0
FLOAT64_I = 1
INT32_I = 2
INT16_I = 3
_NO_DITHER = 8  # soxr_io_spec_t.flags: SOXR_NO_DITHER (16-bit output is otherwise TPDF-dithered)
_HQ = 4  # soxr_quality_spec recipe SOXR_HQ (SOXR_20_BITQ), python-soxr's default quality

_SIZES = {FLOAT32_I: 4, FLOAT64_I: 8, INT32_I: 4, INT16_I: 2}


class _IoSpec(ctypes.Structure):
    _fields_ = [
        ("itype", ctypes.c_int),
        ("otype", ctypes.c_int),
        ("scale", ctypes.c_double),
        ("e", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
    ]


class _QualitySpec(ctypes.Structure):
    _fields_ = [
        ("precision", ctypes.c_double),
        ("phase_response", ctypes.c_double),
        ("passband_end", ctypes.c_double),
        ("stopband_begin", ctypes.c_double),
        ("e", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
    ]


_size_p = ctypes.POINTER(ctypes.c_size_t)
_lock = threading.Lock()


def _extension_path() -> str | None:
    """The path of python-soxr's extension module, found without importing ``soxr``."""
    for path in package_files("soxr"):
        name = os.path.basename(path)
        if name.startswith("soxr_ext") and name.endswith((".so", ".dylib")):
            return path
    return None


@functools.cache
def load() -> ctypes.CDLL | None:
    """libsoxr's C API from python-soxr's extension, its signatures declared; None when
    unavailable (see the module's docstring)."""
    path = _extension_path()
    if path is None:
        return None
    with _lock:
        try:
            lib = ctypes.CDLL(path)
            lib.soxr_quality_spec.restype = _QualitySpec
            lib.soxr_quality_spec.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
            lib.soxr_create.restype = ctypes.c_void_p
            lib.soxr_create.argtypes = [
                ctypes.c_double,
                ctypes.c_double,
                ctypes.c_uint,
                ctypes.POINTER(ctypes.c_char_p),
                ctypes.POINTER(_IoSpec),
                ctypes.POINTER(_QualitySpec),
                ctypes.c_void_p,
            ]
            lib.soxr_process.restype = ctypes.c_char_p
            lib.soxr_process.argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_size_t,
                _size_p,
                ctypes.c_void_p,
                ctypes.c_size_t,
                _size_p,
            ]
            lib.soxr_delete.restype = None
            lib.soxr_delete.argtypes = [ctypes.c_void_p]
            lib.soxr_version.restype = ctypes.c_char_p
            lib.soxr_version.argtypes = []
            version = lib.soxr_version()
        except (OSError, AttributeError):
            return None
    if not version or not version.startswith(b"libsoxr-0.1."):
        return None  # the structures above are 0.1.x's
    return lib


def _pointer(data: bytes | bytearray | memoryview) -> object:
    """Something ctypes passes as ``const void *`` to ``data``'s bytes, without a copy where it can."""
    if isinstance(data, bytes):
        return data
    try:
        return (ctypes.c_char * len(data)).from_buffer(data)
    except TypeError:  # a read-only buffer
        return bytes(data)


class SoxrError(RuntimeError):
    """libsoxr refused a resampler or a step (its own message)."""


class Resampler:
    """One stream of interleaved samples from ``in_rate`` to ``out_rate``, ``channels`` wide:
    ``process(data)`` with whole frames of ``itype`` samples, ``flush()`` at the end; the
    output, 16-bit signed little-endian interleaved, concatenated over the calls is the whole
    conversion. Not thread-safe; one thread at a time."""

    def __init__(self, lib: ctypes.CDLL, in_rate: float, out_rate: float, channels: int, itype: int) -> None:
        self._handle: int | None = None
        self._lib = lib
        self._in_frame = _SIZES[itype] * channels
        self._out_frame = 2 * channels
        self._ratio = out_rate / in_rate
        error = ctypes.c_char_p()
        io = _IoSpec(itype, INT16_I, 1.0, None, _NO_DITHER)
        quality = lib.soxr_quality_spec(_HQ, 0)
        handle = lib.soxr_create(
            in_rate, out_rate, channels, ctypes.byref(error), ctypes.byref(io), ctypes.byref(quality), None
        )
        if error.value or not handle:
            if handle:
                lib.soxr_delete(handle)
            raise SoxrError((error.value or b"soxr_create failed").decode("ascii", "replace"))
        self._handle = handle
        self._idone = ctypes.c_size_t()
        self._odone = ctypes.c_size_t()
        self._out = ctypes.create_string_buffer(0)

    def _room(self, frames: int) -> int:
        """An output buffer for at least ``frames`` frames; returns its size in frames."""
        need = frames * self._out_frame
        if len(self._out) < need:
            self._out = ctypes.create_string_buffer(need)
        return len(self._out) // self._out_frame

    def _step(self, data: object, frames: int, room: int) -> tuple[int, bytes]:
        if self._handle is None:
            raise SoxrError("the resampler is closed")
        error = self._lib.soxr_process(
            self._handle, data, frames, ctypes.byref(self._idone), self._out, room, ctypes.byref(self._odone)
        )
        if error:
            raise SoxrError(error.decode("ascii", "replace"))
        return self._idone.value, ctypes.string_at(self._out, self._odone.value * self._out_frame)

    def process(self, data: bytes | bytearray | memoryview) -> bytes:
        frames = len(data) // self._in_frame
        if frames * self._in_frame != len(data):
            raise ValueError("not a whole number of frames")
        if not frames:
            return b""
        room = self._room(int(frames * self._ratio) + 1024)
        used, out = self._step(_pointer(data), frames, room)
        if used == frames:
            return out
        pieces = [out]  # the output filled up first (never, with the room given): go on
        rest = bytes(data)
        while used < frames and (used or out):
            rest = rest[used * self._in_frame :]
            frames -= used
            used, out = self._step(rest, frames, room)
            pieces.append(out)
        return b"".join(pieces)

    def flush(self) -> bytes:
        """What the resampler still holds once the input has ended; closes it."""
        room = self._room(4096)
        pieces = []
        while True:
            _, out = self._step(None, 0, room)
            if not out:
                break
            pieces.append(out)
        self.close()
        return b"".join(pieces)

    def close(self) -> None:
        if self._handle is not None:
            self._lib.soxr_delete(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
