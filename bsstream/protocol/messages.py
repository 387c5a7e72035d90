"""Pure: the request messages of one call (contract rules 1 and 2).

The first message carries cid, x_auth_token and config and no audio; every later one carries
cid, x_auth_token and audio_content and no config.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bsstream._gen import api_pb2
from bsstream.audio.format import BYTES_PER_SECOND as BYTES_PER_SECOND  # the audio format is audio's
from bsstream.audio.format import SAMPLE_RATE as SAMPLE_RATE
from bsstream.audio.format import SAMPLE_WIDTH as SAMPLE_WIDTH

LEVELS = ("segment", "utterance")


def build_config(
    level: str | None = None, *, logits: bool = False, embeddings: bool = False
) -> api_pb2.AudioConfig:
    """LINEAR_PCM at 16 kHz; level/logits/feature_embedding set only when asked.

    ``level`` is "segment", "utterance", or None/"all" to leave it unset (both levels).
    """
    config = api_pb2.AudioConfig(encoding=api_pb2.LINEAR_PCM, sample_rate_hertz=SAMPLE_RATE)
    if level not in (None, "all"):
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        config.level = api_pb2.Level.Value(level)  # type: ignore[assignment]
    if logits:
        config.logits = True
    if embeddings:
        config.feature_embedding = True
    return config


def config_message(cid: int, token: str, config: api_pb2.AudioConfig) -> api_pb2.AudioStream:
    """The first message of a call: credentials and config, no audio."""
    return api_pb2.AudioStream(cid=cid, x_auth_token=token, config=config)


def audio_message(cid: int, token: str, chunk: bytes) -> api_pb2.AudioStream:
    """Every later message: credentials and audio, no config."""
    return api_pb2.AudioStream(cid=cid, x_auth_token=token, audio_content=chunk)


def request_messages(
    cid: int, token: str, config: api_pb2.AudioConfig, chunks: Iterable[bytes]
) -> Iterator[api_pb2.AudioStream]:
    """The whole request stream of one call: the config message, then one message per chunk."""
    yield config_message(cid, token, config)
    for chunk in chunks:
        yield audio_message(cid, token, chunk)


def config_to_dict(config: api_pb2.AudioConfig) -> dict[str, object]:
    """The config as JSON-ready data (for exports): only fields that are set."""
    out: dict[str, object] = {
        "encoding": api_pb2.AudioEncoding.Name(config.encoding),
        "sample_rate_hertz": config.sample_rate_hertz,
    }
    if config.HasField("level"):
        out["level"] = api_pb2.Level.Name(config.level)
    if config.HasField("logits"):
        out["logits"] = config.logits
    if config.HasField("feature_embedding"):
        out["feature_embedding"] = config.feature_embedding
    return out
