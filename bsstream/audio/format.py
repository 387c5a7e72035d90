"""Pure: the audio bsstream streams, and how much of it goes in one message. No imports.

16 kHz mono signed 16-bit little-endian PCM (LINEAR_PCM, as the service's AudioConfig says it),
sent in chunks of ``--chunk-ms`` milliseconds. The audio format belongs to audio: the protocol,
the engine and the command line take these from here.
"""

from __future__ import annotations

__all__ = [
    "BYTES_PER_SECOND",
    "DEFAULT_CHUNK_MS",
    "MAX_CHUNK_MS",
    "MIN_CHUNK_MS",
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
]

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH  # 32,000: 16 kHz mono signed 16-bit

MIN_CHUNK_MS = 100
MAX_CHUNK_MS = 500
DEFAULT_CHUNK_MS = 250
