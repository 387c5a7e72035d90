"""The only module that knows gRPC: the channel (TLS / plaintext / private CA) and one bidi call.

A call is a request iterator handed to the stub plus a response iterator read by the caller
(grpc consumes the requests on its own thread). gRPC errors leave this module as
``CallFailed`` carrying the status code name and details, never as grpc types.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.settings import Endpoint

# Keepalive: ping every 30 s while a call is open, give a ping 20 s to be answered, never ping
# without a call, and at most 2 pings while no data flows. A server at gRPC's default policy
# (pings without data no closer than 5 minutes, GOAWAY "too_many_pings" after 2 strikes) never
# reaches its strike limit, while a dead connection is noticed within about 50 s.
KEEPALIVE_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 2),
]
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    *KEEPALIVE_OPTIONS,
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    # retries are ours (resume from the last result), not the channel's transparent ones
    ("grpc.enable_retries", 0),
]
EMULATOR_METADATA_KEY = "bsstream-emulator"


class CallFailed(Exception):
    """A call ended with a non-OK status."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


def _rpc_failure(err: grpc.RpcError) -> CallFailed:
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else None
    return CallFailed(code.name if code is not None else "UNKNOWN", details or "")


class Call:
    """One running bidi call: iterate it for StreamResult messages; cancel() from any thread."""

    def __init__(self, rendezvous: Any) -> None:
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
    """A channel to the endpoint; a context manager that closes it."""

    def __init__(self, endpoint: Endpoint, *, insecure: bool = False, ca_cert: bytes | None = None) -> None:
        self.endpoint = endpoint
        if insecure:
            self._channel = grpc.insecure_channel(endpoint.target, options=CHANNEL_OPTIONS)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca_cert)
            self._channel = grpc.secure_channel(endpoint.target, credentials, options=CHANNEL_OPTIONS)
        self._stub = api_pb2_grpc.BehavioralStreamingApiStub(self._channel)

    def start(self, method: str, requests: Iterator[api_pb2.AudioStream]) -> Call:
        """Start ``method`` ("StreamAudio" or "DeepfakeDetection") with a request iterator."""
        rpc = getattr(self._stub, method)
        return Call(rpc(requests, wait_for_ready=False))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
