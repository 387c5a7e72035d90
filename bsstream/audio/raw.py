"""Headerless PCM as telephony systems emit it: ``--raw FORMAT[:RATE[:CHANNELS]]``.

Pure (stdlib only): parsing and checking the option, and the ffmpeg input options that name
the samples' layout. Decoding is :mod:`bsstream.audio.piped`'s (ffmpeg with ``-f FORMAT -ar
RATE -ac CHANNELS`` before ``-i``, so it never probes: the first audio comes out at once).

=========  ==============================  ==================
FORMAT     samples                         default RATE
=========  ==============================  ==================
s16le      signed 16-bit little-endian     none: give it
mulaw      G.711 mu-law, 8-bit             8000 (G.711's)
alaw       G.711 A-law, 8-bit              8000 (G.711's)
f32le      32-bit float little-endian      none: give it
=========  ==============================  ==================

CHANNELS defaults to 1. A bad combination is a usage error (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from bsstream.status import UsageError

__all__ = ["RAW_FORMATS", "RawFormat", "parse_raw"]

#: format -> bytes per sample
RAW_FORMATS: dict[str, int] = {"s16le": 2, "mulaw": 1, "alaw": 1, "f32le": 4}
DEFAULT_RATES: dict[str, int] = {"mulaw": 8000, "alaw": 8000}
ALIASES: dict[str, str] = {
    "ulaw": "mulaw",
    "u-law": "mulaw",
    "mu-law": "mulaw",
    "a-law": "alaw",
    "pcm": "s16le",
}
MIN_RATE, MAX_RATE = 1000, 384000
MAX_CHANNELS = 32


@dataclass(frozen=True, slots=True)
class RawFormat:
    """The layout of headerless samples."""

    format: str  # a key of RAW_FORMATS (also ffmpeg's demuxer name)
    rate: int
    channels: int = 1

    @property
    def frame_bytes(self) -> int:
        return RAW_FORMATS[self.format] * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.frame_bytes * self.rate

    def input_options(self) -> list[str]:
        """ffmpeg's options before ``-i`` for these samples."""
        return ["-f", self.format, "-ar", str(self.rate), "-ac", str(self.channels)]

    def duration_of(self, size: int) -> float:
        return (size // self.frame_bytes) / self.rate

    def __str__(self) -> str:
        return f"{self.format}:{self.rate}:{self.channels}"


def _number(text: str, what: str, spec: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"--raw {spec!r}: {what} must be a whole number, e.g. --raw mulaw:8000:1") from None


def parse_raw(spec: str, *, sample_rate: int | None = None, channels: int | None = None) -> RawFormat:
    """``FORMAT[:RATE[:CHANNELS]]`` (``--sample-rate`` and ``--raw-channels`` may give RATE and
    CHANNELS instead) -> RawFormat. UsageError for an unknown format, a missing rate for a
    format without a default, a rate or channel count out of range, or both ways of giving one."""
    fmt, rate, count = _split(spec)
    rate = _once(
        rate, sample_rate, f"--raw {spec!r} and --sample-rate {sample_rate} disagree: give the rate once"
    )
    count = _once(
        count, channels, f"--raw {spec!r} and --raw-channels {channels} disagree: give the channels once"
    )
    rate = rate if rate is not None else DEFAULT_RATES.get(fmt)
    if rate is None:
        raise UsageError(
            f"--raw {fmt} needs the sample rate: --raw {fmt}:RATE (e.g. {fmt}:16000) or --sample-rate RATE"
        )
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--raw: sample rate {rate} is out of range ({MIN_RATE}-{MAX_RATE} Hz)")
    count = count if count is not None else 1
    if not 1 <= count <= MAX_CHANNELS:
        raise UsageError(f"--raw: {count} channels is out of range (1-{MAX_CHANNELS})")
    return RawFormat(fmt, rate, count)


def _split(spec: str) -> tuple[str, int | None, int | None]:
    """FORMAT (aliases resolved), RATE and CHANNELS as the spec gives them (None: not given)."""
    parts = spec.strip().split(":")
    if len(parts) > 3 or not parts[0]:
        raise UsageError(f"--raw {spec!r}: expected FORMAT[:RATE[:CHANNELS]], e.g. --raw mulaw:8000:1")
    name = parts[0].lower()
    fmt = ALIASES.get(name, name)
    if fmt not in RAW_FORMATS:
        raise UsageError(
            f"--raw {spec!r}: unknown format {parts[0]!r} (choose from {', '.join(RAW_FORMATS)})"
        )
    parts += [""] * (3 - len(parts))
    rate = _number(parts[1], "RATE", spec) if parts[1].strip() else None
    count = _number(parts[2], "CHANNELS", spec) if parts[2].strip() else None
    return fmt, rate, count


def _once(in_spec: int | None, option: int | None, disagree: str) -> int | None:
    """A value given in the spec or by its own option (both: they must agree)."""
    if in_spec is not None and option is not None and in_spec != option:
        raise UsageError(disagree)
    return in_spec if in_spec is not None else option
