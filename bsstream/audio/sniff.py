"""What a byte stream is, from its first bytes (pure; stdlib only).

Used to explain a decoding failure from facts rather than from another program's wording:
ffmpeg failing on bytes that start like no audio or video format is "not an audio file";
failing on a FLAC file is "could not decode the FLAC audio". Signatures are exact byte
patterns at fixed offsets; the two without a fixed signature (MPEG audio frames and ADTS AAC,
which start with a 12-bit sync word) must show a valid frame header followed by a second
one where the first frame ends, so random bytes are not taken for them.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 64 * 1024  # how much of an input the callers keep or read for sniffing


@dataclass(frozen=True)
class Sniffed:
    """``name`` for messages ("FLAC", "MP4", "PNG image", "text"); ``media`` is True for audio
    and video containers and codecs (something ffmpeg might decode), False for the other kinds
    of file we recognise."""

    name: str
    media: bool


def sniff(head: bytes) -> Sniffed | None:
    """The format ``head`` (the first bytes of an input) starts like, or None if unknown."""
    for check in (_containers, _mpeg_frames, _other_files):
        found = check(head)
        if found is not None:
            return found
    return None


def _media(name: str) -> Sniffed:
    return Sniffed(name, True)


def _containers(h: bytes) -> Sniffed | None:
    """A container or stream format by its signature, in this order: RIFF/IFF forms, the first
    bytes, ISO media boxes, more first bytes, an MPEG transport stream's sync bytes."""
    for check in (_forms, _early_magic, _iso_media, _late_magic, _transport_stream):
        found = check(h)
        if found is not None:
            return _media(found)
    return None


# (first four bytes, form types at bytes 8-12, name)
_FORMS = (
    ((b"RIFF", b"RF64", b"BW64"), (b"WAVE",), "WAV"),
    ((b"RIFF",), (b"AVI ",), "AVI"),
    ((b"FORM",), (b"AIFF", b"AIFC"), "AIFF"),
)


def _forms(h: bytes) -> str | None:
    return next((name for heads, forms, name in _FORMS if h[:4] in heads and h[8:12] in forms), None)


def _early_magic(h: bytes) -> str | None:
    if h[:4] == b"fLaC":
        return "FLAC"
    if h[:4] == b"OggS":
        return _ogg_name(h)
    if h[:3] == b"ID3":
        return "MP3"  # an ID3v2 tag: almost always MP3 follows
    return None


def _iso_media(h: bytes) -> str | None:
    """MP4 and its kin by the ``ftyp`` brand; QuickTime by a first box without one."""
    if h[4:8] == b"ftyp":
        brand = h[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "M4A"
        if brand == b"qt  ":
            return "QuickTime"
        return "3GP" if brand.startswith(b"3g") else "MP4"
    if h[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip") and len(h) >= 8:
        return "QuickTime"
    return None


# first bytes -> name, checked after the ISO media boxes
_LATE_MAGIC = (
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMA"),
    (b"FLV", "FLV"),
    (b"#!AMR", "AMR"),
    (b"caff", "CAF"),
    (b".snd", "AU"),
    (b"MAC ", "Monkey's Audio"),
    (b"wvpk", "WavPack"),
    (b"\x00\x00\x01\xba", "MPEG program stream"),
)


def _late_magic(h: bytes) -> str | None:
    if h[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM" if b"webm" in h[:64] else "Matroska"
    return next((name for magic, name in _LATE_MAGIC if h.startswith(magic)), None)


def _transport_stream(h: bytes) -> str | None:
    return "MPEG transport stream" if len(h) > 376 and h[0] == h[188] == h[376] == 0x47 else None


def _ogg_name(h: bytes) -> str:
    first_packet = h[28:40]
    if first_packet.startswith(b"OpusHead"):
        return "Ogg Opus"
    if first_packet.startswith(b"\x01vorbis"):
        return "Ogg Vorbis"
    if first_packet.startswith(b"\x7fFLAC"):
        return "Ogg FLAC"
    if first_packet.startswith(b"Speex"):
        return "Ogg Speex"
    return "Ogg"


# MPEG audio: kbit/s by (version is 1, layer) and bitrate index 1..14
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_ADTS_RATES = 13  # sampling frequency indexes 0..12 are defined


def _mpeg_frame(h: bytes, at: int) -> tuple[str, int, bytes] | None:
    """(kind, frame length, the header bits that stay constant) of a frame header at ``at``."""
    b = h[at : at + 7]
    if len(b) < 4 or b[0] != 0xFF or b[1] & 0xE0 != 0xE0:
        return None
    if (b[1] >> 1) & 3 == 0:  # ADTS: a 12-bit sync, MPEG-4/2 id, layer 00
        return _adts_frame(b)
    return _mpeg_audio_frame(b)


def _adts_frame(b: bytes) -> tuple[str, int, bytes] | None:
    if b[1] & 0xF0 != 0xF0 or len(b) < 7 or (b[2] >> 2) & 0xF >= _ADTS_RATES:
        return None
    length = ((b[3] & 3) << 11) | (b[4] << 3) | (b[5] >> 5)
    return ("AAC", length, bytes([b[1], b[2] & 0xFC])) if length >= 7 else None


def _mpeg_audio_frame(b: bytes) -> tuple[str, int, bytes] | None:
    """An MPEG audio (layer 1-3) frame header."""
    version = (b[1] >> 3) & 3
    if version == 1:  # reserved
        return None
    layer = 4 - ((b[1] >> 1) & 3)
    bitrate_index = b[2] >> 4
    rate_index = (b[2] >> 2) & 3
    if bitrate_index in (0, 15) or rate_index == 3:  # free format or invalid
        return None
    bitrate = _BITRATES[(version == 3, layer)][bitrate_index - 1] * 1000
    rate = _RATES[version][rate_index]
    padding = (b[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    kind = "MP3" if layer == 3 else f"MPEG audio layer {layer}"
    return kind, length, bytes([b[1], b[2] & 0x0C])


def _mpeg_frames(h: bytes) -> Sniffed | None:
    first = _mpeg_frame(h, 0)
    if first is None:
        return None
    kind, length, fixed = first
    if len(h) < length + 4:
        return None  # too short to show a second frame: not enough to tell it from noise
    second = _mpeg_frame(h, length)
    if second is None or second[0] != kind or second[2] != fixed:
        return None
    return _media(kind)


def _other_files(h: bytes) -> Sniffed | None:
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF87a", "GIF image"),
        (b"GIF89a", "GIF image"),
        (b"%PDF-", "PDF document"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"\x1f\x8b", "gzip archive"),
        (b"\x7fELF", "program"),
    )
    for magic, name in signatures:
        if h.startswith(magic):
            return Sniffed(name, False)
    if _is_text(h):
        return Sniffed("text", False)
    return None


def _is_text(h: bytes) -> bool:
    sample = h[:4096]
    if not sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut at the end of the sample
            return False
        text = sample[: exc.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\n\r\f" for c in text)
