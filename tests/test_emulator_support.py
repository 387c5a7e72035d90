"""Shared helpers for the emulator tests: a bare client like the vendor's documented one.

Not a test module by content; pytest collects it and finds nothing to run.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from bsstream._gen import api_pb2, api_pb2_grpc

CID = 10000119
TOKEN = "test-token-7f3a"
CHUNK = 8000  # 250 ms at 16 kHz mono 16-bit, as the vendor's client slices


def load_wav(path: Path) -> tuple[bytes, int]:
    """PCM16 mono (first channel) and the sample rate, via the wave module."""
    with wave.open(str(path)) as w:
        channels, rate, data = w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)[:, 0]
    return samples.astype("<i2").tobytes(), rate


def resample(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    """Client-side linear resampling (to produce test input at other rates)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n_out = int(len(x) * rate_out / rate_in)
    t = np.arange(n_out) * rate_in / rate_out
    y = np.interp(t, np.arange(len(x)), x)
    return np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()


def config(
    rate: int = 16000,
    *,
    level: str | None = None,
    logits: bool | None = None,
    embedding: bool | None = None,
    encoding: int = api_pb2.LINEAR_PCM,
    cid: int = CID,
    token: str = TOKEN,
) -> api_pb2.AudioStream:
    cfg = api_pb2.AudioConfig(encoding=encoding, sample_rate_hertz=rate)
    if level is not None:
        cfg.level = api_pb2.Level.Value(level)
    if logits is not None:
        cfg.logits = logits
    if embedding is not None:
        cfg.feature_embedding = embedding
    return api_pb2.AudioStream(cid=cid, x_auth_token=token, config=cfg)


def audio(
    pcm: bytes, chunk: int = CHUNK, *, cid: int = CID, token: str = TOKEN
) -> Iterator[api_pb2.AudioStream]:
    for i in range(0, len(pcm), chunk):
        yield api_pb2.AudioStream(cid=cid, x_auth_token=token, audio_content=pcm[i : i + chunk])


def stream(pcm: bytes, rate: int = 16000, chunk: int = CHUNK, **cfg: object) -> Iterator[api_pb2.AudioStream]:
    yield config(rate, **cfg)  # type: ignore[arg-type]
    yield from audio(pcm, chunk)


@dataclass
class Outcome:
    responses: list[api_pb2.StreamResult] = field(default_factory=list)
    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def results(self) -> list[api_pb2.InferenceResult]:
        return [r for msg in self.responses for r in msg.result]

    def windows(self, level: str | None = None) -> list[tuple[str, str, str, int]]:
        """(id, start, end, level) per response message, in order."""
        out = []
        for msg in self.responses:
            r = msg.result[0]
            lv = api_pb2.Level.Name(r.level)
            if level is None or lv == level:
                out.append((r.id, r.start_time, r.end_time, r.level))
        return out

    def labels(self, task: str) -> list[str]:
        return [r.final_label for r in self.results if r.task == task]


def call(
    address: str,
    messages: Iterable[api_pb2.AudioStream],
    *,
    method: str = "StreamAudio",
    timeout: float = 60.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> Outcome:
    """One call with a fresh channel; never raises for a gRPC status."""
    channel = (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    out = Outcome()
    with channel:
        stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)
        rpc = getattr(stub, method)(iter(messages), timeout=timeout)
        try:
            for msg in rpc:
                out.responses.append(msg)
        except grpc.RpcError:
            pass
        out.code = rpc.code()
        out.details = rpc.details() or ""
        out.metadata = dict(rpc.initial_metadata() or ())
    return out
