"""The only module that knows gRPC: the channel (TLS / plaintext / private CA) and one bidi call.

A call is a request iterator handed to the stub plus a response iterator read by the caller
(grpc consumes the requests on its own thread). gRPC errors leave this module as
``CallFailed`` carrying the status code name and details, never as grpc types.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import grpc

from bsstream._gen import api_pb2, api_pb2_grpc
from bsstream.settings import Endpoint
from bsstream.status import BsError

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


def _text_metadata(metadata: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in metadata or ():
        key, value = item[0], item[1]
        if isinstance(value, bytes):  # "-bin" keys carry bytes
            value = value.decode("latin-1")
        out.append((str(key), str(value)))
    return tuple(out)


def _rpc_failure(err: grpc.RpcError) -> CallFailed:
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else None
    try:
        trailers = _text_metadata(err.trailing_metadata()) if hasattr(err, "trailing_metadata") else ()
    except Exception:  # metadata is optional garnish: never let it hide the status
        trailers = ()
    return CallFailed(code.name if code is not None else "UNKNOWN", details or "", trailers)


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
        self.insecure = insecure
        self.ca_cert = ca_cert
        self._watched = False  # wait_ready subscribed to the channel's connectivity
        if insecure:
            self._channel = grpc.insecure_channel(endpoint.target, options=CHANNEL_OPTIONS)
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca_cert)
            self._channel = grpc.secure_channel(endpoint.target, credentials, options=CHANNEL_OPTIONS)
        self._stub = api_pb2_grpc.BehavioralStreamingApiStub(self._channel)

    def start(
        self, method: str, requests: Iterator[api_pb2.AudioStream], *, wait_for_ready: bool = False
    ) -> Call:
        """Start ``method`` ("StreamAudio" or "DeepfakeDetection") with a request iterator.

        ``wait_for_ready``: wait for the channel to connect instead of failing at once while it is
        in its reconnect backoff (reconnects; a first call fails fast on a wrong endpoint)."""
        rpc = getattr(self._stub, method)
        return Call(rpc(requests, wait_for_ready=wait_for_ready))

    def wait_ready(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` s for the channel to connect (it keeps trying meanwhile, with
        its own backoff); False when it did not, or ``stop`` was set first."""
        ready = threading.Event()

        def on_change(state: grpc.ChannelConnectivity) -> None:
            if state is grpc.ChannelConnectivity.READY:
                ready.set()

        self._watched = True
        self._channel.subscribe(on_change, try_to_connect=True)
        try:
            deadline = time.monotonic() + max(timeout, 0.0)
            while not ready.wait(min(0.1, max(deadline - time.monotonic(), 0.0))):
                if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                    return False
            return True
        finally:
            self._channel.unsubscribe(on_change)

    def diagnose(self, timeout: float) -> BsError | None:
        """A final error when facts show retrying cannot help (see bsstream.diagnose), else None."""
        from bsstream.diagnose import diagnose

        return diagnose(self.endpoint, insecure=self.insecure, ca_cert=self.ca_cert, timeout=timeout)

    def failure_hint(self, timeout: float) -> str | None:
        """What the connection checks see now, for the line after the retries ran out."""
        from bsstream.diagnose import hint

        return hint(self.endpoint, insecure=self.insecure, ca_cert=self.ca_cert, timeout=timeout)

    def close(self) -> None:
        if self._watched:
            self._settle_connectivity()
        self._channel.close()

    def _settle_connectivity(self, limit: float = 1.0) -> None:
        """Let grpc's connectivity polling thread end before the channel closes: it polls every
        0.2 s after the last unsubscribe, and one that polls a closed channel dies with a
        ValueError on stderr (grpc's private state is read defensively; without it, wait)."""
        state = getattr(self._channel, "_connectivity_state", None)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if state is not None and not getattr(state, "polling", True):
                return
            time.sleep(0.02)

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
