"""Live capture: PCM chunks from a capture process, fed to ``bsstream.stream`` as they arrive.

    python examples/live_capture.py --local tests/data/01_jfk_16k_mono_s16.wav   # a file, as if live
    python examples/live_capture.py --mic --seconds 30                          # the microphone

The capture is an ffmpeg process (the binary bsstream itself brings, from ``imageio-ffmpeg``)
writing 16 kHz mono 16-bit PCM to a pipe: ``-re -i FILE`` plays a file at real time (a stand-in
for a live source) and ``-f pulse -i default`` records the default microphone. Anything that
yields chunks of 16 kHz mono s16le PCM works the same way: a sound-card callback feeding a queue,
frames from a telephony socket, ... The source sets the pace, so the stream is not paced again.

Credentials come from the environment or ``.env`` (BS_CID, BS_API_KEY, BS_ENDPOINT), as for the
CLI; ``--local`` starts the emulator in this process instead (no account needed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable, Iterator

import imageio_ffmpeg

import bsstream

CHUNK_BYTES = 8000  # 250 ms of 16 kHz mono 16-bit audio


def capture(ffmpeg_input: list[str], seconds: float | None = None) -> Iterator[bytes]:
    """16 kHz mono s16le PCM from an ffmpeg process, chunk by chunk, as ffmpeg produces it."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *ffmpeg_input]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    cmd += ["-f", "s16le", "-ac", "1", "-ar", "16000", "-"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as ffmpeg:
        assert ffmpeg.stdout is not None
        try:
            while chunk := ffmpeg.stdout.read(CHUNK_BYTES):
                yield chunk
        finally:
            ffmpeg.kill()  # the stream ended early (an error, Ctrl-C): stop capturing


def watch(chunks: Iterable[bytes], connection: bsstream.Connection | None = None) -> None:
    """Print each result as it arrives: window, task, label."""
    options = bsstream.Options(level="segment")
    for message in bsstream.stream(chunks, bsstream.Method.ANALYZE, options, connection):
        for result in message.results:
            window = f"{result.start_time}-{result.end_time}"
            print(f"{window:<13} {result.task:<14} {result.final_label}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Analyse live audio as it is captured.")
    parser.add_argument("file", nargs="?", help="a file to play as if live (default: --mic)")
    parser.add_argument("--mic", action="store_true", help="capture the default microphone (PulseAudio)")
    parser.add_argument("--seconds", type=float, help="stop after this much audio")
    parser.add_argument("--local", action="store_true", help="use the built-in emulator (no account)")
    args = parser.parse_args(argv)
    live = ["-f", "pulse", "-i", "default"] if args.mic or args.file is None else ["-re", "-i", args.file]
    chunks = capture(live, args.seconds)
    try:
        if args.local:
            with bsstream.Emulator() as emulator:
                watch(chunks, bsstream.Connection.emulator(emulator.address))
        else:
            watch(chunks)  # the connection from BS_* variables or .env
    except bsstream.BsError as error:
        print(f"error: {error.line()}", file=sys.stderr)
        return int(error.status)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
