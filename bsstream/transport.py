"""The channel settings every gRPC channel of bsstream uses, ``CallFailed``, and the sync
channel of ``bsstream doctor``'s one call.

Streams go through the engine (:mod:`bsstream.engine.wire`, grpc.aio), which shares the
options and error type defined here. gRPC errors leave both as ``CallFailed`` carrying the
status code name and details, never as grpc types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Protocol, cast

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.settings import Endpoint
from bsstream.status import BsError

# Keepalive: ping every 30 s while a call is open, give a ping 20 s to be answered, never ping
# without a call, and at most 2 pings while no data flows. A server at gRPC's default policy
# (pings without data no closer than 5 minutes, GOAWAY "too_many_pings" after 2 strikes) never
# reaches its strike limit, while a dead connection is noticed within about 50 s.
KEEPALIVE_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 2),
]
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    *KEEPALIVE_OPTIONS,
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    # retries are ours (resume from the last result), not the channel's transparent ones
    ("grpc.enable_retries", 0),
    # while the server is down the channel reconnects with backoff (1 s doubling by 1.6): capped
    # at 5 s, a server that is back is found within 5 s, well inside --retry-for
    ("grpc.max_reconnect_backoff_ms", 5_000),
]
RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"  # a server's retry hint (gRFC A6), trailing metadata
EMULATOR_METADATA_KEY = "bsstream-emulator"


class CallFailed(Exception):
    """A call ended with a non-OK status; ``trailers``: its trailing metadata (text values)."""

    def __init__(self, code: str, details: str, trailers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details
        self.trailers = trailers

    @property
    def retry_pushback(self) -> float | None:
        """The server's retry hint in seconds (``grpc-retry-pushback-ms``), None when it sent none.

        Negative when the server asked not to retry (a negative or unparseable value, as gRFC A6
        reads it)."""
        values = [v for k, v in self.trailers if k.lower() == RETRY_PUSHBACK_KEY]
        if not values:
            return None
        try:
            millis = int(values[-1].strip())
        except ValueError:
            return -1.0
        return millis / 1000.0 if millis >= 0 else -1.0


def text_metadata(metadata: Iterable[object] | None) -> tuple[tuple[str, str], ...]:
    """Metadata as (key, text) pairs; "-bin" values are bytes, decoded as latin-1."""
    out = []
    for item in metadata or ():
        key, value = cast("tuple[object, object]", item)  # at run time: (key, value) tuples
        if isinstance(value, bytes):  # "-bin" keys carry bytes
            value = value.decode("latin-1")
        out.append((str(key), str(value)))
    return tuple(out)


def _rpc_failure(err: grpc.RpcError) -> CallFailed:
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else None
    try:
        trailers = text_metadata(err.trailing_metadata()) if hasattr(err, "trailing_metadata") else ()
    except Exception:  # metadata is optional garnish: never let it hide the status
        trailers = ()
    return CallFailed(code.name if code is not None else "UNKNOWN", details or "", trailers)


class _Rendezvous(Protocol):
    """What grpc's sync bidi call is to :class:`Call`."""

    def __iter__(self) -> Iterator[api_pb2.StreamResult]: ...

    def cancel(self) -> bool: ...

    def initial_metadata(self) -> Iterable[tuple[str, str | bytes]] | None: ...


class Call:
    """One running bidi call: iterate it for StreamResult messages; cancel() from any thread."""

    def __init__(self, rendezvous: _Rendezvous) -> None:
        self._call = rendezvous

    def __iter__(self) -> Iterator[api_pb2.StreamResult]:
        try:
            yield from self._call
        except grpc.RpcError as err:
            raise _rpc_failure(err) from None

    def cancel(self) -> None:
        self._call.cancel()

    def is_emulated(self) -> bool:
        """True when the server said it is the local emulator (initial metadata)."""
        try:
            metadata = self._call.initial_metadata() or ()
        except grpc.RpcError:
            return False
        return any(key == EMULATOR_METADATA_KEY for key, _ in metadata)


class Transport:
    """An endpoint and its trust settings, the connection checks for it, and (for ``bsstream
    doctor``) one sync channel, opened on first use; a context manager that closes it. Streams
    do not use this channel: the engine (bsstream.engine) has its own grpc.aio one, closed
    with the transport (:meth:`on_close`)."""

    def __init__(self, endpoint: Endpoint, *, insecure: bool = False, ca_cert: bytes | None = None) -> None:
        self.endpoint = endpoint
        self.insecure = insecure
        self.ca_cert = ca_cert
        self._channel: grpc.Channel | None = None
        self._on_close: list[Callable[[], None]] = []  # the engine's channel for this endpoint

    def _stub(self) -> api_pb2_grpc.BehavioralStreamingApiStub:
        if self._channel is None:
            if self.insecure:
                self._channel = grpc.insecure_channel(self.endpoint.target, options=CHANNEL_OPTIONS)
            else:
                credentials = grpc.ssl_channel_credentials(root_certificates=self.ca_cert)
                self._channel = grpc.secure_channel(
                    self.endpoint.target, credentials, options=CHANNEL_OPTIONS
                )
        return api_pb2_grpc.BehavioralStreamingApiStub(self._channel)

    def start(
        self, method: str, requests: Iterator[api_pb2.AudioStream], *, wait_for_ready: bool = False
    ) -> Call:
        """Start ``method`` (a :class:`bsstream.protocol.methods.Method` or its value) with a
        request iterator: the connection checks' one call (``bsstream doctor``).

        ``wait_for_ready``: wait for the channel to connect instead of failing at once while it is
        in its reconnect backoff (reconnects; a first call fails fast on a wrong endpoint)."""
        from bsstream.protocol.methods import Method

        stub = self._stub()
        if Method(method) is Method.DEEPFAKE:
            return Call(stub.DeepfakeDetection(requests, wait_for_ready=wait_for_ready))
        return Call(stub.StreamAudio(requests, wait_for_ready=wait_for_ready))

    def diagnose(self, timeout: float) -> BsError | None:
        """A final error when facts show retrying cannot help (see bsstream.diagnose), else None."""
        from bsstream.diagnose import diagnose

        return diagnose(self.endpoint, insecure=self.insecure, ca_cert=self.ca_cert, timeout=timeout)

    def failure_hint(self, timeout: float) -> str | None:
        """What the connection checks see now, for the line after the retries ran out."""
        from bsstream.diagnose import hint

        return hint(self.endpoint, insecure=self.insecure, ca_cert=self.ca_cert, timeout=timeout)

    def examine(self, timeout: float) -> tuple[BsError | None, str | None]:
        """Both at once, from one round of checks (see bsstream.diagnose.examine)."""
        from bsstream.diagnose import examine

        return examine(self.endpoint, insecure=self.insecure, ca_cert=self.ca_cert, timeout=timeout)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the transport closes (the engine's channel goes with it)."""
        self._on_close.append(callback)

    def close(self) -> None:
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback()
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
