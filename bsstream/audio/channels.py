"""``--channels split``: one decode of an input, each channel streamed as its own call.

The source (opened with ``keep_channels``, see :mod:`bsstream.audio.piped`) yields a WAV
stream from ffmpeg: its header says how many channels there are, then the PCM16 16 kHz frames
follow, interleaved. :func:`split` reads the header and returns a :class:`ChannelTee` whose
branches each carry one channel's mono samples (``copies`` branches per channel: scan streams
each channel to two methods). Like :mod:`bsstream.audio.tee`, a pump thread feeds bounded
queues, so memory stays flat and the slowest call sets the pace; a closed branch (its call
failed) stops receiving and never blocks the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from bsstream.audio import wav
from bsstream.audio.tee import Branch, Tee, _Source
from bsstream.status import InputError, UsageError

__all__ = ["ChannelTee", "channel_labels", "parse_channel_names", "split"]

MAX_CHANNELS = 32


def parse_channel_names(text: str | None) -> list[str]:
    """``--channel-names agent,customer`` -> ["agent", "customer"]; UsageError for an empty or
    repeated name."""
    if text is None:
        return []
    names = [n.strip() for n in text.split(",")]
    if any(not n for n in names):
        raise UsageError(
            f"--channel-names {text!r}: a name is empty (give NAME,NAME,... e.g. agent,customer)"
        )
    if len(set(names)) != len(names):
        raise UsageError(f"--channel-names {text!r}: names must differ")
    return names


def channel_labels(count: int, names: list[str]) -> list[str | None]:
    """The name of each channel (None where none was given)."""
    return [names[i] if i < len(names) else None for i in range(count)]


class _Rest:
    """The blocks left after the header, as a _Source for the Tee."""

    def __init__(self, source: _Source, blocks: Iterator[bytes], carry: bytes) -> None:
        self.name = source.name
        self.duration = source.duration
        self._source = source
        self._blocks = blocks
        self.carry = carry

    def blocks(self) -> Iterator[bytes]:
        if self.carry:
            yield self.carry
        yield from self._blocks

    def close(self) -> None:
        self._source.close()


class ChannelTee(Tee):
    """Branches ``c * copies .. (c + 1) * copies - 1`` carry channel ``c``."""

    def __init__(self, rest: _Rest, channels: int, copies: int) -> None:
        super().__init__(rest, channels * copies)
        self.channels = channels
        self.copies = copies
        self._carry = b""

    def channel_branches(self, channel: int) -> list[Branch]:
        return self.branches[channel * self.copies : (channel + 1) * self.copies]

    def _deliver(self, block: bytes) -> None:
        """Whole frames only (a frame cut between blocks waits for the next); each channel's
        samples to its branches."""
        n = self.channels
        data = self._carry + block if self._carry else block
        cut = len(data) - len(data) % (2 * n)
        self._carry, data = data[cut:], data[:cut]
        if not data:
            return
        samples = memoryview(data).cast("h")
        for c in range(n):
            mono = samples[c::n].tobytes() if n > 1 else data
            for branch in self.channel_branches(c):
                if not branch.closed.is_set():
                    self._put(branch, mono)


def split(source: _Source, copies: int = 1) -> ChannelTee:
    """Read the WAV header of a ``keep_channels`` source; a tee of its channels. InputError if
    the decoder's output is not the WAV stream expected (it ended first, or is damaged)."""
    blocks = source.blocks()
    buffer = bytearray()

    def read(n: int) -> bytes:
        while len(buffer) < n:
            try:
                buffer.extend(next(blocks))
            except StopIteration:
                break
        out = bytes(buffer[:n])
        del buffer[:n]
        return out

    try:
        header = wav.read_header(read, keep=False)
    except wav.WavError as exc:
        raise InputError(
            f"{source.name}: could not split its channels ({exc})", hint="check the input"
        ) from None
    if header.bits_per_sample != 16 or not 1 <= header.channels <= MAX_CHANNELS:
        raise InputError(
            f"{source.name}: could not split its channels ({header.channels} channels)",
            hint="--channels split takes 1 to 32 channels",
        )
    return ChannelTee(_Rest(source, blocks, bytes(buffer)), header.channels, copies)
