"""What the public API streams: a path, an audio file's bytes, a binary file object, or the
caller's own PCM chunks (16 kHz mono s16le), sync or async."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, TypeAlias, cast

from bsstream.engine.core import AudioInput
from bsstream.status import InputError, UsageError

#: What ``bsstream.stream`` takes (``bsstream.aio.stream`` also takes async iterables of chunks).
Source: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]
AsyncSource: TypeAlias = Source | AsyncIterable[bytes]
PCM_NAME = "<pcm>"
BYTES_NAME = "<bytes>"


@dataclass(frozen=True, slots=True)
class Opened:
    """A source ready for the engine, and how to release it."""

    audio: AudioInput
    close: Callable[[], None]


def _nothing() -> None:
    pass


def needs_decoding(source: object) -> bool:
    """A path, bytes or a file object: opening it decodes (blocking: a header, perhaps ffmpeg)."""
    return isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(source, "read")


def open_source(source: AsyncSource) -> Opened:
    """Open ``source`` for streaming. Paths, bytes and file objects are decoded as the CLI
    decodes its inputs (any format ffmpeg reads; 16 kHz mono PCM WAV natively); iterables are
    taken as raw PCM chunks. Blocking for the decoded kinds; an ``InputError`` for bad audio."""
    from bsstream.audio import decode

    if isinstance(source, (str, os.PathLike)):
        pcm = decode.open_input(os.fspath(source))
        return Opened(AudioInput(pcm.name, pcm.blocks(), pcm.duration), pcm.close)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise InputError(f"{BYTES_NAME}: no audio (empty bytes)", hint="give an audio file's contents")
        pcm = decode.open_input("-", stdin=io.BytesIO(bytes(source)))
        return Opened(AudioInput(BYTES_NAME, pcm.blocks(), pcm.duration), pcm.close)
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<stream>"))
        pcm = decode.open_input("-", stdin=source)  # type: ignore[arg-type]
        return Opened(AudioInput(name, pcm.blocks(), pcm.duration), pcm.close)
    if isinstance(source, (AsyncIterable, Iterable)):
        chunks = cast("Iterable[bytes] | AsyncIterable[bytes]", source)
        return Opened(AudioInput(PCM_NAME, chunks), _nothing)
    raise UsageError(
        f"cannot stream a {type(source).__name__}: give a path, bytes, a binary file object "
        "or an iterable of 16 kHz mono 16-bit PCM chunks"
    )
