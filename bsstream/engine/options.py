"""Pure: what a stream is told — the method, the options a user sets, the connection.

Importing this module pulls no grpc (``import bsstream`` stays light).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bsstream._gen import api_pb2
from bsstream.audio.format import DEFAULT_CHUNK_MS, MAX_CHUNK_MS, MIN_CHUNK_MS
from bsstream.protocol.messages import LEVELS, build_config
from bsstream.protocol.methods import Method
from bsstream.protocol.resume import BACKOFF_NOW, DEFAULT_REPLAY_SECONDS
from bsstream.settings import DEFAULT_RETRY_FOR, DEFAULT_TIMEOUT, Credentials, Endpoint, parse_endpoint
from bsstream.status import UsageError

__all__ = ["EMULATOR_CID", "EMULATOR_KEY", "Connection", "Method", "Options", "StreamOptions"]

EMULATOR_CID = 1
EMULATOR_KEY = "local-emulator"


@dataclass(frozen=True, slots=True)
class Options:
    """How to stream (the CLI's options of the same names).

    ``level``: "segment", "utterance", or None for both. ``chunk_ms``: audio per message
    (100-500). ``realtime``: send at 1x speed (a file as if live). ``timeout``: seconds without
    any response (or accepted audio) before the stream fails. ``retry_for``: seconds of
    reconnecting without progress before giving up (0: never reconnect); ``retries``: at most
    this many reconnects. ``replay_seconds``: audio kept for a resumed call to send again.
    """

    level: str | None = None
    chunk_ms: int = DEFAULT_CHUNK_MS
    realtime: bool = False
    embeddings: bool = False
    logits: bool = False
    timeout: float = DEFAULT_TIMEOUT
    retry_for: float = DEFAULT_RETRY_FOR
    retries: int | None = None
    backoff_base: float = BACKOFF_NOW[0]
    replay_seconds: float = DEFAULT_REPLAY_SECONDS

    def __post_init__(self) -> None:
        if self.level not in (None, "all", *LEVELS):
            raise UsageError(f"invalid level {self.level!r}: expected segment, utterance or None (both)")
        if not MIN_CHUNK_MS <= self.chunk_ms <= MAX_CHUNK_MS:
            raise UsageError(f"invalid chunk_ms {self.chunk_ms}: expected {MIN_CHUNK_MS}-{MAX_CHUNK_MS}")
        if self.timeout < 0 or self.retry_for < 0 or self.replay_seconds < 0:
            raise UsageError("timeout, retry_for and replay_seconds must not be negative")
        if self.retries is not None and self.retries < 0:
            raise UsageError(f"invalid retries {self.retries}: expected 0 or more")

    def config(self) -> api_pb2.AudioConfig:
        """The AudioConfig the first message of every call carries."""
        return build_config(self.level, logits=self.logits, embeddings=self.embeddings)


@dataclass(frozen=True, slots=True)
class Connection:
    """Where to stream and as whom. ``endpoint``: "host:port"; ``insecure``: plaintext (a local
    emulator); ``ca_cert``: PEM bytes of a private CA to trust. The key never shows in repr."""

    endpoint: str
    api_key: str = field(repr=False)
    cid: int
    insecure: bool = False
    ca_cert: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        insecure: bool = False,
        ca_cert: str | os.PathLike[str] | None = None,
    ) -> Connection:
        """BS_CID, BS_API_KEY (or BEHAVIORALSIGNALS_*) and BS_ENDPOINT from the environment,
        then ``.env`` in the working directory, as the CLI resolves them; a ``UsageError``
        naming what is missing. ``ca_cert``: a PEM file to trust."""
        from bsstream.settings import load_ca_cert, resolve_credentials, resolve_endpoint

        credentials = resolve_credentials(None, None, env=env)
        endpoint = resolve_endpoint(None, env=env)
        pem = load_ca_cert(Path(ca_cert)) if ca_cert is not None else None
        return cls(endpoint.target, credentials.api_key, credentials.cid, insecure=insecure, ca_cert=pem)

    @classmethod
    def emulator(cls, address: str, *, cid: int = EMULATOR_CID, api_key: str = EMULATOR_KEY) -> Connection:
        """A local emulator (``bsstream serve`` or ``bsstream.Emulator``) at "host:port", plaintext."""
        return cls(address, api_key, cid, insecure=True)

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.cid, self.api_key)

    def parsed_endpoint(self) -> Endpoint:
        """The endpoint as host and port; a ``UsageError`` when it is not "host:port"."""
        return parse_endpoint(self.endpoint, where="endpoint")


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Everything one stream of the engine is told (the CLI builds it from its options)."""

    method: str  # a Method value ("StreamAudio" / "DeepfakeDetection")
    credentials: Credentials
    config: api_pb2.AudioConfig
    chunk_ms: int = DEFAULT_CHUNK_MS
    realtime: bool = False
    timeout: float = DEFAULT_TIMEOUT
    retries: int | None = None  # at most this many reconnects per stream (None: --retry-for decides)
    retry_for: float = DEFAULT_RETRY_FOR  # reconnect for this long without progress (0: never)
    backoff_base: float = BACKOFF_NOW[0]
    backoff_max: float = BACKOFF_NOW[1]
    stats: bool = False
    replay_seconds: float = DEFAULT_REPLAY_SECONDS
    insecure: bool = False
    emulated: bool = False
    tag_method: bool = False  # put the method on every message (scan: two methods, one output)

    @classmethod
    def of(cls, method: Method, options: Options, connection: Connection) -> StreamOptions:
        """The engine's options for a library stream (results carry their method)."""
        return cls.build(
            method, options, connection.credentials, insecure=connection.insecure, tag_method=True
        )

    @classmethod
    def build(
        cls,
        method: Method,
        options: Options,
        credentials: Credentials,
        *,
        insecure: bool = False,
        emulated: bool = False,
        tag_method: bool = False,
        stats: bool = False,
    ) -> StreamOptions:
        """One stream's options from the user's :class:`Options` (the only place they are
        carried over): the library's streams and the CLI's alike."""
        return cls(
            method=method.value,
            credentials=credentials,
            config=options.config(),
            chunk_ms=options.chunk_ms,
            realtime=options.realtime,
            timeout=options.timeout,
            retries=options.retries,
            retry_for=options.retry_for,
            backoff_base=options.backoff_base,
            replay_seconds=options.replay_seconds,
            insecure=insecure,
            emulated=emulated,
            tag_method=tag_method,
            stats=stats,
        )
