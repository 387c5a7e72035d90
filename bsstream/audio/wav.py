"""A streaming RIFF/WAVE header parser (pure; stdlib only).

It reads a WAV header from any byte stream, chunk by chunk, and stops at the first byte of
the ``data`` chunk, so the samples can then be streamed straight from the same stream. It
never seeks, so it works on pipes (stdin) as well as files. It understands ``fmt `` (PCM,
IEEE float, A-law, mu-law and WAVE_FORMAT_EXTENSIBLE, resolved to its sub-format), skips any
other chunk before ``data`` (``LIST``, ``fact``, ``JUNK``, ``bext`` ...) with RIFF's pad byte
after odd-sized chunks, and reports a bogus data length (0 or 0xFFFFFFFF, as written by
tools streaming to a pipe) as unknown.

Hostile headers: nothing is allocated or scheduled from a header's claims alone. A header
whose numbers cannot describe real audio is a :class:`WavError` (the caller's exit 4):

- a sample rate outside MIN_RATE..MAX_RATE (a 96 KB file "at 1 Hz" would be 13 hours);
- 0 or more than MAX_CHANNELS channels;
- for the formats we read ourselves (PCM, float, A-law, mu-law), bits per sample that format
  does not have (PCM 8/16/24/32, float 32/64, A-law and mu-law 8) or a block align other than
  channels x bytes per sample (0 included);
- WAVE_FORMAT_EXTENSIBLE whose sub-format GUID is not one of the standard ``XXXXXXXX-0000-
  0010-8000-00AA00389B71`` family.

Other format tags (ADPCM, GSM, MP3-in-WAV, ...) are left to ffmpeg, which knows them or says
it has no decoder. What is wrong with a file's *length* (it ends before its header says, a
placeholder length, a partial last frame) is not an error: :meth:`WavHeader.file_warnings`
describes it so the caller can stream what is there and say so.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE

# Data lengths that mean "unknown" (pipes) rather than a real length.
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF})

DEFAULT_MAX_HEADER = 16 * 1024 * 1024

# The plausible header values (README "Bad input"). The API wants 16 kHz: 1 kHz is 16x
# upsampling at most; 384 kHz is the highest rate audio interfaces record.
MIN_RATE = 1000
MAX_RATE = 384000
MAX_CHANNELS = 64  # ffmpeg's resampler mixes at most 64 channels

# WAVE_FORMAT_EXTENSIBLE sub-format GUIDs: the first two bytes are a format tag, the other 14
# are this fixed suffix (KSDATAFORMAT_SUBTYPE_PCM, _IEEE_FLOAT, _ALAW, _MULAW, ...).
_GUID_SUFFIX = bytes.fromhex("000000001000800000aa00389b71")

# format tag -> the bits per sample it can have (the formats whose samples we lay out ourselves)
_VALID_BITS = {
    WAVE_FORMAT_PCM: (8, 16, 24, 32),
    WAVE_FORMAT_IEEE_FLOAT: (32, 64),
    WAVE_FORMAT_ALAW: (8,),
    WAVE_FORMAT_MULAW: (8,),
}
_FORMAT_NAMES = {
    WAVE_FORMAT_PCM: "PCM",
    WAVE_FORMAT_IEEE_FLOAT: "float",
    WAVE_FORMAT_ALAW: "A-law",
    WAVE_FORMAT_MULAW: "mu-law",
}

# (format tag, bits per sample) -> ffmpeg raw sample format (WAV data is little-endian; 8-bit is unsigned)
_RAW_FORMATS = {
    (WAVE_FORMAT_PCM, 8): "u8",
    (WAVE_FORMAT_PCM, 16): "s16le",
    (WAVE_FORMAT_PCM, 24): "s24le",
    (WAVE_FORMAT_PCM, 32): "s32le",
    (WAVE_FORMAT_IEEE_FLOAT, 32): "f32le",
    (WAVE_FORMAT_IEEE_FLOAT, 64): "f64le",
    (WAVE_FORMAT_MULAW, 8): "mulaw",
    (WAVE_FORMAT_ALAW, 8): "alaw",
}


class WavError(ValueError):
    """The stream starts like a WAV file but its header is truncated or malformed."""


@dataclass(frozen=True)
class WavHeader:
    """What a WAV header says. ``format_tag`` is resolved (EXTENSIBLE -> its sub-format)."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int
    data_offset: int  # bytes of the stream before the first sample
    data_size: int | None  # the declared data length; None when it is a placeholder (0, 0xFFFFFFFF)
    header_bytes: bytes  # every byte consumed (empty when not kept), to replay into another decoder
    data_size_field: int = 0  # the data chunk's length field as written (placeholders included)

    @property
    def is_pcm(self) -> bool:
        """Integer PCM (8, 16, 24 or 32 bits)."""
        return self.format_tag == WAVE_FORMAT_PCM and self.bits_per_sample in (8, 16, 24, 32)

    @property
    def is_pcm16_16k_mono(self) -> bool:
        """Already what the API wants: the samples can be sent byte for byte."""
        return (
            self.format_tag == WAVE_FORMAT_PCM
            and self.bits_per_sample == 16
            and self.sample_rate == 16000
            and self.channels == 1
            and self.block_align == 2
        )

    @property
    def raw_format(self) -> str | None:
        """ffmpeg's name for these samples as a headerless stream (``-f NAME``), if it has one."""
        return _RAW_FORMATS.get((self.format_tag, self.bits_per_sample))

    def data_bytes_in(self, total_size: int) -> int:
        """How many sample bytes a stream of ``total_size`` bytes really holds.

        The declared length wins when the stream holds at least that much (a chunk may follow
        the samples); a placeholder or a length that runs past the end means "to the end".
        Rounded down to whole frames.
        """
        available = max(0, total_size - self.data_offset)
        size = available if self.data_size is None else min(self.data_size, available)
        return size - size % self.block_align

    def duration_of(self, data_bytes: int) -> float:
        """Seconds of audio in ``data_bytes`` bytes of samples."""
        return data_bytes // self.block_align / self.sample_rate

    @property
    def known_layout(self) -> bool:
        """Uncompressed samples whose length in seconds follows from their length in bytes."""
        return self.format_tag in _VALID_BITS

    def _span(self, nbytes: int) -> str:
        if self.known_layout:
            return f"{nbytes / self.block_align / self.sample_rate:.2f} s"
        return f"{nbytes} bytes"

    def file_warnings(self, total_size: int) -> list[str]:
        """What is wrong with the length of a file of ``total_size`` bytes that has this header,
        one line each, worded for the user; [] when nothing is. The samples that are there are
        still readable (``data_bytes_in``)."""
        available = max(0, total_size - self.data_offset)
        if self.data_size is None:
            if available == 0:
                return []  # no samples at all: the caller's "contains no audio samples"
            return [
                f"the WAV header gives no data length (0x{self.data_size_field:08X}, as written to a "
                f"pipe); reading the samples to the end of the file ({self._span(available)})"
            ]
        if self.data_size > available:
            missing = self.data_size - available
            return [
                f"file ends {self._span(missing)} before its WAV header says "
                f"(holds {self._span(available)} of {self._span(self.data_size)}); "
                "streaming what is there"
            ]
        partial = self.data_size % self.block_align if self.known_layout else 0
        if partial:
            return [
                f"the WAV data length ({self.data_size} bytes) is not a whole number of "
                f"{self.block_align}-byte sample frames; the last {partial} byte(s) are ignored"
            ]
        return []

    def stream_warning(self, received: int) -> str | None:
        """For a stream (stdin, a FIFO) that ended after ``received`` sample bytes: what to
        say when that is fewer than the header declared, else None."""
        if self.data_size is None or received >= self.data_size:
            return None
        return (
            f"input ended {self._span(self.data_size - received)} before its WAV header says "
            f"(got {self._span(received)} of {self._span(self.data_size)})"
        )


def stream_data_start(header: bytes) -> tuple[int, int] | None:
    """(channels, offset of the first sample) of a streamed WAV's first bytes, or None while
    the ``fmt `` and ``data`` chunk headers have not all arrived (the PCM tap's view of
    ``--channels split``'s WAV stream, read by the level meter and the report's audio)."""
    fmt = header.find(b"fmt ")
    data = header.find(b"data", max(fmt, 12))
    if fmt < 0 or data < 0 or len(header) < data + 8 or len(header) < fmt + 12:
        return None
    (channels,) = struct.unpack_from("<H", header, fmt + 10)
    return max(1, channels), data + 8


def is_riff_wave(prefix: bytes) -> bool:
    """Does this stream start with a RIFF/WAVE header (its first 12 bytes)?"""
    return len(prefix) >= 12 and prefix[:4] == b"RIFF" and prefix[8:12] == b"WAVE"


def starts_like_wav(prefix: bytes) -> bool:
    """Is this (up to 12 bytes) the start of a WAV file, possibly cut short? A RIFF header
    shorter than 12 bytes still counts, so read_header reports it as truncated."""
    if prefix[:4] == b"RIFF":
        return len(prefix) < 12 or prefix[8:12] == b"WAVE"
    return 0 < len(prefix) < 4 and b"RIFF".startswith(prefix)


def read_upto(read: Callable[[int], bytes], n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the stream."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_header(
    read: Callable[[int], bytes],
    *,
    prefix: bytes = b"",
    keep: bool = True,
    max_header: int = DEFAULT_MAX_HEADER,
) -> WavHeader:
    """Parse a WAV header from ``read`` and stop at the first sample byte.

    ``prefix`` holds bytes already read from the stream (e.g. 12 bytes sniffed to recognise
    it). With ``keep`` every consumed byte is returned in ``header_bytes`` (at most
    ``max_header`` bytes) so it can be replayed; without it skipped chunks are discarded.
    Raises WavError for a truncated or malformed header.
    """
    buf = bytearray(prefix)

    def take(n: int, what: str) -> bytes:
        data = read_upto(read, n)
        if len(data) < n:
            raise WavError(f"truncated WAV header (file ends inside the {what})")
        if keep:
            if len(buf) + n > max_header:
                raise WavError(f"WAV header larger than {max_header // (1024 * 1024)} MiB")
            buf.extend(data)
        return data

    # The 12-byte RIFF header (partly or wholly in prefix).
    head = bytes(prefix[:12])
    if len(head) < 12:
        head += take(12 - len(head), "RIFF header")
    if not is_riff_wave(head):
        raise WavError("not a RIFF/WAVE file")
    # Bytes of prefix beyond the RIFF header are the start of the first chunk.
    pending = bytearray(prefix[12:])

    def chunk_bytes(n: int, what: str) -> bytes:
        if pending:
            first = bytes(pending[:n])
            del pending[: len(first)]
            if len(first) == n:
                return first
            return first + take(n - len(first), what)
        return take(n, what)

    offset = 12
    fmt: tuple[int, int, int, int, int] | None = None
    while True:
        chunk_head = chunk_bytes(8, "chunk header")
        chunk_id = chunk_head[:4]
        size = struct.unpack("<I", chunk_head[4:])[0]
        offset += 8
        if chunk_id == b"data":
            if fmt is None:
                raise WavError("WAV data chunk comes before its fmt chunk")
            tag, channels, rate, block_align, bits = fmt
            if pending:  # pragma: no cover - prefixes are never that long
                raise WavError("internal parser error: prefix runs into the samples")
            return WavHeader(
                format_tag=tag,
                channels=channels,
                sample_rate=rate,
                bits_per_sample=bits,
                block_align=block_align,
                data_offset=offset,
                data_size=None if size in _UNKNOWN_SIZES else size,
                header_bytes=bytes(buf) if keep else b"",
                data_size_field=size,
            )
        padded = size + (size & 1)
        if chunk_id == b"fmt ":
            if size < 16:
                raise WavError(f"WAV fmt chunk too short ({size} bytes)")
            if size > 4096:
                raise WavError(f"WAV fmt chunk implausibly long ({size} bytes)")
            body = chunk_bytes(padded, "fmt chunk")
            fmt = _parse_fmt(body[:size])
        else:
            _skip(chunk_bytes, padded, chunk_id)
        offset += padded


def _skip(chunk_bytes: Callable[[int, str], bytes], n: int, chunk_id: bytes) -> None:
    what = f"{chunk_id.decode('latin-1')!r} chunk"
    while n > 0:
        step = min(n, 1 << 16)
        chunk_bytes(step, what)
        n -= step


def _parse_fmt(body: bytes) -> tuple[int, int, int, int, int]:
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise WavError("WAVE_FORMAT_EXTENSIBLE fmt chunk too short")
        guid = body[24:40]
        if guid[2:] != _GUID_SUFFIX:
            raise WavError(f"unknown WAVE_FORMAT_EXTENSIBLE sub-format {_guid_text(guid)}")
        tag = struct.unpack("<H", guid[:2])[0]  # first two bytes of the sub-format GUID
    check_format(tag, channels, rate, block_align, bits)
    return tag, channels, rate, block_align, bits


def check_format(tag: int, channels: int, rate: int, block_align: int, bits: int) -> None:
    """Raise WavError unless these fmt values can describe real audio (module docstring)."""
    if channels < 1 or channels > MAX_CHANNELS:
        raise WavError(f"WAV header says {channels} channels (1 to {MAX_CHANNELS} supported)")
    if rate < MIN_RATE or rate > MAX_RATE:
        raise WavError(f"WAV header says a sample rate of {rate} Hz ({MIN_RATE} to {MAX_RATE} Hz supported)")
    valid = _VALID_BITS.get(tag)
    if valid is None:
        if block_align < 1:
            raise WavError(f"WAV header says a block align of 0 (format tag 0x{tag:04X})")
        return  # a codec: ffmpeg checks its own parameters
    name = _FORMAT_NAMES[tag]
    if bits not in valid:
        allowed = "/".join(str(b) for b in valid)
        raise WavError(f"WAV header says {bits} bits per sample for {name} ({allowed} supported)")
    expected = channels * bits // 8
    if block_align != expected:
        raise WavError(
            f"WAV header says a block align of {block_align} bytes; {channels} channel(s) of "
            f"{bits}-bit {name} need {expected}"
        )


def _guid_text(guid: bytes) -> str:
    a, b, c = struct.unpack("<IHH", guid[:8])
    rest = guid[8:].hex().upper()
    return f"{{{a:08X}-{b:04X}-{c:04X}-{rest[:4]}-{rest[4:]}}}"
