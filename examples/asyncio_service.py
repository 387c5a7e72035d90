"""An asyncio service: many calls analysed at once, in one process and one event loop.

    python examples/asyncio_service.py --local --calls 20 tests/data/01_jfk_16k_mono_s16.wav
    python examples/asyncio_service.py --calls 200 --realtime call.wav        # against the service

Each call's audio is an async iterator of PCM chunks, here read from a 16 kHz mono 16-bit WAV
(and released at real time with ``--realtime``, as a telephony socket would deliver it); in a
real service it is whatever delivers your calls' audio. ``handle_call`` streams one call with
``bsstream.aio.stream`` and reduces its results to a summary; ``asyncio.gather`` runs them all
concurrently. A thousand paced calls fit in one process (see ``bench/scale.py``).

Credentials come from the environment or ``.env`` (BS_CID, BS_API_KEY, BS_ENDPOINT); ``--local``
starts the emulator in this process instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from collections.abc import AsyncIterator

import bsstream
import bsstream.aio

CHUNK_MS = 250


async def call_audio(path: str, realtime: bool = False) -> AsyncIterator[bytes]:
    """A call's audio as it would arrive: 250 ms chunks of 16 kHz mono s16le PCM."""
    with wave.open(path) as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (16000, 1, 2):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit PCM")
        frames = wav.getframerate() * CHUNK_MS // 1000
        while chunk := wav.readframes(frames):
            yield chunk
            await asyncio.sleep(CHUNK_MS / 1000 if realtime else 0)


async def handle_call(name: str, audio: AsyncIterator[bytes], connection: bsstream.Connection | None) -> str:
    """Stream one call and describe it in one line (its dominant emotion and gender)."""
    options = bsstream.Options(level="utterance")
    stream = bsstream.aio.stream(audio, options=options, connection=connection)
    messages = [message async for message in stream]
    summary = bsstream.summarize(messages)
    parts = [f"{t.task} {t.label} ({t.share:.0%})" for t in summary.tasks if t.task in ("emotion", "gender")]
    results = sum(len(m.results) for m in messages)
    return f"{name}: {results} results; " + ", ".join(parts)


async def serve(path: str, calls: int, realtime: bool, connection: bsstream.Connection | None) -> int:
    """Handle ``calls`` calls at once; print a line per call as each finishes."""
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        try:
            print(await handle_call(f"call-{i:03d}", call_audio(path, realtime), connection), flush=True)
        except bsstream.BsError as error:  # one call failing does not stop the others
            failed += 1
            print(f"call-{i:03d}: failed: {error.line()}", flush=True)

    await asyncio.gather(*(one(i) for i in range(calls)))
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Analyse many calls concurrently with bsstream.aio.")
    parser.add_argument("file", help="a 16 kHz mono 16-bit WAV, streamed as every call's audio")
    parser.add_argument("--calls", type=int, default=10, help="calls at once (default 10)")
    parser.add_argument("--realtime", action="store_true", help="deliver each call's audio at real time")
    parser.add_argument("--local", action="store_true", help="use the built-in emulator (no account)")
    args = parser.parse_args(argv)
    if args.local:
        with bsstream.Emulator() as emulator:
            failed = asyncio.run(
                serve(args.file, args.calls, args.realtime, bsstream.Connection.emulator(emulator.address))
            )
    else:
        failed = asyncio.run(serve(args.file, args.calls, args.realtime, None))  # BS_* variables or .env
    print(f"{args.calls - failed} of {args.calls} calls analysed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
