"""Audio: decoding any input to PCM16 16 kHz mono (I/O) and chunking it (pure)."""
