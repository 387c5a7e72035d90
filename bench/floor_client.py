"""The floor under bsstream's start-up: the least a grpc.aio client of the streaming API can do.

bsstream streams through grpc.aio (issue 15: the asyncio engine is its only path to the
wire) and parses its command line with Click. This script does only what any such client
must: import asyncio, grpc.aio, the generated stubs and Click; turn the file into 16 kHz mono
PCM16 as cheaply as bsstream does (a WAV read whole and resampled by libsoxr through ctypes, the
stereo mean taken by audioop; anything else decoded by one ffmpeg process); send the
config-only message and then 250 ms chunks, each with cid and token, and read the answers;
end with ``os._exit`` as bsstream's entry point does (no interpreter teardown).
No options, no checks, no output, no reconnection: whatever bsstream measures above this on
a short input is its own cost; what this measures is the cost of the language and the
libraries, which no client built on them goes below.

Usage: ``python bench/floor_client.py FILE HOST:PORT CID API_KEY``
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
import wave
from collections.abc import AsyncIterator

import click  # noqa: F401  (every bsstream command pays for its CLI)
import grpc.aio
import imageio_ffmpeg

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.audio import libsoxr

RATE = 16000
CHUNK = RATE * 2 // 4  # 250 ms of PCM16


def pcm16_16k_mono(path: str) -> bytes:
    if not path.lower().endswith(".wav"):
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", path]
        cmd += ["-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1"]
        return subprocess.run(cmd, capture_output=True, check=True).stdout
    with wave.open(path) as w:
        channels, rate, data = w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())
    if channels == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop
        data = audioop.tomono(data, 2, 0.5, 0.5)
    lib = libsoxr.load()
    assert lib is not None, "libsoxr's C API is not reachable here"
    resampler = libsoxr.Resampler(lib, rate, RATE, 1, libsoxr.INT16_I)
    return resampler.process(data) + resampler.flush()


async def send(raw: bytes, endpoint: str, cid: int, api_key: str) -> None:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)

        async def requests() -> AsyncIterator[api_pb2.AudioStream]:
            config = api_pb2.AudioConfig(encoding=api_pb2.LINEAR_PCM, sample_rate_hertz=RATE)
            yield api_pb2.AudioStream(cid=cid, x_auth_token=api_key, config=config)
            for i in range(0, len(raw), CHUNK):
                yield api_pb2.AudioStream(cid=cid, x_auth_token=api_key, audio_content=raw[i : i + CHUNK])

        async for _ in stub.StreamAudio(requests()):
            pass


def main() -> None:
    path, endpoint, cid, api_key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    asyncio.run(send(pcm16_16k_mono(path), endpoint, cid, api_key))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
